//! One frame's stored sample values, whatever the encoding: native pixel data read straight
//! from the file (so a truncated file yields the rows it holds), RLE decoded here (any bits
//! allocated, 32 included), JPEG through libjpeg-turbo (8- and 12-bit lossy, lossless up to
//! 16 bits), JPEG-LS and JPEG 2000 through dicom-rs's codecs, deflated data sets inflated as a
//! stream up to the one frame wanted. Every image's pixel module is checked first
//! (`limits`), and each frame's fragments found by one set of rules (`frames`).

use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};

use dicom_encoding::adapters::{PixelDataObject, RawPixelData};
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::frames::{Encapsulated, frame_bytes};
use super::info::{ImageInfo, PixelLocation};
use super::jpeg;

/// One frame, decoded: stored values, interleaved when there are several samples per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    /// Photometric interpretation of `values`: codecs hand back RGB for colour; native
    /// YBR_FULL_422 is expanded to YBR_FULL.
    pub photometric: String,
    pub values: Vec<f32>,
    /// Rows the file holds (fewer than `rows` when it is truncated).
    pub rows_present: u32,
    /// Largest value a sample may take (scales colour deeper than 8 bits).
    pub max_value: f32,
}

impl Frame {
    /// The frame shrunk by a power of two so that its longer side is still at least `size`:
    /// a thumbnail renders a few thousand values instead of a quarter million. Blocks are
    /// averaged (partial ones at the edges too); palette indices are sampled (an average of
    /// indices is another colour). A power of two puts every encoding on the same grid: a
    /// JPEG 2000 frame decoded at a reduced resolution level lands where this does.
    pub fn reduced(&self, size: u32) -> Option<Frame> {
        let longest = self.rows.max(self.columns);
        let mut shift = 0;
        while shift < 16 && (longest >> (shift + 1)) >= size.max(1) {
            shift += 1;
        }
        if shift == 0 {
            return None;
        }
        let k = 1usize << shift;
        let (w, h) = (self.columns as usize, self.rows as usize);
        let spp = usize::from(self.samples_per_pixel.max(1));
        let present_rows = (self.rows_present as usize).min(h);
        let (nw, nh) = (w.div_ceil(k), h.div_ceil(k));
        // Only whole blocks of present rows: a block half missing would blend into the hatch.
        let present = present_rows / k;
        if nw == 0 || nh == 0 || self.values.len() < present_rows * w * spp {
            return None;
        }
        let sample = self.photometric == "PALETTE COLOR";
        let row_len = nw * spp;
        let mut values = vec![0f32; present * row_len];
        for (by, out) in values.chunks_exact_mut(row_len).enumerate() {
            if sample {
                let src = &self.values[by * k * w * spp..];
                for bx in 0..nw {
                    let at = bx * k * spp;
                    out[bx * spp..bx * spp + spp].copy_from_slice(&src[at..at + spp]);
                }
                continue;
            }
            // Sum each block row by row (the source is read in order), then divide by the
            // pixels the block holds (fewer at the right edge).
            for y in by * k..by * k + k {
                let row = &self.values[y * w * spp..(y + 1) * w * spp];
                for (bx, block) in row.chunks(k * spp).enumerate() {
                    let acc = &mut out[bx * spp..bx * spp + spp];
                    for px in block.chunks_exact(spp) {
                        for (a, v) in acc.iter_mut().zip(px) {
                            *a += v;
                        }
                    }
                }
            }
            for (bx, px) in out.chunks_exact_mut(spp).enumerate() {
                let width = (w - bx * k).min(k);
                let scale = 1.0 / (width * k) as f32;
                for v in px {
                    *v *= scale;
                }
            }
        }
        Some(Frame {
            rows: nh as u32,
            columns: nw as u32,
            samples_per_pixel: self.samples_per_pixel,
            photometric: self.photometric.clone(),
            values,
            rows_present: present as u32,
            max_value: self.max_value,
        })
    }
}

/// The frame a thumbnail shows: the middle one of a multi-frame image.
pub fn representative_frame(info: &ImageInfo) -> u32 {
    info.frames.saturating_sub(1) / 2
}

const JPEG_FAMILY: [&str; 4] = [
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
];
const RLE: &str = "1.2.840.10008.1.2.5";
/// JPEG 2000 lossless and lossy.
const J2K: [&str; 2] = ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"];

