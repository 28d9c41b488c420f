//! RLE Lossless (PS3.5 Annex G), decoded here for any bits allocated: dicom-rs's decoder
//! refuses 32 bits. Segments hold one byte plane each, most significant byte first, every
//! plane of a sample before the next sample's.

use super::decode::Frame;
use super::info::ImageInfo;

/// Decodes one RLE frame to stored values.
pub fn decode(info: &ImageInfo, data: &[u8]) -> Result<Frame, String> {
    if data.len() < 64 {
        return Err("RLE frame shorter than its header".into());
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let segments = word(0) as usize;
    let bytes = match info.bits_allocated {
        8 | 16 | 32 => usize::from(info.bits_allocated / 8),
        b => return Err(format!("RLE with {b} bits allocated is not supported")),
    };
    let spp = usize::from(info.samples_per_pixel.max(1));
    if segments != spp * bytes || segments > 15 {
        return Err(format!(
            "RLE header names {segments} segments, {} expected",
            spp * bytes
        ));
    }
    let pixels = info.rows as usize * info.columns as usize;
    let offsets: Vec<usize> = (0..segments).map(|i| word(4 + 4 * i) as usize).collect();
    let mut planes = Vec::with_capacity(segments);
    for (i, &start) in offsets.iter().enumerate() {
        let end = offsets
            .get(i + 1)
            .copied()
            .unwrap_or(data.len())
            .min(data.len());
        if start < 64 || start > end {
            return Err(format!("RLE segment {} has a bad offset", i + 1));
        }
        planes.push(unpack(&data[start..end], pixels));
    }
    // A plane cut short (a truncated file) limits the rows every plane can give.
    let present = planes.iter().map(Vec::len).min().unwrap_or(0);
    let rows_present = present / info.columns.max(1) as usize;
    let stored = u32::from(info.bits_stored.clamp(1, 32));
    let mask: u64 = if stored >= 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << stored) - 1
    };
    let sign = 1u64 << (stored - 1);
    let mut values = Vec::with_capacity(rows_present * info.columns as usize * spp);
    for p in 0..rows_present * info.columns as usize {
        for sample in planes.chunks_exact(bytes).take(spp) {
            // Segments hold the most significant byte of each sample first.
            let v = sample
                .iter()
                .fold(0u64, |v, plane| (v << 8) | u64::from(plane[p]));
            let v = v & mask;
            values.push(if info.signed && v & sign != 0 {
                (v as i64 - (mask as i64 + 1)) as f32
            } else {
                v as f32
            });
        }
    }
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel: spp as u16,
        photometric: if spp == 3 {
            // RLE keeps the photometric interpretation (RGB, or YBR_FULL).
            info.photometric.clone()
        } else {
            info.photometric.clone()
        },
        values,
        rows_present: rows_present as u32,
        max_value: (2f64.powi(stored as i32) - 1.0) as f32,
    })
}

/// PackBits: n in 0..=127 copies n + 1 bytes, n in -127..=-1 repeats the next byte 1 - n
/// times, -128 does nothing.
fn unpack(src: &[u8], want: usize) -> Vec<u8> {
    // PackBits turns 2 bytes into at most 128: room for what `src` can give, not more.
    let mut out = Vec::with_capacity(want.min(src.len().saturating_mul(64)));
    let mut i = 0;
    while i < src.len() && out.len() < want {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let count = n as usize + 1;
            let end = (i + count).min(src.len());
            out.extend_from_slice(&src[i..end]);
            i = end;
        } else if n != -128 {
            let count = (1 - i32::from(n)) as usize;
            if let Some(&b) = src.get(i) {
                out.extend(std::iter::repeat_n(b, count));
            }
            i += 1;
        }
    }
    out.truncate(want);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits() {
        // 3 literals, then 4 repeats of 9.
        assert_eq!(
            unpack(&[2, 1, 2, 3, (-3i8) as u8, 9], 100),
            [1, 2, 3, 9, 9, 9, 9]
        );
        assert_eq!(unpack(&[(-128i8) as u8, 0, 7], 100), [7]);
    }

    #[test]
    fn thirty_two_bit_samples() {
        // One 2x1 image, 32 bits, 4 planes: values 0x01020304 and 0x0A0B0C0D.
        let mut data = vec![0u8; 64];
        data[0] = 4;
        let planes: [[u8; 2]; 4] = [[1, 10], [2, 11], [3, 12], [4, 13]];
        let mut at = 64u32;
        for (i, p) in planes.iter().enumerate() {
            data[4 + 4 * i..8 + 4 * i].copy_from_slice(&at.to_le_bytes());
            at += 3;
            let _ = p;
        }
        for p in planes {
            data.extend_from_slice(&[1, p[0], p[1]]);
        }
        let info = ImageInfo {
            rows: 1,
            columns: 2,
            samples_per_pixel: 1,
            bits_allocated: 32,
            bits_stored: 32,
            high_bit: 31,
            photometric: "MONOCHROME2".into(),
            frames: 1,
            ..Default::default()
        };
        let f = decode(&info, &data).unwrap();
        assert_eq!(f.values, [0x0102_0304 as f32, 0x0A0B_0C0D as f32]);
    }
}
