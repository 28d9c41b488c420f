//! Thumbnails kept in the workspace (`thumbs/`), keyed by the hash of the stored file and the
//! size, so a reopened desk shows them without decoding again. A file that gave no picture is
//! remembered too (with its reason), so it is not decoded on every visit. Entries are written
//! atomically (temp file, fsync, rename); a damaged entry is ignored and made again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use image::RgbaImage;
use serde::{Deserialize, Serialize};

use super::{ImageError, thumbnail_picture};

/// Bumped when rendering changes, so thumbnails made by an older renderer are not shown.
const RENDER_VERSION: u32 = 3;

/// What a thumbnail request gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Thumb {
    Image {
        image: RgbaImage,
        /// (rows present, rows): a truncated image, its missing rows hatched.
        partial: Option<(u32, u32)>,
        frames: u32,
    },
    NoPixelData,
    CannotRender(String),
}

/// The small record kept beside each thumbnail.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    partial: Option<(u32, u32)>,
    #[serde(default)]
    frames: u32,
}

/// Renders the thumbnail of the file at `path`: its representative frame, at most `size`
/// pixels a side.
pub fn render_thumbnail(path: &Path, size: u32) -> Thumb {
    // A panic in a codec on one file is that file's problem, not the caller's.
    let result = std::panic::catch_unwind(|| thumbnail_picture(path, size));
    match result {
        Ok(Ok(p)) => Thumb::Image {
            image: p.rendered.image,
            partial: p.rendered.partial,
            frames: p.info.frames,
        },
        Ok(Err(ImageError::NoPixelData)) => Thumb::NoPixelData,
        Ok(Err(ImageError::CannotRender(why))) => Thumb::CannotRender(why),
        Err(_) => Thumb::CannotRender("internal error in a decoder (please report it)".into()),
    }
}

#[derive(Debug, Clone)]
pub struct ThumbCache {
    dir: PathBuf,
    tmp: PathBuf,
    /// Thumbnails answered from the cache, and made anew (shared by clones).
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl ThumbCache {
    /// `dir`: the cache folder; `tmp`: a temp folder on the same file system.
    pub fn new(dir: PathBuf, tmp: PathBuf) -> ThumbCache {
        ThumbCache {
            dir,
            tmp,
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// (answered from the cache, made anew) since this cache was created.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn paths(&self, hash: &str, size: u32) -> (PathBuf, PathBuf) {
        let fan = hash.get(0..2).unwrap_or("xx");
        let base = self
            .dir
            .join(format!("v{RENDER_VERSION}"))
            .join(fan)
            .join(format!("{hash}-{size}"));
        (base.with_extension("json"), base.with_extension("png"))
    }

    /// The cached thumbnail of the blob `hash` at `size`, if there is a sound one.
    pub fn get(&self, hash: &str, size: u32) -> Option<Thumb> {
        let (meta, png) = self.paths(hash, size);
        let entry: Entry = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
        match entry.status.as_str() {
            "ok" => {
                let image = image::open(png).ok()?.into_rgba8();
                Some(Thumb::Image {
                    image,
                    partial: entry.partial,
                    frames: entry.frames,
                })
            }
            "no_pixel_data" => Some(Thumb::NoPixelData),
            "cannot_render" => Some(Thumb::CannotRender(entry.reason)),
            _ => None,
        }
    }

    /// Keeps `thumb` for the blob `hash` at `size`. The PNG goes first: a record never names a
    /// picture that is not there.
    pub fn put(&self, hash: &str, size: u32, thumb: &Thumb) -> std::io::Result<()> {
        let (meta, png) = self.paths(hash, size);
        if let Some(parent) = meta.parent() {
            crate::fsutil::create_private_dir(parent)?;
        }
        crate::fsutil::create_private_dir(&self.tmp)?;
        let entry = match thumb {
            Thumb::Image {
                image,
                partial,
                frames,
            } => {
                let mut bytes = Vec::new();
                image
                    .write_to(
                        &mut std::io::Cursor::new(&mut bytes),
                        image::ImageFormat::Png,
                    )
                    .map_err(std::io::Error::other)?;
                crate::fsutil::write_atomic(&self.tmp, &png, &bytes)?;
                Entry {
                    status: "ok".into(),
                    reason: String::new(),
                    partial: *partial,
                    frames: *frames,
                }
            }
            Thumb::NoPixelData => Entry {
                status: "no_pixel_data".into(),
                reason: String::new(),
                partial: None,
                frames: 0,
            },
            Thumb::CannotRender(why) => Entry {
                status: "cannot_render".into(),
                reason: why.clone(),
                partial: None,
                frames: 0,
            },
        };
        let bytes = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(&self.tmp, &meta, &bytes)
    }

    /// The thumbnail from the cache, or rendered from `path` and kept. A cache that cannot be
    /// written costs speed, not the picture.
    pub fn thumbnail(&self, hash: &str, path: &Path, size: u32) -> Thumb {
        if let Some(t) = self.get(hash, size) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return t;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let thumb = render_thumbnail(path, size);
        if let Err(e) = self.put(hash, size, &thumb) {
            tracing::warn!("cannot keep the thumbnail of {hash}: {e}");
        }
        thumb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct_small() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pydicom/test_files/CT_small.dcm")
    }

    #[test]
    fn a_thumbnail_is_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ThumbCache::new(dir.path().join("thumbs"), dir.path().join("tmp"));
        assert_eq!(cache.get("ab12", 64), None);
        let made = cache.thumbnail("ab12", &ct_small(), 64);
        let Thumb::Image { image, .. } = &made else {
            panic!("{made:?}");
        };
        assert_eq!(image.dimensions(), (64, 64));
        assert_eq!(cache.get("ab12", 64), Some(made.clone()));
        // Another size is another entry.
        assert_eq!(cache.get("ab12", 32), None);
        // The cache answers without the file.
        assert_eq!(cache.thumbnail("ab12", Path::new("/nonexistent"), 64), made);
        assert_eq!(cache.clone().counts(), (1, 1));
    }

    #[test]
    fn a_failure_is_remembered_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ThumbCache::new(dir.path().join("thumbs"), dir.path().join("tmp"));
        let bad = dir.path().join("bad.dcm");
        std::fs::write(&bad, b"not dicom at all").unwrap();
        let t = cache.thumbnail("cd34", &bad, 64);
        assert!(
            matches!(&t, Thumb::CannotRender(why) if !why.is_empty()),
            "{t:?}"
        );
        std::fs::remove_file(&bad).unwrap();
        assert_eq!(cache.get("cd34", 64), Some(t));
    }

    #[test]
    fn a_damaged_entry_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ThumbCache::new(dir.path().join("thumbs"), dir.path().join("tmp"));
        cache.thumbnail("ef56", &ct_small(), 64);
        let (meta, png) = cache.paths("ef56", 64);
        std::fs::write(&png, b"garbage").unwrap();
        assert_eq!(cache.get("ef56", 64), None);
        std::fs::write(&meta, b"{").unwrap();
        assert_eq!(cache.get("ef56", 64), None);
        assert!(matches!(
            cache.thumbnail("ef56", &ct_small(), 64),
            Thumb::Image { .. }
        ));
        assert!(cache.get("ef56", 64).is_some());
    }
}
