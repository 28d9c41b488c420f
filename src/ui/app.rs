//! The desk application: `logic()` applies job events, `ui()` draws the panels and collects
//! commands, and the commands run after the frame (egui_demo_app / rerun's split).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::detail::study_ui;
use super::import_dialog::ImportDialog;
use super::nodes_window::{NodesWindow, nodes_window_ui};
use super::queue::queue_ui;
use super::rejects_window::rejects_window_ui;
use super::runtime::{Level, Runtime};
use super::screenshot::{ScreenshotOutcome, ScreenshotTask};
use super::state::{DeskState, SortColumn, UiCommand, View};
use super::status::status_bar_ui;
use super::theme;
use super::viewer::{Viewer, viewer_ui};
use super::worklist_view::{WorklistView, worklist_ui};

mod correct_commands;
mod keys;
mod queue_filters;
mod report_commands;
use crate::model::StudyState;
use crate::store::Store;

/// How long a keyboard selection must rest before its detail loads.
const DETAIL_DELAY: Duration = Duration::from_millis(120);

pub struct DeskApp {
    pub state: DeskState,
    pub rt: Runtime,
    pub import_dialog: ImportDialog,
    search_id: egui::Id,
    scroll_to: Option<usize>,
    applied_dark: Option<bool>,
    screenshot: Option<ScreenshotTask>,
    /// When the selected study's detail is to be loaded (keyboard navigation waits a little).
    detail_due: Option<Instant>,
    /// The series viewer, when open (it takes the queue's place).
    pub viewer: Option<Viewer>,
    pub worklist_view: WorklistView,
    pub nodes_window: NodesWindow,
    pub reports_view: super::reports_view::ReportsView,
    /// The keyboard overlay (`?`, F1).
    pub key_help: bool,
}

