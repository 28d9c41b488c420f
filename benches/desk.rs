//! Speed benchmark (not a timed test): import 10,000 files and draw the queue of 10,000 studies.
//! Run with `cargo bench --bench desk` (or scripts/bench). Prints figures and ratios against
//! DCMTK's dcmdump reading the same files in the same run, both as whole processes, each the
//! median of three runs.
//!
//! Goals: import within 1.5x of `dcmdump` reading the same headers in one process, and faster
//! with more cores (here: pinned to one core with `taskset`, then all of them); queue frame
//! < 8 ms.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use egui_kittest::Harness;
use qcdesk::dicom::write::{DataSetBuilder, encode_part10};
use qcdesk::import::ImportReport;
use qcdesk::jobs::Jobs;
use qcdesk::store::Store;
use qcdesk::ui::DeskApp;

const FILES: usize = 10_000;
const SIZE: usize = 128;

fn write_corpus(dir: &Path) {
    let pixels: Vec<u16> = (0..SIZE * SIZE).map(|i| (i % 4096) as u16).collect();
    for n in 0..FILES {
        let study = format!("2.25.{}", 1_000_000 + n);
        let obj = DataSetBuilder::new()
            .text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192")
            .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2")
            .text(tags::SOP_INSTANCE_UID, VR::UI, &format!("{study}.1.1"))
            .text(tags::STUDY_DATE, VR::DA, "20260101")
            .text(tags::STUDY_TIME, VR::TM, "101010")
            .text(tags::ACCESSION_NUMBER, VR::SH, &format!("B{n:07}"))
            .text(tags::MODALITY, VR::CS, if n % 3 == 0 { "MR" } else { "CT" })
            .text(
                tags::PATIENT_NAME,
                VR::PN,
                &format!("PATIENT{}^BENCH", n % 977),
            )
            .text(tags::PATIENT_ID, VR::LO, &format!("P{:06}", n % 977))
            .text(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101")
            .text(tags::PATIENT_SEX, VR::CS, "O")
            .text(tags::STUDY_INSTANCE_UID, VR::UI, &study)
            .text(tags::SERIES_INSTANCE_UID, VR::UI, &format!("{study}.1"))
            .text(tags::SERIES_NUMBER, VR::IS, "1")
            .text(tags::INSTANCE_NUMBER, VR::IS, "1")
            .u16(tags::SAMPLES_PER_PIXEL, 1)
            .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
            .u16(tags::ROWS, SIZE as u16)
            .u16(tags::COLUMNS, SIZE as u16)
            .u16(tags::BITS_ALLOCATED, 16)
            .u16(tags::BITS_STORED, 12)
            .u16(tags::HIGH_BIT, 11)
            .u16(tags::PIXEL_REPRESENTATION, 0)
            .pixels_u16(tags::PIXEL_DATA, pixels.clone())
            .build();
        let bytes = encode_part10(obj, Some("BENCH")).expect("encode");
        let sub = dir.join(format!("{:03}", n / 100));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join(format!("{n:05}.dcm")), bytes).expect("write");
    }
}

