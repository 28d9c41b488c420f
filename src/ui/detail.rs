//! The study detail panel: demographics, findings, the study against its order, series.

use egui::{Color32, RichText};

use super::queue::format_date;
use super::theme::{state_chip, state_color};
use crate::model::{StudyDetail, StudyState, WorklistItem};
use crate::rules::category;
use crate::worklist::names_match;

pub fn study_ui(ui: &mut egui::Ui, detail: Option<&StudyDetail>, selected: Option<i64>) {
    let Some(d) = detail.filter(|d| Some(d.row.id) == selected) else {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            if selected.is_some() {
                ui.spinner();
            } else {
                ui.label("Select a study to see its details.");
            }
        });
        return;
    };
    let r = &d.row;
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                state_chip(ui, r.state);
                ui.heading(if r.patient_name.is_empty() {
                    "(no patient name)"
                } else {
                    &r.patient_name
                });
            });
            ui.label(RichText::new(format!("Study {}", r.id)).weak());
            ui.add_space(4.0);
            egui::Grid::new("demographics")
                .num_columns(2)
                .spacing([12.0, 3.0])
                .striped(true)
                .show(ui, |ui| {
                    let mut field = |k: &str, v: &str| {
                        ui.label(RichText::new(k).weak());
                        ui.label(if v.is_empty() { "—" } else { v });
                        ui.end_row();
                    };
                    field("Patient ID", &r.patient_id);
                    field("Issuer", &d.issuer_of_patient_id);
                    field("Birth date", &format_date(&d.patient_birth_date));
                    field("Sex", &d.patient_sex);
                    field("Accession", &r.accession);
                    field("Modality", &r.modality);
                    field(
                        "Study date",
                        &format!("{} {}", format_date(&r.study_date), d.study_time),
                    );
                    field("Description", &r.study_description);
                    field("Referring", &d.referring_physician);
                    field("Institution", &d.institution);
                    field("Station", &d.station_name);
                    field("Source", &r.source);
                    field(
                        "Study UID",
                        r.study_instance_uid.as_deref().unwrap_or("(missing)"),
                    );
                    field("First seen", &r.first_seen);
                });

            ui.add_space(8.0);
            ui.label(RichText::new(format!("Findings ({})", r.findings.len())).strong());
            if r.findings.is_empty() {
                ui.label("None: the study agrees with its order.");
            }
            let dark = ui.visuals().dark_mode;
            for f in &r.findings {
                let color = category(&f.code)
                    .map_or(ui.visuals().weak_text_color(), |s| state_color(s, dark));
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        RichText::new(format!("[{}]", f.code))
                            .color(color)
                            .monospace(),
                    );
                    ui.label(&f.message);
                });
                if let Some(file) = &f.file {
                    ui.label(RichText::new(format!("    {file}")).weak().small());
                }
            }

            ui.add_space(8.0);
            order_ui(ui, d);

            ui.add_space(8.0);
            ui.label(
                RichText::new(format!(
                    "Series ({}), instances ({})",
                    d.series_list.len(),
                    r.instances
                ))
                .strong(),
            );
            for s in &d.series_list {
                let title = format!(
                    "#{} {} {} — {} instance{}",
                    if s.series_number.is_empty() {
                        "?"
                    } else {
                        &s.series_number
                    },
                    s.modality,
                    s.description,
                    s.instances.len(),
                    if s.instances.len() == 1 { "" } else { "s" }
                );
                egui::CollapsingHeader::new(title)
                    .id_salt(("series", s.id))
                    .show(ui, |ui| {
                        ui.label(
                            RichText::new(
                                s.series_instance_uid
                                    .as_deref()
                                    .unwrap_or("(no Series UID)"),
                            )
                            .weak()
                            .small(),
                        );
                        for i in &s.instances {
                            ui.horizontal_wrapped(|ui| {
                                ui.label(format!("{:>4}", i.instance_number));
                                ui.label(RichText::new(&i.sop_class_name).weak());
                                if i.conflicts > 0 {
                                    ui.label(
                                        RichText::new(format!(
                                            "{} conflicting copies",
                                            i.conflicts
                                        ))
                                        .color(state_color(StudyState::Inconsistent, dark)),
                                    );
                                }
                            })
                            .response
                            .on_hover_text(format!(
                                "{}\n{}\n{} bytes, {}",
                                i.sop_instance_uid
                                    .as_deref()
                                    .unwrap_or("(no SOP Instance UID)"),
                                i.original_path,
                                i.size,
                                i.transfer_syntax
                            ));
                        }
                    });
            }
        });
}

/// The study beside the order(s) with its accession; differing values are marked.
fn order_ui(ui: &mut egui::Ui, d: &StudyDetail) {
    let r = &d.row;
    if d.orders.is_empty() {
        ui.label(RichText::new("Order").strong());
        ui.label(if r.accession.is_empty() {
            "The study has no accession number: no order can be looked up.".to_string()
        } else {
            format!(
                "No order with accession {} in the worklist cache.",
                r.accession
            )
        });
        return;
    }
    for (n, o) in d.orders.iter().enumerate() {
        ui.label(
            RichText::new(format!("Study vs. order {} ({})", o.accession, o.procedure)).strong(),
        );
        egui::Grid::new(("order", n))
            .num_columns(3)
            .spacing([12.0, 3.0])
            .striped(true)
            .show(ui, |ui| {
                ui.label("");
                ui.label(RichText::new("Study").weak());
                ui.label(RichText::new("Order").weak());
                ui.end_row();
                let rows: [(&str, &str, &str, bool); 5] = [
                    (
                        "Patient name",
                        &r.patient_name,
                        &o.patient_name,
                        names_match(&r.patient_name, &o.patient_name),
                    ),
                    (
                        "Patient ID",
                        &r.patient_id,
                        &o.patient_id,
                        r.patient_id.trim() == o.patient_id.trim(),
                    ),
                    (
                        "Birth date",
                        &format_date(&d.patient_birth_date),
                        &format_date(&o.birth_date),
                        d.patient_birth_date == o.birth_date,
                    ),
                    ("Sex", &d.patient_sex, &o.sex, d.patient_sex == o.sex),
                    (
                        "Modality",
                        &r.modality,
                        &o.modality,
                        r.modality.split('\\').any(|m| m == o.modality),
                    ),
                ];
                for (k, study, order, same) in rows {
                    ui.label(RichText::new(k).weak());
                    let mark = |t: &str| {
                        let t = if t.is_empty() {
                            "—".to_string()
                        } else {
                            t.to_string()
                        };
                        if same {
                            RichText::new(t)
                        } else {
                            RichText::new(t)
                                .strong()
                                .color(Color32::from_rgb(200, 60, 40))
                        }
                    };
                    ui.label(mark(study));
                    ui.label(mark(order));
                    ui.end_row();
                }
                scheduled_row(ui, o);
            });
    }
}

fn scheduled_row(ui: &mut egui::Ui, o: &WorklistItem) {
    ui.label(RichText::new("Scheduled").weak());
    ui.label("");
    let (date, time) = o.scheduled_at.split_at(o.scheduled_at.len().min(8));
    let time = if time.len() >= 4 {
        format!("{}:{}", &time[0..2], &time[2..4])
    } else {
        time.to_string()
    };
    ui.label(format!("{} {time} on {}", format_date(date), o.station_ae));
    ui.end_row();
}
