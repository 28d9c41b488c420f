//! Comparing two copies of one instance attribute by attribute, whatever their encoding.
//!
//! Routers, CD burners and archives re-wrap files all day (a new file meta group, another
//! transfer syntax, defined instead of undefined lengths). Two copies are the same instance when
//! their data sets say the same thing: every attribute, in sequences too, compared by value
//! (text decoded by each copy's character set, numbers in one byte order, padding ignored).
//! Pixel data is compared value for value when both copies are native or share their
//! compressed syntax; when the encodings differ it cannot be compared without decoding, and
//! the result says so.

mod flatten;

use std::io::{Read, Seek};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};

use super::charset::Charset;
use super::header::ts_name;
pub use crate::model::AttrDiff;
use flatten::flatten;

/// How two copies of one SOP instance relate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sameness {
    /// Every attribute agrees; the copies differ only in encoding. `note` says how.
    Variant { note: String },
    /// Attributes differ (at most [`MAX_DIFFS`] listed, then a count of the rest).
    Different(Vec<AttrDiff>),
    /// One copy was too costly to compare (nested too deep, too large, too slow): kept as a
    /// conflict whose differences are unknown.
    NotCompared { why: String },
}

/// Differences listed at most; the rest are counted.
pub const MAX_DIFFS: usize = 200;

/// A value in a form that two encodings of the same attribute share.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(Vec<String>),
    Numbers(Vec<f64>),
    /// Binary values in little endian, or a hash of them when long.
    Bytes(Vec<u8>),
    Hash(blake3::Hash),
    /// Encapsulated pixel data: the hash of its fragments, under its transfer syntax.
    Encapsulated {
        ts: String,
        hash: blake3::Hash,
    },
}

#[derive(Debug, Clone)]
struct Elem {
    path: String,
    tag: Tag,
    vr: VR,
    val: Val,
    /// The bytes of a short value (binary ones in little endian): a UN element is read again
    /// by the other copy's VR, and a value whose VR is ambiguous in the dictionary ("US or
    /// SS", read one way from Implicit VR and the other from Explicit) is compared as bytes.
    raw: Option<Vec<u8>>,
}

/// What a copy's data set holds, flattened.
struct Flat {
    ts: String,
    charset: String,
    elems: Vec<Elem>,
    /// Where reading stopped early, if it did.
    error: Option<String>,
    /// Why the copy is not compared at all, if it is too costly.
    too_costly: Option<String>,
}

const LONG: usize = 256;

