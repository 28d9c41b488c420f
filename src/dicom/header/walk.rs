//! The walk over the data set: dicom-rs's token stream with raw values, keeping the values the
//! header wants, until the pixel data or the first error.
//!
//! Damage handling: lengths the file cannot hold are refused before dicom-rs allocates them;
//! undefined-length sequences dicom-rs cannot parse (private UN, CP-246) are skipped and the
//! walk carries on after them; data that cannot be a data set (a command element of group
//! 0000, elements out of order: what zeros or random bytes behind a DICM marker look like) is
//! refused at the first such element instead of being walked for minutes.

use std::io::{Read, Seek, SeekFrom};

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::Endianness;
use dicom_parser::dataset::DataToken;

use super::attrs::{Header, Source, field_for_nested, field_for_tag, keyword};
use super::pixel::PixelData;
use super::{FaultKind, ReadOutcome, clean, tag_str};
use crate::dicom::charset::{Charset, CharsetProblem};
use crate::dicom::tokens::{RawTokens, raw_tokens};

/// A top-level sequence: its tag, where its value starts, its declared length (None = undefined).
#[derive(Debug, Clone, Copy)]
struct SeqAt {
    tag: Tag,
    value_at: u64,
    len: Option<u32>,
}

/// Longest non-pixel element a header may hold. Real headers stay far below; without a cap a
/// crafted length makes dicom-rs allocate (and zero) gigabytes, notably in deflated files where
/// the file size says nothing about the data set's.
const MAX_ELEMENT_LEN: u64 = 64 << 20;

/// How one stretch of token reading ended.
enum Segment {
    Pixel(PixelData),
    End,
    /// Reading failed; `recover_from` is the top-level sequence the failure happened in
    /// (its tag and where its value starts), which may be skipped to carry on.
    Failed {
        error: String,
        kind: FaultKind,
        recover_from: Option<SeqAt>,
    },
}

/// Raw values collected by the walk, decoded once the character set is known.
#[derive(Default)]
struct Collected {
    /// (field index, VR, raw bytes) of top-level elements.
    top: Vec<(usize, VR, Vec<u8>)>,
    /// (field index, rank, raw bytes) of elements in the first item of a top-level sequence.
    nested: Vec<(usize, usize, Vec<u8>)>,
    /// Last top-level tag seen, for the order check.
    last_top: Option<Tag>,
}

/// Walks the top level of the data set, filling the header, until pixel data or an error.
/// Returns where the pixel data is, with the reader positioned at its value.
pub(super) fn walk_dataset<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    deflated: bool,
    dataset_at: u64,
    size: u64,
    out: &mut ReadOutcome,
) -> Option<PixelData> {
    let mut collected = Collected::default();
    let pixel = walk_segments(src, ts, deflated, dataset_at, size, out, &mut collected);
    out.header.has_pixel_data = pixel.is_some();
    decode_values(&collected, ts.endianness() == Endianness::Big, out);
    pixel
}

fn walk_segments<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    deflated: bool,
    dataset_at: u64,
    size: u64,
    out: &mut ReadOutcome,
    collected: &mut Collected,
) -> Option<PixelData> {
    let mut start = dataset_at;
    // A few skips at most: each one moves forward, but a damaged file should not spin.
    for _ in 0..8 {
        match walk_segment(src, ts, start, size, deflated, collected) {
            Segment::Pixel(p) => return Some(p),
            Segment::End => return None,
            Segment::Failed {
                error,
                kind,
                recover_from,
            } => {
                if let Some(seq) = recover_from
                    && !deflated
                {
                    let private = seq.tag.group() % 2 == 1;
                    let skipped = match seq.len {
                        // Undefined length (typically private UN, which CP-246 says to read
                        // as Implicit VR): find its delimiter that way.
                        None => skip_implicit_sequence(src, seq.value_at, size)
                            .map(|next| (next, "skipped it as Implicit VR Little Endian (CP-246)")),
                        // Defined length: its end is known whatever is inside.
                        Some(len) => {
                            let next = seq.value_at + u64::from(len);
                            (next <= size).then_some((next, "skipped it by its declared length"))
                        }
                    };
                    if let Some((next, how)) = skipped {
                        let msg = format!(
                            "sequence {} could not be read as encoded; {how}",
                            tag_str(seq.tag)
                        );
                        // A damaged private sequence is the vendor's business; a standard one
                        // is damage to the file, even though the rest of the header reads.
                        if private || seq.len.is_none() {
                            out.push(FaultKind::Note, msg);
                        } else {
                            out.push(FaultKind::Unreadable, format!("{msg} ({error})"));
                        }
                        start = next;
                        continue;
                    }
                }
                out.push(kind, error);
                return None;
            }
        }
    }
    out.push(
        FaultKind::Unreadable,
        "data set unreadable: too many damaged sequences",
    );
    None
}

