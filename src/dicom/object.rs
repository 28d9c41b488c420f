//! Reading data sets into dicom-object's in-memory objects without recursion, within limits:
//! the one reader for every path that needs a whole object (commitment messages, query
//! answers, transcoding, rewriting, DICOMDIRs).
//!
//! dicom-object builds nested sequences by recursion (and drops, clones and writes them the
//! same way): a data set nested a few thousand sequences deep, 64 KB on the wire, overflows a
//! thread's stack and aborts the whole process. Here the object is built from dicom-rs's
//! token reader (iterative, the same tokens and value strategy dicom-object reads with) with an
//! explicit stack, refusing nesting past [`MAX_DEPTH`]: an object read here can then be
//! cloned, written and dropped safely. Lengths are checked on each element's header, before
//! dicom-rs allocates (and zeroes) the declared length: a 1 KB deflated stream may declare
//! gigabytes. Sequences and items are kept with undefined lengths, always valid to write.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::value::{DataSetSequence, PixelFragmentSequence, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, FileMetaTable, InMemDicomObject};
use dicom_parser::dataset::DataToken;
use dicom_parser::dataset::read::DataSetReaderOptions;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::header::meta::{has_long_length, is_vr};
use super::tokens::{RawTokens, tokens_with};

/// Sequences nested in sequences. Real data stays far below: the deepest structured reports
/// nest a dozen levels, enhanced multi-frame functional groups three.
pub const MAX_DEPTH: usize = 64;

/// Elements in one data set, items' elements included (a commitment report naming 100,000
/// instances holds 300,000).
pub const MAX_ELEMENTS: usize = 4_000_000;

/// Longest value of an element other than pixel data (the header walk's limit too).
pub const MAX_VALUE: u64 = 64 << 20;

/// The most pixel data a deflated data set may hold: its bytes cannot be checked against the
/// file's size, and deflate is for small data sets (structured reports, waveforms,
/// presentation states), not images.
pub const MAX_DEFLATED_PIXELS: u64 = 512 << 20;

/// Fragments of encapsulated pixel data (a 10,000-frame cine has 10,001).
pub const MAX_FRAGMENTS: usize = 1 << 20;

/// The largest file meta group accepted (real ones take ~200 bytes).
const MAX_META: u32 = 64 << 10;

/// Why a data set was refused or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    #[error("sequences nested more than {MAX_DEPTH} deep ({path}); refused")]
    TooDeep { path: String },
    #[error("more than {what}; refused")]
    TooMany { what: String },
    #[error("element {tag} declares {len} bytes, more than the {max} allowed; refused")]
    TooLong { tag: String, len: u64, max: u64 },
    #[error("element {tag} declares {len} bytes, but only {remaining} remain")]
    BeyondEnd {
        tag: String,
        len: u64,
        remaining: u64,
    },
    #[error("{0}")]
    Unreadable(String),
}

impl ObjectError {
    fn unreadable(e: impl std::fmt::Display) -> ObjectError {
        ObjectError::Unreadable(e.to_string())
    }
}

/// What a read allows.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Stop at the first top-level element at or after this tag (as dicom-object's
    /// `read_until` does).
    pub until: Option<Tag>,
    /// Pixel data: one native value, or all fragments together.
    pub max_pixels: u64,
    /// Every other value together, as held in memory: multi-valued text is charged at what it
    /// may become once split into values (an empty string per backslash costs 24 bytes).
    pub max_other: u64,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            until: None,
            max_pixels: 4 << 30,
            max_other: 256 << 20,
        }
    }
}

impl Bounds {
    /// Up to (not including) the pixel data.
    pub fn header_only() -> Bounds {
        Bounds {
            until: Some(Tag(0x7FE0, 0x0010)),
            ..Bounds::default()
        }
    }

    /// A message on the network (a query, a commitment request or report): no pixel data,
    /// held in memory.
    pub fn message() -> Bounds {
        Bounds {
            until: None,
            max_pixels: MAX_VALUE,
            max_other: 64 << 20,
        }
    }
}