/// Decodes frame `frame` of the image in `src` at full size.
pub fn decode_frame<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
) -> Result<Frame, String> {
    decode_frame_for(src, info, frame, None)
}

/// Decodes frame `frame` of the image in `src`; with `size`, the result may be smaller than
/// the image where the encoding can skip detail (JPEG 2000 resolution levels), but never
/// smaller than `size` on its longer side.
pub fn decode_frame_for<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
    size: Option<u32>,
) -> Result<Frame, String> {
    // Checked before any arithmetic or allocation from the header's values.
    let info = &super::limits::check(info)?;
    if info.frames <= frame {
        return Err(format!("frame {} of {}", frame + 1, info.frames));
    }
    match &info.pixel {
        None => Err("no pixel data".into()),
        Some(PixelLocation::Native {
            offset,
            available,
            float,
            words,
            ..
        }) => native(src, info, frame, *offset, *available, *float, *words),
        Some(PixelLocation::Encapsulated {
            offset_table,
            fragments,
            complete,
            extended,
        }) => {
            let pixel = Encapsulated {
                offset_table,
                fragments,
                extended: extended.as_ref(),
            };
            let data = frame_bytes(src, info, frame, &pixel).map_err(|e| {
                if *complete {
                    e
                } else {
                    format!("{e} (the file is truncated)")
                }
            })?;
            encapsulated(info, &data, size)
        }
        Some(PixelLocation::Deflated {
            dataset_offset,
            value_offset,
            len,
        }) => deflated(src, info, frame, *dataset_offset, *value_offset, *len),
    }
}

fn bytes_per_sample(info: &ImageInfo) -> Result<usize, String> {
    match info.bits_allocated {
        1 => Ok(0),
        8 | 16 | 32 | 64 => Ok(usize::from(info.bits_allocated / 8)),
        b => Err(format!("{b} bits allocated per sample is not supported")),
    }
}

/// Native pixel data read from the file: as many whole rows as it holds.
fn native<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
    offset: u64,
    available: u64,
    float: Option<u8>,
    words: bool,
) -> Result<Frame, String> {
    let (rows, cols) = (info.rows as usize, info.columns as usize);
    let spp = usize::from(info.samples_per_pixel.max(1));
    if info.bits_allocated == 1 {
        return native_bits(src, info, frame, offset, available);
    }
    let bps = match float {
        Some(b) => usize::from(b),
        None => bytes_per_sample(info)?,
    };
    // YBR_FULL_422 stores two pixels in Y1 Y2 Cb Cr: 2 samples per pixel, not 3.
    let ybr422 = info.photometric == "YBR_FULL_422" && spp == 3;
    let row_bytes = if ybr422 {
        cols * 2 * bps
    } else {
        cols * spp * bps
    };
    let frame_bytes = row_bytes * rows;
    let start = offset + u64::from(frame) * frame_bytes as u64;
    let have = (offset + available)
        .saturating_sub(start)
        .min(frame_bytes as u64) as usize;
    let rows_present = have / row_bytes;
    if rows_present == 0 {
        return Err("the file ends before this frame's pixel data".into());
    }
    let swap = info.big_endian && words && bps == 1;
    // 8-bit samples in OW words of a big endian file come in swapped pairs: read whole words
    // (a frame or an odd-length value may start or end in the middle of one) and swap back.
    let lead = if swap { (start - offset) % 2 } else { 0 };
    let want = (rows_present * row_bytes) as u64 + lead;
    let read_len = if swap {
        (want + want % 2).min(offset + available - (start - lead))
    } else {
        want
    };
    let mut buf = vec![0u8; read_len as usize];
    src.seek(SeekFrom::Start(start - lead))
        .and_then(|_| src.read_exact(&mut buf))
        .map_err(|e| format!("cannot read the pixel data: {e}"))?;
    if swap {
        for pair in buf.chunks_exact_mut(2) {
            pair.swap(0, 1);
        }
        buf.drain(..lead as usize);
        buf.truncate(rows_present * row_bytes);
    }
    let mut values = match float {
        Some(4) => floats32(&buf, info.big_endian),
        Some(_) => floats64(&buf, info.big_endian),
        None => integers(&buf, bps, info),
    };
    let mut photometric = info.photometric.clone();
    if ybr422 {
        values = expand_ybr422(&values, rows_present, cols);
        photometric = "YBR_FULL".into();
    } else if spp > 1 && info.planar_configuration == 1 {
        values = interleave(&values, spp, rows_present * cols);
    }
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel: spp as u16,
        photometric,
        values,
        rows_present: rows_present as u32,
        max_value: max_value(info),
    })
}