fn walk_segment<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    start: u64,
    size: u64,
    deflated: bool,
    collected: &mut Collected,
) -> Segment {
    let failed = |error: String| Segment::Failed {
        error,
        kind: FaultKind::Unreadable,
        recover_from: None,
    };
    let RawTokens {
        mut tokens, pos, ..
    } = match raw_tokens(src, ts, start) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let mut depth = 0usize;
    // The open sequences: whether each is encapsulated pixel data.
    let mut open_pixel: Vec<bool> = Vec::new();
    // What the next primitive value is for: a top-level field, or a nested one (with rank).
    let mut pending: Option<(usize, VR, Option<usize>)> = None;
    let mut last_tag: Option<Tag> = None;
    let mut top_seq: Option<SeqAt> = None;
    // Items seen in the current top-level sequence (only the first one's values are kept).
    let mut items_in_seq = 0usize;
    loop {
        let token = match tokens.next() {
            None => return Segment::End,
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                let after = last_tag
                    .map(|t| format!(" after {}", tag_str(t)))
                    .unwrap_or_default();
                return Segment::Failed {
                    error: format!("data set unreadable{after}: {e}"),
                    kind: FaultKind::Unreadable,
                    recover_from: if depth > 0 { top_seq } else { None },
                };
            }
        };
        let at = pos.get();
        match token {
            DataToken::ElementHeader(h) => {
                last_tag = Some(h.tag);
                if depth == 0 {
                    if let Some(problem) = not_a_data_set(collected, h.tag, at) {
                        return failed(problem);
                    }
                    if is_pixel_tag(h.tag) {
                        return Segment::Pixel(PixelData::Native { len: h.len.get() });
                    }
                    // Groups after pixel data (trailing padding) end the header. Group 7FE0
                    // goes on: the Extended Offset Table (7FE0,0001/0002) precedes Pixel Data.
                    if h.tag.group() > 0x7FE0 {
                        return Segment::End;
                    }
                }
                // Refuse a length the file cannot hold, or no header needs, before dicom-rs
                // allocates it.
                let remaining = size.saturating_sub(at);
                if let Some(len) = h.len.get() {
                    let len = u64::from(len);
                    let problem = if !deflated && len > remaining {
                        // A file cut short ends inside an element; a damaged one declares a
                        // length out of nowhere, typically after a VR that is no VR (read as UN).
                        let kind = if h.vr == VR::UN && ts.uid() != super::IMPLICIT_VR_LE {
                            FaultKind::Unreadable
                        } else {
                            FaultKind::Truncated
                        };
                        Some((format!("only {remaining} remain in the file"), kind))
                    } else if len > MAX_ELEMENT_LEN {
                        Some((
                            format!("more than a header element may hold ({MAX_ELEMENT_LEN})"),
                            FaultKind::Unreadable,
                        ))
                    } else {
                        None
                    };
                    if let Some((problem, kind)) = problem {
                        return Segment::Failed {
                            error: format!(
                                "data set unreadable: element {} declares {len} bytes, {problem}",
                                tag_str(h.tag)
                            ),
                            kind,
                            recover_from: if depth > 0 { top_seq } else { None },
                        };
                    }
                }
                pending = if depth == 0 {
                    field_for_tag(h.tag).map(|i| (i, h.vr, None))
                } else if depth == 2 && items_in_seq == 1 {
                    top_seq
                        .and_then(|s| field_for_nested(s.tag, h.tag))
                        .map(|(i, rank)| (i, h.vr, Some(rank)))
                } else {
                    None
                };
            }
            DataToken::PrimitiveValue(v) => {
                if let Some((field, vr, nested)) = pending.take() {
                    let bytes = v.to_bytes().into_owned();
                    match nested {
                        None => collected.top.push((field, vr, bytes)),
                        Some(rank) => collected.nested.push((field, rank, bytes)),
                    }
                }
            }
            DataToken::SequenceStart { tag, len } => {
                last_tag = Some(tag);
                pending = None;
                if depth == 0 {
                    if let Some(problem) = not_a_data_set(collected, tag, at) {
                        return failed(problem);
                    }
                    top_seq = Some(SeqAt {
                        tag,
                        value_at: at,
                        len: len.get(),
                    });
                    items_in_seq = 0;
                }
                depth += 1;
                open_pixel.push(false);
            }
            DataToken::PixelSequenceStart => {
                if depth == 0 {
                    return Segment::Pixel(PixelData::Encapsulated);
                }
                depth += 1;
                open_pixel.push(true);
            }
            DataToken::ItemStart { len } => {
                // An item of a (nested) pixel sequence is checked before dicom-rs reads it: the
                // first, its offset table, is zero-filled at its declared length.
                if open_pixel.last() == Some(&true)
                    && let Some(why) = crate::dicom::tokens::item_too_long(len, at, size, deflated)
                {
                    let within = last_tag
                        .map(|t| format!(" in {}", tag_str(t)))
                        .unwrap_or_default();
                    return Segment::Failed {
                        error: format!("data set unreadable{within}: {why}"),
                        kind: if deflated {
                            FaultKind::Unreadable
                        } else {
                            FaultKind::Truncated
                        },
                        recover_from: if depth > 0 { top_seq } else { None },
                    };
                }
                if depth == 1 {
                    items_in_seq += 1;
                }
                depth += 1;
            }
            DataToken::ItemEnd => depth = depth.saturating_sub(1),
            DataToken::SequenceEnd => {
                depth = depth.saturating_sub(1);
                open_pixel.pop();
            }
            DataToken::ItemValue(_) | DataToken::OffsetTable(_) => {}
        }
    }
}

