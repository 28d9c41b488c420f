//! The desk's keyboard: queue navigation, the views, import, reload, and the keys of
//! corrections (see `correct_ui::correction_keys`), turned into commands.

use std::path::PathBuf;

use egui::{Key, KeyboardShortcut, Modifiers};

use super::super::state::{UiCommand, View};
use super::DeskApp;

impl DeskApp {
    /// Keyboard: arrows/PageUp/PageDown/Home/End move the selection, Enter opens the detail,
    /// Ctrl+F focuses the search, Escape closes the topmost window or clears the search,
    /// Ctrl+I imports, F5 reloads, `?`/F1 lists every key (`key_help::KEYS`).
    pub(super) fn keys(&mut self, ctx: &egui::Context) -> Vec<UiCommand> {
        if self.import_dialog.open {
            return Vec::new();
        }
        let mut out = Vec::new();
        // Escape closes the topmost window before it means anything to what lies behind it
        // (the search field, the viewer).
        if let Some(cmd) = self.escape_closes_window(ctx) {
            out.extend(cmd);
            return out;
        }
        // `?` (typed, so any layout) and F1 show every key; not while typing in a field.
        let typing = ctx.egui_wants_keyboard_input();
        let asked = ctx.input_mut(|i| {
            let f1 = i.consume_key(Modifiers::NONE, Key::F1);
            let question = !typing
                && i.events
                    .iter()
                    .any(|e| matches!(e, egui::Event::Text(t) if t == "?"));
            f1 || question
        });
        if asked {
            self.key_help = !self.key_help;
            return out;
        }
        // A question on screen takes the keyboard: no key acts on the queue behind it.
        if self.rt.send_confirm.is_some() || self.key_help {
            return out;
        }
        if let Some(v) = &mut self.viewer {
            if v.keys(ctx) {
                out.push(UiCommand::CloseViewer);
            }
            return out;
        }
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::F)) {
                out.push(UiCommand::FocusSearch);
            }
            for (key, view) in [
                (Key::Num1, View::Queue),
                (Key::Num2, View::Worklist),
                (Key::Num3, View::Reports),
            ] {
                if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, key)) {
                    out.push(UiCommand::ShowView(view));
                }
            }
        });
        if self.state.view == View::Worklist {
            self.worklist_keys(ctx);
            return out;
        }
        if self.state.view == View::Reports {
            return out;
        }
        let detail_shown = self.state.show_detail;
        if let Some(c) = super::super::correct_ui::correction_keys(
            ctx,
            &self.rt,
            self.state.selected,
            detail_shown,
        ) {
            out.extend(c);
            return out;
        }
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::I)) {
                out.push(UiCommand::OpenImportDialog);
            }
            for (key, delta) in [
                (Key::ArrowDown, 1),
                (Key::ArrowUp, -1),
                (Key::PageDown, 20),
                (Key::PageUp, -20),
                (Key::End, isize::MAX / 2),
                (Key::Home, -(isize::MAX / 2)),
            ] {
                if i.consume_key(Modifiers::NONE, key) {
                    out.push(UiCommand::MoveSelection(delta));
                }
            }
            if i.consume_key(Modifiers::NONE, Key::Enter) {
                out.push(UiCommand::OpenDetail);
            }
            if i.consume_key(Modifiers::NONE, Key::F5) {
                out.push(UiCommand::Reload);
            }
        });
        if ctx.input(|i| i.key_pressed(Key::Escape)) && !self.state.search.is_empty() {
            self.state.search.clear();
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if !dropped.is_empty() {
            out.push(UiCommand::Import(dropped));
        }
        out
    }

    /// The window Escape closes, topmost first: the confirmation of a correction, the edit
    /// form, the actions window, then the tool windows. `None` when no window is open (the key
    /// is then left for the rest of the desk).
    fn escape_closes_window(&mut self, ctx: &egui::Context) -> Option<Vec<UiCommand>> {
        let c = &self.rt.correct;
        let any = self.key_help
            || self.rt.team.take_over.is_some()
            || self.rt.send_confirm.is_some()
            || self.rt.bulk.is_some()
            || c.pending.is_some()
            || c.edit.is_some()
            || c.actions.is_some()
            || self.rt.network.window_open
            || self.rt.node_map.open
            || self.rt.rejects.is_some()
            || self.nodes_window.open;
        if !any || !ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
            return None;
        }
        let c = &self.rt.correct;
        let cmd = if self.key_help {
            self.key_help = false;
            Vec::new()
        } else if self.rt.team.take_over.is_some() {
            vec![UiCommand::CancelTakeOver]
        } else if self.rt.send_confirm.is_some() {
            vec![UiCommand::CancelSend]
        } else if self.rt.bulk.is_some() {
            vec![UiCommand::CancelBulkOrders]
        } else if c.pending.is_some() {
            vec![UiCommand::CancelCorrection]
        } else if c.edit.is_some() {
            vec![UiCommand::CloseEdit]
        } else if c.actions.is_some() {
            vec![UiCommand::CloseActions]
        } else {
            if self.rt.network.window_open {
                self.rt.network.window_open = false;
            } else if self.rt.node_map.open {
                self.rt.node_map.open = false;
            } else if self.rt.rejects.is_some() {
                self.rt.rejects = None;
            } else {
                self.nodes_window.open = false;
            }
            Vec::new()
        };
        Some(cmd)
    }

    /// Up/Down move through the orders found, Escape clears the search.
    fn worklist_keys(&mut self, ctx: &egui::Context) {
        let v = &mut self.worklist_view;
        ctx.input_mut(|i| {
            for (key, delta) in [(Key::ArrowDown, 1isize), (Key::ArrowUp, -1)] {
                if i.consume_key(Modifiers::NONE, key) && !v.hits.is_empty() {
                    let last = v.hits.len() as isize - 1;
                    let at = v
                        .selected
                        .map_or(0, |s| (s as isize + delta).clamp(0, last));
                    v.selected = Some(at as usize);
                }
            }
            if i.key_pressed(Key::Escape) {
                v.query.clear();
            }
        });
    }
}
