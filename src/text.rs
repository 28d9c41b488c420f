//! Text from outside (a peer's AE title, a status comment, a file's values) made safe to log or
//! print: control characters and escape sequences would otherwise reach a terminal or a log
//! raw (a newline forges a log line; ESC moves the cursor or retitles the window).

/// `s` with every control character (C0, DEL, C1) written as `\xNN` (`\u{NNNN}` beyond one
/// byte), and bidirectional overrides too: what is printed is what was sent, visibly.
pub fn printable(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            let n = c as u32;
            if n <= 0xFF {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:04x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// [`printable`], and at most `max` characters (an ellipsis says more came).
pub fn printable_short(s: &str, max: usize) -> String {
    let p = printable(s);
    if p.chars().count() <= max {
        return p;
    }
    let mut cut: String = p.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_escapes_are_shown_not_obeyed() {
        assert_eq!(printable("CT_ROOM1"), "CT_ROOM1");
        assert_eq!(printable("EVIL\nFAKE LOG"), "EVIL\\x0aFAKE LOG");
        assert_eq!(printable("\u{1b}]0;pwned\u{7}"), "\\x1b]0;pwned\\x07");
        assert_eq!(printable("a\u{9b}b\u{202e}c"), "a\\x9bb\\u{202e}c");
        assert_eq!(printable("Müller^Zoë"), "Müller^Zoë");
        assert_eq!(printable_short("ABCDEFGH", 4), "ABC…");
    }
}