/// What a value of `vr` declaring `len` bytes may cost in memory once read: multi-valued text
/// split at each backslash into strings of 24 bytes each.
fn cost(vr: VR, len: u64) -> u64 {
    match vr {
        VR::AE
        | VR::AS
        | VR::CS
        | VR::DA
        | VR::DS
        | VR::DT
        | VR::IS
        | VR::LO
        | VR::PN
        | VR::SH
        | VR::TM
        | VR::UC
        | VR::UI => len.saturating_mul(25),
        _ => len,
    }
}

fn tag_str(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.group(), tag.element())
}

fn is_pixel(tag: Tag) -> bool {
    matches!(
        tag,
        Tag(0x7FE0, 0x0008) | Tag(0x7FE0, 0x0009) | Tag(0x7FE0, 0x0010)
    )
}

fn transfer_syntax(uid: &str) -> Result<&'static dicom_encoding::TransferSyntax, ObjectError> {
    TransferSyntaxRegistry
        .get(uid.trim_end_matches(['\0', ' ']))
        .ok_or_else(|| ObjectError::Unreadable(format!("unknown transfer syntax {uid}")))
}

/// One level being built: an object (the data set or an item) collecting its elements, or a
/// sequence collecting its items.
enum Open {
    Object(Vec<InMemElement>),
    Sequence {
        tag: Tag,
        items: Vec<InMemDicomObject>,
    },
}

/// The tags of the open sequences, outermost first, for a refusal.
fn path_of(stack: &[Open]) -> String {
    let tags: Vec<String> = stack
        .iter()
        .filter_map(|o| match o {
            Open::Sequence { tag, .. } => Some(tag_str(*tag)),
            Open::Object(_) => None,
        })
        .collect();
    let shown: Vec<&str> = tags.iter().take(3).map(String::as_str).collect();
    format!("{} > ... {} levels", shown.join(" > "), tags.len())
}

