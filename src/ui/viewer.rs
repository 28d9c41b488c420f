//! The series viewer: one series image by image (every frame of a multi-frame instance), with
//! window/level by right-drag or presets, zoom and pan, an overlay naming patient, study,
//! series, image and laterality, and the current instance's header. Images are decoded by the
//! workers (the current one first, its neighbours next); the viewer shows the last image it had
//! until the next arrives, so scrolling never waits on a decode.

use egui::{Align2, Color32, FontId, Key, Modifiers, RichText, Vec2};

use super::header_panel::header_panel_ui;
use super::images::{Images, ViewImage};
use super::series_strip::series_name;
use super::state::UiCommand;
use crate::imaging::{Priority, Windowing};
use crate::model::{InstanceRow, SeriesRow};

/// Window presets for CT (centre, width in HU), on keys 1–4.
pub const PRESETS: [(&str, f64, f64); 4] = [
    ("Soft tissue", 40.0, 400.0),
    ("Lung", -600.0, 1500.0),
    ("Bone", 400.0, 1800.0),
    ("Brain", 40.0, 80.0),
];
/// Images decoded ahead on each side of the current one.
const PREFETCH: usize = 4;
/// Scroll distance (points) that moves one image.
const SCROLL_STEP: f32 = 24.0;

pub struct Viewer {
    pub study_id: i64,
    pub series: SeriesRow,
    /// Patient and study, for the title.
    pub title: String,
    /// (index into `series.instances`, frame) of every image, in order.
    pub images: Vec<(usize, u32)>,
    pub index: usize,
    pub windowing: Windowing,
    /// Name of the window in use when it came from a preset.
    pub preset: Option<&'static str>,
    /// Screen points per image pixel; `None`: fit the view.
    pub zoom: Option<f32>,
    pub pan: Vec2,
    pub show_header: bool,
    pub header_search: String,
    /// The image last drawn, shown until the current one arrives: (blob, frame, windowing).
    last: Option<(String, u32, Windowing)>,
    scroll: f32,
}

impl Viewer {
    /// A viewer on `series`, at `instance` (its first image) or the first image. `None` when
    /// the series has no image.
    pub fn open(
        study_id: i64,
        title: String,
        series: &SeriesRow,
        instance: Option<i64>,
    ) -> Option<Viewer> {
        let images: Vec<(usize, u32)> = series
            .instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.has_pixel_data)
            .flat_map(|(k, i)| (0..i.frames.max(1)).map(move |f| (k, f)))
            .collect();
        if images.is_empty() {
            return None;
        }
        let index = instance
            .and_then(|id| {
                images
                    .iter()
                    .position(|&(k, _)| series.instances[k].id == id)
            })
            .unwrap_or(0);
        Some(Viewer {
            study_id,
            series: series.clone(),
            title,
            images,
            index,
            windowing: Windowing::Default,
            preset: None,
            zoom: None,
            pan: Vec2::ZERO,
            show_header: false,
            header_search: String::new(),
            last: None,
            scroll: 0.0,
        })
    }

    /// The instance and frame of image `n`.
    fn image(&self, n: usize) -> Option<(&InstanceRow, u32)> {
        let &(k, f) = self.images.get(n)?;
        Some((self.series.instances.get(k)?, f))
    }

    pub fn current(&self) -> Option<(&InstanceRow, u32)> {
        self.image(self.index)
    }

    /// Moves by `delta` images, staying within the series.
    pub fn step(&mut self, delta: isize) {
        let last = self.images.len().saturating_sub(1) as isize;
        self.index = (self.index as isize + delta).clamp(0, last) as usize;
    }

    /// Preset `n` (0-based), or the header's window (`None`).
    pub fn set_preset(&mut self, n: Option<usize>) {
        match n.and_then(|n| PRESETS.get(n)) {
            Some(&(name, center, width)) => {
                self.windowing = Windowing::Window { center, width };
                self.preset = Some(name);
            }
            None => {
                self.windowing = Windowing::Default;
                self.preset = None;
            }
        }
    }

    /// The viewer's keys. Returns true when the viewer is to close (Escape).
    pub fn keys(&mut self, ctx: &egui::Context) -> bool {
        let typing = ctx.egui_wants_keyboard_input();
        let mut close = false;
        ctx.input_mut(|i| {
            if i.consume_key(Modifiers::NONE, Key::Escape) && !typing {
                close = true;
            }
            if typing {
                return;
            }
            for (key, delta) in [
                (Key::ArrowDown, 1),
                (Key::ArrowRight, 1),
                (Key::ArrowUp, -1),
                (Key::ArrowLeft, -1),
                (Key::PageDown, 10),
                (Key::PageUp, -10),
                (Key::End, isize::MAX / 2),
                (Key::Home, -(isize::MAX / 2)),
            ] {
                if i.consume_key(Modifiers::NONE, key) {
                    self.step(delta);
                }
            }
            for (key, n) in [
                (Key::Num1, Some(0)),
                (Key::Num2, Some(1)),
                (Key::Num3, Some(2)),
                (Key::Num4, Some(3)),
                (Key::Num0, None),
            ] {
                if i.consume_key(Modifiers::NONE, key) {
                    self.set_preset(n);
                }
            }
            if i.consume_key(Modifiers::NONE, Key::F) {
                self.zoom = None;
                self.pan = Vec2::ZERO;
            }
            if i.consume_key(Modifiers::NONE, Key::H) {
                self.show_header = !self.show_header;
            }
        });
        close
    }
}

