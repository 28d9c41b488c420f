//! The transfers window: every send job with its progress, state, proof and per-instance
//! failures in words, with Retry and Cancel.

use egui::RichText;

use super::network_data::NetworkData;
use super::state::UiCommand;
use super::theme::state_color;
use crate::model::{SendState, StudyState};

/// The color a send state is drawn in: a caveat (what was sent was not right) turns even
/// "verified" amber.
pub fn send_state_color(state: SendState, caveat: &str, dark: bool) -> egui::Color32 {
    match state {
        SendState::Verified | SendState::Sent if !caveat.is_empty() => {
            state_color(StudyState::Nonconformant, dark)
        }
        SendState::Verified => state_color(StudyState::Matched, dark),
        SendState::Failed => state_color(StudyState::Broken, dark),
        SendState::Sent => state_color(StudyState::Nonconformant, dark),
        _ => state_color(StudyState::Unmatched, dark),
    }
}

/// What a send state means, for hover texts.
pub fn send_state_hint(state: SendState) -> &'static str {
    match state {
        SendState::Queued => "Queued for the archive",
        SendState::Sending => "Being sent",
        SendState::Verifying => "Sent; waiting for the archive's proof of arrival",
        SendState::Sent => "Sent, but the archive offers no way to prove it arrived",
        SendState::Verified => "Every instance arrived: proven by Storage Commitment or a query",
        SendState::Failed => "Not every instance arrived: see Transfers",
        SendState::Cancelled => "Cancelled",
    }
}

pub fn transfers_window_ui(ctx: &egui::Context, data: &mut NetworkData) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    let mut open = data.window_open;
    egui::Window::new("Transfers")
        .open(&mut open)
        .default_size([760.0, 360.0])
        .show(ctx, |ui| {
            if data.transfers.is_empty() {
                ui.label("Nothing sent yet. Select a study and press Send in its details.");
                return;
            }
            let dark = ui.visuals().dark_mode;
            egui::ScrollArea::vertical().show(ui, |ui| {
                egui::Grid::new("transfers")
                    .num_columns(6)
                    .striped(true)
                    .spacing([10.0, 4.0])
                    .show(ui, |ui| {
                        for h in ["Job", "Study", "Archive", "Progress", "State", ""] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for t in &data.transfers {
                            ui.label(t.job.to_string());
                            ui.label(format!("{} {}", t.patient_id, t.accession))
                                .on_hover_text(&t.study_instance_uid);
                            ui.label(&t.node);
                            let (done, total) = match data.progress.get(&t.job) {
                                Some(p) => (p.done as i64, p.total as i64),
                                None => (t.sent + t.failed, t.instances),
                            };
                            let frac = if total > 0 {
                                done as f32 / total as f32
                            } else {
                                0.0
                            };
                            ui.add(egui::ProgressBar::new(frac).desired_width(160.0).text(
                                format!("{} of {} sent", t.sent.max(done - t.failed), total),
                            ));
                            let proof = t
                                .proof
                                .as_deref()
                                .map(|p| format!(" ({})", p.replace('_', " ")))
                                .unwrap_or_default();
                            let caveat = if t.caveat.is_empty() {
                                String::new()
                            } else {
                                format!(", {}", t.caveat)
                            };
                            ui.label(
                                RichText::new(format!("{}{caveat}{proof}", t.state))
                                    .color(send_state_color(t.state, &t.caveat, dark)),
                            )
                            .on_hover_text(send_state_hint(t.state));
                            ui.horizontal(|ui| {
                                if matches!(t.state, SendState::Failed | SendState::Cancelled)
                                    && ui.small_button("Retry").clicked()
                                {
                                    commands.push(UiCommand::RetryTransfer(t.job));
                                }
                                if !t.state.is_final() && ui.small_button("Cancel").clicked() {
                                    commands.push(UiCommand::CancelTransfer(t.job));
                                }
                            });
                            ui.end_row();
                            if !t.last_error.is_empty()
                                || !t.failures.is_empty()
                                || !t.stale.is_empty()
                            {
                                ui.label("");
                                ui.vertical(|ui| {
                                    if !t.stale.is_empty() {
                                        ui.label(
                                            RichText::new(crate::send::stale::describe(&t.stale))
                                                .color(send_state_color(
                                                    SendState::Sending,
                                                    "",
                                                    dark,
                                                )),
                                        )
                                        .on_hover_text(
                                            "The archive still holds the study under an identity \
                                             it no longer has; `qcdesk stale` checks again",
                                        );
                                    }
                                    if !t.last_error.is_empty() {
                                        ui.label(
                                            RichText::new(&t.last_error).color(send_state_color(
                                                SendState::Failed,
                                                "",
                                                dark,
                                            )),
                                        );
                                    }
                                    for f in t.failures.iter().take(5) {
                                        ui.label(format!(
                                            "{} {} {}",
                                            f.sop_instance_uid,
                                            f.status.as_deref().unwrap_or(""),
                                            f.message
                                        ));
                                    }
                                    if t.failures.len() > 5 {
                                        ui.label(format!("… {} more", t.failures.len() - 5));
                                    }
                                });
                                ui.end_row();
                            }
                        }
                    });
            });
        });
    data.window_open = open;
    commands
}
