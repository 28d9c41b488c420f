//! Text decoding by Specific Character Set (0008,0005), done by qcdesk for every value it
//! keeps: dicom-rs switches on the first value only and leaves ISO 2022 code extensions
//! undecoded (dicom-rs issue #443).
//!
//! Covers the single-byte sets (Latin-1..5 and 9, Greek, Cyrillic, Arabic, Hebrew, Thai, JIS X
//! 0201), UTF-8, GB18030 and GBK, and ISO 2022 code extensions (PS3.5 6.1.2.5) for all of
//! them plus JIS X 0208/0212, KS X 1001 and GB 2312: code elements are switched by escape
//! sequences, and the initial designations return at every value, component group (`=`) and
//! component (`^`) delimiter. Text that breaks its declared set, or carries non-ASCII bytes
//! with no set declared, is decoded as well as can be and reported, never dropped.

use encoding_rs::{EUC_JP, EUC_KR, Encoding, GB18030, GBK};

/// A character set a Specific Character Set term names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Ascii,
    /// JIS X 0201 Romaji (G0 of ISO_IR 13): ASCII but for ¥ and ‾.
    JisRoman,
    /// JIS X 0201 Katakana (half-width).
    Katakana,
    /// An ISO 8859 part: decoded through its single-byte table.
    Latin1,
    SingleByte(&'static Encoding),
    Jis0208,
    Jis0212,
    Ksx1001,
    Gb2312,
    Utf8,
    Gb18030,
    Gbk,
}

/// One term of (0008,0005) as qcdesk understands it.
#[derive(Debug, Clone, Copy)]
struct Term {
    /// G0 and G1 designations it makes at the start of a value.
    g0: Set,
    g1: Option<Set>,
}

fn term(name: &str) -> Option<Term> {
    let single = |e| Term {
        g0: Set::Ascii,
        g1: Some(Set::SingleByte(e)),
    };
    let stripped = name
        .strip_prefix("ISO 2022 IR ")
        .or_else(|| name.strip_prefix("ISO_IR "));
    Some(match (name, stripped) {
        ("", _) | (_, Some("6")) => Term {
            g0: Set::Ascii,
            g1: None,
        },
        (_, Some("13")) => Term {
            g0: Set::JisRoman,
            g1: Some(Set::Katakana),
        },
        (_, Some("100")) => Term {
            g0: Set::Ascii,
            g1: Some(Set::Latin1),
        },
        (_, Some("101")) => single(encoding_rs::ISO_8859_2),
        (_, Some("109")) => single(encoding_rs::ISO_8859_3),
        (_, Some("110")) => single(encoding_rs::ISO_8859_4),
        (_, Some("126")) => single(encoding_rs::ISO_8859_7),
        (_, Some("127")) => single(encoding_rs::ISO_8859_6),
        (_, Some("138")) => single(encoding_rs::ISO_8859_8),
        (_, Some("144")) => single(encoding_rs::ISO_8859_5),
        // ISO 8859-9 and windows-1254 agree on 0xA0-0xFF, the only part a G1 set uses.
        (_, Some("148")) => single(encoding_rs::WINDOWS_1254),
        // TIS 620 is the upper half of windows-874.
        (_, Some("166")) => single(encoding_rs::WINDOWS_874),
        (_, Some("203")) => single(encoding_rs::ISO_8859_15),
        ("ISO 2022 IR 87", _) => Term {
            g0: Set::Jis0208,
            g1: None,
        },
        ("ISO 2022 IR 159", _) => Term {
            g0: Set::Jis0212,
            g1: None,
        },
        ("ISO 2022 IR 149", _) => Term {
            g0: Set::Ascii,
            g1: Some(Set::Ksx1001),
        },
        ("ISO 2022 IR 58", _) => Term {
            g0: Set::Ascii,
            g1: Some(Set::Gb2312),
        },
        ("ISO_IR 192", _) => Term {
            g0: Set::Utf8,
            g1: None,
        },
        ("GB18030", _) => Term {
            g0: Set::Gb18030,
            g1: None,
        },
        ("GBK", _) => Term {
            g0: Set::Gbk,
            g1: None,
        },
        _ => return None,
    })
}

/// What went wrong decoding a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharsetProblem {
    /// Non-ASCII bytes, but the data set declares no character set.
    Undeclared(String),
    /// Bytes the declared character set does not allow.
    Invalid(String),
}

/// The Specific Character Set of a data set, parsed once, used for every text value.
#[derive(Debug, Clone)]
pub struct Charset {
    declared: String,
    first: Term,
    /// Code extensions are in use (an "ISO 2022" term or several values).
    iso2022: bool,
    /// Terms qcdesk does not know (decoded as if absent).
    pub unknown: Vec<String>,
}

