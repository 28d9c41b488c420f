//! The real window: `qcdesk demo --screenshot` opens the desk under a virtual X server (Xvfb),
//! draws the demo queue and saves a PNG of itself.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Xvfb(Child, String);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on a free display number.
fn xvfb() -> Xvfb {
    let bin = require_tool("Xvfb");
    for n in 90..140 {
        if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new(&bin)
            .args([&display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return Xvfb(child, display);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(Xvfb(child, display));
    }
    panic!("no free X display for Xvfb");
}

#[test]
fn the_desk_draws_the_demo_in_a_real_window() {
    let x = xvfb();
    let ws = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let png = ws.path().join("shot.png");
    let out = Command::new(bin())
        .args([
            "--workspace",
            ws.path().to_str().unwrap(),
            "demo",
            "--screenshot",
            png.to_str().unwrap(),
        ])
        .env("DISPLAY", &x.1)
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_DATA_HOME", xdg.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo --screenshot failed: {}",
        stderr(&out)
    );
    let img = image::open(&png).expect("a PNG").to_rgba8();
    assert!(
        img.width() >= 900 && img.height() >= 500,
        "{}x{}",
        img.width(),
        img.height()
    );
    // Not a blank window: many distinct colours (text, state colours, stripes).
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        colours.insert(p.0);
    }
    assert!(
        colours.len() > 50,
        "the window looks empty ({} colours)",
        colours.len()
    );
}