/// Why a top-level element at `at` shows this is not a data set, if it does: a command element
/// (group 0000) or an element out of ascending tag order.
fn not_a_data_set(collected: &mut Collected, tag: Tag, at: u64) -> Option<String> {
    if tag.group() == 0x0000 {
        return Some(format!(
            "not a data set: element {} (group 0000 belongs to DIMSE commands) near offset {at}",
            tag_str(tag)
        ));
    }
    if let Some(last) = collected.last_top
        && tag <= last
    {
        return Some(format!(
            "not a data set: element {} follows {} (elements must be in ascending order) near offset {at}",
            tag_str(tag),
            tag_str(last)
        ));
    }
    collected.last_top = Some(tag);
    None
}

/// Turns the collected raw values into header text, decoding text by the character set.
fn decode_values(collected: &Collected, big_endian: bool, out: &mut ReadOutcome) {
    let scs_field = field_for_tag(tags::SPECIFIC_CHARACTER_SET);
    let mut values: Vec<Option<String>> = vec![None; Header::COLUMNS.len()];
    // The character set first: it decides how every text value reads.
    for (field, _, bytes) in &collected.top {
        if Some(*field) == scs_field {
            values[*field] = Some(clean(&latin1(bytes)));
        }
    }
    let charset = Charset::parse(values[scs_field.unwrap_or(0)].as_deref().unwrap_or(""));
    if !charset.unknown.is_empty() {
        out.push(
            FaultKind::BadCharset,
            format!(
                "Specific Character Set (0008,0005) names {} unknown to qcdesk; text read as ASCII",
                charset.unknown.join(", ")
            ),
        );
    }
    let mut undeclared: Vec<String> = Vec::new();
    for (field, vr, bytes) in &collected.top {
        if Some(*field) == scs_field {
            continue;
        }
        let text = match Header::SOURCES[*field] {
            Source::Us(_) => us_value(*vr, bytes, big_endian),
            Source::Text(_) => decode_text(&charset, *field, bytes, &mut undeclared, out),
            _ => clean(&latin1(bytes)),
        };
        values[*field] = Some(text);
    }
    // Nested: the best-ranked non-empty alternative.
    let mut best: Vec<Option<usize>> = vec![None; Header::COLUMNS.len()];
    for (field, rank, bytes) in &collected.nested {
        let text = decode_text(&charset, *field, bytes, &mut undeclared, out);
        if !text.is_empty() && best[*field].is_none_or(|b| *rank < b) {
            best[*field] = Some(*rank);
            values[*field] = Some(text);
        }
    }
    if !undeclared.is_empty() {
        out.push(
            FaultKind::UndeclaredCharset,
            format!(
                "{} {} non-ASCII text but the data set declares no Specific Character Set (0008,0005)",
                undeclared.join(", "),
                if undeclared.len() == 1 { "holds" } else { "hold" }
            ),
        );
    }
    for (slot, value) in out.header.values_mut().into_iter().zip(values) {
        if let Some(v) = value {
            *slot = v;
        }
    }
}