/// Draws the viewer in `ui` (the desk's central area).
pub fn viewer_ui(ui: &mut egui::Ui, v: &mut Viewer, images: &Images) -> Vec<UiCommand> {
    let mut out = Vec::new();
    egui::Panel::top("viewer-toolbar").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("◀ Queue")
                .on_hover_text("Back to the queue (Esc)")
                .clicked()
            {
                out.push(UiCommand::CloseViewer);
            }
            ui.separator();
            ui.label(RichText::new(&v.title).strong());
            ui.label(format!(
                "Series #{} {} {}",
                series_name(&v.series),
                v.series.modality,
                v.series.description
            ));
            ui.label(
                RichText::new(format!("image {} of {}", v.index + 1, v.images.len())).strong(),
            );
            ui.separator();
            for (n, (name, _, _)) in PRESETS.iter().enumerate() {
                let on = v.preset == Some(*name);
                if ui
                    .selectable_label(on, format!("{} {name}", n + 1))
                    .on_hover_text(format!("Window preset {name} (key {})", n + 1))
                    .clicked()
                {
                    v.set_preset(Some(n));
                }
            }
            if ui
                .selectable_label(v.windowing == Windowing::Default, "0 Header")
                .on_hover_text("The window the file gives, or one from its values (key 0)")
                .clicked()
            {
                v.set_preset(None);
            }
            ui.separator();
            if ui
                .button("Fit")
                .on_hover_text("Fit the image (F)")
                .clicked()
            {
                v.zoom = None;
                v.pan = Vec2::ZERO;
            }
            ui.toggle_value(&mut v.show_header, "Header")
                .on_hover_text("Every attribute of this instance (H)");
        });
    });
    if v.show_header {
        egui::Panel::right("viewer-header")
            .resizable(true)
            .default_size(420.0)
            .min_size(260.0)
            .show(ui, |ui| {
                let blob = v.current().map(|(i, _)| i.blob.clone());
                header_panel_ui(ui, images, blob.as_deref(), &mut v.header_search);
            });
    }
    egui::CentralPanel::default()
        .frame(egui::Frame::NONE.fill(Color32::BLACK))
        .show(ui, |ui| image_area_ui(ui, v, images));
    out
}

