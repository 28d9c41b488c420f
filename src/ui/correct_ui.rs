//! Drawing corrections: the confirmation window listing every tag change before anything is
//! written, the study's history with Undo, and the keys (Enter previews the best candidate
//! and then applies it, Escape cancels, Ctrl+Z undoes the last correction).

use egui::{Key, KeyboardShortcut, Modifiers, RichText};

use super::correct_data::PendingCorrection;
use super::runtime::Runtime;
use super::state::UiCommand;
use crate::store::CorrectionEntry;

/// What the detail panel shows of reconciliation: candidates, corrections made.
pub struct ReconcileView<'a> {
    pub candidates: Option<&'a super::candidates::StudyCandidates>,
    pub history: Option<&'a (i64, Vec<CorrectionEntry>)>,
    pub busy: bool,
    /// Someone else is handling the study (a claim that holds now).
    pub held_by: Option<crate::model::Claim>,
    /// This desk holds the study.
    pub mine: bool,
}

/// The confirmation window of a previewed correction. Who the patient is comes first and
/// stands out; every value overwritten is marked; sequences are folded below. A correction
/// that changes the patient asks for a reason and a second confirmation before Apply.
pub fn correction_window_ui(
    ctx: &egui::Context,
    pending: Option<&mut PendingCorrection>,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let Some(p) = pending else {
        return out;
    };
    let mut open = true;
    egui::Window::new(format!("Apply {} to study {}", p.title, p.study))
        .open(&mut open)
        .collapsible(false)
        .default_width(700.0)
        .max_width(900.0)
        // Over the queue, so the detail's thumbnails stay in view beside it.
        .anchor(egui::Align2::LEFT_CENTER, [16.0, 0.0])
        .show(ctx, |ui| {
            let total = p.preview.base.instances.len();
            ui.label(format!(
                "{} of {total} instance(s) get a new version with these values; the originals stay \
                 as received, the old values are kept in each file, and Ctrl+Z takes it back.",
                p.preview.instances
            ));
            let dark = ui.visuals().dark_mode;
            let warn = ui.visuals().warn_fg_color;
            if !p.patient_change.is_empty() {
                ui.add_space(4.0);
                egui::Frame::group(ui.style())
                    .stroke(egui::Stroke::new(2.0, warn))
                    .show(ui, |ui| {
                        ui.label(
                            RichText::new("This changes who the patient is:")
                                .strong()
                                .color(warn),
                        );
                        for line in &p.patient_change {
                            ui.label(RichText::new(format!("• {line}")).strong());
                        }
                        ui.label(
                            "The images move to another patient's record. Check them against \
                             the order before you apply.",
                        );
                    });
            }
            ui.add_space(6.0);
            let changed = if dark {
                egui::Color32::from_rgb(120, 200, 255)
            } else {
                egui::Color32::from_rgb(0, 80, 170)
            };
            let mut rows: Vec<&crate::reconcile::fix::StudyChange> =
                p.preview.changes.iter().collect();
            rows.sort_by_key(|c| crate::reconcile::identity::preview_rank(&c.keyword));
            let (sequences, values): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .partition(|c| c.keyword.ends_with("Sequence"));
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    change_grid(ui, "correction-changes", &values, changed, warn);
                    if !sequences.is_empty() {
                        egui::CollapsingHeader::new(format!(
                            "{} sequence{} replaced (request attributes, codes)",
                            sequences.len(),
                            if sequences.len() == 1 { "" } else { "s" }
                        ))
                        .id_salt("correction-sequences")
                        .show(ui, |ui| {
                            change_grid(
                                ui,
                                "correction-sequence-changes",
                                &sequences,
                                changed,
                                warn,
                            );
                        });
                    }
                });
            ui.add_space(6.0);
            if !p.patient_change.is_empty() {
                ui.horizontal(|ui| {
                    let label = ui.label("Reason (required):");
                    ui.add(
                        egui::TextEdit::singleline(&mut p.reason)
                            .id_salt("correction-reason")
                            .hint_text("e.g. registered under the wrong patient at the CT")
                            .desired_width(380.0),
                    )
                    .labelled_by(label.id);
                });
                ui.checkbox(
                    &mut p.confirmed,
                    "I have checked: these images belong to the patient they are moved to",
                );
            }
            let ready = p.ready();
            ui.horizontal(|ui| {
                let apply = if p.patient_change.is_empty() {
                    "Apply (Enter)"
                } else {
                    "Apply to the other patient"
                };
                if ui
                    .add_enabled(ready, egui::Button::new(apply))
                    .on_disabled_hover_text("Give a reason and confirm the change of patient")
                    .clicked()
                {
                    out.push(UiCommand::ApplyCorrection);
                }
                if ui.button("Cancel (Esc)").clicked() {
                    out.push(UiCommand::CancelCorrection);
                }
            });
        });
    if !open {
        out.push(UiCommand::CancelCorrection);
    }
    out
}

