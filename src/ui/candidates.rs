//! The candidate orders of a study not yet matched, as the matching ranked them: score,
//! the order in a line, and each point of the score with its reason on demand.

use egui::RichText;

use crate::model::StudyState;

use super::state::UiCommand;
use super::theme::state_color;

pub use crate::reconcile::learn::StudyCandidates;

pub fn candidates_ui(ui: &mut egui::Ui, c: &StudyCandidates) -> Vec<UiCommand> {
    let mut out = Vec::new();
    ui.label(RichText::new("Candidate orders").strong());
    if c.ranking.candidates.is_empty() {
        ui.label("No order in the worklist cache fits this study.");
        return out;
    }
    let dark = ui.visuals().dark_mode;
    for (n, (cand, order)) in c.ranking.candidates.iter().zip(&c.orders).enumerate() {
        let clear = c.ranking.auto_match.as_deref() == Some(cand.accession.as_str()) && n == 0;
        ui.horizontal_wrapped(|ui| {
            let color = if clear {
                state_color(StudyState::Matched, dark)
            } else if cand.ambiguous {
                state_color(StudyState::Mismatch, dark)
            } else {
                ui.visuals().text_color()
            };
            ui.label(
                RichText::new(format!("{:>3}%", cand.score))
                    .monospace()
                    .color(color),
            )
            .on_hover_text(format!(
                "How likely this is the study's order, given the evidence ({:+.1} bits) and that \
                 its order may not be in the cache",
                cand.weight
            ));
            ui.label(RichText::new(&cand.accession).strong());
            ui.label(format!(
                "{} {} · {} · {}",
                order.patient_name,
                order.patient_id,
                crate::text::iso_date(order.scheduled_at.get(..8).unwrap_or_default()),
                order.procedure
            ));
            if clear {
                ui.label(RichText::new("clear match").color(color))
                    .on_hover_text("Far more likely than any other, and who the patient is agrees");
            } else if cand.ambiguous {
                ui.label(RichText::new("as likely as another: decide").color(color));
            }
            let hint = if n == 0 {
                "See every change applying this order makes, then confirm (Enter)"
            } else {
                "See every change applying this order makes, then confirm"
            };
            if ui.button("Apply…").on_hover_text(hint).clicked() {
                out.push(UiCommand::PreviewOrder {
                    study: c.study,
                    order: Box::new(order.clone()),
                });
            }
        });
        egui::CollapsingHeader::new(format!("Why {} is {}% likely", cand.accession, cand.score))
            .id_salt(("candidate", c.study, n))
            .show(ui, |ui| {
                for r in &cand.reasons {
                    ui.label(format!("{:+.1}  {}", r.weight, r.detail));
                }
            });
    }
    out
}
