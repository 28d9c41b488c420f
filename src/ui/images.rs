//! The desk's pictures: thumbnails, viewer images and header listings asked of the decode
//! workers (`imaging::DecodePool`), turned into GPU textures when they arrive, and kept in LRUs
//! of bounded memory. Drawing code asks with `&self` every frame; what it stops asking for is
//! dropped by the workers before they decode it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dicom::dump::Dump;
use crate::imaging::{
    DecodePool, Job, Lru, Output, Overlay, Priority, Thumb, ThumbCache, Windowing,
};
use crate::store::BlobStore;

/// Longest side of a thumbnail, in pixels (the cache keeps this size; the queue and the
/// series strip draw it scaled).
pub const THUMB_SIZE: u32 = 128;
/// GPU memory for thumbnails (a 128 x 128 one takes 64 KB).
const THUMB_BUDGET: usize = 64 << 20;
/// GPU memory for viewer images (a 512 x 512 one takes 1 MB).
const PICTURE_BUDGET: usize = 256 << 20;
/// Header listings kept (the current instance's and its neighbours').
const HEADERS_KEPT: usize = 8;

/// A thumbnail as the desk draws it.
pub enum Tile {
    Image {
        texture: egui::TextureHandle,
        /// (rows present, rows) of a truncated image.
        partial: Option<(u32, u32)>,
        frames: u32,
    },
    NoPixelData,
    Failed(String),
}

/// A viewer image, rendered with one window.
pub struct ViewImage {
    pub texture: egui::TextureHandle,
    /// Columns, rows.
    pub size: [usize; 2],
    pub window: Option<(f64, f64)>,
    pub window_source: &'static str,
    pub partial: Option<(u32, u32)>,
    pub overlay: Overlay,
    pub frames: u32,
    pub photometric: String,
    /// Height over width of one pixel: the viewer stretches the picture by it.
    pub aspect: f32,
    /// Hash of the rendered pixels: tells two renderings apart (tests, and a cheap "did the
    /// window change anything" check).
    pub checksum: blake3::Hash,
}

pub struct Images {
    pool: DecodePool,
    cache: Option<ThumbCache>,
    blobs: Arc<BlobStore>,
    thumbs: Lru<String, Tile>,
    pictures: Lru<String, Result<ViewImage, String>>,
    headers: Lru<String, Arc<Dump>>,
    /// When each waiting thumbnail was first asked for.
    asked: RefCell<HashMap<String, Instant>>,
    /// How long the last thumbnail took from first asked to ready (the desk's status).
    pub last_thumb_latency: Option<Duration>,
    /// Results taken in so far (tests wait on it).
    pub arrived: u64,
}