/// Compares the data sets of two copies (each a readable, seekable file image).
pub fn compare<A: Read + Seek, B: Read + Seek>(
    held: &mut A,
    held_size: u64,
    received: &mut B,
    received_size: u64,
) -> Sameness {
    let a = flatten(held, held_size);
    if let Some(why) = a.too_costly {
        return Sameness::NotCompared {
            why: format!("the held copy: {why}"),
        };
    }
    let b = flatten(received, received_size);
    if let Some(why) = b.too_costly {
        return Sameness::NotCompared {
            why: format!("the received copy: {why}"),
        };
    }
    let mut diffs = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut pixel_notes = Vec::new();
    while i < a.elems.len() || j < b.elems.len() {
        let ord = match (a.elems.get(i), b.elems.get(j)) {
            (Some(x), Some(y)) => x.path.cmp(&y.path),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ord {
            std::cmp::Ordering::Less => {
                diffs.push(diff(&a.elems[i].path, show(&a.elems[i]), "(absent)".into()));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                diffs.push(diff(&b.elems[j].path, "(absent)".into(), show(&b.elems[j])));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (x, y) = (&a.elems[i], &b.elems[j]);
                let encapsulated = matches!(x.val, Val::Encapsulated { .. })
                    || matches!(y.val, Val::Encapsulated { .. });
                if encapsulated && !same_encoding(&x.val, &y.val) {
                    pixel_notes.push(format!(
                        "{} not compared value by value: {} vs {}",
                        x.path,
                        ts_name(&a.ts),
                        ts_name(&b.ts)
                    ));
                } else if !same_value(
                    x,
                    y,
                    &Charset::parse(&a.charset),
                    &Charset::parse(&b.charset),
                ) {
                    diffs.push(diff(&x.path, show(x), show(y)));
                }
                i += 1;
                j += 1;
            }
        }
    }
    match (&a.error, &b.error) {
        (None, Some(e)) => diffs.push(diff("(data set)", "readable".into(), e.clone())),
        (Some(e), None) => diffs.push(diff("(data set)", e.clone(), "readable".into())),
        _ => {}
    }
    if !diffs.is_empty() {
        if diffs.len() > MAX_DIFFS {
            let more = diffs.len() - MAX_DIFFS;
            diffs.truncate(MAX_DIFFS);
            diffs.push(diff(
                "(more)",
                String::new(),
                format!("{more} more attributes differ"),
            ));
        }
        return Sameness::Different(diffs);
    }
    let mut how = Vec::new();
    if a.ts != b.ts {
        how.push(format!("{} instead of {}", ts_name(&b.ts), ts_name(&a.ts)));
    }
    if a.charset != b.charset {
        how.push(format!(
            "character set '{}' instead of '{}'",
            b.charset, a.charset
        ));
    }
    if how.is_empty() {
        how.push("other encoding of the same values".into());
    }
    how.extend(pixel_notes);
    Sameness::Variant {
        note: how.join("; "),
    }
}

fn diff(path: &str, held: String, received: String) -> AttrDiff {
    AttrDiff {
        attribute: path.to_string(),
        held,
        received,
    }
}

fn same_encoding(a: &Val, b: &Val) -> bool {
    matches!((a, b), (Val::Encapsulated { ts: x, .. }, Val::Encapsulated { ts: y, .. }) if x == y)
}

fn same_value(x: &Elem, y: &Elem, cx: &Charset, cy: &Charset) -> bool {
    if x.val == y.val {
        return true;
    }
    // One copy may carry an attribute as UN (written by a reader that did not know it, or
    // Implicit VR) and the other with its VR: read the UN bytes by the other's VR.
    match (x.vr, y.vr, &x.raw, &y.raw) {
        (VR::UN, vr, Some(raw), _) if vr != VR::UN => value(x.tag, vr, raw, false, cx) == y.val,
        (vr, VR::UN, _, Some(raw)) if vr != VR::UN => value(y.tag, vr, raw, false, cy) == x.val,
        (a, b, Some(ra), Some(rb)) if a != b => ra == rb,
        _ => false,
    }
}

fn show(e: &Elem) -> String {
    match &e.val {
        Val::Text(parts) => {
            let s = parts.join("\\");
            if s.is_empty() {
                "(empty)".into()
            } else if s.chars().count() > 64 {
                format!("{}…", s.chars().take(63).collect::<String>())
            } else {
                s
            }
        }
        Val::Numbers(n) if n.is_empty() => "(empty)".into(),
        Val::Numbers(n) => {
            let mut s = n
                .iter()
                .take(8)
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\\");
            if n.len() > 8 {
                s.push_str(&format!("… ({} values)", n.len()));
            }
            s
        }
        Val::Bytes(b) if b.is_empty() => "(empty)".into(),
        Val::Bytes(b) => format!("{} bytes", b.len()),
        Val::Hash(h) => format!("data {}", &h.to_hex()[..12]),
        Val::Encapsulated { ts, hash } => format!("{} data {}", ts_name(ts), &hash.to_hex()[..12]),
    }
}

fn keyword(tag: Tag) -> String {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias().to_string())
        .unwrap_or_else(|| format!("({:04X},{:04X})", tag.group(), tag.element()))
}

/// Elements that say how a data set is encoded, not what it says.
fn skipped(tag: Tag) -> bool {
    tag.element() == 0x0000
        || tag == tags::DATA_SET_TRAILING_PADDING
        || tag == tags::SPECIFIC_CHARACTER_SET
}

fn value(tag: Tag, vr: VR, bytes: &[u8], big: bool, charset: &Charset) -> Val {
    let trim = |s: &str| {
        s.trim_end_matches([' ', '\0'])
            .trim_start_matches(' ')
            .to_string()
    };
    let split = |s: &str| -> Vec<String> { s.split('\\').map(trim).collect() };
    match vr {
        VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UT => {
            Val::Text(split(&charset.decode(bytes).0))
        }
        VR::DS | VR::IS => {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            let parts = split(&text);
            match parts
                .iter()
                .map(|p| p.parse::<f64>())
                .collect::<Result<Vec<f64>, _>>()
            {
                Ok(n) => Val::Numbers(n),
                Err(_) => Val::Text(parts),
            }
        }
        VR::AE | VR::AS | VR::CS | VR::DA | VR::DT | VR::TM | VR::UI | VR::UR => {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            Val::Text(split(&text))
        }
        _ => {
            let le = little_endian(vr, bytes, big);
            if le.len() > LONG || tag == tags::PIXEL_DATA {
                return Val::Hash(blake3::hash(&le));
            }
            match numbers(vr, &le) {
                Some(n) => Val::Numbers(n),
                None => Val::Bytes(le),
            }
        }
    }
}

