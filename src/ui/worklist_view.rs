//! The worklist view: search the RIS worklist cache as you type, see each order whole, and
//! sync it from the RIS nodes ("Sync now", the last sync's time and outcome).

use std::time::Instant;

use egui::{RichText, Sense};
use egui_extras::{Column, TableBuilder};

use super::state::UiCommand;
use super::worklist_data::WorklistData;
use crate::model::WorklistItem;
use crate::worklist::{SearchHit, SearchQuery};

/// Results shown at most; the search is ranked, the first ones are what matters.
const MAX_HITS: usize = 500;
const ROW_HEIGHT: f32 = 22.0;

/// The view's own state (the search text is patient data: never saved).
pub struct WorklistView {
    pub query: String,
    pub hits: Vec<SearchHit>,
    key: Option<(String, u64)>,
    pub selected: Option<usize>,
    pub search_id: egui::Id,
    /// How long the last search took, in milliseconds.
    pub search_ms: f64,
}

impl Default for WorklistView {
    fn default() -> Self {
        WorklistView {
            query: String::new(),
            hits: Vec::new(),
            key: None,
            selected: None,
            search_id: egui::Id::unique("worklist-search"),
            search_ms: 0.0,
        }
    }
}

impl WorklistView {
    /// Runs the search again when the text or the cache changed (milliseconds over 100,000
    /// orders: it runs in the frame).
    pub fn refresh(&mut self, data: &WorklistData) {
        let key = (self.query.trim().to_string(), data.generation);
        if self.key.as_ref() == Some(&key) {
            return;
        }
        let Some(index) = &data.index else {
            return;
        };
        let start = Instant::now();
        self.hits = index.search(&SearchQuery::parse(&key.0), MAX_HITS);
        self.search_ms = start.elapsed().as_secs_f64() * 1000.0;
        self.selected = (!self.hits.is_empty()).then_some(0);
        self.key = Some(key);
    }
}

fn ago(rfc3339: &str) -> String {
    match crate::fsutil::parse_rfc3339_unix(rfc3339) {
        Some(t) => format!(
            "{} ago",
            crate::fsutil::human_age(crate::fsutil::now().1 - t)
        ),
        None => rfc3339.to_string(),
    }
}

/// The RIS nodes, when each last synced, and "Sync now".
fn sync_strip_ui(ui: &mut egui::Ui, data: &WorklistData, out: &mut Vec<UiCommand>) {
    let mut any = false;
    for node in data.ris_nodes() {
        any = true;
        ui.horizontal(|ui| {
            ui.label(RichText::new(&node.name).strong());
            let syncing = data.syncing.contains(&node.name);
            let clicked = ui
                .add_enabled(!syncing, egui::Button::new("Sync now"))
                .on_hover_text("Query the RIS's Modality Worklist and update the cache")
                .clicked();
            if clicked {
                out.push(UiCommand::SyncWorklist(node.name.clone()));
            }
            if syncing {
                ui.spinner();
                ui.label("syncing…");
            }
            match data.last_sync(&node.name) {
                None => {
                    ui.label(RichText::new("never synced").weak());
                }
                Some(s) if s.ok => {
                    ui.label(format!(
                        "Last synced {} ({}): {} items, {} new, {} changed, {} vanished",
                        ago(&s.finished_at),
                        crate::text::local_time(&s.finished_at),
                        s.received,
                        s.new,
                        s.changed,
                        s.vanished
                    ));
                }
                Some(s) => {
                    let color = ui.visuals().error_fg_color;
                    ui.label(
                        RichText::new(format!(
                            "Last sync failed {}: {}",
                            ago(&s.finished_at),
                            s.error
                        ))
                        .color(color),
                    );
                }
            }
        });
    }
    if !any {
        ui.horizontal(|ui| {
            ui.label("No RIS node is configured: the cache holds only imported orders.");
            if ui.button("Nodes…").clicked() {
                out.push(UiCommand::OpenNodes);
            }
        });
    }
}

/// Draws the worklist view.
pub fn worklist_ui(
    ui: &mut egui::Ui,
    view: &mut WorklistView,
    data: &WorklistData,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    sync_strip_ui(ui, data, &mut out);
    ui.separator();
    ui.horizontal(|ui| {
        let label = ui.label("Search orders:");
        ui.add(
            egui::TextEdit::singleline(&mut view.query)
                .id(view.search_id)
                .hint_text(
                    "name, patient ID, accession, date; modality:CT station:AET date:YYYYMMDD",
                )
                .desired_width(420.0),
        )
        .labelled_by(label.id);
        view.refresh(data);
        match &data.index {
            None => {
                ui.spinner();
                ui.label("Loading the worklist…");
            }
            Some(index) => {
                let text = if view.query.trim().is_empty() {
                    format!("{} orders in the cache", index.len())
                } else {
                    format!("{} found ({:.1} ms)", view.hits.len(), view.search_ms)
                };
                ui.label(text);
            }
        }
    });
    ui.separator();
    egui::Panel::right("worklist-item")
        .resizable(true)
        .default_size(380.0)
        .min_size(260.0)
        .show(ui, |ui| {
            match view.selected.and_then(|i| view.hits.get(i)) {
                Some(hit) => item_ui(ui, &hit.item),
                None => {
                    ui.label(RichText::new("Select an order to see it whole.").weak());
                }
            }
        });
    if view.hits.is_empty() {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            ui.label(if view.query.trim().is_empty() {
                "The worklist cache is empty: sync from a RIS node or import orders (qcdesk worklist import)."
            } else {
                "No order matches."
            });
        });
        return out;
    }
    hits_table_ui(ui, view);
    out
}

