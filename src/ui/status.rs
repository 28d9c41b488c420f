//! The status bar: counts per state, running jobs with progress, notifications.

use egui::RichText;

use super::runtime::{Level, Runtime};
use super::state::UiCommand;
use super::theme::state_color;
use crate::model::StudyState;

/// The receiver's light and switch, and who sent last.
fn receiver_ui(ui: &mut egui::Ui, rt: &Runtime, commands: &mut Vec<UiCommand>) {
    let dark = ui.visuals().dark_mode;
    match &rt.network.receiver {
        Some(r) => {
            ui.label(RichText::new("●").color(state_color(StudyState::Matched, dark)))
                .on_hover_text("The receiver is on");
            let busy = match r.active() {
                0 => String::new(),
                n => format!(", {n} sending"),
            };
            ui.label(format!("Receiving as {}:{}{busy}", r.ae_title(), r.port()));
            if let Some(s) = &rt.network.last_sender {
                ui.label(
                    RichText::new(format!(
                        "last: {} ({} instances)",
                        s.calling_ae, s.instances
                    ))
                    .weak(),
                )
                .on_hover_text(format!("{} at {}", s.peer_address, s.at));
            }
            if ui.small_button("Stop").clicked() {
                commands.push(UiCommand::ToggleReceiver);
            }
        }
        None => {
            let light = ui
                .label(RichText::new("○").weak())
                .on_hover_text("The receiver is off");
            if let Some(e) = &rt.network.receiver_error {
                light.on_hover_text(e);
            }
            if ui
                .small_button("Start receiver")
                .on_hover_text("Accept studies sent to qcdesk's AE title and port (Nodes…)")
                .clicked()
            {
                commands.push(UiCommand::ToggleReceiver);
            }
        }
    }
    ui.separator();
}

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
        if rt.stats.dismissed > 0 {
            ui.label(RichText::new(format!("{} dismissed", rt.stats.dismissed)).italics())
                .on_hover_text("Resolved without change; shown in the queue with \"Dismissed\"");
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
        ui.separator();
        receiver_ui(ui, rt, &mut commands);
        let active = rt.network.active();
        let text = if active > 0 {
            format!("Transfers ({active} under way)")
        } else {
            "Transfers".to_string()
        };
        if ui
            .link(text)
            .on_hover_text("Studies sent to archives, with proof of arrival")
            .clicked()
        {
            commands.push(UiCommand::OpenTransfers);
        }
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
            // Not "Dismiss": that word is a study's resolution here.
            if ui
                .small_button("×")
                .on_hover_text("Hide this message")
                .clicked()
            {
                commands.push(UiCommand::DismissNotification(i));
            }
        });
    }
    commands
}
