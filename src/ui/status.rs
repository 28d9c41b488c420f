//! The status bar: counts per state, running jobs with progress, notifications.

use egui::RichText;

use super::runtime::{Level, Runtime};
use super::state::UiCommand;
use super::theme::state_color;
use crate::model::StudyState;

pub fn status_bar_ui(ui: &mut egui::Ui, rt: &Runtime) -> Vec<UiCommand> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        let dark = ui.visuals().dark_mode;
        ui.label(format!("{} studies", rt.stats.studies));
        for (st, n) in &rt.stats.by_state {
            if *n > 0 {
                ui.label(
                    RichText::new(format!("{} {}", n, st.as_str())).color(state_color(*st, dark)),
                );
            }
        }
        ui.separator();
        ui.label(format!("{} orders in worklist", rt.stats.worklist));
        if rt.stats.rejects > 0 {
            ui.separator();
            let text = RichText::new(format!("{} unreadable files", rt.stats.rejects))
                .color(state_color(StudyState::Broken, dark));
            if ui
                .link(text)
                .on_hover_text("Show the files that could not be read")
                .clicked()
            {
                commands.push(UiCommand::ShowRejects);
            }
        }
        ui.separator();
        ui.label(format!("showing {}", rt.view.len()));
        for job in rt.running.values() {
            ui.separator();
            match job.total {
                Some(t) if t > 0 => {
                    let frac = job.done as f32 / t as f32;
                    ui.add(
                        egui::ProgressBar::new(frac)
                            .desired_width(220.0)
                            .text(format!("{}: {}/{}", job.title, job.done, t)),
                    );
                }
                _ => {
                    ui.add(
                        egui::ProgressBar::new(0.0)
                            .animate(true)
                            .desired_width(220.0)
                            .text(job.title.as_str()),
                    );
                }
            }
        }
    });
    if let Some((i, n)) = rt.notifications.iter().enumerate().next_back() {
        ui.horizontal(|ui| {
            let color = match n.level {
                Level::Error => state_color(StudyState::Broken, ui.visuals().dark_mode),
                Level::Info => ui.visuals().text_color(),
            };
            ui.label(RichText::new(&n.text).color(color));
            if ui.small_button("Dismiss").clicked() {
                commands.push(UiCommand::DismissNotification(i));
            }
        });
    }
    commands
}