fn hits_table_ui(ui: &mut egui::Ui, view: &mut WorklistView) {
    let mut clicked = None;
    ui.scope(|ui| {
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .id_salt("worklist-hits")
            .striped(true)
            .sense(Sense::click())
            .column(Column::auto().at_least(110.0))
            .column(Column::auto().at_least(180.0).clip(true))
            .column(Column::auto().at_least(80.0))
            .column(Column::auto().at_least(70.0))
            .column(Column::auto().at_least(80.0))
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::remainder().clip(true))
            .header(ROW_HEIGHT, |mut h| {
                for t in [
                    "Scheduled",
                    "Patient",
                    "Patient ID",
                    "Born",
                    "Accession",
                    "Mod",
                    "Station",
                    "Procedure",
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, view.hits.len(), |mut row| {
                    let i = row.index();
                    let item = &view.hits[i].item;
                    row.set_selected(view.selected == Some(i));
                    let vanished = item.vanished_at.is_some();
                    let text = |s: &str| {
                        let t = RichText::new(s.to_string());
                        if vanished {
                            t.weak().strikethrough()
                        } else {
                            t
                        }
                    };
                    row.col(|ui| {
                        ui.label(text(&scheduled(&item.scheduled_at)));
                    });
                    row.col(|ui| {
                        ui.label(text(&item.patient_name));
                    });
                    row.col(|ui| {
                        ui.label(text(&item.patient_id));
                    });
                    row.col(|ui| {
                        ui.label(text(&crate::text::iso_date(&item.birth_date)));
                    });
                    row.col(|ui| {
                        ui.label(text(&item.accession));
                    });
                    row.col(|ui| {
                        ui.label(text(&item.modality));
                    });
                    row.col(|ui| {
                        ui.label(text(&item.station_ae));
                    });
                    row.col(|ui| {
                        ui.label(text(&item.procedure));
                    });
                    if row.response().clicked() {
                        clicked = Some(i);
                    }
                });
            });
    });
    if let Some(i) = clicked {
        view.selected = Some(i);
    }
}

/// `20261128093000` → `2026-11-28 09:30`.
fn scheduled(s: &str) -> String {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let d = s.get(..8).unwrap_or(s);
    let t = s.get(8..12).unwrap_or("");
    let mut out = if d.len() == 8 {
        format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])
    } else {
        d.to_string()
    };
    if t.len() == 4 {
        out.push_str(&format!(" {}:{}", &t[..2], &t[2..]));
    }
    out
}

/// Every field of one order.
fn item_ui(ui: &mut egui::Ui, i: &WorklistItem) {
    ui.heading(if i.patient_name.is_empty() {
        "(no name)"
    } else {
        &i.patient_name
    });
    if let Some(at) = &i.vanished_at {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("No longer listed since {at}: {}", i.vanished_why),
        );
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("worklist-item-grid")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                let sched = scheduled(&i.scheduled_at);
                let born = crate::text::iso_date(&i.birth_date);
                let (first, last) = (
                    crate::text::local_time(&i.first_seen),
                    crate::text::local_time(&i.last_seen),
                );
                for (k, v) in [
                    ("Patient ID", i.patient_id.as_str()),
                    ("Issuer of Patient ID", &i.issuer_of_patient_id),
                    ("Other Patient IDs", &i.other_patient_ids),
                    ("Birth date", &born),
                    ("Sex", &i.sex),
                    ("Accession", &i.accession),
                    ("Issuer of Accession", &i.issuer_of_accession),
                    ("Requested Procedure ID", &i.requested_procedure_id),
                    ("Procedure", &i.procedure),
                    ("Procedure code", &i.procedure_code),
                    ("Study Instance UID", &i.study_instance_uid),
                    ("Scheduled", &sched),
                    ("Modality", &i.modality),
                    ("Station AE", &i.station_ae),
                    ("Step ID", &i.sps_id),
                    ("Step description", &i.step_description),
                    ("Protocol code", &i.protocol_code),
                    ("Referring physician", &i.referring_physician),
                    ("Requesting physician", &i.requesting_physician),
                    ("Admission ID", &i.admission_id),
                    ("Source", &i.source),
                    ("First seen", &first),
                    ("Last seen", &last),
                ] {
                    ui.label(RichText::new(k).weak());
                    ui.label(v);
                    ui.end_row();
                }
            });
    });
}
