//! JPEG 2000 frames through OpenJPEG (the `jpeg2k` crate on the pure-Rust `openjp2`, the one
//! dicom-rs uses), called directly for what dicom-rs does not ask of it: decoding at a reduced
//! resolution. A 128-pixel thumbnail of a 512 x 512 image needs only its 256 x 256 resolution
//! level, and a wavelet codestream holds that level without the finer ones: several times
//! faster. One level finer than the thumbnail's size, box-averaged down like a native image
//! (`Frame::reduced`): the wavelet's low-pass alone rings at strong edges (three grey levels
//! on average on a CT, against less than one this way).

use jpeg2k::{DecodeParameters, Image};

use super::decode::Frame;
use super::info::ImageInfo;

/// Decodes a JPEG 2000 frame; with `size`, at the coarsest resolution whose longer side is
/// still at least twice `size` pixels.
pub fn decode(info: &ImageInfo, data: &[u8], size: Option<u32>) -> Result<Frame, String> {
    // OpenJPEG allocates what the codestream's SIZ marker declares: it must be the header's.
    match image_size(data) {
        Some(wh) if wh == (info.columns, info.rows) => {}
        Some((w, h)) => {
            return Err(format!(
                "the JPEG 2000 codestream is {w} x {h}, the image {} x {}",
                info.columns, info.rows
            ));
        }
        None => return Err("no JPEG 2000 codestream (SOC and SIZ markers) in the frame".into()),
    }
    let longest = info.rows.max(info.columns).max(1);
    let mut reduce = 0;
    if let Some(size) = size {
        while reduce < 5 && (longest >> (reduce + 2)) >= size.max(1) {
            reduce += 1;
        }
    }
    let image = match Image::from_bytes_with(data, DecodeParameters::new().reduce(reduce)) {
        Ok(i) => i,
        // A codestream with fewer resolution levels than asked for: decode it whole.
        Err(_) if reduce > 0 => Image::from_bytes(data).map_err(|e| why(&e))?,
        Err(e) => return Err(why(&e)),
    };
    let spp = usize::from(info.samples_per_pixel.max(1));
    let components: Vec<_> = image
        .components()
        .iter()
        .filter(|c| !c.is_alpha())
        .take(spp)
        .collect();
    let first = components
        .first()
        .ok_or("JPEG 2000 codestream without components")?;
    let (w, h) = (first.width(), first.height());
    if components.len() < spp || components.iter().any(|c| c.width() != w || c.height() != h) {
        return Err("JPEG 2000 components of different sizes or counts (not supported)".into());
    }
    let n = w as usize * h as usize;
    let mut values = vec![0f32; n * spp];
    for (s, c) in components.iter().enumerate() {
        for (i, &v) in c.data().iter().take(n).enumerate() {
            values[i * spp + s] = v as f32;
        }
    }
    let precision = first.precision().clamp(1, 32);
    Ok(Frame {
        rows: h,
        columns: w,
        samples_per_pixel: spp as u16,
        // The codec undoes the colour transform (YBR_ICT / YBR_RCT): RGB comes out.
        photometric: if spp == 3 {
            "RGB".into()
        } else {
            info.photometric.clone()
        },
        values,
        rows_present: h,
        max_value: (2f64.powi(precision as i32) - 1.0) as f32,
    })
}

/// The image size a codestream's SIZ marker declares (a JP2 file's `jp2c` box is looked into).
fn image_size(data: &[u8]) -> Option<(u32, u32)> {
    let code = if data.starts_with(&[0xFF, 0x4F]) {
        data
    } else {
        let at = data.windows(4).position(|w| w == b"jp2c")?;
        data.get(at + 4..)?
    };
    if code.get(0..4)? != [0xFF, 0x4F, 0xFF, 0x51] {
        return None;
    }
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(code.get(i..i + 4)?.try_into().ok()?))
    };
    // SOC, SIZ marker, Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz.
    let (x, y, xo, yo) = (u32_at(8)?, u32_at(12)?, u32_at(16)?, u32_at(20)?);
    Some((x.checked_sub(xo)?, y.checked_sub(yo)?))
}

fn why(e: &dyn std::fmt::Display) -> String {
    format!("the JPEG 2000 codestream cannot be decoded: {e}")
}