/// 1 bit per sample (segmentations, some overlays stored as images): LSB first.
fn native_bits<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
    offset: u64,
    available: u64,
) -> Result<Frame, String> {
    let per_frame = info.rows as u64 * info.columns as u64;
    let first_bit = u64::from(frame) * per_frame;
    let start = offset + first_bit / 8;
    let have = (offset + available).saturating_sub(start);
    src.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot read the pixel data: {e}"))?;
    native_bits_from(src, info, first_bit % 8, have)
}

/// A 1-bit frame whose first bit is bit `skip` of the next byte `src` reads, of `have` bytes.
fn native_bits_from<R: Read>(
    src: &mut R,
    info: &ImageInfo,
    skip: u64,
    have: u64,
) -> Result<Frame, String> {
    let per_frame = info.rows as u64 * info.columns as u64;
    let bytes = (per_frame + skip).div_ceil(8).min(have);
    let mut buf = vec![0u8; bytes as usize];
    src.read_exact(&mut buf)
        .map_err(|e| format!("cannot read the pixel data: {e}"))?;
    let skip = skip as usize;
    let bits = (buf.len() * 8).saturating_sub(skip).min(per_frame as usize);
    let values: Vec<f32> = (skip..skip + bits)
        .map(|i| f32::from((buf[i / 8] >> (i % 8)) & 1))
        .collect();
    let rows_present = (values.len() / info.columns as usize) as u32;
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel: 1,
        photometric: info.photometric.clone(),
        values,
        rows_present,
        max_value: 1.0,
    })
}

fn max_value(info: &ImageInfo) -> f32 {
    let bits = info.bits_stored.clamp(1, 32);
    (2f64.powi(i32::from(bits)) - 1.0) as f32
}

/// Integer samples of `bps` bytes, masked to Bits Stored and sign-extended when signed.
fn integers(buf: &[u8], bps: usize, info: &ImageInfo) -> Vec<f32> {
    let stored = u32::from(info.bits_stored.clamp(1, 32));
    let shift = u32::from(info.high_bit + 1).saturating_sub(stored);
    let mask: u64 = if stored >= 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << stored) - 1
    };
    let sign = 1u64 << (stored - 1);
    let signed = info.signed;
    let value = move |raw: u64| {
        let v = (raw >> shift) & mask;
        if signed && v & sign != 0 {
            (v as i64 - (mask as i64 + 1)) as f32
        } else {
            v as f32
        }
    };
    // One loop per layout (not a match per sample): the common 16-bit little endian case is
    // most of a thumbnail's conversion time.
    match (bps, info.big_endian) {
        (1, _) => buf.iter().map(|&b| value(u64::from(b))).collect(),
        (2, false) => buf
            .chunks_exact(2)
            .map(|c| value(u64::from(u16::from_le_bytes([c[0], c[1]]))))
            .collect(),
        (2, true) => buf
            .chunks_exact(2)
            .map(|c| value(u64::from(u16::from_be_bytes([c[0], c[1]]))))
            .collect(),
        (4, false) => buf
            .chunks_exact(4)
            .map(|c| value(u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
            .collect(),
        (4, true) => buf
            .chunks_exact(4)
            .map(|c| value(u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))))
            .collect(),
        (_, false) => buf
            .chunks_exact(bps)
            .map(|c| value(u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))))
            .collect(),
        (_, true) => buf
            .chunks_exact(bps)
            .map(|c| value(u64::from_be_bytes(c.try_into().unwrap_or([0; 8]))))
            .collect(),
    }
}

fn floats32(buf: &[u8], big: bool) -> Vec<f32> {
    buf.chunks_exact(4)
        .map(|c| {
            let b = [c[0], c[1], c[2], c[3]];
            if big {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            }
        })
        .collect()
}