fn image_area_ui(ui: &mut egui::Ui, v: &mut Viewer, images: &Images) {
    let area = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(area, egui::Sense::click_and_drag());
    // Wheel: next/previous image (a line or SCROLL_STEP points each); Ctrl+wheel: zoom.
    let mut zoom_by = 1.0;
    if response.hovered() {
        let (lines, zoom) = ui.input(|i| {
            let mut lines = 0.0f32;
            for e in &i.events {
                if let egui::Event::MouseWheel {
                    unit,
                    delta,
                    modifiers,
                    ..
                } = e
                    && !modifiers.command
                {
                    lines += match unit {
                        egui::MouseWheelUnit::Line => delta.y,
                        egui::MouseWheelUnit::Point => delta.y / SCROLL_STEP,
                        egui::MouseWheelUnit::Page => delta.y * 10.0,
                    };
                }
            }
            (lines, i.zoom_delta())
        });
        zoom_by = zoom;
        v.scroll += lines;
        while v.scroll.abs() >= 1.0 {
            // Wheel down (content moving up) goes to the next image.
            let dir: isize = if v.scroll > 0.0 { -1 } else { 1 };
            v.step(dir);
            v.scroll += dir as f32;
        }
    }
    let Some((inst, frame)) = v.current() else {
        return;
    };
    let blob = inst.blob.clone();
    let number = inst.instance_number.clone();
    // The neighbours first decoded at a lower priority, so scrolling finds them ready.
    for d in 1..=PREFETCH {
        for n in [v.index + d, v.index.wrapping_sub(d)] {
            if let Some((i, f)) = v.image(n) {
                images.picture(&i.blob, f, v.windowing, Priority::Prefetch);
            }
        }
    }
    let current = images.picture(&blob, frame, v.windowing, Priority::Now);
    let shown: Option<&ViewImage> = match current {
        Some(Ok(img)) => {
            v.last = Some((blob.clone(), frame, v.windowing));
            Some(img)
        }
        Some(Err(why)) => {
            ui.painter().text(
                area.center(),
                Align2::CENTER_CENTER,
                format!("cannot_render: {why}"),
                FontId::proportional(15.0),
                ui.visuals().error_fg_color,
            );
            None
        }
        None => {
            // Still decoding: the last image stays up, with a spinner.
            let s = 20.0;
            egui::Spinner::new().size(s).paint_at(
                ui,
                egui::Rect::from_min_size(
                    area.right_top() + egui::vec2(-s - 8.0, 8.0),
                    Vec2::splat(s),
                ),
            );
            v.last
                .as_ref()
                .and_then(|(b, f, w)| match images.cached_picture(b, *f, *w) {
                    Some(Ok(img)) => Some(img),
                    _ => None,
                })
        }
    };
    let Some(img) = shown else {
        return;
    };
    // Right-drag: window (horizontal: width, vertical: centre), from what is shown now.
    if response.dragged_by(egui::PointerButton::Secondary) {
        let d = response.drag_delta();
        let (c, w) = match v.windowing {
            Windowing::Window { center, width } => (center, width),
            Windowing::Default => img.window.unwrap_or((128.0, 256.0)),
        };
        let k = (w.max(10.0) / 256.0).max(0.05);
        v.windowing = Windowing::Window {
            center: c + f64::from(d.y) * k,
            width: (w + f64::from(d.x) * k).max(1.0),
        };
        v.preset = None;
    }
    if response.dragged_by(egui::PointerButton::Primary) {
        v.pan += response.drag_delta();
    }
    if response.double_clicked() {
        v.zoom = None;
        v.pan = Vec2::ZERO;
    }
    // Pixels are shown at their true proportions (Pixel Spacing, Pixel Aspect Ratio): a
    // picture of non-square pixels is stretched vertically by their height over width.
    let [w, h] = img.size;
    let (dw, dh) = (
        w.max(1) as f32,
        h.max(1) as f32 * img.aspect.clamp(0.125, 8.0),
    );
    let fit = (area.width() / dw).min(area.height() / dh);
    if zoom_by != 1.0 {
        v.zoom = Some(v.zoom.unwrap_or(fit) * zoom_by);
    }
    let scale = v.zoom.unwrap_or(fit).clamp(0.02, 64.0);
    let rect =
        egui::Rect::from_center_size(area.center() + v.pan, egui::vec2(dw * scale, dh * scale));
    let painter = ui.painter_at(area);
    painter.image(
        img.texture.id(),
        rect,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        Color32::WHITE,
    );
    let frames = img.frames;
    overlay_ui(&painter, area, v, img, &number, frame, frames, scale);
}