fn main() {
    // A `harness = false` target gets no `--test` from `cargo test --all-targets`, which runs
    // it like a test: only `cargo bench` (which passes `--bench`) runs the benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        println!("desk benchmark skipped: run it with `cargo bench --bench desk` (scripts/bench)");
        return;
    }
    let mut tmp = tempfile::tempdir().expect("tempdir");
    // QCDESK_BENCH_KEEP=1 leaves the corpus and workspace behind for inspection.
    if std::env::var_os("QCDESK_BENCH_KEEP").is_some() {
        tmp.disable_cleanup(true);
        println!("keeping {}", tmp.path().display());
    }
    let corpus = tmp.path().join("corpus");
    let t = Instant::now();
    write_corpus(&corpus);
    let bytes: u64 = walk_size(&corpus);
    // Written just now, the corpus is still dirty in the page cache: flush it, so that the
    // imports' flushes do not pay for writing the benchmark's own input.
    let _ = Command::new("sync").status();
    println!(
        "corpus: {FILES} files, {:.0} MB, written in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // DCMTK reading the same files, header only (-M: large elements not loaded), one process.
    // The corpus was just written, so both readers find it in the page cache: a fair match.
    let dcmtk_time = median(3, |_| {
        let t = Instant::now();
        Command::new("dcmdump")
            .args(["-q", "-M", "+sd", "+r"])
            .arg(&corpus)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| t.elapsed())
    });

    // qcdesk importing them, as a whole process, into a fresh workspace each time; what each
    // guarantees differs: dcmdump writes nothing, qcdesk copies, hashes, flushes and indexes.
    let qcdesk = env!("CARGO_BIN_EXE_qcdesk");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let import = |ws: &Path, pin: bool| -> Option<Duration> {
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", qcdesk]);
            c
        } else {
            Command::new(qcdesk)
        };
        let t = Instant::now();
        let out = cmd
            .arg("--workspace")
            .arg(ws)
            .args(["import", "--json"])
            .arg(&corpus)
            .output()
            .ok()?;
        let elapsed = t.elapsed();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        assert_eq!(report["new_instances"], FILES as u64, "import incomplete");
        Some(elapsed)
    };
    let ws = tmp.path().join("ws");
    let mut run = 0;
    let import_time = median(3, |_| {
        run += 1;
        import(&tmp.path().join(format!("ws-all-{run}")), false)
    })
    .expect("import ran");
    std::fs::rename(tmp.path().join("ws-all-1"), &ws).expect("keep one workspace");
    let fps = FILES as f64 / import_time.as_secs_f64();
    println!(
        "import ({cores} cores): {FILES} files in {:.2} s = {fps:.0} files/s ({:.0} MB/s)",
        import_time.as_secs_f64(),
        bytes as f64 / 1e6 / import_time.as_secs_f64()
    );
    let mut run = 0;
    match median(3, |_| {
        run += 1;
        import(&tmp.path().join(format!("ws-one-{run}")), true)
    }) {
        Some(one) => println!(
            "import pinned to 1 core: {:.2} s = {:.0} files/s; {cores} cores are {:.2}x faster",
            one.as_secs_f64(),
            FILES as f64 / one.as_secs_f64(),
            one.as_secs_f64() / import_time.as_secs_f64()
        ),
        None => println!("taskset not found: no single-core figure"),
    }
    match dcmtk_time {
        Some(d) => println!(
            "dcmdump -M (header parse only, no copy, no index): {:.2} s = {:.0} files/s; qcdesk import / dcmdump time = {:.2} (goal <= 1.5)",
            d.as_secs_f64(),
            FILES as f64 / d.as_secs_f64(),
            import_time.as_secs_f64() / d.as_secs_f64()
        ),
        None => println!("dcmdump not found: no DCMTK ratio (install dcmtk)"),
    }

    // Re-import: every file already held.
    let jobs = Jobs::<ImportReport>::default();
    let (w, c) = (ws.clone(), corpus.clone());
    let t = Instant::now();
    let h = jobs.spawn("reimport", move |ctx| {
        qcdesk::import::import_paths(&w, &[c], ctx).map_err(|e| e.to_string())
    });
    let report: ImportReport = jobs
        .wait(h.id, |_| {})
        .unwrap_or_else(|e| panic!("re-import failed: {e}"));
    assert_eq!(report.duplicates as usize, FILES);
    println!(
        "re-import (all duplicates): {:.0} files/s",
        FILES as f64 / t.elapsed().as_secs_f64()
    );

    // Queue load (background job in the desk) and frame time of the desk with 10,000 studies.
    let store = Store::open(&ws).expect("store");
    let t = Instant::now();
    let rows = store.queue(&Default::default()).expect("queue");
    println!(
        "queue query: {} studies in {:.0} ms",
        rows.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let wsc = ws.clone();
    let mut harness = Harness::builder()
        .with_size([1440.0, 860.0])
        .build_eframe(move |cc| DeskApp::new(cc, wsc, store, false));
    let start = Instant::now();
    while harness.state().rt.queue_loads == 0 || !harness.state().rt.running.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "queue never loaded"
        );
        std::thread::sleep(Duration::from_millis(5));
        harness.step();
    }
    for _ in 0..10 {
        harness.step();
    }
    let frame = |h: &mut Harness<'_, DeskApp>, n: usize, mut between: BetweenFrames| {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            between(h, i);
            let t = Instant::now();
            h.step();
            times.push(t.elapsed());
        }
        times.sort();
        (times[n / 2], times[n * 95 / 100])
    };
    let (med, p95) = frame(&mut harness, 200, Box::new(|_, _| {}));
    println!(
        "desk frame, idle queue of {FILES}: median {:.2} ms, p95 {:.2} ms (goal < 8 ms)",
        ms(med),
        ms(p95)
    );
    let (med, p95) = frame(
        &mut harness,
        200,
        Box::new(|h, _| {
            h.key_press(egui::Key::PageDown);
        }),
    );
    println!(
        "desk frame, paging through the queue: median {:.2} ms, p95 {:.2} ms",
        ms(med),
        ms(p95)
    );
    let (med, p95) = frame(
        &mut harness,
        50,
        Box::new(|h, i| {
            h.state_mut().state.search = if i % 2 == 0 {
                "patient12".into()
            } else {
                String::new()
            };
        }),
    );
    println!(
        "desk frame, search filter over {FILES} rows changing every frame: median {:.2} ms, p95 {:.2} ms",
        ms(med),
        ms(p95)
    );
}

/// Something to do to the desk before each measured frame.
type BetweenFrames = Box<dyn FnMut(&mut Harness<'_, DeskApp>, usize)>;

/// The median of `n` runs of `f` (None if any run failed).
fn median(n: usize, mut f: impl FnMut(usize) -> Option<Duration>) -> Option<Duration> {
    let mut times: Vec<Duration> = (0..n).map(&mut f).collect::<Option<_>>()?;
    times.sort();
    Some(times[n / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        total += if p.is_dir() {
            walk_size(&p)
        } else {
            e.metadata().map(|m| m.len()).unwrap_or(0)
        };
    }
    total
}