impl Default for Charset {
    fn default() -> Self {
        Charset::parse("")
    }
}

impl Charset {
    /// Parses a (possibly multi-valued, backslash-separated) Specific Character Set value.
    pub fn parse(specific_character_set: &str) -> Charset {
        let values: Vec<&str> = specific_character_set
            .split('\\')
            .map(|v| v.trim_matches(|c: char| c == ' ' || c == '\0'))
            .collect();
        let mut unknown = Vec::new();
        let mut terms = Vec::new();
        for v in &values {
            match term(v) {
                Some(t) => terms.push(t),
                None => unknown.push((*v).to_string()),
            }
        }
        let iso2022 = values.len() > 1 || values.iter().any(|v| v.starts_with("ISO 2022"));
        let first = values.first().and_then(|v| term(v)).unwrap_or(Term {
            g0: Set::Ascii,
            g1: None,
        });
        Charset {
            declared: specific_character_set.trim().to_string(),
            first,
            iso2022,
            unknown,
        }
    }

    /// Whether a character set is declared at all (an empty first value alone is none).
    pub fn is_declared(&self) -> bool {
        !self.declared.trim_matches('\\').trim().is_empty()
    }

    /// Decodes the bytes of a text value (PN, LO, SH, ST, LT, UT, UC).
    pub fn decode(&self, bytes: &[u8]) -> (String, Option<CharsetProblem>) {
        if bytes.is_ascii() && !bytes.contains(&0x1B) && self.first.g0 != Set::JisRoman {
            return (bytes.iter().map(|&b| char::from(b)).collect(), None);
        }
        if !self.is_declared() {
            // The most common reality: UTF-8 from a modern system that forgot to say so.
            if let Ok(s) = std::str::from_utf8(bytes) {
                return (
                    s.to_string(),
                    Some(CharsetProblem::Undeclared(
                        "non-ASCII text but no Specific Character Set (0008,0005); read as UTF-8"
                            .into(),
                    )),
                );
            }
            return (
                bytes.iter().map(|&b| char::from(b)).collect(),
                Some(CharsetProblem::Undeclared(
                    "non-ASCII text but no Specific Character Set (0008,0005); read as Latin-1"
                        .into(),
                )),
            );
        }
        if self.iso2022 {
            return decode_iso2022(bytes, self.first, &self.declared);
        }
        let name = &self.declared;
        match (self.first.g0, self.first.g1) {
            (Set::Utf8, _) => match std::str::from_utf8(bytes) {
                Ok(s) => (s.to_string(), None),
                Err(_) => (
                    String::from_utf8_lossy(bytes).into_owned(),
                    Some(CharsetProblem::Invalid(format!("not valid {name} (UTF-8)"))),
                ),
            },
            (Set::Gb18030, _) => whole(GB18030, bytes, name),
            (Set::Gbk, _) => whole(GBK, bytes, name),
            // A single-byte set without code extensions is ISO 2022 with one fixed G1.
            _ => decode_iso2022(bytes, self.first, name),
        }
    }
}

fn whole(enc: &'static Encoding, bytes: &[u8], name: &str) -> (String, Option<CharsetProblem>) {
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    let problem = had_errors.then(|| CharsetProblem::Invalid(format!("not valid {name}")));
    (text.into_owned(), problem)
}

