//! What rendering needs to know about an image, read from the file itself: the image pixel
//! module, rescale and VOI (also from enhanced multi-frame functional groups), palettes, a few
//! attributes for the viewer's overlay, and where the pixel data lies (native: its offset and
//! length; encapsulated: its fragments). Read with the tolerant header reader and raw tokens,
//! so a damaged or bare file still tells what it holds.

use std::io::{Read, Seek, SeekFrom};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::{Codec, Endianness, TransferSyntaxIndex};
use dicom_parser::dataset::DataToken;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::dicom::tokens::{RawTokens, raw_tokens};
use crate::dicom::{NotDicom, read_header};

/// Where the pixel data is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PixelLocation {
    /// Native pixel data: its value starts at `offset`, declares `len` bytes (None =
    /// undefined), of which `available` are in the file.
    Native {
        offset: u64,
        len: Option<u64>,
        available: u64,
        /// Float (7FE0,0008) or Double Float (7FE0,0009) Pixel Data: bytes per sample.
        float: Option<u8>,
        /// Written as OW: in a big endian file its bytes come in swapped 16-bit words, even
        /// for 8-bit samples.
        words: bool,
    },
    /// Encapsulated: the Basic Offset Table and every fragment's (offset, length) in the
    /// file; `complete` is false when the file ends inside the fragments. `extended`: the
    /// Extended Offset Table and its lengths (7FE0,0001/0002), when the file has them.
    Encapsulated {
        offset_table: Vec<u32>,
        fragments: Vec<(u64, u32)>,
        complete: bool,
        extended: Option<(Vec<u64>, Vec<u64>)>,
    },
    /// Inside a deflated data set starting at `dataset_offset` in the file: the pixel data's
    /// value starts `value_offset` bytes into the inflated data set and declares `len` bytes.
    Deflated {
        dataset_offset: u64,
        value_offset: u64,
        len: Option<u64>,
    },
}

/// A lookup table: (entries, first mapped value, bits per entry) and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    pub entries: usize,
    pub first: i32,
    pub bits: u16,
    pub data: Vec<u16>,
}

/// The image attributes rendering uses. Absent values are `None` or empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageInfo {
    pub transfer_syntax: String,
    pub big_endian: bool,
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
    pub photometric: String,
    pub planar_configuration: u16,
    pub frames: u32,
    pub rescale_slope: Option<f64>,
    pub rescale_intercept: Option<f64>,
    /// (centre, width) pairs, as many as the file gives.
    pub windows: Vec<(f64, f64)>,
    pub window_explanations: Vec<String>,
    pub voi_lut_function: String,
    pub voi_lut: Option<Lut>,
    /// PALETTE COLOR: red, green, blue.
    pub palette: Option<[Lut; 3]>,
    /// A segmented palette (not supported: said so).
    pub segmented_palette: bool,
    pub pixel: Option<PixelLocation>,
    /// Height over width of one pixel (Pixel Spacing, Imager Pixel Spacing, Nominal Scanned
    /// Pixel Spacing or Pixel Aspect Ratio); 1 when square or unknown.
    pub pixel_aspect: f64,
    /// Stored values that are padding, not image (Pixel Padding Value, up to its Range
    /// Limit): left out of an automatic window.
    pub padding: Option<(f64, f64)>,
    /// For the viewer's overlay.
    pub overlay: Overlay,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    pub patient_name: String,
    pub patient_id: String,
    pub study_date: String,
    pub modality: String,
    pub series_number: String,
    pub series_description: String,
    pub instance_number: String,
    pub laterality: String,
    pub view_position: String,
    pub body_part: String,
}

/// Why an image cannot even be located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    #[error("not a DICOM file: {0}")]
    NotDicom(#[from] NotDicom),
    #[error("{0}")]
    Unreadable(String),
}

/// Raw values collected by the walk: top-level ones by tag, and nested ones (the first
/// occurrence under a top-level sequence) by (sequence, tag).
#[derive(Default)]
struct Collected {
    top: Vec<(Tag, Vec<u8>)>,
    nested: Vec<(Tag, Tag, Vec<u8>)>,
}

