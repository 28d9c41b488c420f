//! The exception queue table: virtualized (only visible rows are laid out), sortable by
//! clicking a header, one click to select.

use egui::{Align, RichText, Sense};
use egui_extras::{Column, TableBuilder};

use super::images::thumb_tile_ui;
use super::runtime::Runtime;
use super::state::{DeskState, SortColumn, UiCommand};
use super::theme::state_chip;
use crate::fsutil::human_age;
use crate::model::Urgency;

pub const ROW_HEIGHT: f32 = 22.0;
/// Row height with the thumbnail column on.
pub const THUMB_ROW_HEIGHT: f32 = 44.0;

/// What says what is urgent comes first (state, age, patient, findings), so it stays in
/// view beside the detail panel on a 1280-pixel screen.
const COLUMNS: [(&str, SortColumn); 10] = [
    ("State", SortColumn::State),
    ("Age", SortColumn::Age),
    ("Patient", SortColumn::Patient),
    ("Findings", SortColumn::State),
    ("Patient ID", SortColumn::PatientId),
    ("Accession", SortColumn::Accession),
    ("Mod", SortColumn::Modality),
    ("Study date", SortColumn::StudyDate),
    ("Ser/Inst", SortColumn::Instances),
    ("Source", SortColumn::Source),
];