/// Builds the data set of `tokens` (positioned at its first element) into an object.
/// `size`: where the data set's bytes end, when not deflated (lengths past it are refused).
fn build(
    tokens: &mut RawTokens<'_>,
    size: Option<u64>,
    bounds: Bounds,
) -> Result<InMemDicomObject, ObjectError> {
    let mut stack: Vec<Open> = vec![Open::Object(Vec::new())];
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut other = 0u64;
    let next = |tokens: &mut RawTokens<'_>| -> Result<Option<DataToken>, ObjectError> {
        tokens
            .tokens
            .next()
            .transpose()
            .map_err(|e| ObjectError::Unreadable(format!("data set unreadable: {e}")))
    };
    while let Some(token) = next(tokens)? {
        let top_level = stack.len() == 1;
        match token {
            DataToken::ElementHeader(h) => {
                if top_level && bounds.until.is_some_and(|u| u <= h.tag) {
                    break;
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(ObjectError::TooMany {
                        what: format!("{MAX_ELEMENTS} elements"),
                    });
                }
                // Checked before the next token reads (and allocates) the value.
                if let Some(len) = h.len.get() {
                    let len = u64::from(len);
                    // A short-length VR's value must fit its 2-byte length when written in an
                    // explicit VR syntax (an Implicit VR file may declare more: it would be
                    // written with a wrapped length).
                    let max = if is_pixel(h.tag) {
                        bounds.max_pixels
                    } else if !has_long_length(&h.vr.to_bytes()) {
                        0xFFFE
                    } else {
                        MAX_VALUE
                    };
                    if len > max {
                        return Err(ObjectError::TooLong {
                            tag: tag_str(h.tag),
                            len,
                            max,
                        });
                    }
                    if let Some(end) = size {
                        let remaining = end.saturating_sub(tokens.pos.get());
                        if len > remaining {
                            return Err(ObjectError::BeyondEnd {
                                tag: tag_str(h.tag),
                                len,
                                remaining,
                            });
                        }
                    }
                    if !is_pixel(h.tag) {
                        other += cost(h.vr, len);
                        if other > bounds.max_other {
                            return Err(ObjectError::TooMany {
                                what: format!("{} MiB of values", bounds.max_other >> 20),
                            });
                        }
                    }
                }
                let value = match next(tokens)? {
                    Some(DataToken::PrimitiveValue(v)) => v,
                    Some(other) => {
                        return Err(ObjectError::Unreadable(format!(
                            "element {} has no value ({other:?})",
                            tag_str(h.tag)
                        )));
                    }
                    None => {
                        return Err(ObjectError::Unreadable(format!(
                            "the data set ends in element {}",
                            tag_str(h.tag)
                        )));
                    }
                };
                let element =
                    DataElement::new_with_len(h.tag, h.vr, h.len, Value::Primitive(value));
                push_element(&mut stack, element)?;
            }
            DataToken::SequenceStart { tag, .. } => {
                if top_level && bounds.until.is_some_and(|u| u <= tag) {
                    break;
                }
                elements += 1;
                depth += 1;
                stack.push(Open::Sequence {
                    tag,
                    items: Vec::new(),
                });
                if depth > MAX_DEPTH {
                    return Err(ObjectError::TooDeep {
                        path: path_of(&stack),
                    });
                }
            }
            DataToken::ItemStart { .. } => {
                // Items count, or a million empty ones would cost nothing.
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(ObjectError::TooMany {
                        what: format!("{MAX_ELEMENTS} elements"),
                    });
                }
                match stack.last() {
                    Some(Open::Sequence { .. }) => stack.push(Open::Object(Vec::new())),
                    _ => return Err(ObjectError::unreadable("an item outside a sequence")),
                }
            }
            DataToken::ItemEnd => {
                let item = match stack.pop() {
                    Some(Open::Object(elements)) if !stack.is_empty() => elements,
                    _ => return Err(ObjectError::unreadable("an item end outside an item")),
                };
                match stack.last_mut() {
                    Some(Open::Sequence { items, .. }) => {
                        items.push(InMemDicomObject::from_element_iter(item));
                    }
                    _ => return Err(ObjectError::unreadable("an item outside a sequence")),
                }
            }
            DataToken::SequenceEnd => {
                let (tag, items) = match stack.pop() {
                    Some(Open::Sequence { tag, items }) => (tag, items),
                    _ => {
                        return Err(ObjectError::unreadable("a sequence end outside a sequence"));
                    }
                };
                depth -= 1;
                let value = Value::Sequence(DataSetSequence::new(items, Length::UNDEFINED));
                push_element(&mut stack, DataElement::new(tag, VR::SQ, value))?;
            }
            DataToken::PixelSequenceStart => {
                let tag = Tag(0x7FE0, 0x0010);
                if top_level && bounds.until.is_some_and(|u| u <= tag) {
                    break;
                }
                let value = pixel_sequence(tokens, size, bounds)?;
                push_element(&mut stack, DataElement::new(tag, VR::OB, value))?;
            }
            token @ (DataToken::PrimitiveValue(_)
            | DataToken::ItemValue(_)
            | DataToken::OffsetTable(_)) => {
                return Err(ObjectError::Unreadable(format!(
                    "unexpected {token:?} in the data set"
                )));
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(Open::Object(elements)), true) => Ok(InMemDicomObject::from_element_iter(elements)),
        _ => Err(ObjectError::unreadable(
            "the data set ends inside a sequence",
        )),
    }
}

fn push_element(stack: &mut [Open], element: InMemElement) -> Result<(), ObjectError> {
    match stack.last_mut() {
        Some(Open::Object(elements)) => {
            elements.push(element);
            Ok(())
        }
        _ => Err(ObjectError::unreadable("an element outside an item")),
    }
}

