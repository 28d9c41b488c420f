//! The study detail panel: demographics, findings, the study against its order, series.

use egui::RichText;

use super::images::Images;

use super::series_strip::series_strip_ui;
use super::state::UiCommand;
use super::theme::{state_chip, state_color, verdict_color};
use crate::model::{StudyDetail, StudyState, Verdict, WorklistItem};
use crate::rules::category;

pub fn study_ui(
    ui: &mut egui::Ui,
    detail: Option<&StudyDetail>,
    selected: Option<i64>,
    images: &Images,
    archives: &[String],
    reconcile: super::correct_ui::ReconcileView<'_>,
) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    let Some(d) = detail.filter(|d| Some(d.row.id) == selected) else {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            if selected.is_some() {
                ui.spinner();
            } else {
                ui.label("No study selected: the filters and search hide every study, or none is chosen yet.");
            }
        });
        return commands;
    };
    let r = &d.row;
    // A study newly shown starts at its top: its name and its actions, not where the last
    // study was scrolled to.
    let shown = egui::Id::unique("detail-shown-study");
    let fresh = ui.data(|m| m.get_temp::<i64>(shown)) != Some(r.id);
    ui.data_mut(|m| m.insert_temp(shown, r.id));
    let mut area = egui::ScrollArea::vertical()
        .id_salt("detail-scroll")
        .auto_shrink(false);
    if fresh {
        area = area.vertical_scroll_offset(0.0);
    }
    area.show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                state_chip(ui, r.state);
                if r.dismissed.is_some() {
                    ui.label(RichText::new("dismissed").strong().italics());
                }
                ui.heading(if r.patient_name.is_empty() {
                    "(no patient name)"
                } else {
                    &r.patient_name
                });
            });
            if let Some(c) = &reconcile.held_by {
                commands.extend(claim_banner_ui(ui, c));
            } else if reconcile.mine {
                ui.label(
                    RichText::new("You are handling this study: others see it as yours until you close its windows.")
                        .weak(),
                );
            }
            if let Some(dm) = &r.dismissed {
                commands.extend(dismissal_banner_ui(ui, r.id, dm));
            }
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(format!("Study {}", r.id)).weak());
                if let Some(state) = &r.send_state {
                    let dark = ui.visuals().dark_mode;
                    let caveat = r.send_caveat.as_deref().unwrap_or_default();
                    let text = if caveat.is_empty() {
                        format!("Send: {state}")
                    } else {
                        format!("Send: {state}, {caveat}")
                    };
                    ui.label(RichText::new(text).color(
                        super::transfers_window::send_state_color(*state, caveat, dark),
                    ))
                    .on_hover_text(super::transfers_window::send_state_hint(*state));
                }
                for node in archives {
                    if ui
                        .button(format!("Send to {node}"))
                        .on_hover_text(
                            "Send the study's current version to this archive, with proof of arrival",
                        )
                        .clicked()
                    {
                        commands.push(UiCommand::SendStudy {
                            study: r.id,
                            node: node.clone(),
                        });
                    }
                }
                if ui
                    .button("Edit…")
                    .on_hover_text("Correct the patient and study attributes by hand (E)")
                    .clicked()
                {
                    commands.push(UiCommand::OpenEdit);
                }
                if ui
                    .button("Dismiss, reject, merge, split…")
                    .on_hover_text("Reject instances (IOCM), merge a study of this patient into it, or move a series to a new study")
                    .clicked()
                {
                    commands.push(UiCommand::OpenActions);
                }
                if archives.is_empty() {
                    ui.add_enabled(false, egui::Button::new("Send"))
                        .on_disabled_hover_text("No archive node: add one in Nodes…");
                }
            });
            ui.add_space(4.0);
            // The pictures first: a chest in a knee order shows before anything is read.
            commands.extend(series_strip_ui(ui, d, images));
            ui.add_space(4.0);
            let value_w = (ui.available_width() - 110.0).max(120.0);
            egui::Grid::new("demographics")
                .num_columns(2)
                .spacing([12.0, 3.0])
                .striped(true)
                .show(ui, |ui| {
                    let mut field = |k: &str, v: &str| {
                        ui.label(RichText::new(k).weak());
                        wrapped(ui, RichText::new(if v.is_empty() { "—" } else { v }), value_w);
                        ui.end_row();
                    };
                    field("Patient ID", &r.patient_id);
                    field("Issuer", &d.issuer_of_patient_id);
                    field("Birth date", &crate::text::iso_date(&d.patient_birth_date));
                    field("Sex", &d.patient_sex);
                    field("Accession", &r.accession);
                    field("Modality", &r.modality);
                    field(
                        "Study date",
                        &format!(
                            "{} {}",
                            crate::text::iso_date(&r.study_date),
                            crate::text::dicom_time(&d.study_time)
                        ),
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
                    field("First seen", &crate::text::local_time(&r.first_seen));
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
            if let Some(c) = reconcile.candidates.filter(|c| c.study == r.id) {
                ui.add_space(8.0);
                commands.extend(super::candidates::candidates_ui(ui, c));
            }
            if let Some((_, h)) = reconcile.history.filter(|(s, _)| *s == r.id) {
                ui.add_space(8.0);
                commands.extend(super::correct_ui::history_ui(ui, r.id, h, reconcile.busy));
            }

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
                                if i.variants > 0 {
                                    ui.label(
                                        RichText::new(format!("{} encoding variants", i.variants))
                                            .weak(),
                                    );
                                }
                                if i.receipts.len() > 1 {
                                    ui.label(
                                        RichText::new(format!("received {}×", i.receipts.len()))
                                            .weak(),
                                    );
                                }
                            })
                            .response
                            .on_hover_text(instance_hover(i));
                        }
                    });
            }
        });
    commands
}

