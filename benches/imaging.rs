//! Imaging benchmark (not a timed test): thumbnails of a 200-slice 512 x 512 16-bit CT series in
//! native, JPEG lossless, JPEG-LS and JPEG 2000 form, qcdesk against DCMTK in the same run, both
//! as whole processes (each the median of three runs); then the desk: the first thumbnail of a
//! newly selected study, and the viewer's frame time scrolling through the series.
//! Run with `cargo bench --bench imaging` (or scripts/bench).
//!
//! DCMTK renders one file per process (`dcmj2pnm`, `dcml2pnm` for JPEG-LS, `+Sxv 128 +on`):
//! it is timed over the 200 files one after the other, as a script would run it, and with as
//! many processes at once as there are cores. DCMTK decodes no JPEG 2000: qcdesk's images/s only.
//! Goals: qcdesk <= 0.1x DCMTK's time on native, JPEG lossless and JPEG-LS; first thumbnail of a
//! selected study on screen < 100 ms; viewer frames < 16 ms while scrolling.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use qcdesk::dicom::write::{DataSetBuilder, encode_part10};
use qcdesk::store::Store;
use qcdesk::ui::DeskApp;

const SLICES: usize = 200;
const SIZE: usize = 512;

/// A synthetic chest slice in stored values (HU + 1024): air, body, lungs, spine, ribs, noise.
fn slice(n: usize, seed: &mut u64) -> Vec<u16> {
    let mut out = Vec::with_capacity(SIZE * SIZE);
    let z = n as f32 / SLICES as f32;
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (fx, fy) = ((x as f32 - 256.0) / 256.0, (y as f32 - 256.0) / 256.0);
            let body = (fx / 0.85).powi(2) + (fy / 0.6).powi(2) < 1.0;
            let lung_r = 0.28 + 0.08 * (z * std::f32::consts::PI).sin();
            let lung = ((fx.abs() - 0.38) / lung_r).powi(2) + (fy / (lung_r * 1.4)).powi(2) < 1.0;
            let spine = (fx / 0.08).powi(2) + ((fy - 0.42) / 0.08).powi(2) < 1.0;
            let ring = (fx / 0.8).powi(2) + (fy / 0.55).powi(2);
            let rib = (0.88..0.95).contains(&ring) && ((fx * 12.0 + z * 3.0).sin() > 0.3);
            let hu: f32 = if !body {
                -1000.0
            } else if spine || rib {
                700.0
            } else if lung {
                -820.0
            } else {
                40.0
            };
            // xorshift noise, ±16 HU
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let noise = (*seed % 33) as f32 - 16.0;
            out.push((hu + noise + 1024.0).clamp(0.0, 4095.0) as u16);
        }
    }
    out
}

