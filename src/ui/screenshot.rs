//! `--screenshot`: a PNG of the window once the desk has settled, then the window closes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

/// Result of a `--screenshot` run, read by `run_desk` after the window closed.
pub type ScreenshotOutcome = Arc<Mutex<Option<Result<(), String>>>>;

const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(90);

pub struct ScreenshotTask {
    path: PathBuf,
    settled_frames: u32,
    requested: bool,
    rx: Receiver<Arc<egui::ColorImage>>,
    tx: Sender<Arc<egui::ColorImage>>,
    started: Instant,
    outcome: ScreenshotOutcome,
}

impl ScreenshotTask {
    pub fn new(path: PathBuf, outcome: ScreenshotOutcome) -> ScreenshotTask {
        let (tx, rx) = unbounded();
        ScreenshotTask {
            path,
            settled_frames: 0,
            requested: false,
            rx,
            tx,
            started: Instant::now(),
            outcome,
        }
    }

    /// Called every frame; `settled`: nothing is loading any more.
    pub fn step(&mut self, ctx: &egui::Context, settled: bool) {
        if let Ok(img) = self.rx.try_recv() {
            self.finish(ctx, save_png(&self.path, &img));
            return;
        }
        if self.started.elapsed() > SCREENSHOT_TIMEOUT {
            self.finish(ctx, Err("the desk did not finish drawing in time".into()));
            return;
        }
        if settled {
            self.settled_frames += 1;
        } else {
            self.settled_frames = 0;
        }
        if self.settled_frames >= 3 && !self.requested {
            self.requested = true;
            let tx = self.tx.clone();
            let ctx2 = ctx.clone();
            ctx.request_screenshot(move |img| {
                let _ = tx.send(img);
                ctx2.request_repaint();
            });
        }
        ctx.request_repaint_after(Duration::from_millis(30));
    }

    fn finish(&self, ctx: &egui::Context, result: Result<(), String>) {
        if let Ok(mut o) = self.outcome.lock() {
            *o = Some(result);
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

fn save_png(path: &std::path::Path, img: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = img.size;
    let bytes: Vec<u8> = img
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let buf = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or("screenshot has a wrong size")?;
    buf.save(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
