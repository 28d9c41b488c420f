//! The desk's keyboard: queue navigation, the views, import, reload, and the keys of
//! corrections (see `correct_ui::correction_keys`), turned into commands.

use std::path::PathBuf;

use egui::{Key, KeyboardShortcut, Modifiers};

use super::super::state::{UiCommand, View};
use super::DeskApp;

impl DeskApp {
    /// Keyboard: arrows/PageUp/PageDown/Home/End move the selection, Enter opens the detail,
    /// Ctrl+F focuses the search, Escape clears it, Ctrl+I imports, F5 reloads.
    pub(super) fn keys(&mut self, ctx: &egui::Context) -> Vec<UiCommand> {
        if self.import_dialog.open {
            return Vec::new();
        }
        let mut out = Vec::new();
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