impl Collected {
    fn top(&self, tag: Tag) -> Option<&[u8]> {
        self.top
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }

    fn nested(&self, seq: Tag, tag: Tag) -> Option<&[u8]> {
        self.nested
            .iter()
            .find(|(s, t, _)| *s == seq && *t == tag)
            .map(|(_, _, v)| v.as_slice())
    }
}

/// Top-level attributes kept.
const TOP: &[Tag] = &[
    tags::SAMPLES_PER_PIXEL,
    tags::PHOTOMETRIC_INTERPRETATION,
    tags::PLANAR_CONFIGURATION,
    tags::NUMBER_OF_FRAMES,
    tags::ROWS,
    tags::COLUMNS,
    tags::BITS_ALLOCATED,
    tags::BITS_STORED,
    tags::HIGH_BIT,
    tags::PIXEL_REPRESENTATION,
    tags::WINDOW_CENTER,
    tags::WINDOW_WIDTH,
    tags::WINDOW_CENTER_WIDTH_EXPLANATION,
    tags::VOILUT_FUNCTION,
    tags::RESCALE_INTERCEPT,
    tags::RESCALE_SLOPE,
    tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
    tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
    tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
    tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    tags::SPECIFIC_CHARACTER_SET,
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::STUDY_DATE,
    tags::MODALITY,
    tags::SERIES_NUMBER,
    tags::SERIES_DESCRIPTION,
    tags::INSTANCE_NUMBER,
    tags::LATERALITY,
    tags::IMAGE_LATERALITY,
    tags::VIEW_POSITION,
    tags::BODY_PART_EXAMINED,
    tags::PIXEL_SPACING,
    tags::IMAGER_PIXEL_SPACING,
    tags::NOMINAL_SCANNED_PIXEL_SPACING,
    tags::PIXEL_ASPECT_RATIO,
    tags::PIXEL_PADDING_VALUE,
    tags::PIXEL_PADDING_RANGE_LIMIT,
    tags::EXTENDED_OFFSET_TABLE,
    tags::EXTENDED_OFFSET_TABLE_LENGTHS,
];

/// Top-level sequences whose (first-item, any depth) values are kept.
const SEQUENCES: &[Tag] = &[
    tags::VOILUT_SEQUENCE,
    tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
    tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
];

/// Values kept inside those sequences.
const NESTED: &[Tag] = &[
    tags::LUT_DESCRIPTOR,
    tags::LUT_DATA,
    tags::RESCALE_INTERCEPT,
    tags::RESCALE_SLOPE,
    tags::WINDOW_CENTER,
    tags::WINDOW_WIDTH,
    tags::VOILUT_FUNCTION,
    tags::PIXEL_SPACING,
];

/// Longest value kept (palettes and VOI LUTs are at most 128 KB).
const MAX_KEPT: u64 = 1 << 20;

/// Longest Extended Offset Table kept: 8 bytes a frame, a million frames.
const MAX_EXTENDED: u64 = 8 << 20;

/// The most fragments of encapsulated pixel data listed: beyond, the pixel data is taken as
/// damaged (a file of empty 8-byte items would otherwise list a hundred million).
pub const MAX_FRAGMENTS: usize = 1 << 20;