/// Decodes ISO 2022 encoded text starting from the designations of `initial`.
fn decode_iso2022(bytes: &[u8], initial: Term, declared: &str) -> (String, Option<CharsetProblem>) {
    let (mut g0, mut g1) = (initial.g0, initial.g1);
    let mut out = String::with_capacity(bytes.len());
    let mut bad: Option<String> = None;
    let mut note_bad = |what: String| {
        bad.get_or_insert(what);
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1B {
            let (len, change) = escape(&bytes[i + 1..]);
            match change {
                Some(Designation::G0(x)) => g0 = x,
                Some(Designation::G1(x)) => g1 = Some(x),
                None => {
                    out.push('\u{FFFD}');
                    note_bad("an escape sequence qcdesk does not know".into());
                }
            }
            i += 1 + len;
            continue;
        }
        if b < 0x80 {
            match g0 {
                Set::Jis0208 | Set::Jis0212 if b > 0x20 && i + 1 < bytes.len() => {
                    let pair = [b | 0x80, bytes[i + 1] | 0x80];
                    if g0 == Set::Jis0212 {
                        let triple = [0x8F, pair[0], pair[1]];
                        out.push_str(&EUC_JP.decode_without_bom_handling(&triple).0);
                    } else {
                        out.push_str(&EUC_JP.decode_without_bom_handling(&pair).0);
                    }
                    i += 2;
                    continue;
                }
                Set::Katakana if (0x21..=0x5F).contains(&b) => {
                    out.push(char::from_u32(0xFF61 + u32::from(b - 0x21)).unwrap_or('\u{FFFD}'));
                }
                Set::JisRoman if b == 0x7E => out.push('‾'),
                _ => {
                    out.push(char::from(b));
                    if matches!(b, b'^' | b'=' | b'\\' | b'\r' | b'\n' | b'\t' | 0x0C) {
                        g0 = initial.g0;
                        g1 = initial.g1;
                    }
                }
            }
            i += 1;
            continue;
        }
        match g1 {
            Some(Set::Katakana) if (0xA1..=0xDF).contains(&b) => {
                out.push(char::from_u32(0xFF61 + u32::from(b - 0xA1)).unwrap_or('\u{FFFD}'));
                i += 1;
            }
            Some(Set::Ksx1001 | Set::Gb2312) if i + 1 < bytes.len() => {
                let enc = if g1 == Some(Set::Ksx1001) {
                    EUC_KR
                } else {
                    GB18030
                };
                let (text, had_errors) = enc.decode_without_bom_handling(&bytes[i..i + 2]);
                if had_errors {
                    note_bad(format!(
                        "bytes 0x{:02X}{:02X} are not valid",
                        b,
                        bytes[i + 1]
                    ));
                }
                out.push_str(&text);
                i += 2;
            }
            Some(Set::Latin1) => {
                out.push(char::from(b));
                i += 1;
            }
            Some(Set::SingleByte(enc)) => {
                let one = [b];
                let (text, had_errors) = enc.decode_without_bom_handling(&one);
                if had_errors {
                    note_bad(format!("byte 0x{b:02X} is not in {}", enc.name()));
                }
                out.push_str(&text);
                i += 1;
            }
            _ => {
                out.push('\u{FFFD}');
                note_bad(format!(
                    "byte 0x{b:02X} is outside every designated character set"
                ));
                i += 1;
            }
        }
    }
    let problem = bad.map(|why| CharsetProblem::Invalid(format!("not valid {declared}: {why}")));
    (out, problem)
}

enum Designation {
    G0(Set),
    G1(Set),
}