/// Writes the series of study `2.25.770<study>` (patient BENCH^<study>) into `dir`.
fn write_series(dir: &Path, study: u32) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 + u64::from(study);
    let uid = format!("2.25.770{study}");
    for n in 0..SLICES {
        let obj = DataSetBuilder::new()
            .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2")
            .text(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                &format!("2.25.7700.1.{}", n + 1),
            )
            .text(tags::STUDY_DATE, VR::DA, "20261128")
            .text(tags::STUDY_TIME, VR::TM, "101010")
            .text(tags::ACCESSION_NUMBER, VR::SH, &format!("BENCH{study}"))
            .text(tags::MODALITY, VR::CS, "CT")
            .text(tags::PATIENT_NAME, VR::PN, &format!("BENCH^{study}"))
            .text(tags::PATIENT_ID, VR::LO, &format!("B{study}"))
            .text(tags::STUDY_INSTANCE_UID, VR::UI, &uid)
            .text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{uid}.1"))
            .text(tags::SERIES_NUMBER, VR::IS, "1")
            .text(tags::INSTANCE_NUMBER, VR::IS, &(n + 1).to_string())
            .u16(tags::SAMPLES_PER_PIXEL, 1)
            .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
            .u16(tags::ROWS, SIZE as u16)
            .u16(tags::COLUMNS, SIZE as u16)
            .u16(tags::BITS_ALLOCATED, 16)
            .u16(tags::BITS_STORED, 12)
            .u16(tags::HIGH_BIT, 11)
            .u16(tags::PIXEL_REPRESENTATION, 0)
            .text(tags::RESCALE_INTERCEPT, VR::DS, "-1024")
            .text(tags::RESCALE_SLOPE, VR::DS, "1")
            .text(tags::WINDOW_CENTER, VR::DS, "40")
            .text(tags::WINDOW_WIDTH, VR::DS, "400")
            .pixels_u16(tags::PIXEL_DATA, slice(n, &mut seed))
            .build();
        let bytes = encode_part10(obj, Some("BENCH")).expect("encode");
        std::fs::write(dir.join(format!("CT{:04}.dcm", n + 1)), bytes).expect("write");
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Converts every file of `from` into `to` with `tool args in out`, on every core.
fn convert(tool: &Path, args: &[&str], from: &Path, to: &Path) -> bool {
    std::fs::create_dir_all(to).expect("mkdir");
    let inputs = files(from);
    run_parallel(&inputs, |f| {
        let out = to.join(f.file_name().expect("a name"));
        Command::new(tool)
            .args(args)
            .arg(f)
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs `f` over `items` on as many threads as cores; true when every call succeeded.
fn run_parallel(items: &[PathBuf], f: impl Fn(&Path) -> bool + Sync) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let ok = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if !f(item) {
                        ok.store(false, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    ok.into_inner()
}

fn median(n: usize, mut f: impl FnMut() -> Option<Duration>) -> Option<Duration> {
    let mut times: Vec<Duration> = (0..n).map(|_| f()).collect::<Option<_>>()?;
    times.sort();
    Some(times[n / 2])
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `qcdesk thumbs --size 128` over the folder, as one process; checks every file rendered.
fn qcdesk_thumbs(dir: &Path, out: &Path) -> Option<Duration> {
    let _ = std::fs::remove_dir_all(out);
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_qcdesk"))
        .args(["thumbs", "--size", "128", "--json", "--out"])
        .arg(out)
        .arg(dir)
        .output()
        .ok()?;
    let took = t.elapsed();
    let results: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    let ok = results
        .as_array()?
        .iter()
        .filter(|r| r["status"] == "ok")
        .count();
    assert_eq!(ok, SLICES, "qcdesk rendered {ok} of {SLICES}");
    Some(took)
}

/// DCMTK's renderer over every file: one process per file, `parallel` at once.
fn dcmtk_thumbs(tool: &Path, dir: &Path, out: &Path, parallel: bool) -> Option<Duration> {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).ok()?;
    let inputs = files(dir);
    let one = |f: &Path| {
        let png = out
            .join(f.file_name().unwrap_or_default())
            .with_extension("png");
        Command::new(tool)
            .args(["+on", "+Sxv", "128"])
            .arg(f)
            .arg(&png)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let t = Instant::now();
    let ok = if parallel {
        run_parallel(&inputs, one)
    } else {
        inputs.iter().all(|f| one(f))
    };
    ok.then(|| t.elapsed())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "imaging benchmark skipped: run it with `cargo bench --bench imaging` (scripts/bench)"
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let native = tmp.path().join("native");
    let t = Instant::now();
    write_series(&native, 0);
    println!(
        "series: {SLICES} CT slices {SIZE}x{SIZE}, 12 bits in 16, written in {:.1} s ({cores} cores)",
        secs(t.elapsed())
    );
    let mut forms: Vec<(&str, PathBuf, Option<&str>)> =
        vec![("native", native.clone(), Some("dcmj2pnm"))];
    let conversions: [(&str, &str, &[&str], Option<&str>); 3] = [
        (
            "JPEG lossless (SV1)",
            "dcmcjpeg",
            &["+e1"],
            Some("dcmj2pnm"),
        ),
        ("JPEG-LS lossless", "dcmcjpls", &[], Some("dcml2pnm")),
        ("JPEG 2000 lossless", "gdcmconv", &["--j2k"], None),
    ];
    for (name, converter, args, renderer) in conversions {
        let dir = tmp.path().join(converter);
        match tool(converter) {
            Some(c) if convert(&c, args, &native, &dir) => forms.push((name, dir, renderer)),
            Some(_) => println!("{name}: {converter} failed; skipped"),
            None => println!("{name}: {converter} not found (dcmtk, libgdcm-tools); skipped"),
        }
    }
    for (name, dir, renderer) in &forms {
        let out = tmp.path().join("out");
        let ours = median(3, || qcdesk_thumbs(dir, &out)).expect("qcdesk thumbs ran");
        let rate = SLICES as f64 / secs(ours);
        let Some(renderer) = renderer else {
            println!(
                "{name}: qcdesk {:.2} s = {rate:.0} images/s (DCMTK decodes no JPEG 2000)",
                secs(ours)
            );
            continue;
        };
        let Some(r) = tool(renderer) else {
            println!(
                "{name}: qcdesk {:.2} s = {rate:.0} images/s ({renderer} not found)",
                secs(ours)
            );
            continue;
        };
        let seq = median(3, || dcmtk_thumbs(&r, dir, &out, false));
        let par = median(3, || dcmtk_thumbs(&r, dir, &out, true));
        match (seq, par) {
            (Some(seq), Some(par)) => println!(
                "{name}: qcdesk {:.2} s = {rate:.0} images/s; {renderer} {:.2} s one after another, {:.2} s {cores} at a time; ratio {:.3} / {:.3} (goal <= 0.1)",
                secs(ours),
                secs(seq),
                secs(par),
                secs(ours) / secs(seq),
                secs(ours) / secs(par)
            ),
            _ => println!(
                "{name}: qcdesk {:.2} s; {renderer} failed on these files",
                secs(ours)
            ),
        }
    }
    desk(tmp.path(), &native);
}

/// The desk on a workspace holding two such studies: the first thumbnail of the one the desk
/// did not select by itself (decoded, then from the cache after a restart), then the viewer's
/// frame time scrolling through it.
fn desk(tmp: &Path, native: &Path) {
    let second = tmp.join("second");
    write_series(&second, 1);
    let ws = tmp.join("ws");
    let status = Command::new(env!("CARGO_BIN_EXE_qcdesk"))
        .arg("--workspace")
        .arg(&ws)
        .args(["import", "--json"])
        .arg(native)
        .arg(&second)
        .stdout(Stdio::null())
        .status()
        .expect("import");
    assert!(status.success(), "import failed");
    for run in ["cold (decoded)", "warm (from the workspace cache)"] {
        let store = Store::open(&ws).expect("store");
        let wsc = ws.clone();
        let mut h = Harness::builder()
            .with_size([1440.0, 860.0])
            .build_eframe(move |cc| DeskApp::new(cc, wsc, store, false));
        h.state_mut().state.queue_thumbnails = false;
        // The desk selects the first study by itself; wait until it has settled.
        let start = Instant::now();
        while h.state().rt.queue_loads == 0
            || !h.state().rt.running.is_empty()
            || h.state().rt.detail.is_none()
            || h.state().rt.images.busy() != (0, 0)
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "desk never settled"
            );
            std::thread::sleep(Duration::from_millis(2));
            h.step();
        }
        let selected = h.state().state.selected;
        let id = h
            .state()
            .rt
            .rows
            .iter()
            .map(|r| r.id)
            .find(|&id| Some(id) != selected)
            .expect("a second study");
        let t = Instant::now();
        h.state_mut().select_for_test(id);
        loop {
            h.step();
            let shown = h.state().rt.detail.as_ref().is_some_and(|d| d.row.id == id)
                && h.query_all_by_label("Series 1 first image: shown").count() == 1;
            if shown {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "no thumbnail");
            std::thread::sleep(Duration::from_millis(1));
        }
        println!(
            "desk, {run}: first thumbnail of a newly selected study on screen in {:.0} ms (goal < 100 ms)",
            secs(t.elapsed()) * 1e3
        );
        if run.starts_with("warm") {
            viewer_scroll(&mut h);
        }
    }
}

fn viewer_scroll(h: &mut Harness<'_, DeskApp>) {
    h.key_press(egui::Key::Enter);
    h.step();
    assert!(h.state().viewer.is_some(), "viewer opened");
    // Let the first image and its prefetched neighbours arrive.
    std::thread::sleep(Duration::from_millis(300));
    h.step();
    let mut times = Vec::new();
    let mut ready = 0;
    for _ in 1..SLICES {
        h.key_press(egui::Key::ArrowDown);
        let t = Instant::now();
        h.step();
        times.push(t.elapsed());
        let a = h.state();
        let v = a.viewer.as_ref().expect("viewer");
        let (inst, frame) = v.current().expect("image");
        if matches!(
            a.rt.images.cached_picture(&inst.blob, frame, v.windowing),
            Some(Ok(_))
        ) {
            ready += 1;
        }
        // A user holding the arrow key: about 30 images a second.
        std::thread::sleep(Duration::from_millis(33));
    }
    times.sort();
    let n = times.len();
    println!(
        "viewer, scrolling {SLICES} slices at ~30/s: frame median {:.2} ms, p95 {:.2} ms, max {:.2} ms (goal < 16 ms); current image ready when drawn {ready} of {n}",
        secs(times[n / 2]) * 1e3,
        secs(times[n * 95 / 100]) * 1e3,
        secs(times[n - 1]) * 1e3
    );
}
