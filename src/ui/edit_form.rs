//! The hand-edit form of a study: the editable fields with the study's values, each checked by
//! its value representation as it is typed (the message names what is wrong), and Preview,
//! which shows the changes in the same confirmation window as an order's before anything is
//! written.

use egui::RichText;

use super::state::UiCommand;
use crate::model::StudyDetail;
use crate::reconcile::fields::{FIELDS, Field};

/// The form, open on one study.
#[derive(Debug, Clone, PartialEq)]
pub struct EditForm {
    pub study: i64,
    /// Values as typed, parallel to [`FIELDS`].
    pub values: Vec<String>,
    /// The values the study had when the form opened.
    pub original: Vec<String>,
}

impl EditForm {
    /// The form for `d`, filled with its values (Study ID is not kept per study: empty means
    /// "leave as it is" for every field).
    pub fn of(d: &StudyDetail) -> EditForm {
        let r = &d.row;
        let values: Vec<String> = FIELDS
            .iter()
            .map(|f| match f.keyword {
                "PatientName" => r.patient_name.clone(),
                "PatientID" => r.patient_id.clone(),
                "IssuerOfPatientID" => d.issuer_of_patient_id.clone(),
                "PatientBirthDate" => d.patient_birth_date.clone(),
                "PatientSex" => d.patient_sex.clone(),
                "AccessionNumber" => r.accession.clone(),
                "ReferringPhysicianName" => d.referring_physician.clone(),
                "StudyDescription" => r.study_description.clone(),
                _ => String::new(),
            })
            .collect();
        EditForm {
            study: r.id,
            original: values.clone(),
            values,
        }
    }

    /// The fields changed, checked: the values to set, or the message of each invalid one.
    pub fn changes(&self) -> Result<Vec<(&'static Field, String)>, Vec<String>> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for (i, f) in FIELDS.iter().enumerate() {
            let (now, was) = (&self.values[i], &self.original[i]);
            // Study ID is not shown per study: left empty, it is left alone.
            if now == was || (f.keyword == "StudyID" && now.trim().is_empty()) {
                continue;
            }
            match f.check(now) {
                Ok(v) => ok.push((f, v)),
                Err(e) => bad.push(e.to_string()),
            }
        }
        if bad.is_empty() { Ok(ok) } else { Err(bad) }
    }
}

/// The form's window; `form` is `None` when closed.
pub fn edit_form_ui(ctx: &egui::Context, form: &mut Option<EditForm>) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let Some(f) = form.as_mut() else {
        return out;
    };
    let mut open = true;
    let error = ctx.global_style().visuals.error_fg_color;
    egui::Window::new(format!("Edit study {}", f.study))
        .open(&mut open)
        .collapsible(false)
        .default_width(480.0)
        .show(ctx, |ui| {
            ui.label("Values as they will be written into every instance; the old ones are kept.");
            egui::Grid::new("edit-form").num_columns(2).show(ui, |ui| {
                for (i, field) in FIELDS.iter().enumerate() {
                    ui.label(field.label);
                    ui.vertical(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(&mut f.values[i])
                                .desired_width(280.0)
                                .hint_text(if field.keyword == "StudyID" {
                                    "unchanged"
                                } else {
                                    ""
                                }),
                        )
                        .labelled_by(ui.label(RichText::new(field.keyword).small().weak()).id);
                        let changed = f.values[i] != f.original[i]
                            && !(field.keyword == "StudyID" && f.values[i].trim().is_empty());
                        if changed && let Err(e) = field.check(&f.values[i]) {
                            ui.label(RichText::new(e.message).color(error).small());
                        }
                    });
                    ui.end_row();
                }
            });
            ui.add_space(6.0);
            let changes = f.changes();
            ui.horizontal(|ui| {
                let can = matches!(&changes, Ok(c) if !c.is_empty());
                if ui
                    .add_enabled(can, egui::Button::new("Preview changes"))
                    .clicked()
                {
                    out.push(UiCommand::PreviewEdit);
                }
                if ui.button("Cancel").clicked() {
                    out.push(UiCommand::CloseEdit);
                }
                match &changes {
                    Ok(c) if c.is_empty() => {
                        ui.label(RichText::new("nothing changed").weak());
                    }
                    Err(bad) => {
                        ui.label(RichText::new(format!("{} invalid", bad.len())).color(error));
                    }
                    Ok(_) => {}
                }
            });
        });
    if !open {
        out.push(UiCommand::CloseEdit);
    }
    out
}