/// Reads an escape sequence (after ESC): its length and what it designates.
fn escape(rest: &[u8]) -> (usize, Option<Designation>) {
    use Designation::{G0, G1};
    let seqs: [(&[u8], Designation); 21] = [
        (b"(B", G0(Set::Ascii)),
        (b"(J", G0(Set::JisRoman)),
        (b"(I", G0(Set::Katakana)),
        (b"$B", G0(Set::Jis0208)),
        (b"$@", G0(Set::Jis0208)),
        (b"$(D", G0(Set::Jis0212)),
        (b")I", G1(Set::Katakana)),
        (b"$)C", G1(Set::Ksx1001)),
        (b"$)A", G1(Set::Gb2312)),
        (b"-A", G1(Set::Latin1)),
        (b"-B", G1(Set::SingleByte(encoding_rs::ISO_8859_2))),
        (b"-C", G1(Set::SingleByte(encoding_rs::ISO_8859_3))),
        (b"-D", G1(Set::SingleByte(encoding_rs::ISO_8859_4))),
        (b"-F", G1(Set::SingleByte(encoding_rs::ISO_8859_7))),
        (b"-G", G1(Set::SingleByte(encoding_rs::ISO_8859_6))),
        (b"-H", G1(Set::SingleByte(encoding_rs::ISO_8859_8))),
        (b"-L", G1(Set::SingleByte(encoding_rs::ISO_8859_5))),
        (b"-M", G1(Set::SingleByte(encoding_rs::WINDOWS_1254))),
        (b"-T", G1(Set::SingleByte(encoding_rs::WINDOWS_874))),
        (b"-b", G1(Set::SingleByte(encoding_rs::ISO_8859_15))),
        (b"$)G", G1(Set::Gb2312)),
    ];
    for (seq, d) in seqs {
        if rest.starts_with(seq) {
            return (seq.len(), Some(d));
        }
    }
    // Unknown: skip the intermediate bytes (0x20-0x2F) and the final byte.
    let n = rest
        .iter()
        .take_while(|b| (0x20..=0x2F).contains(*b))
        .count();
    ((n + 1).min(rest.len()), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8], scs: &str) -> String {
        let (text, problem) = Charset::parse(scs).decode(bytes);
        assert_eq!(problem, None, "{scs}: {text}");
        text
    }

    #[test]
    fn japanese_kanji_and_kana() {
        let raw =
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
        assert_eq!(
            dec(raw, "\\ISO 2022 IR 87"),
            "Yamada^Tarou=山田^太郎=やまだ^たろう"
        );
    }

    #[test]
    fn japanese_half_width_katakana() {
        let raw = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J";
        assert_eq!(
            dec(raw, "ISO 2022 IR 13\\ISO 2022 IR 87"),
            "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
        );
    }

    #[test]
    fn korean() {
        let raw = b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf";
        assert_eq!(
            dec(raw, "\\ISO 2022 IR 149"),
            "Hong^Gildong=洪^吉洞=홍^길동"
        );
    }

    #[test]
    fn single_byte_sets_without_code_extensions() {
        // pydicom's charset files (chrGreek, chrRuss, chrArab, chrHbrw, chrFren).
        assert_eq!(
            dec(b"\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2", "ISO_IR 126"),
            "Διονυσιος"
        );
        assert_eq!(
            dec(b"\xbb\xee\xdace\xdc\xd1yp\xd3", "ISO_IR 144"),
            "Люкceмбypг"
        );
        assert_eq!(
            dec(b"\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1", "ISO_IR 127"),
            "قباني^لنزار"
        );
        assert_eq!(
            dec(b"\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4", "ISO_IR 138"),
            "שרון^דבורה"
        );
        assert_eq!(dec(b"Buc^J\xe9r\xf4me", "ISO_IR 100"), "Buc^Jérôme");
        assert_eq!(dec(b"\xa4", "ISO_IR 203"), "€");
        assert_eq!(dec(b"\xd0", "ISO_IR 148"), "Ğ");
        assert_eq!(dec(b"\xa1", "ISO_IR 166"), "ก");
    }

    #[test]
    fn single_byte_sets_by_code_extension() {
        // Greek and Cyrillic designated to G1 by escape sequences inside one value, with the
        // initial set (Latin-1) back at each component.
        let raw = b"M\xfcller^\x1b-F\xc4\xe9\xef=\x1b-L\xbb\xee";
        assert_eq!(
            dec(raw, "ISO 2022 IR 100\\ISO 2022 IR 126\\ISO 2022 IR 144"),
            "Müller^Διο=Лю"
        );
        assert_eq!(dec(b"\x1b-H\xf9\xf8", "\\ISO 2022 IR 138"), "שר");
        assert_eq!(dec(b"\x1b-G\xe2", "\\ISO 2022 IR 127"), "ق");
        assert_eq!(dec(b"\x1b-T\xa1", "\\ISO 2022 IR 166"), "ก");
        assert_eq!(dec(b"\x1b-B\xa3", "\\ISO 2022 IR 101"), "Ł");
        assert_eq!(dec(b"\x1b-M\xdd", "\\ISO 2022 IR 148"), "İ");
        // The first value's G1 is in force at the start: no escape needed for Greek here.
        assert_eq!(dec(b"\xc4\xe9", "ISO 2022 IR 126"), "Δι");
    }

    #[test]
    fn utf8_and_chinese() {
        assert_eq!(
            dec(
                b"Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=",
                "ISO_IR 192"
            ),
            "Wang^XiaoDong=王^小東="
        );
        assert_eq!(
            dec(b"Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", "GB18030"),
            "Wang^XiaoDong=王^小东="
        );
    }

    #[test]
    fn undeclared_and_invalid_text_is_reported() {
        let (text, p) = Charset::parse("").decode(b"M\xfcller");
        assert_eq!(text, "Müller");
        assert!(matches!(p, Some(CharsetProblem::Undeclared(m)) if m.contains("Latin-1")));
        let (text, p) = Charset::parse("").decode("Müller".as_bytes());
        assert_eq!(text, "Müller");
        assert!(matches!(p, Some(CharsetProblem::Undeclared(m)) if m.contains("UTF-8")));
        let (_, p) = Charset::parse("ISO_IR 192").decode(b"M\xfcller");
        assert!(matches!(p, Some(CharsetProblem::Invalid(_))));
        let (_, p) = Charset::parse("\\ISO 2022 IR 87").decode(b"M\xfcller");
        assert!(matches!(p, Some(CharsetProblem::Invalid(_))));
        assert!(!Charset::parse("\\").is_declared());
        assert_eq!(
            Charset::parse("ISO_IR 999\\ISO 2022 IR 87").unknown,
            ["ISO_IR 999"]
        );
    }
}