/// Rows of attribute, value now, value after; identity fields highlighted, and every value
/// that replaces another (rather than filling an empty one) marked "replaces".
fn change_grid(
    ui: &mut egui::Ui,
    id: &str,
    rows: &[&crate::reconcile::fix::StudyChange],
    changed: egui::Color32,
    warn: egui::Color32,
) {
    egui::Grid::new(id)
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            ui.label(RichText::new("Attribute").strong());
            ui.label(RichText::new("Now").strong());
            ui.label(RichText::new("After").strong());
            ui.label("");
            ui.end_row();
            for c in rows {
                let identity = crate::reconcile::identity::is_identity(&c.keyword);
                let mut name = RichText::new(format!("{} {}", c.keyword, c.tag));
                if identity {
                    name = name.strong().color(warn);
                }
                ui.label(name)
                    .on_hover_text(format!("{} instance(s) change", c.instances));
                // Sequences read long: cells wrap at a fixed width, so the window stays on
                // screen.
                cell(ui, |ui| {
                    ui.add(egui::Label::new(empty_as_dash(&c.old)).wrap());
                    for o in &c.other_old {
                        ui.add(egui::Label::new(RichText::new(empty_as_dash(o)).weak()).wrap())
                            .on_hover_text("Some instances hold this value");
                    }
                });
                cell(ui, |ui| {
                    ui.add(
                        egui::Label::new(
                            RichText::new(empty_as_dash(&c.new)).color(changed).strong(),
                        )
                        .wrap(),
                    );
                });
                let replaces = !c.old.trim().is_empty() || c.other_old.iter().any(|o| !o.trim().is_empty());
                if replaces {
                    ui.label(RichText::new("replaces").color(warn).small())
                        .on_hover_text("A value the study has now is overwritten (kept in Original Attributes Sequence)");
                } else {
                    ui.label(RichText::new("fills in").weak().small());
                }
                ui.end_row();
            }
        });
}

/// A grid cell at most 260 points wide, its text wrapped.
fn cell(ui: &mut egui::Ui, add: impl FnOnce(&mut egui::Ui)) {
    ui.vertical(|ui| {
        ui.set_max_width(260.0);
        add(ui);
    });
}

fn empty_as_dash(s: &str) -> &str {
    if s.is_empty() { "—" } else { s }
}

/// The study's corrections, with Undo for the newest one still in force.
pub fn history_ui(
    ui: &mut egui::Ui,
    study: i64,
    entries: &[CorrectionEntry],
    busy: bool,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    if entries.is_empty() {
        return out;
    }
    let can_undo = entries
        .iter()
        .any(|e| e.action != "undo" && e.undone_by.is_none());
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Corrections ({})", entries.len())).strong());
        if can_undo
            && ui
                .add_enabled(!busy, egui::Button::new("Undo last (Ctrl+Z)"))
                .on_hover_text("Return the instances to the versions they had before it")
                .clicked()
        {
            out.push(UiCommand::UndoCorrection(study));
        }
    });
    for e in entries.iter().rev() {
        let what = e.describe();
        let instances = if e.changes_instances() {
            format!(
                " · {} instance{}",
                e.instances,
                if e.instances == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        let mut text = RichText::new(format!(
            "{}  {}  {}{instances} · {}",
            e.id,
            crate::text::local_time(&e.at),
            what,
            e.who()
        ));
        if e.undone_by.is_some() {
            text = text.strikethrough().weak();
        }
        ui.label(text);
    }
    out
}

/// Keys for corrections, before the queue's own: with a preview open, Enter applies and
/// Escape cancels (and nothing else reacts); otherwise Ctrl+Z undoes the correction the desk
/// just made, when that study is selected and shown (`CorrectData::last_applied`), N selects
/// the next exception, E opens the edit form, and Enter on an unmatched or mismatched study
/// whose candidates are shown previews the best one.
pub fn correction_keys(
    ctx: &egui::Context,
    rt: &Runtime,
    selected: Option<i64>,
    detail_shown: bool,
) -> Option<Vec<UiCommand>> {
    if let Some(p) = &rt.correct.pending {
        let mut out = Vec::new();
        ctx.input_mut(|i| {
            // A change of patient applies by its button only, once reason and confirmation
            // are given: Enter in the reason field must not apply it.
            if p.patient_change.is_empty() && i.consume_key(Modifiers::NONE, Key::Enter) {
                out.push(UiCommand::ApplyCorrection);
            }
            if i.consume_key(Modifiers::NONE, Key::Escape) {
                out.push(UiCommand::CancelCorrection);
            }
        });
        return Some(out);
    }
    // Typing in a field (the search, the edit form) is not a command.
    if ctx.egui_wants_keyboard_input() {
        return None;
    }
    let id = selected?;
    let mut out = Vec::new();
    ctx.input_mut(|i| {
        if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Z)) {
            // Only the correction just made here, on the study it was made to and shown now.
            let shown = rt.detail.as_ref().is_some_and(|d| d.row.id == id);
            if rt.correct.last_applied == Some(id) && shown {
                out.push(UiCommand::UndoCorrection(id));
            } else {
                out.push(UiCommand::UndoRefused);
            }
        }
        if i.consume_key(Modifiers::NONE, Key::N) {
            out.push(UiCommand::NextException);
        }
        if i.consume_key(Modifiers::NONE, Key::E) {
            out.push(UiCommand::OpenEdit);
        }
        // Only for the reconciliation exceptions: on other studies (a broken file, say) Enter
        // keeps opening the viewer.
        let reconciling = rt.detail.as_ref().is_some_and(|d| {
            d.row.id == id
                && matches!(
                    d.row.state,
                    crate::model::StudyState::Unmatched | crate::model::StudyState::Mismatch
                )
        });
        let best = rt
            .candidates
            .as_ref()
            .filter(|c| c.study == id && detail_shown && reconciling)
            .and_then(|c| c.orders.first());
        if let Some(order) = best
            && i.consume_key(Modifiers::NONE, Key::Enter)
        {
            out.push(UiCommand::PreviewOrder {
                study: id,
                order: Box::new(order.clone()),
            });
        }
    });
    (!out.is_empty()).then_some(out)
}