impl Images {
    pub fn new(
        blobs: Arc<BlobStore>,
        cache: Option<ThumbCache>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Images {
        Images {
            pool: DecodePool::with_cores(cache.clone(), wake),
            cache,
            blobs,
            thumbs: Lru::new(THUMB_BUDGET),
            pictures: Lru::new(PICTURE_BUDGET),
            headers: Lru::new(HEADERS_KEPT),
            asked: RefCell::new(HashMap::new()),
            last_thumb_latency: None,
            arrived: 0,
        }
    }

    /// Called once a frame before drawing: takes finished work in as textures, and starts a
    /// new request frame (what is not asked for again is dropped).
    pub fn begin_frame(&mut self, ctx: &egui::Context) {
        let side = ctx.input(|i| i.max_texture_side);
        self.pool
            .set_max_side(u32::try_from(side).unwrap_or(u32::MAX));
        while let Ok(done) = self.pool.results().try_recv() {
            self.arrived += 1;
            match done.output {
                Output::Thumb(t) => {
                    if let Some(at) = self.asked.borrow_mut().remove(&done.key) {
                        self.last_thumb_latency = Some(at.elapsed());
                    }
                    let (tile, bytes) = match t {
                        Thumb::Image {
                            image,
                            partial,
                            frames,
                        } => {
                            let bytes = image.len();
                            let texture = texture(ctx, &done.key, &image);
                            (
                                Tile::Image {
                                    texture,
                                    partial,
                                    frames,
                                },
                                bytes,
                            )
                        }
                        Thumb::NoPixelData => (Tile::NoPixelData, 64),
                        Thumb::CannotRender(why) => (Tile::Failed(why), 64),
                    };
                    self.thumbs.insert(done.key, tile, bytes);
                }
                Output::Picture(p) => {
                    let (value, bytes) = match p {
                        Ok(p) => {
                            let image = &p.rendered.image;
                            let bytes = image.len();
                            let size = [image.width() as usize, image.height() as usize];
                            (
                                Ok(ViewImage {
                                    texture: texture(ctx, &done.key, image),
                                    size,
                                    window: p.rendered.window,
                                    window_source: p.rendered.window_source,
                                    partial: p.rendered.partial,
                                    overlay: p.info.overlay.clone(),
                                    frames: p.info.frames,
                                    photometric: p.info.photometric.clone(),
                                    aspect: if p.info.pixel_aspect > 0.0 {
                                        p.info.pixel_aspect as f32
                                    } else {
                                        1.0
                                    },
                                    checksum: blake3::hash(image.as_raw()),
                                }),
                                bytes,
                            )
                        }
                        Err(e) => (Err(e.to_string()), 64),
                    };
                    self.pictures.insert(done.key, value, bytes);
                }
                Output::Header(dump) => {
                    self.headers.insert(done.key, Arc::new(*dump), 1);
                }
            }
        }
        self.pool.next_frame();
    }

    /// The thumbnail of blob `hash`, asked for if it is not here yet.
    pub fn thumb(&self, hash: &str) -> Option<&Tile> {
        let key = format!("t:{hash}");
        if let Some(t) = self.thumbs.get(&key) {
            return Some(t);
        }
        self.asked
            .borrow_mut()
            .entry(key.clone())
            .or_insert_with(Instant::now);
        self.pool.request(
            &key,
            Job::Thumb {
                blob: hash.to_string(),
                path: self.blobs.path(hash),
                size: THUMB_SIZE,
            },
            Priority::Visible,
        );
        None
    }

    /// Frame `frame` of blob `hash` rendered with `windowing`, asked for if it is not here.
    pub fn picture(
        &self,
        hash: &str,
        frame: u32,
        windowing: Windowing,
        priority: Priority,
    ) -> Option<&Result<ViewImage, String>> {
        let key = picture_key(hash, frame, windowing);
        if let Some(p) = self.pictures.get(&key) {
            return Some(p);
        }
        self.pool.request(
            &key,
            Job::Picture {
                path: self.blobs.path(hash),
                frame: Some(frame),
                windowing,
            },
            priority,
        );
        None
    }

    /// Frame `frame` of blob `hash` with `windowing` if it is here; asks for nothing.
    pub fn cached_picture(
        &self,
        hash: &str,
        frame: u32,
        windowing: Windowing,
    ) -> Option<&Result<ViewImage, String>> {
        self.pictures.get(&picture_key(hash, frame, windowing))
    }

    /// Every attribute of blob `hash`, asked for if it is not here.
    pub fn header(&self, hash: &str) -> Option<Arc<Dump>> {
        let key = format!("h:{hash}");
        if let Some(d) = self.headers.get(&key) {
            return Some(Arc::clone(d));
        }
        self.pool.request(
            &key,
            Job::Header {
                path: self.blobs.path(hash),
            },
            Priority::Now,
        );
        None
    }

    /// Thumbnails (read from the workspace cache, decoded anew) since the desk opened.
    pub fn cache_counts(&self) -> (u64, u64) {
        self.cache.as_ref().map_or((0, 0), ThumbCache::counts)
    }

    /// (waiting, being decoded) requests.
    pub fn busy(&self) -> (usize, usize) {
        let (waiting, running, _) = self.pool.stats();
        (waiting, running)
    }

    /// Forgets every texture (a study was corrected; its blobs stay the same, so this is only
    /// for freeing memory).
    pub fn clear(&mut self) {
        self.thumbs.clear();
        self.pictures.clear();
        self.headers.clear();
    }
}

fn picture_key(hash: &str, frame: u32, windowing: Windowing) -> String {
    match windowing {
        Windowing::Default => format!("p:{hash}:{frame}:default"),
        Windowing::Window { center, width } => format!("p:{hash}:{frame}:{center}/{width}"),
    }
}

fn texture(ctx: &egui::Context, name: &str, image: &image::RgbaImage) -> egui::TextureHandle {
    let size = [image.width() as usize, image.height() as usize];
    let color = egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw());
    ctx.load_texture(name, color, egui::TextureOptions::LINEAR)
}