/// Reads the image attributes and the pixel data's location from the file at `src`.
pub fn read_info<R: Read + Seek>(src: &mut R, size: u64) -> Result<ImageInfo, InfoError> {
    src.seek(SeekFrom::Start(0))
        .map_err(|e| InfoError::Unreadable(e.to_string()))?;
    let header = read_header(src, size)?;
    let ts_uid = header.header.transfer_syntax.clone();
    let ts = TransferSyntaxRegistry
        .get(&ts_uid)
        .ok_or_else(|| InfoError::Unreadable(format!("unknown transfer syntax {ts_uid}")))?;
    let deflated = matches!(ts.codec(), Codec::Dataset(_));
    let mut info = ImageInfo {
        transfer_syntax: ts_uid,
        big_endian: ts.endianness() == Endianness::Big,
        ..Default::default()
    };
    let mut collected = Collected::default();
    let mut pixel_at: Option<(Tag, Option<u64>, u64, bool, bool)> = None;
    {
        let RawTokens {
            mut tokens,
            pos,
            data_pos,
        } = raw_tokens(src, ts, header.dataset_offset).map_err(InfoError::Unreadable)?;
        let mut depth = 0usize;
        // The open sequences: whether each is encapsulated pixel data.
        let mut open_pixel: Vec<bool> = Vec::new();
        let mut top_seq: Option<Tag> = None;
        let mut pending: Option<Tag> = None;
        for token in tokens.by_ref() {
            let Ok(token) = token else {
                break; // damaged: keep what was read
            };
            match token {
                DataToken::ElementHeader(h) => {
                    let len = h.len.get().map(u64::from);
                    if depth == 0 && is_pixel_tag(h.tag) {
                        let words = h.vr == dicom_core::VR::OW;
                        // In a deflated data set, where its value starts once inflated.
                        let at = if deflated { data_pos.get() } else { pos.get() };
                        pixel_at = Some((h.tag, len, at, false, words));
                        break;
                    }
                    let keep = if depth == 0 {
                        TOP.contains(&h.tag)
                    } else {
                        top_seq.is_some() && NESTED.contains(&h.tag)
                    };
                    // Values no header needs in memory are not read at all.
                    let limit = if depth == 0
                        && matches!(
                            h.tag,
                            tags::EXTENDED_OFFSET_TABLE | tags::EXTENDED_OFFSET_TABLE_LENGTHS
                        ) {
                        MAX_EXTENDED
                    } else {
                        MAX_KEPT
                    };
                    let sane = len
                        .is_some_and(|l| l <= limit && l <= size.saturating_sub(pos.get()))
                        || deflated && len.is_some_and(|l| l <= limit);
                    if !sane && len.is_some() {
                        break;
                    }
                    pending = keep.then_some(h.tag);
                }
                DataToken::PrimitiveValue(v) => {
                    if let Some(tag) = pending.take() {
                        let bytes = v.to_bytes().into_owned();
                        match (depth, top_seq) {
                            (0, _) => collected.top.push((tag, bytes)),
                            (_, Some(seq)) if collected.nested(seq, tag).is_none() => {
                                collected.nested.push((seq, tag, bytes));
                            }
                            _ => {}
                        }
                    }
                }
                DataToken::SequenceStart { tag, .. } => {
                    if depth == 0 {
                        top_seq = SEQUENCES.contains(&tag).then_some(tag);
                    }
                    depth += 1;
                    open_pixel.push(false);
                    pending = None;
                }
                DataToken::PixelSequenceStart => {
                    if depth == 0 {
                        let at = if deflated { data_pos.get() } else { pos.get() };
                        pixel_at = Some((tags::PIXEL_DATA, None, at, true, false));
                        break;
                    }
                    depth += 1;
                    open_pixel.push(true);
                }
                DataToken::ItemStart { len } => {
                    // A nested pixel sequence's items are read whole (its first zero-filled
                    // first): one past what the file holds is damage.
                    if open_pixel.last() == Some(&true)
                        && crate::dicom::tokens::item_too_long(len, pos.get(), size, deflated)
                            .is_some()
                    {
                        break;
                    }
                    depth += 1;
                }
                DataToken::ItemEnd | DataToken::SequenceEnd => {
                    if matches!(token, DataToken::SequenceEnd) {
                        open_pixel.pop();
                    }
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        top_seq = None;
                    }
                }
                DataToken::ItemValue(_) | DataToken::OffsetTable(_) => {}
            }
        }
    }
    apply(&collected, &mut info);
    info.pixel = match pixel_at {
        None => None,
        Some((_, len, at, _, _)) if deflated => Some(PixelLocation::Deflated {
            dataset_offset: header.dataset_offset,
            value_offset: at,
            len,
        }),
        Some((tag, len, at, false, words)) => Some(PixelLocation::Native {
            offset: at,
            len,
            available: size.saturating_sub(at),
            float: match tag {
                tags::FLOAT_PIXEL_DATA => Some(4),
                tags::DOUBLE_FLOAT_PIXEL_DATA => Some(8),
                _ => None,
            },
            words,
        }),
        Some((_, _, at, true, _)) => {
            let big = info.big_endian;
            let eight = |tag| -> Option<Vec<u64>> {
                collected.top(tag).map(|b| {
                    b.chunks_exact(8)
                        .map(|c| {
                            let a: [u8; 8] = c.try_into().unwrap_or([0; 8]);
                            if big {
                                u64::from_be_bytes(a)
                            } else {
                                u64::from_le_bytes(a)
                            }
                        })
                        .collect()
                })
            };
            let extended =
                eight(tags::EXTENDED_OFFSET_TABLE).zip(eight(tags::EXTENDED_OFFSET_TABLE_LENGTHS));
            Some(fragments(src, at, size, extended))
        }
    };
    Ok(info)
}