/// The fragments of encapsulated pixel data, up to its sequence end. Each item's length is
/// checked before dicom-rs reads (and, for the offset table, zero-fills) it.
fn pixel_sequence(
    tokens: &mut RawTokens<'_>,
    size: Option<u64>,
    bounds: Bounds,
) -> Result<Value<InMemDicomObject, dicom_core::value::InMemFragment>, ObjectError> {
    let mut offset_table = None;
    let mut fragments = Vec::new();
    let mut total = 0u64;
    loop {
        let token = tokens
            .tokens
            .next()
            .transpose()
            .map_err(|e| ObjectError::Unreadable(format!("pixel data unreadable: {e}")))?;
        match token {
            Some(DataToken::ItemStart { len }) => {
                let len = len.get().map(u64::from).unwrap_or(0);
                if let Some(end) = size {
                    let remaining = end.saturating_sub(tokens.pos.get());
                    if len > remaining {
                        return Err(ObjectError::BeyondEnd {
                            tag: "(FFFE,E000)".into(),
                            len,
                            remaining,
                        });
                    }
                }
                total += len;
                if total > bounds.max_pixels {
                    return Err(ObjectError::TooLong {
                        tag: "(7FE0,0010)".into(),
                        len: total,
                        max: bounds.max_pixels,
                    });
                }
            }
            Some(DataToken::OffsetTable(table)) => offset_table = Some(table),
            Some(DataToken::ItemValue(data)) => {
                fragments.push(data);
                if fragments.len() > MAX_FRAGMENTS {
                    return Err(ObjectError::TooMany {
                        what: format!("{MAX_FRAGMENTS} pixel data fragments"),
                    });
                }
            }
            Some(DataToken::ItemEnd) => {
                // After the first item, later items are fragments (dicom-object's rule).
                if offset_table.is_none() {
                    offset_table = Some(Vec::new());
                }
            }
            Some(DataToken::SequenceEnd) | None => break,
            Some(other) => {
                return Err(ObjectError::Unreadable(format!(
                    "unexpected {other:?} in encapsulated pixel data"
                )));
            }
        }
    }
    Ok(Value::PixelSequence(PixelFragmentSequence::new(
        offset_table.unwrap_or_default(),
        fragments,
    )))
}

fn deflated_bounds(bounds: Bounds, deflated: bool) -> Bounds {
    if deflated {
        Bounds {
            max_pixels: bounds.max_pixels.min(MAX_DEFLATED_PIXELS),
            ..bounds
        }
    } else {
        bounds
    }
}

/// A data set held in memory (a message's data set) as an object.
pub fn read_dataset(data: &[u8], ts_uid: &str) -> Result<InMemDicomObject, ObjectError> {
    read_dataset_within(data, ts_uid, Bounds::message())
}

/// [`read_dataset`] with other bounds.
pub fn read_dataset_within(
    data: &[u8],
    ts_uid: &str,
    bounds: Bounds,
) -> Result<InMemDicomObject, ObjectError> {
    let ts = transfer_syntax(ts_uid)?;
    let deflated = matches!(
        ts.codec(),
        dicom_encoding::transfer_syntax::Codec::Dataset(_)
    );
    let mut tokens = tokens_with(data, ts, 0, DataSetReaderOptions::default())
        .map_err(ObjectError::Unreadable)?;
    let size = (!deflated).then_some(data.len() as u64);
    build(&mut tokens, size, deflated_bounds(bounds, deflated))
}