impl DeskApp {
    /// `restore`: read the saved filters and theme (off for screenshots and tests).
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        workspace: PathBuf,
        store: Store,
        restore: bool,
    ) -> DeskApp {
        theme::install_fonts(&cc.egui_ctx);
        let state = if restore {
            cc.storage
                .and_then(|s| eframe::get_value::<DeskState>(s, eframe::APP_KEY))
                .unwrap_or_default()
        } else {
            DeskState::default()
        };
        let ctx = cc.egui_ctx.clone();
        let mut rt = Runtime::new(workspace, store, move || ctx.request_repaint());
        rt.load_queue();
        rt.load_worklist();
        rt.load_transfers();
        // Jobs a crash or another process left queued resume here.
        rt.start_send_runner();
        if let Some(id) = state.selected {
            rt.load_study(id);
        }
        DeskApp {
            state,
            rt,
            import_dialog: ImportDialog::default(),
            search_id: egui::Id::unique("queue-search"),
            scroll_to: None,
            applied_dark: None,
            screenshot: None,
            detail_due: None,
            viewer: None,
            worklist_view: WorklistView::default(),
            reports_view: Default::default(),
            nodes_window: NodesWindow::default(),
            key_help: false,
        }
    }

    /// Saves a PNG of the window to `path` once the queue and the selected study have drawn,
    /// then closes the window. The outcome is written to `outcome`.
    pub fn with_screenshot(mut self, path: PathBuf, outcome: ScreenshotOutcome) -> DeskApp {
        self.screenshot = Some(ScreenshotTask::new(path, outcome));
        self
    }

    fn selected_position(&self) -> Option<usize> {
        self.state.selected.and_then(|id| self.rt.view_position(id))
    }

    /// Selects a study as a click does (`--select`, and tests driving the desk).
    pub fn select_for_test(&mut self, id: i64) {
        self.select(id);
    }

    /// The windows acting on one study close when another is selected: nothing stays open
    /// on a study the detail no longer shows.
    fn close_windows_of_others(&mut self, id: i64) {
        let c = &mut self.rt.correct;
        if c.edit.as_ref().is_some_and(|f| f.study != id) {
            c.edit = None;
        }
        if c.actions.as_ref().is_some_and(|f| f.study != id) {
            c.actions = None;
        }
        if c.pending.as_ref().is_some_and(|p| p.study != id) {
            c.pending = None;
        }
        if self.rt.send_confirm.as_ref().is_some_and(|s| s.study != id) {
            self.rt.send_confirm = None;
        }
        if self
            .rt
            .team
            .take_over
            .as_ref()
            .is_some_and(|t| t.claim.study != id)
        {
            self.rt.team.take_over = None;
        }
    }

    fn select(&mut self, id: i64) {
        self.close_windows_of_others(id);
        if self.state.selected != Some(id) {
            self.state.selected = Some(id);
            self.rt.detail = None;
            self.detail_due = None;
            self.rt.load_study(id);
        }
    }

    /// Selection by keyboard: the detail loads once the selection rests, so holding an arrow
    /// key through the queue does not start a database load per row.
    fn select_soon(&mut self, id: i64) {
        self.close_windows_of_others(id);
        if self.state.selected != Some(id) {
            self.state.selected = Some(id);
            self.rt.detail = None;
            self.detail_due = Some(Instant::now() + DETAIL_DELAY);
        }
    }

    /// Selection is truth: the detail only ever shows a study of the current view. When a
    /// filter, a search or a reload hides the selected study, the first row of the view is
    /// selected instead (or nothing, when the view is empty); the selected row is kept in view.
    fn keep_selection_in_view(&mut self) {
        // Marks follow the view too: a batch never holds a study the queue does not show.
        if !self.state.marked.is_empty() {
            let rt = &self.rt;
            self.state
                .marked
                .retain(|id| rt.view_position(*id).is_some());
        }
        if let Some(pos) = self.selected_position() {
            self.scroll_to = Some(pos);
            return;
        }
        match self.rt.view.first() {
            Some(&first) => {
                let id = self.rt.rows[first].id;
                self.select(id);
                self.scroll_to = Some(0);
            }
            None => {
                self.close_windows_of_others(-1);
                self.state.selected = None;
                self.rt.detail = None;
                self.detail_due = None;
            }
        }
    }

    fn run_command(&mut self, ctx: &egui::Context, cmd: UiCommand) {
        match cmd {
            UiCommand::Select(id) => self.select(id),
            UiCommand::MoveSelection(delta) => {
                if self.rt.view.is_empty() {
                    return;
                }
                let last = self.rt.view.len() as isize - 1;
                let pos = match self.selected_position() {
                    Some(p) => (p as isize + delta).clamp(0, last),
                    None => 0,
                } as usize;
                let id = self.rt.rows[self.rt.view[pos]].id;
                self.select_soon(id);
                self.scroll_to = Some(pos);
            }
            UiCommand::OpenViewer { series, instance } => self.open_viewer(series, instance),
            UiCommand::CloseViewer => self.viewer = None,
            UiCommand::OpenDetail => {
                // Enter on a study whose detail is shown opens its first series with images.
                if self.state.show_detail
                    && let Some(d) = &self.rt.detail
                    && Some(d.row.id) == self.state.selected
                    && self.detail_due.is_none()
                {
                    if let Some(s) = d
                        .series_list
                        .iter()
                        .find(|s| s.instances.iter().any(|i| i.has_pixel_data))
                    {
                        let id = s.id;
                        self.open_viewer(id, None);
                    }
                    return;
                }
                self.state.show_detail = true;
                if let Some(id) = self.state.selected
                    && self.rt.detail.as_ref().is_none_or(|d| d.row.id != id)
                {
                    self.detail_due = None;
                    self.rt.load_study(id);
                }
            }
            UiCommand::Import(paths) => {
                if self.rt.import_running() {
                    self.rt.notify(
                        Level::Error,
                        "An import is already running; wait for it to finish.",
                    );
                } else {
                    self.rt.import(paths);
                }
            }
            UiCommand::OpenImportDialog => {
                let start = std::env::current_dir().unwrap_or_else(|_| self.rt.workspace.clone());
                self.import_dialog.open_at(&start);
            }
            UiCommand::SetSort(col) => {
                if self.state.sort == col {
                    self.state.ascending = !self.state.ascending;
                } else {
                    self.state.sort = col;
                    // Oldest first for age, most severe first for state, A→Z otherwise.
                    self.state.ascending = col != SortColumn::Age;
                }
            }
            UiCommand::ToggleTheme => self.state.dark = !self.state.dark,
            UiCommand::Reload => {
                self.rt.load_queue();
                self.rt.load_worklist();
                if let Some(id) = self.state.selected {
                    self.rt.load_study(id);
                }
            }
            UiCommand::DismissNotification(i) => {
                if i < self.rt.notifications.len() {
                    self.rt.notifications.remove(i);
                }
            }
            UiCommand::ShowRejects => self.rt.load_rejects(),
            UiCommand::FocusSearch => {
                let id = match self.state.view {
                    View::Queue | View::Reports => self.search_id,
                    View::Worklist => self.worklist_view.search_id,
                };
                ctx.memory_mut(|m| m.request_focus(id));
            }
            UiCommand::ShowView(v) => {
                self.state.view = v;
                self.viewer = None;
                if v == View::Reports {
                    self.rt
                        .load_report(self.reports_view.days, self.reports_view.by);
                }
            }
            cmd @ (UiCommand::LoadReport
            | UiCommand::ShowGroupInQueue(..)
            | UiCommand::ShowStudiesInQueue(..)
            | UiCommand::OpenNodeMap) => self.report_command(cmd),
            UiCommand::SyncWorklist(node) => self.rt.sync_worklist(node),
            UiCommand::OpenNodes => {
                self.nodes_window.show();
                self.rt.load_worklist();
            }
            UiCommand::EchoNode(n) => self.rt.echo_node(n),
            UiCommand::SaveNode(n) => self.rt.save_node(n),
            UiCommand::RemoveNode(n) => self.rt.remove_node(n),
            UiCommand::SetLocalAe(ae) => self.rt.set_local_ae(ae),
            UiCommand::SendStudy { study, node } => self.send_study(study, node),
            UiCommand::ConfirmSend => {
                if let Some(c) = self.rt.send_confirm.take() {
                    self.rt.send_studies(vec![(c.study, c.caveat)], c.node);
                }
            }
            UiCommand::CancelSend => self.rt.send_confirm = None,
            UiCommand::AskTakeOver(study) => {
                if let Some(c) = self.rt.held_by_other(study) {
                    self.rt.ask_take_over(c);
                }
            }
            UiCommand::TakeOver { study, reason } => self.rt.take_over(study, reason),
            UiCommand::CancelTakeOver => self.rt.team.take_over = None,
            UiCommand::ToggleMark(id) => {
                if !self.state.marked.remove(&id) {
                    self.state.marked.insert(id);
                }
            }
            UiCommand::MarkLikely => {
                let ids: Vec<i64> = self
                    .rt
                    .view
                    .iter()
                    .map(|&i| &self.rt.rows[i])
                    .filter(|r| r.likely_order.is_some())
                    .map(|r| r.id)
                    .collect();
                self.state.marked.extend(ids);
            }
            UiCommand::ClearMarks => self.state.marked.clear(),
            UiCommand::PreviewBulkOrders => {
                let ids = self.state.marked.iter().copied().collect();
                self.rt.preview_bulk_orders(ids);
            }
            UiCommand::ApplyBulkOrders => {
                self.rt.apply_bulk_orders();
                // Taken (the batch is applying): the marks have served.
                if self.rt.bulk.is_none() {
                    self.state.marked.clear();
                }
            }
            UiCommand::CancelBulkOrders => self.rt.bulk = None,
            UiCommand::OpenTransfers => {
                self.rt.network.window_open = true;
                self.rt.load_transfers();
            }
            UiCommand::RetryTransfer(job) => self.rt.change_transfer(job, true),
            UiCommand::CancelTransfer(job) => self.rt.change_transfer(job, false),
            UiCommand::ToggleReceiver => self.rt.toggle_receiver(),
            cmd @ (UiCommand::PreviewOrder { .. }
            | UiCommand::ApplyCorrection
            | UiCommand::CancelCorrection
            | UiCommand::UndoCorrection(_)
            | UiCommand::UndoRefused
            | UiCommand::OpenEdit
            | UiCommand::PreviewEdit
            | UiCommand::CloseEdit
            | UiCommand::OpenActions
            | UiCommand::CloseActions
            | UiCommand::PreviewRelocation(_)
            | UiCommand::RejectInstances
            | UiCommand::Dismiss
            | UiCommand::Reopen(_)) => self.correct_command(cmd),
            UiCommand::NextException => {
                let n = self.rt.view.len();
                let start = self.selected_position().map_or(0, |p| p + 1);
                let next = (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&pos| self.rt.rows[self.rt.view[pos]].state != StudyState::Matched);
                if let Some(pos) = next {
                    let id = self.rt.rows[self.rt.view[pos]].id;
                    self.select(id);
                    self.scroll_to = Some(pos);
                }
            }
        }
    }

    /// Sends a study that is matched and whole at once; asks first about any other (naming
    /// what is wrong), or refuses when the site forbids it.
    fn send_study(&mut self, study: i64, node: String) {
        use crate::send::readiness::{Readiness, UnmatchedSends};
        // The decision needs the study's detail: the one shown, which is the one clicked.
        let Some(d) = self.rt.detail.as_ref().filter(|d| d.row.id == study) else {
            self.rt.notify(
                Level::Error,
                format!("Study {study} is not the one shown; select it and send again."),
            );
            return;
        };
        let readiness = Readiness::of(d);
        if readiness.is_clear() {
            self.rt.send_studies(vec![(study, String::new())], node);
            return;
        }
        if self.rt.send_policy == UnmatchedSends::Forbid {
            let why = readiness.describe().join("; ");
            self.rt.notify(
                Level::Error,
                format!(
                    "Study {study} not sent: this site sends only matched, whole studies ({why})."
                ),
            );
            return;
        }
        self.rt.send_confirm = Some(super::send_confirm::SendConfirm::new(
            study,
            &d.row.patient_name,
            &node,
            &readiness,
        ));
    }

    /// Opens the viewer on series `series` of the study shown in the detail panel.
    fn open_viewer(&mut self, series: i64, instance: Option<i64>) {
        let Some(d) = &self.rt.detail else {
            return;
        };
        let Some(s) = d.series_list.iter().find(|s| s.id == series) else {
            return;
        };
        let title = format!(
            "{} ({})",
            if d.row.patient_name.is_empty() {
                "(no name)"
            } else {
                &d.row.patient_name
            },
            d.row.patient_id
        );
        match Viewer::open(d.row.id, title, s, instance) {
            Some(v) => self.viewer = Some(v),
            None => self
                .rt
                .notify(Level::Info, "This series holds no image to view."),
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) -> Vec<UiCommand> {
        let mut out = Vec::new();
        ui.horizontal_wrapped(|ui| {
            ui.heading("qcdesk");
            ui.label(egui::RichText::new(self.rt.workspace.display().to_string()).weak())
                .on_hover_text("Workspace folder");
            ui.separator();
            for (view, label, key) in [
                (View::Queue, "Queue", "Ctrl+1"),
                (View::Worklist, "Worklist", "Ctrl+2"),
                (View::Reports, "Reports", "Ctrl+3"),
            ] {
                if ui
                    .selectable_label(self.state.view == view, label)
                    .on_hover_text(key)
                    .clicked()
                {
                    out.push(UiCommand::ShowView(view));
                }
            }
            if ui
                .button("Nodes…")
                .on_hover_text("DICOM nodes: the RIS, the archive; qcdesk's AE title")
                .clicked()
            {
                out.push(UiCommand::OpenNodes);
            }
            if ui
                .button("Node map…")
                .on_hover_text("Every sender, peer and node qcdesk has met, with software versions and exception rates")
                .clicked()
            {
                out.push(UiCommand::OpenNodeMap);
            }
            ui.separator();
            if ui
                .button("Import…")
                .on_hover_text("Import a folder, files or a DICOMDIR (Ctrl+I)")
                .clicked()
            {
                out.push(UiCommand::OpenImportDialog);
            }
            if ui
                .button("Reload")
                .on_hover_text("Reload the queue (F5)")
                .clicked()
            {
                out.push(UiCommand::Reload);
            }
            ui.separator();
            if self.state.view == View::Queue {
                out.extend(self.queue_filters_ui(ui));
            }
            ui.separator();
            let theme = if self.state.dark {
                "Light theme"
            } else {
                "Dark theme"
            };
            if ui.button(theme).clicked() {
                out.push(UiCommand::ToggleTheme);
            }
            if !self.state.show_detail && ui.button("Show details").clicked() {
                out.push(UiCommand::OpenDetail);
            }
            if ui
                .button("Keys")
                .on_hover_text("Every key of the desk (? or F1)")
                .clicked()
            {
                self.key_help = !self.key_help;
            }
        });
        out
    }

    /// Takes the `--screenshot` picture once the desk has settled.
    fn screenshot_logic(&mut self, ctx: &egui::Context) {
        let Some(task) = &mut self.screenshot else {
            return;
        };
        let detail_ready = self.state.selected.is_none() || self.rt.detail.is_some();
        // Thumbnails and the worklist too: the picture must show what a user sees.
        let images_idle = self.rt.images.busy() == (0, 0)
            && (self.state.view != View::Worklist || self.rt.worklist.generation > 0)
            && (self.state.view != View::Reports || self.rt.report.is_some())
            && (!self.rt.node_map.open || self.rt.node_map.map.is_some());
        let settled =
            self.rt.queue_loads > 0 && self.rt.running.is_empty() && detail_ready && images_idle;
        task.step(ctx, settled);
    }
}

