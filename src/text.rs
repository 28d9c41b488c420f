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

/// A DICOM date (YYYYMMDD) as ISO `YYYY-MM-DD`, the one date format qcdesk shows; anything
/// else is returned as it is (a malformed date is itself a finding, shown as received).
pub fn iso_date(d: &str) -> String {
    let t = d.trim();
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &t[0..4], &t[4..6], &t[6..8])
    } else {
        t.to_string()
    }
}

/// A DICOM time (HHMMSS.FFFFFF, any prefix of it) as `HH:MM:SS` (or `HH:MM`); anything
/// else as it is.
pub fn dicom_time(t: &str) -> String {
    let t = t.trim();
    let whole = t.split('.').next().unwrap_or("");
    if !whole.bytes().all(|b| b.is_ascii_digit()) {
        return t.to_string();
    }
    match whole.len() {
        6 => format!("{}:{}:{}", &whole[0..2], &whole[2..4], &whole[4..6]),
        4 => format!("{}:{}", &whole[0..2], &whole[2..4]),
        _ => t.to_string(),
    }
}

/// An RFC 3339 time (as stored, in UTC) as the desk shows it: local time,
/// `YYYY-MM-DD HH:MM`. Anything that does not parse is returned as it is. (UTC stays in the
/// JSON and the database; people read their own clock.)
pub fn local_time(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(t) = time::OffsetDateTime::parse(rfc3339.trim(), &Rfc3339) else {
        return rfc3339.to_string();
    };
    let Some(local) = t.checked_to_offset(local_offset(t.unix_timestamp())) else {
        return rfc3339.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// Unix seconds as a person reads them on a desk: local `HH:MM`, with the date before it
/// when that is not today.
pub fn local_clock(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return unix.to_string();
    };
    let now = time::OffsetDateTime::now_utc();
    let (Some(t), Some(now)) = (
        t.checked_to_offset(local_offset(unix)),
        now.checked_to_offset(local_offset(now.unix_timestamp())),
    ) else {
        return unix.to_string();
    };
    if t.date() == now.date() {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    }
}

/// The local zone's offset from UTC at `unix` seconds. `localtime_r` rather than the `time`
/// crate's own lookup, which refuses once the process has threads (the desk always has).
fn local_offset(unix: i64) -> time::UtcOffset {
    #[cfg(target_os = "linux")]
    {
        let t = unix as libc::time_t;
        // SAFETY: `tm` is a plain C struct written by localtime_r; both pointers are valid.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if ok && let Ok(off) = time::UtcOffset::from_whole_seconds(tm.tm_gmtoff as i32) {
            return off;
        }
    }
    let _ = unix;
    time::UtcOffset::UTC
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn local_time_reads_rfc3339_and_leaves_other_text() {
        // The test process's zone is whatever the machine has; the format is what matters.
        let s = super::local_time("2026-12-03T10:20:30Z");
        assert_eq!(s.len(), 16, "{s}");
        assert!(s.starts_with("2026-12-0"), "{s}");
        assert_eq!(super::local_time("yesterday"), "yesterday");
        assert_eq!(super::iso_date("19990419"), "1999-04-19");
        assert_eq!(super::iso_date("1999-04-19"), "1999-04-19");
        assert_eq!(super::dicom_time("150000"), "15:00:00");
        assert_eq!(super::dicom_time("0930"), "09:30");
        assert_eq!(super::dicom_time("153012.25"), "15:30:12");
        assert_eq!(super::dicom_time("3 pm"), "3 pm");
    }
}
