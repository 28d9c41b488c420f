//! Reading one copy of an instance into a flat, sorted list of attribute values.
//!
//! Bounded like the header reader: a length the file cannot hold, or no attribute needs, stops
//! the reading (with the reason) before dicom-rs allocates it, and native pixel data, however
//! large, is hashed by streaming it from the file rather than read into memory. A copy too
//! costly to compare (nested too deep, too many attributes, too much to hold, too long to
//! read) is not compared at all: [`Flat::too_costly`] says why. Each element's path is built
//! once from the running prefix of its open sequences, so the work is linear in the file.

use std::io::{Read, Seek, SeekFrom};

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::{Codec, Endianness, TransferSyntaxIndex};
use dicom_parser::dataset::DataToken;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::{Elem, Flat, LONG, Val, keyword, little_endian, skipped, value};
use crate::dicom::charset::Charset;
use crate::dicom::header::read_header;
use crate::dicom::tokens::{RawTokens, raw_tokens};

/// Longest non-pixel value read into memory.
const MAX_VALUE: u64 = 64 << 20;
/// Longest pixel data read into memory (deflated data sets, which cannot be streamed).
const MAX_DEFLATED_PIXELS: u64 = 256 << 20;
/// What one copy may cost: attributes kept, bytes of paths and values kept, time.
const MAX_ELEMS: usize = 200_000;
const MAX_KEPT: usize = 128 << 20;
const MAX_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// What flattening one copy may still spend.
struct Budget {
    kept: usize,
    deadline: std::time::Instant,
}

/// Where the reading is in the tree, kept across segments.
#[derive(Default)]
struct State {
    /// Open sequences: (keyword, items seen); an element's path is built from them.
    seqs: Vec<(String, usize)>,
    /// The path of the open sequences, `Seq[1].Inner[2].`, and where each one's part starts.
    prefix: String,
    marks: Vec<usize>,
    pending: Option<(Tag, VR)>,
    /// Inside encapsulated pixel data: the hash of its fragments so far.
    pixel: Option<blake3::Hasher>,
}

/// How one stretch of token reading ended.
enum Segment {
    Done,
    /// Top-level native pixel data whose value starts at `at`: hashed by streaming.
    NativePixel {
        vr: VR,
        at: u64,
        len: u64,
    },
}

pub(super) fn flatten<R: Read + Seek>(src: &mut R, size: u64) -> Flat {
    let mut flat = Flat {
        ts: String::new(),
        charset: String::new(),
        elems: Vec::new(),
        error: None,
        too_costly: None,
    };
    let mut budget = Budget {
        kept: 0,
        deadline: std::time::Instant::now() + MAX_TIME,
    };
    let outcome = match read_header(src, size) {
        Ok(o) => o,
        Err(e) => {
            flat.error = Some(e.to_string());
            return flat;
        }
    };
    flat.ts = outcome.header.transfer_syntax.clone();
    flat.charset = outcome.header.specific_character_set.clone();
    let charset = Charset::parse(&flat.charset);
    let Some(ts) = TransferSyntaxRegistry.get(&flat.ts) else {
        flat.error = Some(format!("unknown transfer syntax {}", flat.ts));
        return flat;
    };
    let big = ts.endianness() == Endianness::Big;
    let mut state = State::default();
    let mut start = outcome.dataset_offset;
    // Each native pixel data element ends a segment; a few at most.
    for _ in 0..4 {
        match segment(
            src,
            ts,
            start,
            size,
            &charset,
            &mut flat,
            &mut state,
            &mut budget,
        ) {
            Segment::Done => break,
            Segment::NativePixel { vr, at, len } => {
                match hash_value(src, at, len, vr, big) {
                    Ok(hash) => flat.elems.push(Elem {
                        path: "PixelData".into(),
                        tag: tags::PIXEL_DATA,
                        vr,
                        val: Val::Hash(hash),
                        raw: None,
                    }),
                    Err(e) => {
                        flat.error = Some(format!("unreadable: Pixel Data: {e}"));
                        break;
                    }
                }
                start = at + len;
                if start >= size {
                    break;
                }
            }
        }
    }
    flat.elems.sort_by(|a, b| a.path.cmp(&b.path));
    flat
}

