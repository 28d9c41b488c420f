//! The question asked before a study that is not matched and whole leaves for the archive:
//! what is wrong with it, by file, and what its transfer will say once sent.

use egui::RichText;

use super::state::UiCommand;
use crate::send::readiness::Readiness;

/// A send waiting for the user's word.
#[derive(Debug, Clone, PartialEq)]
pub struct SendConfirm {
    pub study: i64,
    pub patient: String,
    pub node: String,
    /// What is wrong, a line each.
    pub problems: Vec<String>,
    /// What the transfer will carry beside its state.
    pub caveat: String,
}

impl SendConfirm {
    pub fn new(study: i64, patient: &str, node: &str, readiness: &Readiness) -> SendConfirm {
        SendConfirm {
            study,
            patient: patient.to_string(),
            node: node.to_string(),
            problems: readiness.describe(),
            caveat: readiness.caveat(),
        }
    }
}

/// The window; Send anyway and Cancel are its only ways out (Escape cancels).
pub fn send_confirm_ui(ctx: &egui::Context, confirm: Option<&SendConfirm>) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let Some(c) = confirm else {
        return out;
    };
    let warn = ctx.global_style().visuals.warn_fg_color;
    egui::Window::new(format!("Send study {} to {}?", c.study, c.node))
        .collapsible(false)
        .resizable(false)
        .default_width(520.0)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(
                RichText::new(format!(
                    "{} is not ready for the archive:",
                    if c.patient.is_empty() {
                        "This study"
                    } else {
                        &c.patient
                    }
                ))
                .strong(),
            );
            for p in &c.problems {
                ui.label(RichText::new(format!("• {p}")).color(warn));
            }
            ui.add_space(6.0);
            ui.label(format!(
                "Sent anyway, its transfer will say so: \"{}\".",
                c.caveat
            ));
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if ui.button("Cancel").clicked() {
                    out.push(UiCommand::CancelSend);
                }
                if ui
                    .button(RichText::new("Send anyway").color(warn))
                    .on_hover_text("Send the study as it is; the transfer records what was wrong")
                    .clicked()
                {
                    out.push(UiCommand::ConfirmSend);
                }
            });
        });
    out
}