/// A binary value's bytes in little endian.
fn little_endian(vr: VR, bytes: &[u8], big: bool) -> Vec<u8> {
    let unit = match vr {
        VR::US | VR::SS | VR::OW | VR::AT => 2,
        VR::UL | VR::SL | VR::FL | VR::OL | VR::OF => 4,
        VR::FD | VR::SV | VR::UV | VR::OD | VR::OV => 8,
        _ => 1,
    };
    if big && unit > 1 {
        bytes
            .chunks(unit)
            .flat_map(|c| c.iter().rev().copied())
            .collect()
    } else {
        bytes.to_vec()
    }
}

/// Binary numbers of a numeric VR, from little-endian bytes.
fn numbers(vr: VR, le: &[u8]) -> Option<Vec<f64>> {
    fn each<const N: usize>(le: &[u8], f: impl Fn([u8; N]) -> f64) -> Option<Vec<f64>> {
        le.len().is_multiple_of(N).then(|| {
            le.chunks_exact(N)
                .map(|c| f(c.try_into().unwrap_or([0; N])))
                .collect()
        })
    }
    match vr {
        VR::US => each::<2>(le, |b| f64::from(u16::from_le_bytes(b))),
        VR::SS => each::<2>(le, |b| f64::from(i16::from_le_bytes(b))),
        VR::UL => each::<4>(le, |b| f64::from(u32::from_le_bytes(b))),
        VR::SL => each::<4>(le, |b| f64::from(i32::from_le_bytes(b))),
        VR::FL => each::<4>(le, |b| f64::from(f32::from_le_bytes(b))),
        VR::FD => each::<8>(le, f64::from_le_bytes),
        VR::SV => each::<8>(le, |b| i64::from_le_bytes(b) as f64),
        VR::UV => each::<8>(le, |b| u64::from_le_bytes(b) as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::write::{DataSetBuilder, encode_part10_as};
    use std::io::Cursor;

    fn file(patient_id: &str, ts: &str, source_ae: &str) -> Vec<u8> {
        let obj = DataSetBuilder::new()
            .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7")
            .text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4")
            .text(tags::PATIENT_NAME, VR::PN, "DOE^JANE")
            .text(tags::PATIENT_ID, VR::LO, patient_id)
            .u16(tags::ROWS, 2)
            .u16(tags::COLUMNS, 2)
            .pixels_u16(tags::PIXEL_DATA, vec![1, 2, 3, 4])
            .build();
        encode_part10_as(obj, Some(source_ae), ts).unwrap()
    }

    fn cmp(a: &[u8], b: &[u8]) -> Sameness {
        compare(
            &mut Cursor::new(a),
            a.len() as u64,
            &mut Cursor::new(b),
            b.len() as u64,
        )
    }

    #[test]
    fn another_transfer_syntax_is_a_variant() {
        let a = file("1004703", "1.2.840.10008.1.2.1", "CT1");
        let b = file("1004703", "1.2.840.10008.1.2", "ROUTER");
        assert_ne!(a, b);
        match cmp(&a, &b) {
            Sameness::Variant { note } => {
                assert!(note.contains("Implicit VR Little Endian"), "{note}")
            }
            other => panic!("{other:?}"),
        }
        let c = file("1004703", "1.2.840.10008.1.2.2", "ROUTER");
        assert!(matches!(cmp(&a, &c), Sameness::Variant { .. }));
    }

    #[test]
    fn a_changed_value_is_named() {
        let a = file("1004703", "1.2.840.10008.1.2.1", "CT1");
        let b = file("1004730", "1.2.840.10008.1.2", "CT1");
        match cmp(&a, &b) {
            Sameness::Different(d) => {
                assert_eq!(d.len(), 1, "{d:?}");
                assert_eq!(d[0].to_string(), "PatientID: 1004703 vs 1004730");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_absurd_length_is_refused_not_allocated() {
        let a = file("1", "1.2.840.10008.1.2.1", "CT1");
        // The Pixel Data length (last 4 bytes of its header) set to 3 GB.
        let mut b = a.clone();
        let at = b
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .unwrap();
        b[at + 8..at + 12].copy_from_slice(&(3u32 << 30).to_le_bytes());
        match cmp(&a, &b) {
            Sameness::Different(d) => {
                assert!(d.iter().any(|x| x.received.contains("only")), "{d:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn changed_pixels_are_a_difference() {
        let a = file("1", "1.2.840.10008.1.2.1", "CT1");
        let mut b = a.clone();
        let last = b.len() - 1;
        b[last] ^= 0x40;
        match cmp(&a, &b) {
            Sameness::Different(d) => assert_eq!(d[0].attribute, "PixelData"),
            other => panic!("{other:?}"),
        }
    }
}