fn floats64(buf: &[u8], big: bool) -> Vec<f32> {
    buf.chunks_exact(8)
        .map(|c| {
            let b: [u8; 8] = c.try_into().unwrap_or([0; 8]);
            (if big {
                f64::from_be_bytes(b)
            } else {
                f64::from_le_bytes(b)
            }) as f32
        })
        .collect()
}

/// Planar (RRR...GGG...BBB...) to interleaved (RGBRGB...).
fn interleave(values: &[f32], spp: usize, pixels: usize) -> Vec<f32> {
    let plane = values.len() / spp;
    let pixels = pixels.min(plane);
    let mut out = Vec::with_capacity(pixels * spp);
    for p in 0..pixels {
        for s in 0..spp {
            out.push(values[s * plane + p]);
        }
    }
    out
}

/// Y1 Y2 Cb Cr per pixel pair to Y Cb Cr per pixel.
fn expand_ybr422(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * cols * 3);
    for row in values.chunks(cols * 2).take(rows) {
        for quad in row.chunks_exact(4) {
            let [y1, y2, cb, cr] = [quad[0], quad[1], quad[2], quad[3]];
            out.extend_from_slice(&[y1, cb, cr, y2, cb, cr]);
        }
    }
    out
}

/// Decodes one frame's encoded bytes.
fn encapsulated(info: &ImageInfo, data: &[u8], size: Option<u32>) -> Result<Frame, String> {
    let ts = info.transfer_syntax.as_str();
    if ts == RLE {
        return super::rle::decode(info, data);
    }
    if J2K.contains(&ts) {
        return super::j2k::decode(info, data, size);
    }
    if JPEG_FAMILY.contains(&ts) {
        // libjpeg-turbo first (12-bit, lossless to 16 bits, fast); dicom-rs's decoder if it
        // refuses something.
        return match jpeg::decode(info, data) {
            Ok(f) => Ok(f),
            Err(tj) => registry(info, data).map_err(|rs| format!("{tj}; {rs}")),
        };
    }
    registry(info, data)
}

/// Decodes with the codec dicom-rs registers for the transfer syntax.
fn registry(info: &ImageInfo, data: &[u8]) -> Result<Frame, String> {
    let ts = TransferSyntaxRegistry
        .get(&info.transfer_syntax)
        .ok_or_else(|| format!("unknown transfer syntax {}", info.transfer_syntax))?;
    let Codec::EncapsulatedPixelData(Some(reader), _) = ts.codec() else {
        return Err(format!("no decoder for {}", ts.name()));
    };
    // CharLS allocates what the stream's frame header (SOF55) declares: it must be the
    // header's size.
    if let Some((w, h)) = jpeg_ls_size(data)
        && (w, h) != (info.columns, info.rows)
    {
        return Err(format!(
            "the JPEG-LS stream is {w} x {h}, the image {} x {}",
            info.columns, info.rows
        ));
    }
    let decode = |data: &[u8]| -> Result<Vec<u8>, String> {
        let obj = OneFrame { info, data };
        let mut out = Vec::new();
        reader
            .decode_frame(&obj, 0, &mut out)
            .map(|_| out)
            .map_err(|e| format!("{} decoding failed: {e}", ts.name()))
    };
    let out = match decode(data) {
        Ok(out) => out,
        // Some encoders (WG04's JPEG-LS images among them) leave one zero byte between the
        // scan and the end-of-image marker, which DCMTK's older CharLS reads and CharLS 2.3
        // and later refuse: read again without it.
        Err(e) => match without_stray_zero(data) {
            Some(trimmed) => decode(&trimmed).map_err(|_| e)?,
            None => return Err(e),
        },
    };
    let spp = usize::from(info.samples_per_pixel.max(1));
    let pixels = info.rows as usize * info.columns as usize;
    let bps = out.len() / (pixels * spp).max(1);
    if bps * pixels * spp != out.len() {
        return Err(format!(
            "{} gave {} bytes for {pixels} pixels of {spp} samples (the codestream's size is not the header's)",
            ts.name(),
            out.len()
        ));
    }
    let native = ImageInfo {
        big_endian: false,
        // Codecs hand back whole samples, the stored bits in the low bits.
        high_bit: info.bits_stored.saturating_sub(1),
        ..info.clone()
    };
    let values = match bps {
        1 | 2 | 4 => integers(&out, bps, &native),
        _ => {
            return Err(format!(
                "{} gave {} bytes for {pixels} pixels",
                ts.name(),
                out.len()
            ));
        }
    };
    let rows_present = (values.len() / (info.columns as usize * spp)) as u32;
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel: spp as u16,
        photometric: if spp == 3 {
            "RGB".into()
        } else {
            info.photometric.clone()
        },
        values,
        rows_present,
        max_value: max_value(info),
    })
}