/// Checks the file meta group at the reader's position (after `DICM`) the way dicom-object
/// will walk it, so that reading it allocates nothing a length claims beyond the group:
/// returns the group's bytes (group length element included).
fn checked_meta_group<R: Read>(src: &mut R) -> Result<Vec<u8>, ObjectError> {
    let mut head = [0u8; 12];
    src.read_exact(&mut head)
        .map_err(|e| ObjectError::Unreadable(format!("file meta information unreadable: {e}")))?;
    if head[0..4] != [0x02, 0x00, 0x00, 0x00] || &head[4..6] != b"UL" {
        return Err(ObjectError::unreadable(
            "file meta information has no group length (0002,0000)",
        ));
    }
    let group_len = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if group_len > MAX_META {
        return Err(ObjectError::TooLong {
            tag: "(0002,0000)".into(),
            len: u64::from(group_len),
            max: u64::from(MAX_META),
        });
    }
    let mut group = vec![0u8; group_len as usize];
    src.read_exact(&mut group)
        .map_err(|e| ObjectError::Unreadable(format!("file meta information cut short: {e}")))?;
    let mut at = 0usize;
    while at < group.len() {
        let h = group
            .get(at..at + 8)
            .ok_or_else(|| ObjectError::unreadable("file meta information cut short"))?;
        let vr = &h[4..6];
        if !is_vr(vr) {
            return Err(ObjectError::unreadable(
                "file meta information is not Explicit VR Little Endian",
            ));
        }
        let (len, header) = if has_long_length(vr) {
            let l = group
                .get(at + 8..at + 12)
                .ok_or_else(|| ObjectError::unreadable("file meta information cut short"))?;
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, 12)
        } else {
            (u16::from_le_bytes([h[6], h[7]]) as usize, 8)
        };
        at = at
            .checked_add(header + len)
            .filter(|end| *end <= group.len())
            .ok_or_else(|| {
                ObjectError::unreadable("a file meta element runs past the group's length")
            })?;
    }
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(&group);
    Ok(bytes)
}

/// A Part 10 file (preamble, `DICM`, file meta group, data set) of `size` bytes as an object.
pub fn read_file<R: Read + Seek>(
    src: &mut R,
    size: u64,
    bounds: Bounds,
) -> Result<DefaultDicomObject, ObjectError> {
    src.seek(SeekFrom::Start(0))
        .map_err(ObjectError::unreadable)?;
    let mut magic = [0u8; 132];
    src.read_exact(&mut magic)
        .map_err(|_| ObjectError::unreadable("not a DICOM file (no DICM marker)"))?;
    let dicm_at = if &magic[128..132] == b"DICM" {
        132
    } else if &magic[0..4] == b"DICM" {
        4
    } else {
        return Err(ObjectError::unreadable("not a DICOM file (no DICM marker)"));
    };
    src.seek(SeekFrom::Start(dicm_at))
        .map_err(ObjectError::unreadable)?;
    let group = checked_meta_group(src)?;
    let mut meta_bytes = b"DICM".to_vec();
    meta_bytes.extend_from_slice(&group);
    let meta = FileMetaTable::from_reader(&meta_bytes[..])
        .map_err(|e| ObjectError::Unreadable(format!("file meta information: {e}")))?;
    let ts = transfer_syntax(meta.transfer_syntax())?;
    let deflated = matches!(
        ts.codec(),
        dicom_encoding::transfer_syntax::Codec::Dataset(_)
    );
    let start = dicm_at + group.len() as u64;
    let reader = std::io::BufReader::with_capacity(64 << 10, src);
    let mut tokens = tokens_with(reader, ts, start, DataSetReaderOptions::default())
        .map_err(ObjectError::Unreadable)?;
    let obj = build(
        &mut tokens,
        (!deflated).then_some(size),
        deflated_bounds(bounds, deflated),
    )?;
    Ok(obj.with_exact_meta(meta))
}

/// [`read_file`] of the file at `path`.
pub fn open_file(path: &Path, bounds: Bounds) -> Result<DefaultDicomObject, ObjectError> {
    let file = std::fs::File::open(path).map_err(ObjectError::unreadable)?;
    let size = file.metadata().map_err(ObjectError::unreadable)?.len();
    read_file(&mut std::io::BufReader::new(file), size, bounds)
}

