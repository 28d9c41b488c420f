//! Imaging: a DICOM file's pixels to a picture the Associate can check at a glance. Owns
//! reading the image attributes (`info`), decoding a frame in any transfer syntax (`decode`,
//! `rle`, `jpeg`), turning stored values into 8-bit RGBA (`render`), thumbnails and their cache,
//! and the decode workers the desk feeds. Knows nothing of egui.
//!
//! A file that cannot be rendered says why (`cannot_render: <why>`); nothing here panics on
//! bad input or blocks a caller's thread beyond the one it runs on.

mod cache;
mod decode;
mod frames;
mod info;
mod j2k;
mod jpeg;
pub mod limits;
mod lru;
mod render;
mod rle;
mod workers;

use std::path::Path;

use image::RgbaImage;
use serde::Serialize;

pub use crate::model::ThumbInput;
pub use cache::{Thumb, ThumbCache, render_thumbnail};
pub use decode::{Frame, decode_frame, decode_frame_for, representative_frame};
pub use info::{ImageInfo, Overlay, PixelLocation, read_info};
pub use limits::ImagingConfig;
pub use lru::Lru;
pub use render::{Rendered, Windowing, render};
pub use workers::{DecodePool, Done, Job, Key, Output, Priority};

/// Why a file gives no picture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("no pixel data")]
    NoPixelData,
    #[error("cannot render: {0}")]
    CannotRender(String),
}

/// A frame of a file, rendered, with what the caller needs to show it.
#[derive(Debug, Clone)]
pub struct Picture {
    pub rendered: Rendered,
    pub info: ImageInfo,
    /// The frame shown (0-based).
    pub frame: u32,
}

/// A decoded frame with the attributes needed to render it (kept by the viewer's workers, so
/// a new window re-renders without decoding again).
#[derive(Debug, Clone)]
pub struct Decoded {
    pub info: ImageInfo,
    pub frame: Frame,
    /// The frame's index (0-based).
    pub index: u32,
}

impl Decoded {
    /// Memory the decoded values take.
    pub fn bytes(&self) -> usize {
        self.frame.values.len() * std::mem::size_of::<f32>()
    }
}

/// Reads and decodes frame `frame` (the representative one when `None`) of the file at `path`.
pub fn decode(path: &Path, frame: Option<u32>) -> Result<Decoded, ImageError> {
    decode_for(path, frame, None)
}

/// As [`decode`], for a picture of at most `size` pixels a side when given (see
/// [`decode_frame_for`]).
fn decode_for(path: &Path, frame: Option<u32>, size: Option<u32>) -> Result<Decoded, ImageError> {
    let file = std::fs::File::open(path)
        .map_err(|e| ImageError::CannotRender(format!("cannot open the file: {e}")))?;
    let len = file
        .metadata()
        .map(|m| m.len())
        .map_err(|e| ImageError::CannotRender(e.to_string()))?;
    let mut src = std::io::BufReader::with_capacity(1 << 16, file);
    let info = read_info(&mut src, len).map_err(|e| ImageError::CannotRender(e.to_string()))?;
    if info.pixel.is_none() {
        return Err(ImageError::NoPixelData);
    }
    let index = frame
        .unwrap_or_else(|| representative_frame(&info))
        .min(info.frames.saturating_sub(1));
    let frame = decode_frame_for(&mut src, &info, index, size).map_err(ImageError::CannotRender)?;
    Ok(Decoded { info, frame, index })
}

/// Renders a decoded frame with `windowing`.
pub fn render_decoded(d: &Decoded, windowing: Windowing) -> Result<Picture, ImageError> {
    let rendered = render(&d.frame, &d.info, windowing).map_err(ImageError::CannotRender)?;
    Ok(Picture {
        rendered,
        info: d.info.clone(),
        frame: d.index,
    })
}

/// The thumbnail of the file at `path`: its representative frame, at most `size` pixels a
/// side. Rendered from a reduced frame (see [`Frame::reduced`]); `partial` and the frame count
/// are the full image's.
pub fn thumbnail_picture(path: &Path, size: u32) -> Result<Picture, ImageError> {
    let d = decode_for(path, None, Some(size))?;
    let (rows, present) = (d.frame.rows, d.frame.rows_present.min(d.frame.rows));
    let mut p = match d.frame.reduced(size) {
        Some(small) => render_decoded(&Decoded { frame: small, ..d }, Windowing::Default)?,
        None => render_decoded(&d, Windowing::Default)?,
    };
    p.rendered.image = fit_aspect(&p.rendered.image, size, p.info.pixel_aspect);
    p.rendered.partial = (present < rows).then_some((present, rows));
    Ok(p)
}

