//! The window listing the files that could not be taken in at all, with why.

use crate::store::Reject;

/// The files that could not be taken in at all, with why.
pub fn rejects_window_ui(ctx: &egui::Context, rejects: &mut Option<Vec<Reject>>) {
    let Some(list) = rejects.as_ref() else {
        return;
    };
    let mut open = true;
    egui::Window::new("Unreadable files")
        .open(&mut open)
        .default_width(720.0)
        // Below the top bar, whose buttons stay in reach.
        .default_pos([60.0, 90.0])
        .show(ctx, |ui| {
            ui.label(format!(
                "{} files could not be read; nothing of them is in the store.",
                list.len()
            ));
            egui::ScrollArea::vertical()
                .max_height(400.0)
                .show(ui, |ui| {
                    egui::Grid::new("rejects")
                        .striped(true)
                        .num_columns(3)
                        .show(ui, |ui| {
                            for r in list {
                                ui.label(&r.path);
                                ui.label(&r.reason);
                                let when = if r.times > 1 {
                                    format!("{} (tried {} times)", r.at, r.times)
                                } else {
                                    r.at.clone()
                                };
                                ui.label(egui::RichText::new(when).weak());
                                ui.end_row();
                            }
                        });
                });
        });
    if !open {
        *rejects = None;
    }
}