fn decode_text(
    charset: &Charset,
    field: usize,
    bytes: &[u8],
    undeclared: &mut Vec<String>,
    out: &mut ReadOutcome,
) -> String {
    let (text, problem) = charset.decode(bytes);
    match problem {
        Some(CharsetProblem::Undeclared(_)) => undeclared.push(keyword(field)),
        Some(CharsetProblem::Invalid(why)) => {
            out.push(FaultKind::BadCharset, format!("{}: {why}", keyword(field)))
        }
        None => {}
    }
    clean(&text)
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A US value as a number. Standard attributes written as UN keep their standard (little
/// endian) encoding, as readers like pydicom assume.
fn us_value(vr: VR, bytes: &[u8], big_endian: bool) -> String {
    if bytes.len() < 2 {
        return String::new();
    }
    let pair = [bytes[0], bytes[1]];
    let n = if big_endian && vr != VR::UN {
        u16::from_be_bytes(pair)
    } else {
        u16::from_le_bytes(pair)
    };
    n.to_string()
}

/// Skips an undefined-length sequence whose value starts at `at`, reading it as Implicit VR
/// Little Endian. Returns the offset after its Sequence Delimitation Item. Reads on from `at`
/// without seeking per element (cheap through a buffered file), gives up on data that cannot
/// be a sequence (a group 0000 element: zeros) and after a bounded number of elements.
fn skip_implicit_sequence<R: Read + Seek>(src: &mut R, at: u64, size: u64) -> Option<u64> {
    const MAX_ELEMENTS: usize = 1 << 20;
    src.seek(SeekFrom::Start(at)).ok()?;
    let mut pos = at;
    // Each open level: true = sequence (ends at E0DD), false = item (ends at E00D).
    let mut open: Vec<bool> = vec![true];
    for _ in 0..MAX_ELEMENTS {
        if pos + 8 > size {
            return None;
        }
        let mut b = [0u8; 8];
        src.read_exact(&mut b).ok()?;
        pos += 8;
        let group = u16::from_le_bytes([b[0], b[1]]);
        let element = u16::from_le_bytes([b[2], b[3]]);
        let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let skip = match (group, element) {
            (0x0000, _) => return None,
            (0xFFFE, 0xE0DD) => {
                if open.pop() != Some(true) {
                    return None;
                }
                if open.is_empty() {
                    return Some(pos);
                }
                0
            }
            (0xFFFE, 0xE00D) => {
                if open.pop() != Some(false) {
                    return None;
                }
                0
            }
            (0xFFFE, 0xE000) if len == u32::MAX => {
                open.push(false);
                0
            }
            (0xFFFE, 0xE000) => u64::from(len),
            _ if len == u32::MAX => {
                open.push(true);
                0
            }
            _ => u64::from(len),
        };
        if skip > 0 {
            if pos + skip > size {
                return None;
            }
            // Small values are read past (the buffer stays), large ones sought over.
            if skip <= 1 << 16 {
                let copied =
                    std::io::copy(&mut (&mut *src).take(skip), &mut std::io::sink()).ok()?;
                if copied != skip {
                    return None;
                }
            } else {
                src.seek(SeekFrom::Current(skip as i64)).ok()?;
            }
            pos += skip;
        }
    }
    None
}

fn is_pixel_tag(tag: Tag) -> bool {
    tag == tags::PIXEL_DATA || tag == tags::FLOAT_PIXEL_DATA || tag == tags::DOUBLE_FLOAT_PIXEL_DATA
}
