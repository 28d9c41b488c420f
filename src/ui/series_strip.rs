//! The series strip of the detail panel: per series, its first and middle image, how many
//! instances it holds, and the instance numbers it skips ("12 of 40 received"), so a wrong body
//! part, a blank or scout-only series or a half-received one shows at a glance.

use egui::RichText;

use super::images::{Images, thumb_tile_ui};
use super::state::UiCommand;
use crate::model::{SeriesRow, StudyDetail, number_ranges};

const TILE: f32 = 80.0;

pub fn series_strip_ui(ui: &mut egui::Ui, d: &StudyDetail, images: &Images) -> Vec<UiCommand> {
    let mut out = Vec::new();
    for s in &d.series_list {
        ui.horizontal(|ui| {
            let reps = s.representatives();
            if reps.is_empty() {
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(TILE, TILE), egui::Sense::hover());
                ui.painter()
                    .rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
                ui.painter().text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "no images",
                    egui::FontId::proportional(super::theme::MIN_TEXT_SIZE),
                    ui.visuals().weak_text_color(),
                );
            }
            for (k, i) in reps.iter().enumerate() {
                let which = if k == 0 { "first" } else { "middle" };
                let label = format!("Series {} {which} image", series_name(s));
                let r = thumb_tile_ui(ui, images, &i.blob, TILE, &label, egui::Sense::click())
                    .on_hover_cursor(egui::CursorIcon::PointingHand);
                if r.clicked() || r.double_clicked() {
                    out.push(UiCommand::OpenViewer {
                        series: s.id,
                        instance: Some(i.id),
                    });
                }
            }
            ui.vertical(|ui| {
                ui.label(
                    RichText::new(format!(
                        "#{} {} {}",
                        series_name(s),
                        s.modality,
                        s.description
                    ))
                    .strong(),
                );
                let frames: u32 = s.instances.iter().map(|i| i.frames).sum();
                let images_n = s.instances.iter().filter(|i| i.has_pixel_data).count();
                let mut counts = format!(
                    "{} instance{}",
                    s.instances.len(),
                    if s.instances.len() == 1 { "" } else { "s" }
                );
                if images_n != s.instances.len() {
                    counts.push_str(&format!(", {images_n} with images"));
                }
                if frames as usize > images_n {
                    counts.push_str(&format!(", {frames} frames"));
                }
                ui.label(counts);
                if let Some((have, of, missing)) = s.gaps() {
                    ui.label(
                        RichText::new(format!("{have} of {of} received"))
                            .color(ui.visuals().warn_fg_color)
                            .strong(),
                    )
                    .on_hover_text(format!(
                        "Instance numbers missing: {}",
                        number_ranges(&missing)
                    ));
                }
                if images_n > 0
                    && ui
                        .small_button("Open viewer")
                        .on_hover_text("Open the series in the viewer (Enter)")
                        .clicked()
                {
                    out.push(UiCommand::OpenViewer {
                        series: s.id,
                        instance: None,
                    });
                }
            });
        });
        ui.add_space(4.0);
    }
    out
}

/// The series number, or `?` when it has none.
pub fn series_name(s: &SeriesRow) -> &str {
    if s.series_number.trim().is_empty() {
        "?"
    } else {
        s.series_number.trim()
    }
}