/// The four corners of text over the image.
#[allow(clippy::too_many_arguments)]
fn overlay_ui(
    painter: &egui::Painter,
    area: egui::Rect,
    v: &Viewer,
    img: &ViewImage,
    number: &str,
    frame: u32,
    frames: u32,
    scale: f32,
) {
    let o = &img.overlay;
    let mut image_line = format!("Im {}", if number.is_empty() { "?" } else { number });
    if frames > 1 {
        image_line.push_str(&format!("  frame {}/{}", frame + 1, frames));
    }
    image_line.push_str(&format!("  ({}/{})", v.index + 1, v.images.len()));
    let window = match (v.windowing, img.window) {
        (Windowing::Window { center, width }, _) => format!(
            "C {center:.0} W {width:.0}{}",
            v.preset.map(|p| format!(" ({p})")).unwrap_or_default()
        ),
        (Windowing::Default, Some((c, w))) => {
            format!("C {c:.0} W {w:.0} ({})", img.window_source)
        }
        (Windowing::Default, None) => img.photometric.clone(),
    };
    let side = [
        o.laterality.as_str(),
        o.view_position.as_str(),
        o.body_part.as_str(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join("  ");
    let corners: [(Align2, Vec<String>); 4] = [
        (
            Align2::LEFT_TOP,
            vec![
                o.patient_name.clone(),
                o.patient_id.clone(),
                crate::text::iso_date(&o.study_date),
            ],
        ),
        (
            Align2::RIGHT_TOP,
            vec![
                format!("{} Se {}", o.modality, o.series_number),
                o.series_description.clone(),
                image_line,
            ],
        ),
        (
            Align2::LEFT_BOTTOM,
            vec![window, format!("zoom {:.0}%", scale * 100.0)],
        ),
        (Align2::RIGHT_BOTTOM, vec![side]),
    ];
    let font = FontId::proportional(14.0);
    let line = 17.0;
    for (align, lines) in corners {
        let lines: Vec<&String> = lines.iter().filter(|l| !l.is_empty()).collect();
        let n = lines.len() as f32;
        for (k, text) in lines.iter().enumerate() {
            let (x, y0) = match align {
                Align2::LEFT_TOP => (area.left() + 8.0, area.top() + 8.0),
                Align2::RIGHT_TOP => (area.right() - 8.0, area.top() + 8.0),
                Align2::LEFT_BOTTOM => (area.left() + 8.0, area.bottom() - 8.0 - n * line),
                _ => (area.right() - 8.0, area.bottom() - 8.0 - n * line),
            };
            let pos = egui::pos2(x, y0 + k as f32 * line);
            let anchor = if align.x() == egui::Align::Min {
                Align2::LEFT_TOP
            } else {
                Align2::RIGHT_TOP
            };
            // A dark shadow keeps the text readable on bright images.
            painter.text(
                pos + Vec2::splat(1.0),
                anchor,
                *text,
                font.clone(),
                Color32::BLACK,
            );
            painter.text(
                pos,
                anchor,
                *text,
                font.clone(),
                Color32::from_rgb(235, 225, 140),
            );
        }
    }
    if let Some((have, of)) = img.partial {
        let at = egui::pos2(area.center().x, area.bottom() - 12.0);
        let text = format!("Only {have} of {of} rows received: the rest is hatched");
        let galley = painter.layout_no_wrap(
            text,
            FontId::proportional(15.0),
            Color32::from_rgb(255, 120, 120),
        );
        let rect = Align2::CENTER_BOTTOM
            .anchor_size(at, galley.size())
            .expand(4.0);
        painter.rect_filled(rect, 3.0, Color32::from_black_alpha(200));
        painter.galley(rect.min + Vec2::splat(4.0), galley, Color32::WHITE);
    }
}
