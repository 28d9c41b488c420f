//! The desk in a test harness (egui_kittest, no display), and stepping it while background
//! jobs run.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use qcdesk::store::Store;
use qcdesk::ui::DeskApp;

/// The desk on workspace `ws`, its saved settings ignored.
pub fn desk_with_thumbnails(ws: &Path) -> Harness<'static, DeskApp> {
    let ws = ws.to_path_buf();
    let store = Store::open(&ws).expect("open workspace");
    Harness::builder()
        .with_size([1500.0, 1000.0])
        .build_eframe(move |cc| DeskApp::new(cc, ws, store, false))
}

/// The desk with compact queue rows (no thumbnail column): every demo study fits on one
/// screen, so the accessibility tree holds them all.
pub fn desk(ws: &Path) -> Harness<'static, DeskApp> {
    let mut h = desk_with_thumbnails(ws);
    h.state_mut().state.queue_thumbnails = false;
    h
}

/// Steps the desk until `done` holds (jobs and decoding need real time), then once more.
pub fn step_until(h: &mut Harness<'_, DeskApp>, what: &str, done: impl Fn(&DeskApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.step();
}