/// Where an instance came from: its copies and every receipt.
fn instance_hover(i: &crate::model::InstanceRow) -> String {
    let mut t = format!(
        "{}\n{}\n{} bytes, {}",
        i.sop_instance_uid
            .as_deref()
            .unwrap_or("(no SOP Instance UID)"),
        i.original_path,
        i.size,
        crate::dicom::ts_name(&i.transfer_syntax)
    );
    for c in i.copies.iter().skip(1) {
        t.push_str(&format!("\n{}: {}", c.role.as_str(), c.original_path));
        for d in &c.differences {
            t.push_str(&format!("\n    {d}"));
        }
        if !c.note.is_empty() {
            t.push_str(&format!("\n    {}", c.note));
        }
    }
    for r in &i.receipts {
        let from = r
            .path
            .as_deref()
            .or(r.calling_ae.as_deref())
            .unwrap_or(&r.source);
        t.push_str(&format!(
            "\nreceived {} ({}) from {from}",
            r.received_at,
            r.source_kind.as_str()
        ));
    }
    t
}

/// The study beside each candidate order, as the rules compared them: the marks drawn are
/// the rules' verdicts, field by field (the desk has no matching logic of its own).
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
    let dark = ui.visuals().dark_mode;
    // The two value columns share what the panel has beside the field names and the verdicts,
    // so that the grid follows the panel's width instead of widening it.
    let value_w = ((ui.available_width() - 130.0 - 70.0 - 36.0) / 2.0).max(90.0);
    for (n, c) in d.orders.iter().enumerate() {
        let o = &c.order;
        ui.label(
            RichText::new(format!("Study vs. order {} ({})", o.accession, o.procedure)).strong(),
        );
        egui::Grid::new(("order", n))
            .num_columns(4)
            .spacing([12.0, 3.0])
            .striped(true)
            .show(ui, |ui| {
                ui.label("");
                ui.label(RichText::new("Study").weak());
                ui.label(RichText::new("Order").weak());
                ui.label("");
                ui.end_row();
                for f in &c.fields {
                    ui.label(RichText::new(&f.field).weak());
                    let color = verdict_color(f.verdict, dark);
                    let shown = |v: &str| {
                        let v = if f.field == "Birth date" {
                            crate::text::iso_date(v)
                        } else {
                            v.to_string()
                        };
                        let t = RichText::new(if v.is_empty() { "—".into() } else { v });
                        match color {
                            Some(c) => t.strong().color(c),
                            None => t,
                        }
                    };
                    // Long values (UIDs) wrap: the panel keeps the width the user gave it.
                    wrapped(ui, shown(&f.study), value_w);
                    wrapped(ui, shown(&f.order), value_w);
                    let word = match f.verdict {
                        Verdict::Match => "same",
                        Verdict::Equivalent => "equivalent",
                        Verdict::Mismatch => "differs",
                        Verdict::NotCompared => "not compared",
                    };
                    let mut text = RichText::new(word).small();
                    if let Some(c) = color {
                        text = text.color(c);
                    } else {
                        text = text.weak();
                    }
                    let field = f.field.clone();
                    let verdict = f.verdict;
                    ui.label(text).on_hover_text(&f.why).widget_info(move || {
                        egui::WidgetInfo::labeled(
                            egui::Role::Label,
                            true,
                            format!("{field}: {}", verdict_name(verdict)),
                        )
                    });
                    ui.end_row();
                }
                scheduled_row(ui, o, value_w);
            });
    }
}

