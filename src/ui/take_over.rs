//! The question asked before taking a study over from the Associate handling it: who, since
//! when, and the reason the audit log keeps.

use egui::RichText;

use super::state::UiCommand;
use super::team_data::TakeOver;

/// The window; Take over (with a reason) and Cancel are its only ways out (Escape cancels).
pub fn take_over_ui(ctx: &egui::Context, ask: Option<&mut TakeOver>) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let Some(t) = ask else {
        return out;
    };
    let warn = ctx.global_style().visuals.warn_fg_color;
    egui::Window::new(format!("Study {} is being handled", t.claim.study))
        .collapsible(false)
        .resizable(false)
        .default_width(480.0)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(
                RichText::new(format!(
                    "Being handled by {} since {}.",
                    t.claim.display(),
                    crate::text::local_clock(t.claim.since_unix)
                ))
                .strong(),
            );
            ui.label(format!(
                "Their claim lasts until {} unless their desk renews it.",
                crate::text::local_clock(t.claim.until_unix)
            ));
            ui.add_space(6.0);
            ui.label(
                RichText::new(
                    "Taking it over closes what they have open on it: a correction they are \
                     about to apply is refused.",
                )
                .color(warn),
            );
            ui.add_space(6.0);
            ui.label("Reason (kept in the audit log):");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut t.reason)
                    .hint_text("e.g. desk left open overnight")
                    .desired_width(f32::INFINITY),
            );
            let ready = !t.reason.trim().is_empty();
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if ui.button("Cancel").clicked() {
                    out.push(UiCommand::CancelTakeOver);
                }
                let take = ui
                    .add_enabled(
                        ready,
                        egui::Button::new(RichText::new("Take over").color(warn)),
                    )
                    .on_disabled_hover_text("Give the reason first");
                if take.clicked()
                    || (ready && edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)))
                {
                    out.push(UiCommand::TakeOver {
                        study: t.claim.study,
                        reason: t.reason.trim().to_string(),
                    });
                }
            });
        });
    out
}