/// A frame's bytes shaped as the object dicom-rs's codecs decode from.
struct OneFrame<'a> {
    info: &'a ImageInfo,
    data: &'a [u8],
}

impl PixelDataObject for OneFrame<'_> {
    fn transfer_syntax_uid(&self) -> &str {
        &self.info.transfer_syntax
    }
    fn rows(&self) -> Option<u16> {
        u16::try_from(self.info.rows).ok()
    }
    fn cols(&self) -> Option<u16> {
        u16::try_from(self.info.columns).ok()
    }
    fn samples_per_pixel(&self) -> Option<u16> {
        Some(self.info.samples_per_pixel)
    }
    fn bits_allocated(&self) -> Option<u16> {
        Some(self.info.bits_allocated)
    }
    fn bits_stored(&self) -> Option<u16> {
        Some(self.info.bits_stored)
    }
    fn photometric_interpretation(&self) -> Option<&str> {
        Some(&self.info.photometric)
    }
    fn number_of_frames(&self) -> Option<u32> {
        Some(1)
    }
    fn number_of_fragments(&self) -> Option<u32> {
        Some(1)
    }
    fn fragment(&self, fragment: usize) -> Option<Cow<'_, [u8]>> {
        (fragment == 0).then_some(Cow::Borrowed(self.data))
    }
    fn offset_table(&self) -> Option<Cow<'_, [u32]>> {
        None
    }
    fn raw_pixel_data(&self) -> Option<RawPixelData> {
        Some(RawPixelData {
            fragments: vec![self.data.to_vec()].into(),
            offset_table: Default::default(),
        })
    }
}