/// The verdict's name in the accessibility tree (what tests and screen readers see).
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Match => "match",
        Verdict::Equivalent => "equivalent",
        Verdict::Mismatch => "mismatch",
        Verdict::NotCompared => "not compared",
    }
}

fn scheduled_row(ui: &mut egui::Ui, o: &WorklistItem, value_w: f32) {
    ui.label(RichText::new("Scheduled").weak());
    ui.label("");
    // A RIS may send anything here: slice only what is plain ASCII.
    let s = &o.scheduled_at;
    let (date, time) = if s.is_ascii() {
        s.split_at(s.len().min(8))
    } else {
        (s.as_str(), "")
    };
    let time = match (time.get(0..2), time.get(2..4)) {
        (Some(h), Some(m)) => format!("{h}:{m}"),
        _ => time.to_string(),
    };
    wrapped(
        ui,
        RichText::new(format!(
            "{} {time} on {}",
            crate::text::iso_date(date),
            o.station_ae
        )),
        value_w,
    );
    ui.label("");
    ui.end_row();
}

/// A framed notice at the top of the detail, in the warning colour.
fn banner(ui: &mut egui::Ui, add: impl FnOnce(&mut egui::Ui)) {
    let visuals = ui.visuals().clone();
    egui::Frame::group(ui.style())
        .fill(visuals.faint_bg_color)
        .stroke(egui::Stroke::new(1.5, visuals.warn_fg_color))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            add(ui);
        });
}

/// Another Associate is handling the study: who, since when, and the way to take it over.
fn claim_banner_ui(ui: &mut egui::Ui, c: &crate::model::Claim) -> Vec<UiCommand> {
    let mut out = Vec::new();
    banner(ui, |ui| {
        ui.label(
            RichText::new(format!(
                "Being handled by {} since {}",
                c.display(),
                crate::text::local_clock(c.since_unix)
            ))
            .strong(),
        );
        ui.label(
                RichText::new(
                    "Corrections, undo, dismissal, moves and sends of this study are refused while they hold it.",
                )
                .weak(),
            );
        if ui
            .button("Take over…")
            .on_hover_text("Take the study over from them (asks the reason; audited)")
            .clicked()
        {
            out.push(UiCommand::AskTakeOver(c.study));
        }
    });
    out
}

/// The dismissal, where the eye meets it: reason, note, who and when, and Reopen.
fn dismissal_banner_ui(
    ui: &mut egui::Ui,
    study: i64,
    d: &crate::model::Dismissal,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    banner(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Dismissed: {}", d.reason)).strong());
            ui.label(
                RichText::new(format!("by {}, {}", d.by, crate::text::local_time(&d.at))).weak(),
            );
        });
        if !d.note.is_empty() {
            ui.label(format!("Note: {}", d.note));
        }
        ui.label(
                RichText::new(
                    "Not an open exception: left out of the queue's count and of the open figures in Reports.",
                )
                .weak(),
            );
        if ui
            .button("Reopen")
            .on_hover_text("Make it an open exception again (audited)")
            .clicked()
        {
            out.push(UiCommand::Reopen(study));
        }
    });
    out
}

/// A grid cell at most `max` points wide, its text wrapped.
fn wrapped(ui: &mut egui::Ui, text: RichText, max: f32) {
    ui.vertical(|ui| {
        ui.set_max_width(max);
        ui.add(egui::Label::new(text).wrap());
    });
}
