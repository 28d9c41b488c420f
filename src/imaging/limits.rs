//! What an image may ask of the decoder: its pixel module checked value against value before
//! any arithmetic (a High Bit past Bits Allocated shifts past a word; Rows x Columns x frames
//! may overflow or ask for gigabytes), and the site's limit on declared pixel data
//! (`[imaging] max_pixel_mb`, default 2 GiB). A file past them is refused with the reason,
//! quickly, before anything is allocated or inflated.

use std::sync::atomic::{AtomicU64, Ordering};

use super::info::ImageInfo;

pub use crate::config::{DEFAULT_MAX_PIXEL_BYTES, ImagingConfig};

/// The most pixels in one frame (16384 x 16384): beyond, nothing is shown.
pub const MAX_PIXELS: u64 = 1 << 28;

static MAX_PIXEL_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXEL_BYTES);

/// Sets the site's limit for this process (the desk and the CLI, once the workspace's
/// settings are read).
pub fn apply_config(config: &ImagingConfig) {
    MAX_PIXEL_BYTES.store(config.max_pixel_mb.max(1) << 20, Ordering::Relaxed);
}

pub fn max_pixel_bytes() -> u64 {
    MAX_PIXEL_BYTES.load(Ordering::Relaxed)
}

/// Checks the pixel module's values against each other and the limits; returns the info to
/// decode with (a High Bit that cannot be is taken as Bits Stored - 1, as readers do).
pub fn check(info: &ImageInfo) -> Result<ImageInfo, String> {
    let mut info = info.clone();
    if info.rows == 0 || info.columns == 0 {
        return Err("the image has no Rows or Columns".into());
    }
    let spp = info.samples_per_pixel;
    if !matches!(spp, 1 | 3) {
        return Err(format!(
            "{spp} samples per pixel (Samples per Pixel must be 1 or 3)"
        ));
    }
    let ba = info.bits_allocated;
    if !matches!(ba, 1 | 8 | 16 | 32 | 64) {
        return Err(format!("{ba} bits allocated per sample is not supported"));
    }
    if info.bits_stored == 0 || info.bits_stored > ba {
        return Err(format!(
            "Bits Stored {} does not fit Bits Allocated {ba}",
            info.bits_stored
        ));
    }
    if info.high_bit >= ba || info.high_bit + 1 < info.bits_stored {
        info.high_bit = info.bits_stored - 1;
    }
    let pixels = u64::from(info.rows) * u64::from(info.columns);
    if pixels > MAX_PIXELS {
        return Err(format!(
            "an image of {} x {} pixels is larger than qcdesk shows ({} million pixels)",
            info.columns,
            info.rows,
            MAX_PIXELS / 1_000_000
        ));
    }
    let frame_bits = pixels * u64::from(spp) * u64::from(ba);
    let declared = frame_bits
        .div_ceil(8)
        .saturating_mul(u64::from(info.frames.max(1)));
    let limit = max_pixel_bytes();
    if declared > limit {
        return Err(format!(
            "the image declares {} MiB of pixel data ({} frames of {} x {}), more than the site's limit of {} MiB ([imaging] max_pixel_mb)",
            declared >> 20,
            info.frames,
            info.columns,
            info.rows,
            limit >> 20
        ));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(rows: u32, columns: u32, ba: u16, bs: u16, hb: u16) -> ImageInfo {
        ImageInfo {
            rows,
            columns,
            samples_per_pixel: 1,
            bits_allocated: ba,
            bits_stored: bs,
            high_bit: hb,
            frames: 1,
            ..ImageInfo::default()
        }
    }

    #[test]
    fn the_pixel_module_is_checked_before_any_arithmetic() {
        assert!(check(&image(512, 512, 16, 12, 11)).is_ok());
        // High Bit past Bits Allocated: read as Bits Stored - 1.
        assert_eq!(check(&image(512, 512, 16, 12, 100)).unwrap().high_bit, 11);
        assert!(check(&image(512, 512, 16, 17, 16)).is_err());
        assert!(check(&image(512, 512, 12, 12, 11)).is_err());
        assert!(check(&image(0, 512, 16, 16, 15)).is_err());
        let huge = check(&image(32768, 32768, 16, 16, 15)).unwrap_err();
        assert!(huge.contains("32768 x 32768"), "{huge}");
        let mut many = image(8192, 8192, 16, 16, 15);
        many.frames = 100;
        let err = check(&many).unwrap_err();
        assert!(err.contains("max_pixel_mb"), "{err}");
        let mut rgba = image(64, 64, 8, 8, 7);
        rgba.samples_per_pixel = 4;
        assert!(check(&rgba).is_err());
    }
}