/// [`read_file`] of a file held in memory.
pub fn read_file_bytes(bytes: &[u8], bounds: Bounds) -> Result<DefaultDicomObject, ObjectError> {
    read_file(&mut std::io::Cursor::new(bytes), bytes.len() as u64, bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Explicit VR LE: `depth` sequences of undefined length, each with one item, innermost
    /// holding one element; the same tag at every level.
    pub(crate) fn nested(depth: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for _ in 0..depth {
            v.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0]);
            v.extend_from_slice(&u32::MAX.to_le_bytes());
            v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            v.extend_from_slice(&u32::MAX.to_le_bytes());
        }
        v.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, b'U', b'I', 4, 0]);
        v.extend_from_slice(b"1.2\0");
        for _ in 0..depth {
            v.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
            v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        }
        v
    }

    const EXPLICIT: &str = "1.2.840.10008.1.2.1";

    #[test]
    fn nesting_past_the_limit_is_refused_without_recursion() {
        let obj = read_dataset(&nested(MAX_DEPTH), EXPLICIT).unwrap();
        // The same object dicom-object would build, and it writes back.
        let ts = transfer_syntax(EXPLICIT).unwrap();
        let mine = {
            let mut out = Vec::new();
            obj.write_dataset_with_ts(&mut out, ts).unwrap();
            out
        };
        let theirs = InMemDicomObject::read_dataset_with_ts(&nested(MAX_DEPTH)[..], ts).unwrap();
        let mut expect = Vec::new();
        theirs.write_dataset_with_ts(&mut expect, ts).unwrap();
        assert_eq!(mine, expect);

        let deep = nested(100_000);
        // On a small stack: the reader itself never recurses.
        let r = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || read_dataset(&deep, EXPLICIT).map(|_| ()))
            .unwrap()
            .join()
            .unwrap();
        match r {
            Err(ObjectError::TooDeep { path }) => {
                assert!(path.starts_with("(0008,1115) > (0008,1115)"), "{path}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_short_value_too_long_for_explicit_vr_is_refused() {
        // Implicit VR: a SOP Instance UID of 70,000 bytes.
        let mut v = vec![0x08, 0x00, 0x18, 0x00];
        v.extend_from_slice(&70_000u32.to_le_bytes());
        v.extend(std::iter::repeat_n(b'1', 70_000));
        assert!(matches!(
            read_dataset(&v, "1.2.840.10008.1.2"),
            Err(ObjectError::TooLong { max: 0xFFFE, .. })
        ));
    }

    #[test]
    fn declared_lengths_are_checked_before_allocation() {
        // An OB element declaring 3 GB in a 20-byte data set.
        let mut v = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        v.extend_from_slice(&(3u32 << 30).to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        assert!(matches!(
            read_dataset(&v, EXPLICIT),
            Err(ObjectError::TooLong { .. })
        ));
        let mut small = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        small.extend_from_slice(&1000u32.to_le_bytes());
        small.extend_from_slice(&[0; 8]);
        assert!(matches!(
            read_dataset(&small, EXPLICIT),
            Err(ObjectError::BeyondEnd { .. })
        ));
    }

    #[test]
    fn files_read_as_dicom_object_reads_them() {
        let data = nested(3);
        let (bytes, _) = crate::dicom::part10::wrap_part10(
            "1.2.840.10008.5.1.4.1.1.7",
            "1.2.3",
            EXPLICIT,
            "A",
            &data,
        )
        .unwrap();
        let mine = read_file_bytes(&bytes, Bounds::default()).unwrap();
        assert_eq!(mine.meta().media_storage_sop_instance_uid(), "1.2.3");
        assert!(mine.element(Tag(0x0008, 0x1115)).is_ok());
        // A meta element whose length runs past its group is refused before it is read.
        let mut bad = bytes.clone();
        // (0002,0001) OB: its 4-byte length at 132 + 12 + 8.
        bad[152..156].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_file_bytes(&bad, Bounds::default()).is_err());
        assert!(read_file_bytes(b"not dicom", Bounds::default()).is_err());
    }
}