/// Reads tokens from `start` until the end, an error, or top-level native pixel data.
#[allow(clippy::too_many_arguments)]
fn segment<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    start: u64,
    size: u64,
    charset: &Charset,
    flat: &mut Flat,
    state: &mut State,
    budget: &mut Budget,
) -> Segment {
    let deflated = matches!(ts.codec(), Codec::Dataset(_));
    let RawTokens {
        mut tokens, pos, ..
    } = match raw_tokens(src, ts, start) {
        Ok(t) => t,
        Err(e) => {
            flat.error = Some(e);
            return Segment::Done;
        }
    };
    let big = ts.endianness() == Endianness::Big;
    // A declared length the file cannot hold (or no value needs) stops the reading here.
    let too_long = |tag: Tag, len: u64, at: u64, pixel: bool| -> Option<String> {
        let remaining = size.saturating_sub(at);
        if !deflated && len > remaining {
            Some(format!(
                "unreadable: {} declares {len} bytes, only {remaining} remain",
                keyword(tag)
            ))
        } else if len > MAX_VALUE && !pixel {
            Some(format!(
                "unreadable: {} declares {len} bytes, more than an attribute may hold",
                keyword(tag)
            ))
        } else {
            None
        }
    };
    let mut tokens_read = 0usize;
    for token in tokens.by_ref() {
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                flat.error = Some(format!("unreadable: {e}"));
                return Segment::Done;
            }
        };
        tokens_read += 1;
        let over = if flat.elems.len() > MAX_ELEMS {
            Some(format!("more than {MAX_ELEMS} attributes"))
        } else if budget.kept > MAX_KEPT {
            Some(format!("more than {} MiB of values", MAX_KEPT >> 20))
        } else if tokens_read.is_multiple_of(1024) && std::time::Instant::now() > budget.deadline {
            Some(format!("reading took more than {} s", MAX_TIME.as_secs()))
        } else {
            None
        };
        if let Some(why) = over {
            flat.too_costly = Some(why);
            return Segment::Done;
        }
        let at = pos.get();
        match token {
            DataToken::ElementHeader(h) => {
                if let Some(len) = h.len.get().map(u64::from) {
                    let top_pixel = h.tag == tags::PIXEL_DATA && state.seqs.is_empty();
                    if let Some(why) = too_long(h.tag, len, at, top_pixel) {
                        flat.error = Some(why);
                        return Segment::Done;
                    }
                    if top_pixel && !deflated {
                        return Segment::NativePixel { vr: h.vr, at, len };
                    }
                    if top_pixel && len > MAX_DEFLATED_PIXELS {
                        flat.too_costly = Some(format!(
                            "deflated pixel data of {len} bytes (more than {} MiB)",
                            MAX_DEFLATED_PIXELS >> 20
                        ));
                        return Segment::Done;
                    }
                }
                state.pending = Some((h.tag, h.vr));
            }
            DataToken::PrimitiveValue(v) => {
                let Some((tag, vr)) = state.pending.take() else {
                    continue;
                };
                if skipped(tag) {
                    continue;
                }
                let bytes = v.to_bytes();
                let val = value(tag, vr, &bytes, big, charset);
                let raw = match &val {
                    _ if vr == VR::UN && bytes.len() <= 4 * LONG => Some(bytes.to_vec()),
                    Val::Numbers(_) | Val::Bytes(_) => Some(little_endian(vr, &bytes, big)),
                    _ => None,
                };
                let path = format!("{}{}", state.prefix, keyword(tag));
                budget.kept += path.len() + bytes.len().min(4 * LONG) + 64;
                flat.elems.push(Elem {
                    path,
                    tag,
                    vr,
                    val,
                    raw,
                });
            }
            DataToken::SequenceStart { tag, .. } => {
                if state.seqs.len() >= crate::dicom::object::MAX_DEPTH {
                    flat.too_costly = Some(format!(
                        "sequences nested more than {} deep",
                        crate::dicom::object::MAX_DEPTH
                    ));
                    return Segment::Done;
                }
                state.seqs.push((keyword(tag), 0));
                state.marks.push(state.prefix.len());
            }
            DataToken::ItemStart { len } => {
                if state.pixel.is_some()
                    && let Some(why) = crate::dicom::tokens::item_too_long(len, at, size, deflated)
                {
                    flat.error = Some(format!("unreadable: {why}"));
                    return Segment::Done;
                }
                if state.pixel.is_some() {
                    if let Some(len) = len.get().map(u64::from)
                        && let Some(why) = too_long(tags::PIXEL_DATA, len, at, true)
                    {
                        flat.error = Some(why);
                        return Segment::Done;
                    }
                } else if let Some(top) = state.seqs.last_mut() {
                    top.1 += 1;
                    // This sequence's part of the prefix names its new item.
                    let mark = state.marks.last().copied().unwrap_or(0);
                    state.prefix.truncate(mark);
                    state.prefix.push_str(&format!("{}[{}].", top.0, top.1));
                }
            }
            DataToken::SequenceEnd => {
                if let Some(h) = state.pixel.take() {
                    flat.elems.push(Elem {
                        path: format!("{}PixelData", state.prefix),
                        tag: tags::PIXEL_DATA,
                        raw: None,
                        vr: VR::OB,
                        val: Val::Encapsulated {
                            ts: flat.ts.clone(),
                            hash: h.finalize(),
                        },
                    });
                } else {
                    state.seqs.pop();
                    if let Some(mark) = state.marks.pop() {
                        state.prefix.truncate(mark);
                    }
                }
            }
            DataToken::PixelSequenceStart => state.pixel = Some(blake3::Hasher::new()),
            DataToken::ItemValue(data) => {
                if let Some(h) = state.pixel.as_mut() {
                    h.update(&data);
                }
            }
            DataToken::ItemEnd | DataToken::OffsetTable(_) => {}
        }
    }
    Segment::Done
}

/// Hashes `len` bytes of a binary value at `at`, little endian whatever the file's order.
fn hash_value<R: Read + Seek>(
    src: &mut R,
    at: u64,
    len: u64,
    vr: VR,
    big: bool,
) -> std::io::Result<blake3::Hash> {
    src.seek(SeekFrom::Start(at))?;
    let mut hasher = blake3::Hasher::new();
    let mut left = len;
    // An even chunk size keeps 2-, 4- and 8-byte units whole.
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (left.min(buf.len() as u64)) as usize;
        src.read_exact(&mut buf[..n])?;
        hasher.update(&little_endian(vr, &buf[..n], big));
        left -= n as u64;
    }
    Ok(hasher.finalize())
}