fn is_pixel_tag(tag: Tag) -> bool {
    tag == tags::PIXEL_DATA || tag == tags::FLOAT_PIXEL_DATA || tag == tags::DOUBLE_FLOAT_PIXEL_DATA
}

/// The Basic Offset Table and fragments of encapsulated pixel data whose items start at `at`.
fn fragments<R: Read + Seek>(
    src: &mut R,
    at: u64,
    size: u64,
    extended: Option<(Vec<u64>, Vec<u64>)>,
) -> PixelLocation {
    let mut offset_table = Vec::new();
    let mut frags = Vec::new();
    let mut pos = at;
    let mut first = true;
    let complete = loop {
        let mut item = [0u8; 8];
        if src.seek(SeekFrom::Start(pos)).is_err() || src.read_exact(&mut item).is_err() {
            break false;
        }
        let group = u16::from_le_bytes([item[0], item[1]]);
        let element = u16::from_le_bytes([item[2], item[3]]);
        let len = u32::from_le_bytes([item[4], item[5], item[6], item[7]]);
        match (group, element) {
            (0xFFFE, 0xE0DD) => break true,
            (0xFFFE, 0xE000) => {
                let value_at = pos + 8;
                if value_at + u64::from(len) > size {
                    // The last fragment is cut short: keep what is there.
                    let have = size.saturating_sub(value_at) as u32;
                    if !first && have > 0 {
                        frags.push((value_at, have));
                    }
                    break false;
                }
                if frags.len() >= MAX_FRAGMENTS {
                    break false;
                }
                if first {
                    if u64::from(len) > MAX_EXTENDED {
                        break false;
                    }
                    let mut table = vec![0u8; len as usize];
                    if src.read_exact(&mut table).is_err() {
                        break false;
                    }
                    offset_table = table
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    first = false;
                } else {
                    frags.push((value_at, len));
                }
                pos = value_at + u64::from(len);
            }
            _ => break false,
        }
    };
    PixelLocation::Encapsulated {
        offset_table,
        fragments: frags,
        complete,
        extended,
    }
}

fn text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| char::from(b))
        .collect::<String>()
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

fn numbers(bytes: &[u8]) -> Vec<f64> {
    text(bytes)
        .split('\\')
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .collect()
}

fn us(bytes: Option<&[u8]>, big: bool) -> Option<u16> {
    let b = bytes?;
    if b.len() < 2 {
        return None;
    }
    Some(if big {
        u16::from_be_bytes([b[0], b[1]])
    } else {
        u16::from_le_bytes([b[0], b[1]])
    })
}

/// 16-bit words of an OW/US value.
fn words(bytes: &[u8], big: bool) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| {
            if big {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        })
        .collect()
}