impl eframe::App for DeskApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.applied_dark != Some(self.state.dark) {
            theme::apply_theme(ctx, self.state.dark);
            self.applied_dark = Some(self.state.dark);
        }
        self.rt.images.begin_frame(ctx);
        if self.rt.drain_network() {
            self.rt.load_queue();
            if let Some(id) = self.state.selected {
                self.rt.load_study(id);
            }
        }
        // The service, another desk or a command committed: the queue (and the selected
        // study, when it changed) is loaded again; selection, scroll and filters stay.
        match self.rt.others_changed() {
            Ok(true) => {
                self.rt.load_queue();
                // Sends run in whichever process holds the runner's lease: their states come
                // from the store.
                self.rt.load_transfers();
            }
            Ok(false) => {}
            Err(wait) => ctx.request_repaint_after(wait),
        }
        let reloaded = self.rt.drain_events(self.state.selected);
        self.rt.sync_claim(self.state.selected);
        // Before the first load there is nothing to compare the restored selection with.
        if (self.rt.refresh_view(&self.state) || reloaded) && self.rt.queue_loads > 0 {
            self.keep_selection_in_view();
        }
        if let Some(due) = self.detail_due {
            let now = Instant::now();
            if now >= due {
                self.detail_due = None;
                if let Some(id) = self.state.selected {
                    self.rt.load_study(id);
                }
            } else {
                ctx.request_repaint_after(due - now);
            }
        }
        self.rt.auto_sync();
        self.screenshot_logic(ctx);
        // Ages in the queue tick; a slow repaint keeps them honest without burning CPU.
        ctx.request_repaint_after(Duration::from_secs(30));
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let mut commands = self.keys(&ctx);
        egui::Panel::top("top-bar").show(ui, |ui| {
            ui.add_space(2.0);
            commands.extend(self.top_bar_ui(ui));
            ui.add_space(2.0);
        });
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            commands.extend(status_bar_ui(ui, &self.rt));
        });
        // The viewer takes the whole area below the top bar (it has its own header panel).
        if self.state.show_detail && self.viewer.is_none() && self.state.view == View::Queue {
            // Wide enough for the study against its order; the queue keeps State, Age,
            // Patient and Findings in view beside it on a 1280-pixel screen.
            egui::Panel::right("detail")
                .resizable(true)
                .default_size(480.0)
                .min_size(320.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new("Study").strong());
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui.small_button("Hide").clicked() {
                                self.state.show_detail = false;
                            }
                        });
                    });
                    ui.separator();
                    let archives: Vec<String> = self
                        .rt
                        .worklist
                        .nodes
                        .iter()
                        .filter(|n| n.role == crate::model::NodeRole::Archive)
                        .map(|n| n.name.clone())
                        .collect();
                    commands.extend(study_ui(
                        ui,
                        self.rt.detail.as_ref(),
                        self.state.selected,
                        &self.rt.images,
                        &archives,
                        super::correct_ui::ReconcileView {
                            candidates: self.rt.candidates.as_ref(),
                            history: self.rt.correct.history.as_ref(),
                            busy: self.rt.correct.busy,
                            held_by: self.state.selected.and_then(|id| self.rt.held_by_other(id)),
                            mine: self.state.selected.is_some()
                                && self.rt.claimed() == self.state.selected,
                        },
                    ));
                });
        }
        let scroll_to = self.scroll_to.take();
        if let Some(v) = &mut self.viewer {
            egui::CentralPanel::default()
                .frame(egui::Frame::NONE)
                .show(ui, |ui| commands.extend(viewer_ui(ui, v, &self.rt.images)));
        } else if self.state.view == View::Reports {
            let loading = self
                .rt
                .running
                .values()
                .any(|j| j.kind == super::runtime::JobKind::LoadReport);
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(super::reports_view::reports_ui(
                    ui,
                    &mut self.reports_view,
                    self.rt.report.as_ref(),
                    loading,
                ));
            });
        } else if self.state.view == View::Worklist {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(worklist_ui(ui, &mut self.worklist_view, &self.rt.worklist));
            });
        } else {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(queue_ui(ui, &self.rt, &self.state, scroll_to));
            });
        }
        commands.extend(self.import_dialog.ui(&ctx));
        commands.extend(nodes_window_ui(
            &ctx,
            &mut self.nodes_window,
            &self.rt.worklist,
        ));
        rejects_window_ui(&ctx, &mut self.rt.rejects);
        commands.extend(super::node_map_window::node_map_window_ui(
            &ctx,
            &mut self.rt.node_map,
        ));
        commands.extend(super::study_actions::study_actions_ui(
            &ctx,
            &mut self.rt.correct.actions,
            self.rt.detail.as_ref(),
            &self.rt.rows,
            &self.rt.dismiss_reasons,
            self.rt.correct.busy,
        ));
        commands.extend(super::edit_form::edit_form_ui(
            &ctx,
            &mut self.rt.correct.edit,
        ));
        commands.extend(super::correct_ui::correction_window_ui(
            &ctx,
            self.rt.correct.pending.as_mut(),
        ));
        super::key_help::key_help_ui(&ctx, &mut self.key_help);
        commands.extend(super::bulk_orders::bulk_orders_ui(
            &ctx,
            self.rt.bulk.as_mut(),
        ));
        commands.extend(super::send_confirm::send_confirm_ui(
            &ctx,
            self.rt.send_confirm.as_ref(),
        ));
        commands.extend(super::take_over::take_over_ui(
            &ctx,
            self.rt.team.take_over.as_mut(),
        ));
        commands.extend(super::transfers_window::transfers_window_ui(
            &ctx,
            &mut self.rt.network,
        ));
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            egui::Area::new(egui::Id::unique("drop-hint"))
                .fixed_pos([20.0, 60.0])
                .show(&ctx, |ui| {
                    egui::Frame::popup(ui.style())
                        .show(ui, |ui| ui.heading("Drop to import into quarantine"));
                });
        }
        for cmd in commands {
            self.run_command(&ctx, cmd);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.screenshot.is_none() {
            eframe::set_value(storage, eframe::APP_KEY, &self.state);
        }
    }
}
