//! ISO 2022 text (Specific Character Set "ISO 2022 IR ..."), which dicom-rs does not decode
//! (dicom-rs issue #443): Japanese (JIS X 0201, 0208, 0212), Korean (KS X 1001) and simplified
//! Chinese (GB 2312) names arrive as escape sequences and raw bytes. This decodes them per
//! DICOM PS3.5 section 6.1.2.5: code elements are switched by escape sequences, and the initial
//! designations return at every value, component group (`=`) and component (`^`) delimiter.

use encoding_rs::{EUC_JP, EUC_KR, GB18030};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G0 {
    Ascii,
    JisRoman,
    Jis0208,
    Jis0212,
    Katakana,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G1 {
    None,
    Katakana,
    Ksx1001,
    Gb2312,
    Latin1,
}

/// Whether this Specific Character Set value needs [`decode_iso2022`].
pub fn is_iso2022(specific_character_set: &str) -> bool {
    specific_character_set.contains("ISO 2022")
}

fn initial_g1(specific_character_set: &str) -> G1 {
    match specific_character_set
        .split('\\')
        .next()
        .unwrap_or("")
        .trim()
    {
        "ISO 2022 IR 13" => G1::Katakana,
        "ISO 2022 IR 100" => G1::Latin1,
        _ => G1::None,
    }
}

/// Decodes ISO 2022 encoded text. `specific_character_set` is the data set's (0008,0005).
pub fn decode_iso2022(bytes: &[u8], specific_character_set: &str) -> String {
    let g1_initial = initial_g1(specific_character_set);
    let (mut g0, mut g1) = (G0::Ascii, g1_initial);
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1B {
            let rest = &bytes[i + 1..];
            let (len, change) = escape(rest);
            match change {
                Some(Designation::G0(x)) => g0 = x,
                Some(Designation::G1(x)) => g1 = x,
                None => out.push('\u{FFFD}'),
            }
            i += 1 + len;
            continue;
        }
        if b < 0x80 {
            match g0 {
                G0::Jis0208 | G0::Jis0212 if b > 0x20 && i + 1 < bytes.len() => {
                    let pair = [b | 0x80, bytes[i + 1] | 0x80];
                    if g0 == G0::Jis0212 {
                        out.push_str(
                            &EUC_JP
                                .decode_without_bom_handling(&[0x8F, pair[0], pair[1]])
                                .0,
                        );
                    } else {
                        out.push_str(&EUC_JP.decode_without_bom_handling(&pair).0);
                    }
                    i += 2;
                    continue;
                }
                G0::Katakana if (0x21..=0x5F).contains(&b) => {
                    out.push(char::from_u32(0xFF61 + u32::from(b - 0x21)).unwrap_or('\u{FFFD}'));
                }
                G0::JisRoman if b == 0x5C => out.push('¥'),
                G0::JisRoman if b == 0x7E => out.push('‾'),
                _ => {
                    out.push(char::from(b));
                    if matches!(b, b'^' | b'=' | b'\\' | b'\r' | b'\n' | b'\t') {
                        g0 = G0::Ascii;
                        g1 = g1_initial;
                    }
                }
            }
            i += 1;
            continue;
        }
        match g1 {
            G1::Katakana if (0xA1..=0xDF).contains(&b) => {
                out.push(char::from_u32(0xFF61 + u32::from(b - 0xA1)).unwrap_or('\u{FFFD}'));
                i += 1;
            }
            G1::Ksx1001 | G1::Gb2312 if i + 1 < bytes.len() => {
                let enc = if g1 == G1::Ksx1001 { EUC_KR } else { GB18030 };
                out.push_str(&enc.decode_without_bom_handling(&bytes[i..i + 2]).0);
                i += 2;
            }
            G1::Latin1 => {
                out.push(char::from(b));
                i += 1;
            }
            _ => {
                out.push('\u{FFFD}');
                i += 1;
            }
        }
    }
    out
}

enum Designation {
    G0(G0),
    G1(G1),
}

/// Reads an escape sequence (after ESC): its length and what it designates.
fn escape(rest: &[u8]) -> (usize, Option<Designation>) {
    let seqs: [(&[u8], Designation); 10] = [
        (b"(B", Designation::G0(G0::Ascii)),
        (b"(J", Designation::G0(G0::JisRoman)),
        (b"(I", Designation::G0(G0::Katakana)),
        (b"$B", Designation::G0(G0::Jis0208)),
        (b"$@", Designation::G0(G0::Jis0208)),
        (b"$(D", Designation::G0(G0::Jis0212)),
        (b")I", Designation::G1(G1::Katakana)),
        (b"$)C", Designation::G1(G1::Ksx1001)),
        (b"$)A", Designation::G1(G1::Gb2312)),
        (b"-A", Designation::G1(G1::Latin1)),
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

/// Recovers the bytes of text that was decoded one byte per character (as dicom-rs does for
/// character sets it does not know), or `None` if it was not.
/// Half-width katakana (ISO 2022 IR 13, which dicom-rs does decode) go back to JIS X 0201.
pub fn bytes_of_latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| match u32::from(c) {
            k @ 0xFF61..=0xFF9F => u8::try_from(k - 0xFF61 + 0xA1).ok(),
            other => u8::try_from(other).ok(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_kanji_and_kana() {
        let raw =
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
        assert_eq!(
            decode_iso2022(raw, "\\ISO 2022 IR 87"),
            "Yamada^Tarou=山田^太郎=やまだ^たろう"
        );
    }

    #[test]
    fn japanese_half_width_katakana() {
        let raw = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J";
        assert_eq!(
            decode_iso2022(raw, "ISO 2022 IR 13\\ISO 2022 IR 87"),
            "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
        );
    }

    #[test]
    fn korean() {
        let raw = b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf";
        assert_eq!(
            decode_iso2022(raw, "\\ISO 2022 IR 149"),
            "Hong^Gildong=洪^吉洞=홍^길동"
        );
    }

    #[test]
    fn latin1_round_trip() {
        assert_eq!(bytes_of_latin1("J\u{e9}"), Some(vec![b'J', 0xE9]));
        assert_eq!(bytes_of_latin1("山"), None);
        assert_eq!(bytes_of_latin1("ﾔ"), Some(vec![0xD4]));
    }
}
