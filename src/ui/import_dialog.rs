//! The Import dialog: type or browse to a folder, file or DICOMDIR and start an import.
//! Everything that touches the disk (does the path exist, is it a folder, what is in it) runs
//! on a helper thread: a slow network mount or a spinning-up CD must not freeze the desk.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::state::UiCommand;

/// What the helper thread found out about the typed path.
struct Listing {
    /// The text it was asked about.
    asked: String,
    /// Whether that path exists.
    exists: bool,
    /// The folder listed: the path itself, or its parent when it names a file.
    dir: PathBuf,
    entries: Result<Vec<(String, bool)>, String>,
}

pub struct ImportDialog {
    pub open: bool,
    pub path: String,
    listing: Option<Listing>,
    /// The path text last sent to the helper thread.
    requested: Option<String>,
    /// Put the cursor in the path field, text selected, on the next frame (keyboard first).
    focus_path: bool,
    tx: Sender<Listing>,
    rx: Receiver<Listing>,
}

impl Default for ImportDialog {
    fn default() -> Self {
        let (tx, rx) = unbounded();
        ImportDialog {
            open: false,
            path: String::new(),
            listing: None,
            requested: None,
            focus_path: false,
            tx,
            rx,
        }
    }
}

const MAX_ENTRIES: usize = 2000;

impl ImportDialog {
    pub fn open_at(&mut self, start: &Path) {
        self.open = true;
        self.focus_path = true;
        if self.path.is_empty() {
            self.path = start.display().to_string();
        }
    }

    fn request_listing(&mut self, ctx: &egui::Context) {
        let asked = self.path.trim().to_string();
        if self.requested.as_ref() == Some(&asked) {
            return;
        }
        self.requested = Some(asked.clone());
        let tx = self.tx.clone();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let path = PathBuf::from(&asked);
            let exists = !asked.is_empty() && path.exists();
            let dir = if path.is_dir() {
                path
            } else {
                path.parent().map(Path::to_path_buf).unwrap_or(path)
            };
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| e.to_string())
                .map(|rd| {
                    let mut v: Vec<(String, bool)> = rd
                        .flatten()
                        .take(MAX_ENTRIES)
                        .map(|e| {
                            (
                                e.file_name().to_string_lossy().to_string(),
                                e.path().is_dir(),
                            )
                        })
                        .filter(|(n, _)| !n.starts_with('.'))
                        .collect();
                    v.sort_by(|a, b| {
                        b.1.cmp(&a.1)
                            .then(a.0.to_lowercase().cmp(&b.0.to_lowercase()))
                    });
                    v
                });
            let _ = tx.send(Listing {
                asked,
                exists,
                dir,
                entries,
            });
            ctx.request_repaint();
        });
    }

    /// Whether the helper found the path as it is typed now (unknown until it answered).
    pub fn path_found(&self) -> Option<bool> {
        self.listing
            .as_ref()
            .filter(|l| l.asked == self.path.trim())
            .map(|l| l.exists)
    }

    /// Draws the dialog when open; returns the import to start, if the user asked for one.
    pub fn ui(&mut self, ctx: &egui::Context) -> Vec<UiCommand> {
        let mut commands = Vec::new();
        if !self.open {
            return commands;
        }
        while let Ok(l) = self.rx.try_recv() {
            // Answers for text typed since are stale; the newest request wins.
            if self.requested.as_ref() == Some(&l.asked) {
                self.listing = Some(l);
            }
        }
        self.request_listing(ctx);
        let modal = egui::Modal::new(egui::Id::unique("import-dialog")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading("Import DICOM");
            ui.label("A folder (read recursively), a single file, or a CD/DVD with a DICOMDIR.");
            ui.add_space(6.0);
            let mut start = false;
            ui.horizontal(|ui| {
                let label = ui.label("Path to import:");
                let edit = egui::TextEdit::singleline(&mut self.path)
                    .desired_width(400.0)
                    .hint_text("/media/cdrom");
                let resp = ui.add(edit).labelled_by(label.id);
                if std::mem::take(&mut self.focus_path) {
                    resp.request_focus();
                    if let Some(mut st) = egui::TextEdit::load_state(ui.ctx(), resp.id) {
                        st.cursor
                            .set_char_range(Some(egui::text::CCursorRange::select_all_str(
                                &self.path,
                            )));
                        st.store(ui.ctx(), resp.id);
                    }
                }
                if resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    start = true;
                }
            });
            // Fixed size: the dialog must not move under the pointer when a listing arrives.
            let shown = self
                .listing
                .as_ref()
                .map(|l| l.dir.display().to_string())
                .unwrap_or_else(|| "…".into());
            ui.label(egui::RichText::new(shown).weak());
            egui::ScrollArea::vertical()
                .max_height(260.0)
                .min_scrolled_height(260.0)
                .auto_shrink(false)
                .show(ui, |ui| {
                    let Some(l) = &self.listing else {
                        ui.spinner();
                        return;
                    };
                    if let Some(parent) = l.dir.parent()
                        && ui.selectable_label(false, ".. (parent folder)").clicked()
                    {
                        self.path = parent.display().to_string();
                    }
                    match &l.entries {
                        Err(e) => {
                            ui.colored_label(
                                egui::Color32::from_rgb(190, 30, 45),
                                format!("Cannot list this folder: {e}"),
                            );
                        }
                        Ok(entries) => {
                            let mut clicked = None;
                            for (name, is_dir) in entries {
                                let text = if *is_dir {
                                    format!("{name}/")
                                } else {
                                    name.clone()
                                };
                                if ui.selectable_label(false, text).clicked() {
                                    clicked = Some(l.dir.join(name));
                                }
                            }
                            if entries.len() >= MAX_ENTRIES {
                                ui.label(format!("(first {MAX_ENTRIES} entries shown)"));
                            }
                            if let Some(p) = clicked {
                                self.path = p.display().to_string();
                            }
                        }
                    }
                });
            ui.add_space(6.0);
            let exists = self.path_found();
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(exists == Some(true), egui::Button::new("Import"))
                    .clicked()
                {
                    start = true;
                }
                if ui.button("Cancel").clicked() {
                    self.open = false;
                }
                match exists {
                    Some(false) if !self.path.trim().is_empty() => {
                        ui.label(egui::RichText::new("no such file or folder").weak());
                    }
                    None => {
                        ui.label(egui::RichText::new("checking…").weak());
                    }
                    _ => {}
                }
            });
            // Enter before the helper answered: the import job reports a missing path itself.
            if start && exists != Some(false) && !self.path.trim().is_empty() {
                commands.push(UiCommand::Import(vec![PathBuf::from(self.path.trim())]));
                self.open = false;
            }
        });
        if modal.should_close() {
            self.open = false;
        }
        commands
    }
}