/// Draws the queue. `scroll_to` brings a view row into sight (keyboard navigation).
pub fn queue_ui(
    ui: &mut egui::Ui,
    rt: &Runtime,
    state: &DeskState,
    scroll_to: Option<usize>,
) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    if rt.rows.is_empty() {
        ui.add_space(40.0);
        ui.vertical_centered(|ui| {
            if rt.queue_loads == 0 {
                ui.spinner();
                ui.label("Loading the queue…");
            } else {
                ui.heading("No studies yet");
                ui.label(
                    "Import a folder, a CD (DICOMDIR) or files: use Import… or drop them here.",
                );
            }
        });
        return commands;
    }
    if rt.view.is_empty() {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| ui.label("No study matches the filter."));
        return commands;
    }
    let now = crate::fsutil::now().1;
    ui.scope(|ui| {
        // Labels must not take the row's clicks.
        ui.style_mut().interaction.selectable_labels = false;
        let thumbs = state.queue_thumbnails;
        let row_height = if thumbs { THUMB_ROW_HEIGHT } else { ROW_HEIGHT };
        let mut table = TableBuilder::new(ui)
            .id_salt("queue")
            .striped(true)
            .sense(Sense::click())
            .cell_layout(egui::Layout::left_to_right(Align::Center));
        if thumbs {
            table = table.column(Column::exact(THUMB_ROW_HEIGHT));
        }
        let mut table = table
            .column(Column::exact(112.0))
            .column(Column::exact(64.0))
            .column(
                Column::initial(170.0)
                    .at_least(80.0)
                    .clip(true)
                    .resizable(true),
            )
            .column(
                Column::initial(200.0)
                    .at_least(100.0)
                    .clip(true)
                    .resizable(true),
            )
            .column(Column::initial(80.0).clip(true).resizable(true))
            .column(Column::initial(80.0).clip(true).resizable(true))
            .column(Column::initial(46.0).clip(true))
            .column(Column::initial(90.0).clip(true))
            .column(Column::initial(64.0))
            .column(Column::remainder().at_least(80.0).clip(true))
            .min_scrolled_height(0.0);
        if let Some(row) = scroll_to {
            table = table.scroll_to_row(row, None);
        }
        table
            .header(ROW_HEIGHT, |mut header| {
                if thumbs {
                    header.col(|ui| {
                        ui.label(RichText::new("Image").strong());
                    });
                }
                for (title, col) in COLUMNS {
                    header.col(|ui| {
                        let marker = if state.sort == col && title != "Findings" {
                            if state.ascending { " ▲" } else { " ▼" }
                        } else {
                            ""
                        };
                        let b =
                            egui::Button::new(RichText::new(format!("{title}{marker}")).strong())
                                .frame(false);
                        if ui.add(b).on_hover_text("Sort by this column").clicked() {
                            commands.push(UiCommand::SetSort(col));
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rt.view.len(), |mut row| {
                    let r = &rt.rows[rt.view[row.index()]];
                    row.set_selected(state.selected == Some(r.id));
                    if thumbs {
                        row.col(|ui| match &r.thumbnail {
                            Some(blob) => {
                                let label = format!("Study {} thumbnail", r.id);
                                thumb_tile_ui(
                                    ui,
                                    &rt.images,
                                    blob,
                                    THUMB_ROW_HEIGHT - 4.0,
                                    &label,
                                    Sense::hover(),
                                );
                            }
                            None => {
                                ui.label(RichText::new("—").weak())
                                    .on_hover_text("No instance of this study holds an image.");
                            }
                        });
                    }
                    row.col(|ui| {
                        // Marked for a batch: a tick of its own, so it never reads as the
                        // selection the detail shows.
                        // (A drawn checkbox: no font is needed for its tick.)
                        if state.marked.contains(&r.id) {
                            let mut on = true;
                            let resp = ui
                                .add(egui::Checkbox::without_text(&mut on))
                                .on_hover_text("Marked for Apply likely orders (untick it, or Ctrl+click the row, to unmark)");
                            if resp.changed() {
                                commands.push(UiCommand::ToggleMark(r.id));
                            }
                        }
                        state_chip(ui, r.state);
                        if let Some(d) = &r.dismissed {
                            ui.label(RichText::new("dismissed").weak().italics())
                                .on_hover_text(format!(
                                    "{} (by {} at {})",
                                    d.reason,
                                    d.by,
                                    crate::text::local_time(&d.at)
                                ));
                        }
                        if let Some(send) = &r.send_state {
                            let dark = ui.visuals().dark_mode;
                            // A dot in the send state's color; the words on hover.
                            let caveat = r.send_caveat.as_deref().unwrap_or_default();
                            ui.label(RichText::new("●").color(
                                super::transfers_window::send_state_color(*send, caveat, dark),
                            ))
                            .on_hover_text(format!(
                                "Send: {send}{}. {}",
                                if caveat.is_empty() {
                                    String::new()
                                } else {
                                    format!(", {caveat}")
                                },
                                super::transfers_window::send_state_hint(*send)
                            ));
                        }
                    });
                    row.col(|ui| {
                        let age = now - r.first_seen_unix;
                        let urgency = rt.queue_config.urgency(r.state, r.dismissed.is_some(), age);
                        let dark = ui.visuals().dark_mode;
                        let text = RichText::new(human_age(age));
                        let (text, hint) = match urgency {
                            Urgency::Fresh => (text, None),
                            Urgency::Old => (
                                text.strong()
                                    .color(super::theme::urgency_color(urgency, dark)),
                                Some(format!("Waiting over {} h", rt.queue_config.amber_hours)),
                            ),
                            Urgency::Overdue => (
                                text.strong()
                                    .color(super::theme::urgency_color(urgency, dark)),
                                Some(format!("Waiting over {} h", rt.queue_config.red_hours)),
                            ),
                        };
                        let resp = ui.label(text);
                        if let Some(h) = hint {
                            resp.on_hover_text(h);
                        }
                    });
                    row.col(|ui| {
                        ui.label(&r.patient_name);
                    });
                    row.col(|ui| {
                        if let Some(c) = r.claim.holder.as_ref().filter(|c| c.until_unix > now && !rt.is_mine(c)) {
                            ui.label(
                                RichText::new(format!(
                                    "being handled by {} since {}",
                                    c.person(),
                                    crate::text::local_clock(c.since_unix)
                                ))
                                .color(ui.visuals().warn_fg_color),
                            )
                            .on_hover_text(format!(
                                "Being handled by {} since {}; claimed until {} unless their desk renews it. Open the study to take it over.",
                                c.display(),
                                crate::text::local_clock(c.since_unix),
                                crate::text::local_clock(c.until_unix)
                            ));
                        }
                        let mut summary = r.finding_summary();
                        if let Some(l) = &r.likely_order {
                            let likely = if l.others > 0 {
                                format!("{} possible orders", l.others + 1)
                            } else {
                                "1 likely order".to_string()
                            };
                            summary = format!("{likely} · {summary}");
                        }
                        let resp = ui.label(&summary);
                        if !r.findings.is_empty() || r.likely_order.is_some() {
                            resp.on_hover_ui(|ui| {
                                if let Some(l) = &r.likely_order {
                                    ui.label(format!(
                                        "Likely order {} ({}%{}); open the study to see why and apply it",
                                        l.accession,
                                        l.score,
                                        if l.clear { ", clear" } else { "" }
                                    ));
                                }
                                for f in &r.findings {
                                    ui.label(format!("[{}] {}", f.code, f.message));
                                }
                            });
                        }
                    });
                    row.col(|ui| {
                        ui.label(&r.patient_id);
                    });
                    row.col(|ui| {
                        ui.label(&r.accession);
                    });
                    row.col(|ui| {
                        ui.label(&r.modality);
                    });
                    row.col(|ui| {
                        ui.label(crate::text::iso_date(&r.study_date));
                    });
                    row.col(|ui| {
                        ui.label(format!("{}/{}", r.series, r.instances));
                    });
                    row.col(|ui| {
                        ui.label(short_source(&r.source)).on_hover_text(&r.source);
                    });
                    let resp = row.response();
                    if resp.clicked() {
                        // Ctrl+click marks for a batch; a plain click selects.
                        if resp.ctx.input(|i| i.modifiers.command) {
                            commands.push(UiCommand::ToggleMark(r.id));
                        } else {
                            commands.push(UiCommand::Select(r.id));
                        }
                    }
                    if row.response().double_clicked() {
                        commands.push(UiCommand::OpenDetail);
                    }
                });
            });
    });
    commands
}

/// The last component of a folder path, or the AE title as it is.
fn short_source(s: &str) -> &str {
    s.rsplit(['/', '\\']).find(|p| !p.is_empty()).unwrap_or(s)
}