/// A LUT from its descriptor (entries, first mapped, bits) and data.
fn lut(descriptor: Option<&[u8]>, data: Option<&[u8]>, big: bool) -> Option<Lut> {
    let d = words(descriptor?, big);
    if d.len() < 3 {
        return None;
    }
    // 0 entries means 65536; the first mapped value is signed when the pixels are.
    let entries = if d[0] == 0 { 65536 } else { usize::from(d[0]) };
    let data = data?;
    let bits = d[2];
    // 8-bit tables are sometimes packed two per word.
    let values = if bits <= 8 && data.len() == entries {
        data.iter().map(|&b| u16::from(b)).collect()
    } else {
        words(data, big)
    };
    if values.is_empty() {
        return None;
    }
    Some(Lut {
        entries,
        first: i32::from(d[1] as i16),
        bits,
        data: values,
    })
}

/// Height over width of a pixel, from the first spacing the file gives; 1 when absent,
/// square, or implausible (more than 8:1 either way).
fn pixel_aspect(c: &Collected) -> f64 {
    let pair = |bytes: Option<&[u8]>| -> Option<(f64, f64)> {
        let n = numbers(bytes?);
        match n.as_slice() {
            [a, b, ..] if a.is_finite() && b.is_finite() && *a > 0.0 && *b > 0.0 => Some((*a, *b)),
            _ => None,
        }
    };
    // Pixel Spacing and its kin: row spacing (vertical) \ column spacing (horizontal);
    // Pixel Aspect Ratio: vertical \ horizontal size.
    let found = pair(c.top(tags::PIXEL_SPACING))
        .or_else(|| pair(c.nested(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, tags::PIXEL_SPACING)))
        .or_else(|| pair(c.top(tags::IMAGER_PIXEL_SPACING)))
        .or_else(|| pair(c.top(tags::NOMINAL_SCANNED_PIXEL_SPACING)))
        .or_else(|| pair(c.top(tags::PIXEL_ASPECT_RATIO)));
    match found {
        Some((v, h)) => {
            let a = v / h;
            if (1.0 / 8.0..=8.0).contains(&a) && (a - 1.0).abs() > 1e-3 {
                a
            } else {
                1.0
            }
        }
        None => 1.0,
    }
}

