//! The desk window (egui/eframe). Draws state and turns input into commands; data comes from
//! background jobs, so the UI thread never waits on SQLite, disk or network.

mod app;
mod bulk_orders;
mod candidates;
mod correct_data;
mod correct_ui;
mod detail;
mod edit_form;
mod header_panel;
mod images;
mod import_dialog;
mod job_output;
mod key_help;
mod network_data;
mod node_map_window;
mod nodes_window;
mod queue;
mod rejects_window;
mod reports_view;
mod runtime;
mod screenshot;
mod send_confirm;
mod series_strip;
mod state;
mod status;
mod study_actions;
mod take_over;
mod team_data;
mod theme;
mod transfers_window;
mod viewer;
mod worklist_data;
mod worklist_view;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};

pub use app::DeskApp;
pub use candidates::StudyCandidates;
pub use images::{Images, THUMB_SIZE, Tile};
pub use network_data::NetworkData;
pub use runtime::{JobKind, Level, Runtime};
pub use state::{DeskState, SortColumn, UiCommand, View};
pub use viewer::{PRESETS, Viewer};
pub use worklist_data::{EchoState, WorklistData};
pub use worklist_view::WorklistView;

pub struct DeskOptions {
    pub workspace: PathBuf,
    /// Save a PNG of the window here once drawn, then exit.
    pub screenshot: Option<PathBuf>,
    /// Open with this study selected (queue id or Study Instance UID).
    pub select: Option<String>,
    /// Open on this view instead of the saved one.
    pub view: Option<View>,
    /// Open the node map window too.
    pub node_map: bool,
}

/// Opens the desk window on a workspace and runs until it is closed.
pub fn run_desk(opts: DeskOptions) -> anyhow::Result<()> {
    let store = crate::store::Store::open(&opts.workspace)?;
    crate::imaging::limits::apply_config(store.imaging_config());
    let select = match &opts.select {
        Some(key) => Some(store.find_study(key)?),
        None => None,
    };
    let screenshot = opts.screenshot.is_some();
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("qcdesk")
            .with_app_id("qcdesk")
            .with_inner_size([1440.0, 860.0])
            .with_min_inner_size([900.0, 500.0])
            .with_drag_and_drop(true),
        // A screenshot must not depend on (or change) the user's saved layout.
        persist_window: !screenshot,
        ..Default::default()
    };
    let outcome: screenshot::ScreenshotOutcome = Arc::new(Mutex::new(None));
    let outcome2 = Arc::clone(&outcome);
    let workspace = opts.workspace.clone();
    let shot = opts.screenshot.clone();
    let view = opts.view;
    let node_map = opts.node_map;
    eframe::run_native(
        "qcdesk",
        native,
        Box::new(move |cc| {
            let mut app = DeskApp::new(cc, workspace, store, !screenshot);
            if let Some(v) = view {
                app.show_view(v);
            }
            if node_map {
                app.open_node_map();
            }
            if let Some(id) = select {
                app.select_for_test(id);
            }
            Ok(Box::new(match shot {
                Some(path) => app.with_screenshot(path, outcome2),
                None => app,
            }))
        }),
    )
    .map_err(|e| anyhow!("cannot open the desk window: {e}"))?;
    if let Some(path) = opts.screenshot {
        let result = outcome.lock().ok().and_then(|mut o| o.take());
        match result {
            Some(r) => r
                .map_err(|e| anyhow!(e))
                .with_context(|| format!("screenshot {}", path.display()))?,
            None => anyhow::bail!("the window closed before the screenshot was taken"),
        }
        eprintln!("screenshot saved to {}", path.display());
    }
    Ok(())
}