/// The size a JPEG-LS stream's frame header (SOF55, FFF7) declares: its marker segments
/// walked from SOI.
fn jpeg_ls_size(data: &[u8]) -> Option<(u32, u32)> {
    if data.get(0..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    while let (Some(&0xFF), Some(&marker)) = (data.get(at), data.get(at + 1)) {
        let len = usize::from(u16::from_be_bytes([*data.get(at + 2)?, *data.get(at + 3)?]));
        if marker == 0xF7 {
            // Lf, P, Y (rows), X (columns).
            let y = u16::from_be_bytes([*data.get(at + 5)?, *data.get(at + 6)?]);
            let x = u16::from_be_bytes([*data.get(at + 7)?, *data.get(at + 8)?]);
            return Some((u32::from(x), u32::from(y)));
        }
        at += 2 + len;
    }
    None
}

/// A codestream ending `..XX 00 FF D9` (XX not FF) without that zero byte.
fn without_stray_zero(data: &[u8]) -> Option<Vec<u8>> {
    let n = data.len();
    // The codestream may itself be followed by the fragment's padding byte.
    let end = if data.ends_with(&[0xFF, 0xD9, 0x00]) {
        n - 1
    } else {
        n
    };
    if end < 4 || data[end - 2..end] != [0xFF, 0xD9] || data[end - 3] != 0 || data[end - 4] == 0xFF
    {
        return None;
    }
    let mut out = data[..end - 3].to_vec();
    out.extend_from_slice(&[0xFF, 0xD9]);
    Some(out)
}

/// A frame of a deflated data set: the data set inflated as a stream, the bytes before the
/// frame skipped without being kept, only the frame's own read (a deflate bomb declaring
/// gigabytes costs the time to inflate up to one frame, and one frame's memory, both already
/// bounded by `limits`).
fn deflated<R: Read + Seek>(
    src: &mut R,
    info: &ImageInfo,
    frame: u32,
    dataset_offset: u64,
    value_offset: u64,
    len: Option<u64>,
) -> Result<Frame, String> {
    let ts = TransferSyntaxRegistry
        .get(&info.transfer_syntax)
        .ok_or_else(|| format!("unknown transfer syntax {}", info.transfer_syntax))?;
    let Codec::Dataset(Some(adapter)) = ts.codec() else {
        return Err(format!("cannot inflate {}", ts.name()));
    };
    src.seek(SeekFrom::Start(dataset_offset))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let plain = ImageInfo {
        big_endian: false,
        ..info.clone()
    };
    let spp = u64::from(info.samples_per_pixel.max(1));
    let frame_bits = u64::from(info.rows) * u64::from(info.columns) * spp;
    let frame_len = match info.bits_allocated {
        1 => frame_bits.div_ceil(8),
        b => frame_bits * u64::from(b / 8),
    };
    // 1-bit frames need not start on a byte: take from the byte holding the frame's first bit.
    let (skip, take) = if info.bits_allocated == 1 {
        let first_bit = u64::from(frame) * frame_bits;
        (first_bit / 8, (frame_bits + first_bit % 8).div_ceil(8))
    } else {
        (u64::from(frame) * frame_len, frame_len)
    };
    let declared = len.unwrap_or(u64::MAX);
    if skip >= declared {
        return Err("the pixel data ends before this frame".into());
    }
    let take = take.min(declared - skip);
    let mut inflated = adapter.adapt_reader(Box::new(&mut *src));
    let skipped = std::io::copy(
        &mut (&mut inflated).take(value_offset + skip),
        &mut std::io::sink(),
    )
    .map_err(|e| format!("cannot inflate the data set: {e}"))?;
    if skipped < value_offset + skip {
        return Err("the deflated data set ends before this frame".into());
    }
    let mut buf = Vec::with_capacity(take.min(64 << 20) as usize);
    (&mut inflated)
        .take(take)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot inflate the pixel data: {e}"))?;
    let have = buf.len() as u64;
    let mut cursor = std::io::Cursor::new(buf);
    // The frame's bytes as frame 0 of a value starting at 0 (1-bit data: at the bit where it
    // starts).
    let one = ImageInfo { frames: 1, ..plain };
    if info.bits_allocated == 1 {
        let first_bit = (u64::from(frame) * frame_bits) % 8;
        return native_bits_from(&mut cursor, &one, first_bit, have);
    }
    native(&mut cursor, &one, 0, 0, have, None, false)
}

#[cfg(test)]
mod reduce_tests {
    use super::*;

    fn frame(w: u32, h: u32, present: u32, photometric: &str, values: Vec<f32>) -> Frame {
        Frame {
            rows: h,
            columns: w,
            samples_per_pixel: 1,
            photometric: photometric.into(),
            values,
            rows_present: present,
            max_value: 255.0,
        }
    }

    #[test]
    fn blocks_are_averaged_and_palette_indices_sampled() {
        // 4 x 4: each 2 x 2 block holds 0, 2, 4, 6 (mean 3) plus its block number x 10.
        let mut values = vec![0.0; 16];
        for y in 0..4 {
            for x in 0..4 {
                let block = (y / 2) * 2 + x / 2;
                values[y * 4 + x] = (block * 10) as f32 + ((y % 2) * 2 + x % 2) as f32 * 2.0;
            }
        }
        let grey = frame(4, 4, 4, "MONOCHROME2", values.clone());
        let small = grey.reduced(2).expect("reduced");
        assert_eq!((small.columns, small.rows, small.rows_present), (2, 2, 2));
        assert_eq!(small.values, vec![3.0, 13.0, 23.0, 33.0]);
        let palette = frame(4, 4, 4, "PALETTE COLOR", values);
        assert_eq!(
            palette.reduced(2).unwrap().values,
            vec![0.0, 10.0, 20.0, 30.0]
        );
        // Already small enough: nothing to do.
        assert!(grey.reduced(4).is_none());
    }

    #[test]
    fn a_truncated_frame_keeps_its_whole_block_rows() {
        let f = frame(4, 4, 3, "MONOCHROME2", vec![1.0; 12]);
        let small = f.reduced(2).unwrap();
        assert_eq!((small.rows, small.rows_present), (2, 1));
        assert_eq!(small.values, vec![1.0, 1.0]);
    }
}