fn apply(c: &Collected, info: &mut ImageInfo) {
    let big = info.big_endian;
    let num = |tag| us(c.top(tag), big);
    info.rows = u32::from(num(tags::ROWS).unwrap_or(0));
    info.columns = u32::from(num(tags::COLUMNS).unwrap_or(0));
    info.samples_per_pixel = num(tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    info.bits_allocated = num(tags::BITS_ALLOCATED).unwrap_or(0);
    info.bits_stored = num(tags::BITS_STORED).unwrap_or(info.bits_allocated);
    info.high_bit = num(tags::HIGH_BIT).unwrap_or(info.bits_stored.saturating_sub(1));
    info.signed = num(tags::PIXEL_REPRESENTATION) == Some(1);
    info.planar_configuration = num(tags::PLANAR_CONFIGURATION).unwrap_or(0);
    info.photometric = c
        .top(tags::PHOTOMETRIC_INTERPRETATION)
        .map(text)
        .unwrap_or_default();
    info.frames = c
        .top(tags::NUMBER_OF_FRAMES)
        .and_then(|b| text(b).parse::<u32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let first = |tag: Tag| -> Option<f64> {
        c.top(tag)
            .or_else(|| c.nested(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, tag))
            .or_else(|| c.nested(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, tag))
            .and_then(|b| numbers(b).first().copied())
    };
    info.rescale_slope = first(tags::RESCALE_SLOPE);
    info.rescale_intercept = first(tags::RESCALE_INTERCEPT);
    let all = |tag: Tag| -> Vec<f64> {
        c.top(tag)
            .or_else(|| c.nested(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, tag))
            .or_else(|| c.nested(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, tag))
            .map(numbers)
            .unwrap_or_default()
    };
    info.windows = all(tags::WINDOW_CENTER)
        .into_iter()
        .zip(all(tags::WINDOW_WIDTH))
        .collect();
    info.window_explanations = c
        .top(tags::WINDOW_CENTER_WIDTH_EXPLANATION)
        .map(|b| text(b).split('\\').map(str::to_string).collect())
        .unwrap_or_default();
    info.voi_lut_function = c
        .top(tags::VOILUT_FUNCTION)
        .or_else(|| {
            c.nested(
                tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
                tags::VOILUT_FUNCTION,
            )
        })
        .map(text)
        .unwrap_or_default();
    info.voi_lut = lut(
        c.nested(tags::VOILUT_SEQUENCE, tags::LUT_DESCRIPTOR),
        c.nested(tags::VOILUT_SEQUENCE, tags::LUT_DATA),
        big,
    );
    info.segmented_palette = c
        .top(tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA)
        .is_some();
    let channel = |d, t| lut(c.top(d), c.top(t), big);
    if let (Some(r), Some(g), Some(b)) = (
        channel(
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        ),
        channel(
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        ),
        channel(
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        ),
    ) {
        info.palette = Some([r, g, b]);
    }
    let t = |tag| c.top(tag).map(text).unwrap_or_default();
    // Names and descriptions in the file's character set (ISO 2022 included).
    let charset = crate::dicom::charset::Charset::parse(&t(tags::SPECIFIC_CHARACTER_SET));
    let decoded = |tag| {
        c.top(tag)
            .map(|b| {
                charset
                    .decode(b)
                    .0
                    .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string()
            })
            .unwrap_or_default()
    };
    info.pixel_aspect = pixel_aspect(c);
    info.padding = num(tags::PIXEL_PADDING_VALUE).map(|v| {
        let value = |raw: u16| {
            if info.signed {
                f64::from(raw as i16)
            } else {
                f64::from(raw)
            }
        };
        let (a, b) = (
            value(v),
            value(num(tags::PIXEL_PADDING_RANGE_LIMIT).unwrap_or(v)),
        );
        (a.min(b), a.max(b))
    });
    let laterality = t(tags::IMAGE_LATERALITY);
    info.overlay = Overlay {
        patient_name: decoded(tags::PATIENT_NAME),
        patient_id: decoded(tags::PATIENT_ID),
        study_date: t(tags::STUDY_DATE),
        modality: t(tags::MODALITY),
        series_number: t(tags::SERIES_NUMBER),
        series_description: decoded(tags::SERIES_DESCRIPTION),
        instance_number: t(tags::INSTANCE_NUMBER),
        laterality: if laterality.is_empty() {
            t(tags::LATERALITY)
        } else {
            laterality
        },
        view_position: t(tags::VIEW_POSITION),
        body_part: t(tags::BODY_PART_EXAMINED),
    };
}

#[cfg(test)]
mod aspect_tests {
    use super::*;

    #[test]
    fn the_pixel_aspect_comes_from_the_first_spacing_given() {
        let with = |tag: Tag, v: &str| {
            let mut c = Collected::default();
            c.top.push((tag, v.as_bytes().to_vec()));
            pixel_aspect(&c)
        };
        // Row spacing (vertical) \ column spacing (horizontal).
        assert_eq!(with(tags::PIXEL_SPACING, "0.5\\0.25"), 2.0);
        assert_eq!(with(tags::IMAGER_PIXEL_SPACING, "0.1\\0.2 "), 0.5);
        assert_eq!(with(tags::PIXEL_ASPECT_RATIO, "4\\3"), 4.0 / 3.0);
        // Square, absurd or broken: square.
        assert_eq!(with(tags::PIXEL_SPACING, "0.7\\0.7"), 1.0);
        assert_eq!(with(tags::PIXEL_SPACING, "100\\0.1"), 1.0);
        assert_eq!(with(tags::PIXEL_SPACING, "0\\0.5"), 1.0);
        assert_eq!(pixel_aspect(&Collected::default()), 1.0);
    }
}