/// [`fit`] for pixels of height over width `aspect`: the picture at its true proportions.
pub fn fit_aspect(image: &RgbaImage, size: u32, aspect: f64) -> RgbaImage {
    let (w, h) = image.dimensions();
    if aspect.is_nan() || aspect <= 0.0 || (aspect - 1.0).abs() < 1e-3 {
        return fit(image, size);
    }
    let (tw, th) = (f64::from(w), f64::from(h) * aspect.clamp(0.125, 8.0));
    let scale = (f64::from(size) / tw.max(th)).min(1.0);
    let (tw, th) = (
        ((tw * scale).round() as u32).max(1),
        ((th * scale).round() as u32).max(1),
    );
    image::imageops::resize(image, tw, th, image::imageops::FilterType::Triangle)
}

/// Reads, decodes and renders frame `frame` (the representative one when `None`) of the
/// file at `path`.
pub fn picture(
    path: &Path,
    frame: Option<u32>,
    windowing: Windowing,
) -> Result<Picture, ImageError> {
    render_decoded(&decode(path, frame)?, windowing)
}

/// `image` scaled to fit a `size` x `size` square, keeping its aspect ratio.
pub fn fit(image: &RgbaImage, size: u32) -> RgbaImage {
    let (w, h) = image.dimensions();
    if w <= size && h <= size {
        return image.clone();
    }
    let scale = f64::from(size) / f64::from(w.max(h));
    let (tw, th) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    image::imageops::thumbnail(image, tw, th)
}

/// What rendering one file for `thumbs` gave (the JSON of `qcdesk thumbs --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThumbResult {
    pub file: String,
    /// `ok`, `no_pixel_data` or `cannot_render`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub frames: u32,
    pub transfer_syntax: String,
    /// The image is incomplete: rows present of rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<(u32, u32)>,
}

/// Renders the thumbnail of `path` (at most `size` pixels a side) into `png`.
pub fn thumbnail_to(path: &Path, size: u32, png: &Path) -> ThumbResult {
    let mut out = ThumbResult {
        file: path.display().to_string(),
        status: "cannot_render",
        png: None,
        reason: None,
        frames: 0,
        transfer_syntax: String::new(),
        partial: None,
    };
    match thumbnail_picture(path, size) {
        Ok(p) => {
            out.frames = p.info.frames;
            out.transfer_syntax = p.info.transfer_syntax.clone();
            out.partial = p.rendered.partial;
            match p.rendered.image.save(png) {
                Ok(()) => {
                    out.status = "ok";
                    out.png = Some(png.display().to_string());
                }
                Err(e) => out.reason = Some(format!("cannot write {}: {e}", png.display())),
            }
        }
        Err(ImageError::NoPixelData) => {
            out.status = "no_pixel_data";
            out.reason = Some("no pixel data".into());
            fill_info(path, &mut out);
        }
        Err(ImageError::CannotRender(why)) => {
            out.reason = Some(why);
            fill_info(path, &mut out);
        }
    }
    out
}

/// Frames and transfer syntax for a file that gave no picture, as far as they can be read.
fn fill_info(path: &Path, out: &mut ThumbResult) {
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if let Ok(info) = read_info(&mut std::io::BufReader::new(file), size) {
        out.frames = if info.pixel.is_some() { info.frames } else { 0 };
        out.transfer_syntax = info.transfer_syntax;
    }
}

/// `name` made safe as a file name: letters, digits, `.`, `-` and `_` kept, others `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Renders thumbnails of `files` into `out`, on every core, in input order. Each PNG is named
/// by the input's position and name (`0007-IM0001.png`): two inputs never share one, even when
/// they hold the same SOP Instance UID in other encodings.
pub fn thumbnails(files: &[ThumbInput], out: &Path, size: u32) -> Vec<ThumbResult> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<ThumbResult>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(ThumbInput { path, name }) = files.get(i) else {
                        break;
                    };
                    let png = out.join(format!("{:04}-{}.png", i + 1, file_safe(name)));
                    // A panic in a codec on one file is that file's problem, not the batch's.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        thumbnail_to(path, size, &png)
                    }))
                    .unwrap_or_else(|_| ThumbResult {
                        file: path.display().to_string(),
                        status: "cannot_render",
                        png: None,
                        reason: Some("internal error in a decoder (please report it)".into()),
                        frames: 0,
                        transfer_syntax: String::new(),
                        partial: None,
                    });
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

#[cfg(test)]
mod fit_tests {
    use super::*;

    #[test]
    fn thumbnails_keep_the_pixels_true_proportions() {
        let img = RgbaImage::new(200, 100);
        assert_eq!(fit_aspect(&img, 64, 1.0).dimensions(), (64, 32));
        // Pixels twice as tall as wide: the picture is as tall as it is wide.
        assert_eq!(fit_aspect(&img, 64, 2.0).dimensions(), (64, 64));
        assert_eq!(fit_aspect(&img, 64, 0.5).dimensions(), (64, 16));
        // Never scaled up.
        assert_eq!(fit_aspect(&img, 1000, 2.0).dimensions(), (200, 200));
    }
}
