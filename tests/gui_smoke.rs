//! The real window: `qcdesk demo --screenshot` opens the desk under a virtual X server (Xvfb),
//! draws the demo queue and saves a PNG of itself.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Xvfb(Child, String);

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM: Xvfb removes its lock file and socket (a SIGKILL leaves them, and after
        // enough runs no display number is free).
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

/// A display's lock left by an X server that is gone (its pid dead): removed, with its socket.
fn clear_stale(n: u32) {
    let lock = format!("/tmp/.X{n}-lock");
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return;
    };
    let alive = text
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    if !alive {
        let _ = std::fs::remove_file(&lock);
        let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
    }
}

/// Starts Xvfb on a free display number.
fn xvfb() -> Xvfb {
    let bin = require_tool("Xvfb");
    for n in 90..140 {
        clear_stale(n);
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

/// Runs `qcdesk demo --screenshot` with `extra` arguments under Xvfb; the picture, checked
/// to be a real window (its size) and not blank (many distinct colours).
fn shoot(extra: &[&str]) -> image::RgbaImage {
    // One X server at a time: two tests picking a free display at once would pick the same.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let x = xvfb();
    let ws = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let png = ws.path().join("shot.png");
    let mut args = vec![
        "--workspace",
        ws.path().to_str().unwrap(),
        "demo",
        "--screenshot",
        png.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = Command::new(bin())
        .args(&args)
        .env("DISPLAY", &x.1)
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_DATA_HOME", xdg.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo --screenshot {extra:?} failed: {}",
        stderr(&out)
    );
    let img = image::open(&png).expect("a PNG").to_rgba8();
    assert!(
        img.width() >= 900 && img.height() >= 500,
        "{}x{}",
        img.width(),
        img.height()
    );
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        colours.insert(p.0);
    }
    assert!(
        colours.len() > 50,
        "the window looks empty ({} colours) for {extra:?}",
        colours.len()
    );
    img
}

#[test]
fn the_desk_draws_the_demo_in_a_real_window() {
    shoot(&[]);
}

/// The pixels of `img` in `colour` (within a small tolerance) inside the rectangle.
fn count_near(img: &image::RgbaImage, colour: [u8; 3], x0: u32, x1: u32) -> usize {
    img.enumerate_pixels()
        .filter(|(x, _, p)| {
            *x >= x0
                && *x < x1
                && p.0[..3]
                    .iter()
                    .zip(colour)
                    .all(|(a, b)| (*a as i32 - b as i32).abs() <= 6)
        })
        .count()
}

#[test]
fn the_reports_view_draws_its_bars_in_strong_colours() {
    let img = shoot(&["--view", "reports"]);
    // The exception bars' fill (light theme): solid, not a pale wash.
    let strong = count_near(&img, [205, 100, 20], 0, img.width());
    assert!(strong > 2000, "{strong} pixels of the bars' colour");
}

#[test]
fn the_node_map_scene_draws_the_map_over_the_queue() {
    let img = shoot(&["--view", "node-map"]);
    // Sender lines are coloured by exception rate: red-to-green strokes are present.
    let mut coloured = 0;
    for p in img.pixels() {
        let [r, g, b, _] = p.0;
        if b == 60 && (r > 100 || g > 100) && r.abs_diff(g) > 40 {
            coloured += 1;
        }
    }
    assert!(coloured > 200, "{coloured} pixels of rate-coloured lines");
}