/// Draws the thumbnail of blob `hash` in a `side` x `side` square: the picture, a spinner while
/// it is made, or why there is none. `label` names it for screen readers and tests; `sense`:
/// hover only inside a row that takes the clicks itself.
pub fn thumb_tile_ui(
    ui: &mut egui::Ui,
    images: &Images,
    hash: &str,
    side: f32,
    label: &str,
    sense: egui::Sense,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), sense);
    let tile = if ui.is_rect_visible(rect) {
        images.thumb(hash)
    } else {
        None
    };
    let status = match tile {
        Some(Tile::Image { .. }) => "shown",
        Some(Tile::NoPixelData) => "no image",
        Some(Tile::Failed(_)) => "cannot render",
        None => "loading",
    };
    let name = format!("{label}: {status}");
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &name));
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    painter.rect_filled(rect, 2.0, egui::Color32::BLACK);
    match tile {
        Some(Tile::Image {
            texture,
            partial,
            frames,
        }) => {
            let [w, h] = texture.size();
            let scale = side / w.max(h).max(1) as f32;
            let img = egui::Rect::from_center_size(
                rect.center(),
                egui::vec2(w as f32 * scale, h as f32 * scale),
            );
            painter.image(
                texture.id(),
                img,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
            if *frames > 1 {
                painter.text(
                    rect.right_bottom() - egui::vec2(3.0, 2.0),
                    egui::Align2::RIGHT_BOTTOM,
                    format!("{frames} fr"),
                    egui::FontId::proportional(super::theme::MIN_TEXT_SIZE),
                    egui::Color32::from_gray(220),
                );
            }
            if let Some((have, of)) = partial {
                painter.rect_stroke(
                    rect,
                    2.0,
                    egui::Stroke::new(2.0, visuals.error_fg_color),
                    egui::StrokeKind::Inside,
                );
                response.on_hover_text(format!(
                    "Only {have} of {of} rows of this image were received (the rest is hatched)."
                ))
            } else {
                response
            }
        }
        Some(Tile::NoPixelData) => {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "no image",
                egui::FontId::proportional(super::theme::MIN_TEXT_SIZE),
                egui::Color32::from_gray(160),
            );
            response.on_hover_text("This instance holds no pixel data (a report, a plan, a state).")
        }
        Some(Tile::Failed(why)) => {
            painter.rect_stroke(
                rect,
                2.0,
                egui::Stroke::new(1.5, visuals.error_fg_color),
                egui::StrokeKind::Inside,
            );
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "cannot render",
                egui::FontId::proportional(super::theme::MIN_TEXT_SIZE),
                visuals.error_fg_color,
            );
            response.on_hover_text(format!("cannot_render: {why}"))
        }
        None => {
            let s = (side * 0.3).min(24.0);
            egui::Spinner::new().size(s).paint_at(
                ui,
                egui::Rect::from_center_size(rect.center(), egui::vec2(s, s)),
            );
            response
        }
    }
}
