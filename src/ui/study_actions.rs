//! The study's other corrections: reject instances (IHE IOCM, a reason code and the study or
//! one series), merge another study of the same patient into it, or move a series to a new
//! study. Merges and moves open the confirmation window first; a rejection is final and says
//! so on its button.

use egui::RichText;

use super::correct_data::Relocation;
use super::state::UiCommand;
use crate::model::{StudyDetail, StudyRow};
use crate::reconcile::reject::CODES;

/// The window's choices, open on one study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionsForm {
    pub study: i64,
    /// Index into [`CODES`].
    pub code: usize,
    /// The series to reject, or the whole study.
    pub series: Option<String>,
    pub reason: String,
    /// Index into the site's dismissal reasons.
    pub dismiss_reason: usize,
    /// Free text beside it.
    pub note: String,
}

impl ActionsForm {
    pub fn new(study: i64) -> ActionsForm {
        ActionsForm {
            study,
            code: 0,
            series: None,
            reason: String::new(),
            dismiss_reason: 0,
            note: String::new(),
        }
    }
}

/// The window; `form` is `None` when closed. `rows` are the queue's studies (the merge
/// candidates are the other studies with the same Patient ID).
pub fn study_actions_ui(
    ctx: &egui::Context,
    form: &mut Option<ActionsForm>,
    detail: Option<&StudyDetail>,
    rows: &[StudyRow],
    reasons: &[String],
    busy: bool,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let (Some(f), Some(d)) = (form.as_mut(), detail) else {
        return out;
    };
    if d.row.id != f.study {
        return out;
    }
    let mut open = true;
    egui::Window::new(format!("Study {}: dismiss, reject, merge, split", f.study))
        .open(&mut open)
        .collapsible(false)
        .default_width(520.0)
        .anchor(egui::Align2::LEFT_CENTER, [16.0, 0.0])
        .show(ctx, |ui| {
            ui.label(RichText::new("Dismiss (resolved without change)").strong());
            match &d.row.dismissed {
                Some(dis) => {
                    ui.label(format!(
                        "Dismissed: {} (by {} at {})",
                        dis.reason,
                        dis.by,
                        crate::text::local_time(&dis.at)
                    ));
                    if ui.add_enabled(!busy, egui::Button::new("Reopen")).clicked() {
                        out.push(UiCommand::Reopen(d.row.id));
                    }
                }
                None if !reasons.is_empty() => {
                    let shown = reasons.get(f.dismiss_reason).cloned().unwrap_or_default();
                    egui::ComboBox::from_label("Why")
                        .selected_text(shown)
                        .show_ui(ui, |ui| {
                            for (i, r) in reasons.iter().enumerate() {
                                ui.selectable_value(&mut f.dismiss_reason, i, r);
                            }
                        });
                    let needs_note = crate::store::reason_needs_note(&shown_reason(reasons, f));
                    ui.horizontal(|ui| {
                        let label = ui.label(if needs_note {
                            "Note (required)"
                        } else {
                            "Note"
                        });
                        ui.add(
                            egui::TextEdit::singleline(&mut f.note)
                                .id_salt("dismiss-note")
                                .hint_text(if needs_note {
                                    "why the rule does not apply to this study"
                                } else {
                                    ""
                                }),
                        )
                        .labelled_by(label.id);
                    });
                    let missing_note = needs_note && f.note.trim().is_empty();
                    if ui
                        .add_enabled(!busy && !missing_note, egui::Button::new("Dismiss"))
                        .on_disabled_hover_text("Say in the note why the rule does not apply")
                        .clicked()
                    {
                        out.push(UiCommand::Dismiss);
                    }
                }
                None => {
                    ui.label(RichText::new("No reasons configured ([dismiss] reasons).").weak());
                }
            }
            ui.separator();
            ui.label(RichText::new("Reject (IHE IOCM)").strong());
            egui::ComboBox::from_label("Reason")
                .selected_text(format!("{} {}", CODES[f.code].code, CODES[f.code].meaning))
                .show_ui(ui, |ui| {
                    for (i, c) in CODES.iter().enumerate() {
                        ui.selectable_value(&mut f.code, i, format!("{} {}", c.code, c.meaning));
                    }
                });
            let scope = match &f.series {
                None => "the whole study".to_string(),
                Some(uid) => series_name(d, uid),
            };
            egui::ComboBox::from_label("Instances")
                .selected_text(scope)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut f.series, None, "the whole study");
                    for s in &d.series_list {
                        if let Some(uid) = &s.series_instance_uid {
                            ui.selectable_value(
                                &mut f.series,
                                Some(uid.clone()),
                                series_name(d, uid),
                            );
                        }
                    }
                });
            ui.horizontal(|ui| {
                ui.label("Note");
                ui.text_edit_singleline(&mut f.reason);
            });
            if ui
                .add_enabled(!busy, egui::Button::new("Reject (cannot be undone)"))
                .on_hover_text(
                    "Marks the instances rejected and adds the Key Object Selection rejection \
                     note to the study; it goes to the archive with the next send",
                )
                .clicked()
            {
                out.push(UiCommand::RejectInstances);
            }
            ui.separator();
            ui.label(RichText::new("Merge into this study").strong());
            let same_patient: Vec<&StudyRow> = rows
                .iter()
                .filter(|r| {
                    r.id != d.row.id
                        && !d.row.patient_id.trim().is_empty()
                        && r.patient_id.trim() == d.row.patient_id.trim()
                })
                .collect();
            if same_patient.is_empty() {
                ui.label(RichText::new("No other study of this patient.").weak());
            }
            for r in same_patient {
                ui.horizontal(|ui| {
                    ui.label(format!(
                        "Study {} · {} · {} · {} instance(s)",
                        r.id, r.accession, r.study_description, r.instances
                    ));
                    if ui.small_button(format!("Merge study {}…", r.id)).clicked() {
                        out.push(UiCommand::PreviewRelocation(Relocation::Merge {
                            into: d.row.id,
                            from: r.id,
                        }));
                    }
                });
            }
            ui.separator();
            ui.label(RichText::new("Split: move a series to a new study").strong());
            for s in &d.series_list {
                let Some(uid) = &s.series_instance_uid else {
                    continue;
                };
                ui.horizontal(|ui| {
                    ui.label(series_name(d, uid));
                    if d.series_list.len() > 1 && ui.small_button("Move…").clicked() {
                        out.push(UiCommand::PreviewRelocation(Relocation::SplitSeries {
                            study: d.row.id,
                            series_uid: uid.clone(),
                        }));
                    }
                });
            }
        });
    if !open {
        out.push(UiCommand::CloseActions);
    }
    out
}

fn shown_reason(reasons: &[String], f: &ActionsForm) -> String {
    reasons.get(f.dismiss_reason).cloned().unwrap_or_default()
}

fn series_name(d: &StudyDetail, uid: &str) -> String {
    d.series_list
        .iter()
        .find(|s| s.series_instance_uid.as_deref() == Some(uid))
        .map(|s| {
            format!(
                "#{} {} {} ({} instances)",
                s.series_number,
                s.modality,
                s.description,
                s.instances.len()
            )
        })
        .unwrap_or_else(|| uid.to_string())
}
