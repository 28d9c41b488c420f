//! Network benchmark (not a timed test), every peer with TCP_NODELAY=1, one run:
//! 1. Resubmit: a 120-instance 512x512 CT study (16-bit, ~525 KB each) to Orthanc with
//!    `qcdesk send --wait` (two associations, its default) and with DCMTK `storescu` (one
//!    association). qcdesk's time includes proving arrival, which storescu does not do: once by
//!    Storage Commitment (Orthanc answers through its job engine and a new association, a few
//!    hundred ms) and once by query (`[send] commitment = false`). Goal: qcdesk <= 0.6x
//!    storescu's time.
//! 2. Receive: the same study from `storescu` into `qcdesk listen` with strict durability
//!    (each instance on disk before Success; goal <= 0.6x Orthanc's time, Orthanc receiving the
//!    same study) and grouped (written before Success, flushed within 200 ms; goal <= 0.8x DCMTK
//!    `storescp`'s time, which never flushes).
//!
//! The fastest of three runs each, every receiver fresh for each run (a new workspace, a new
//! Orthanc), every run after a `sync` (no run pays for another's writes). Run with
//! `cargo bench --bench network` (or scripts/bench).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use qcdesk::dicom::write::{DataSetBuilder, encode_part10};

const INSTANCES: usize = 120;
const RUNS: usize = 3;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_port(port: u16, what: &str) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{name} is not installed (dcmtk, orthanc)"))
}

fn qcdesk() -> PathBuf {
    let me = std::env::current_exe().expect("bench path");
    let dir = me.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("qcdesk");
    assert!(bin.is_file(), "build qcdesk first (cargo build --release)");
    bin
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Killed {
    Killed(
        cmd.env("TCP_NODELAY", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    )
}

fn run(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.env("TCP_NODELAY", "1").output().expect("run");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

/// Writes back what earlier runs left dirty, so no run pays for another's flushes.
fn settle() {
    let _ = Command::new("sync").status();
}

fn fastest(v: Vec<f64>) -> f64 {
    v.into_iter().fold(f64::INFINITY, f64::min)
}

/// A synthetic CT series: 512x512 16-bit slices with a gradient and a disc.
fn make_study(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let study = "2.25.90000000000000000000000000000000001";
    let series = "2.25.90000000000000000000000000000000002";
    (0..INSTANCES)
        .map(|i| {
            let pixels: Vec<u16> = (0..512 * 512i32)
                .map(|p| {
                    let (x, y) = ((p % 512) - 256, (p / 512) - 256);
                    let inside = x * x + y * y < (150 + i as i32 % 40).pow(2);
                    (if inside { 1200 } else { (p % 512) as u16 }) + i as u16
                })
                .collect();
            let obj = DataSetBuilder::new()
                .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2")
                .text(
                    tags::SOP_INSTANCE_UID,
                    VR::UI,
                    &format!("2.25.9000000000000000000000000000000{:04}", 1000 + i),
                )
                .text(tags::STUDY_INSTANCE_UID, VR::UI, study)
                .text(tags::SERIES_INSTANCE_UID, VR::UI, series)
                .text(tags::PATIENT_NAME, VR::PN, "BENCH^CT")
                .text(tags::PATIENT_ID, VR::LO, "BENCH1")
                .text(tags::ACCESSION_NUMBER, VR::SH, "ACC1")
                .text(tags::MODALITY, VR::CS, "CT")
                .text(tags::STUDY_DATE, VR::DA, "20260101")
                .text(tags::INSTANCE_NUMBER, VR::IS, &(i + 1).to_string())
                .u16(tags::SAMPLES_PER_PIXEL, 1)
                .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
                .u16(tags::ROWS, 512)
                .u16(tags::COLUMNS, 512)
                .u16(tags::BITS_ALLOCATED, 16)
                .u16(tags::BITS_STORED, 12)
                .u16(tags::HIGH_BIT, 11)
                .u16(tags::PIXEL_REPRESENTATION, 0)
                .pixels_u16(tags::PIXEL_DATA, pixels)
                .build();
            let bytes = encode_part10(obj, Some("BENCH")).expect("encode");
            let p = dir.join(format!("{i:04}.dcm"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

struct Orthanc {
    _dir: tempfile::TempDir,
    http: u16,
    dicom: u16,
    _proc: Killed,
}

impl Orthanc {
    fn start(qcdesk_port: u16) -> Orthanc {
        let dir = tempfile::tempdir().unwrap();
        let (http, dicom) = (free_port(), free_port());
        let config = serde_json::json!({
            "Name": "qcdesk-bench", "StorageDirectory": dir.path().join("db"),
            "IndexDirectory": dir.path().join("db"), "HttpPort": http,
            "RemoteAccessAllowed": false, "AuthenticationEnabled": false,
            "DicomAet": "ARCHIVE", "DicomPort": dicom, "DicomCheckCalledAet": false,
            "DicomAlwaysAllowEcho": true, "DicomAlwaysAllowStore": true,
            "UnknownSopClassAccepted": true, "OverwriteInstances": true, "SaveJobs": false,
            "DicomModalities": { "qcdesk": { "AET": "QCDESK", "Host": "127.0.0.1",
                "Port": qcdesk_port, "AllowStorageCommitment": true } },
            "Plugins": []
        });
        let path = dir.path().join("orthanc.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let proc = spawn(Command::new(tool("Orthanc")).arg(&path));
        wait_port(http, "Orthanc");
        wait_port(dicom, "Orthanc");
        Orthanc {
            _dir: dir,
            http,
            dicom,
            _proc: proc,
        }
    }

    /// Deletes every study (each run starts from an empty archive).
    fn clear(&self) {
        let ids = self.http("GET", "/studies");
        for id in serde_json::from_str::<Vec<String>>(&ids).unwrap_or_default() {
            self.http("DELETE", &format!("/studies/{id}"));
        }
    }

    fn http(&self, method: &str, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.http)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        body.trim().to_string()
    }
}

fn files_in(dir: &Path) -> usize {
    walk(dir)
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { walk(&p) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo test --all-targets` runs bench targets too (without --bench): not a test.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "network benchmark skipped: run it with `cargo bench --bench network` (scripts/bench)"
        );
        return;
    }
    let bin = qcdesk();
    let data = tempfile::tempdir().unwrap();
    let files = make_study(&data.path().join("ct"));
    let ct = data.path().join("ct");
    let mb = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum::<u64>() as f64
        / 1e6;
    println!("network bench: {INSTANCES} instances, {mb:.0} MB, fastest of {RUNS} runs");

    // 1. Resubmit to Orthanc.
    let our_port = free_port();
    let orthanc = Orthanc::start(our_port);
    let ws = tempfile::tempdir().unwrap();
    let q = |args: &[&str]| {
        let out = Command::new(&bin)
            .arg("--workspace")
            .arg(ws.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    q(&["import", &ct.display().to_string()]);
    q(&["node", "local", "--port", &our_port.to_string()]);
    q(&[
        "node",
        "add",
        "pacs",
        &format!("ARCHIVE@127.0.0.1:{}", orthanc.dicom),
        "--role",
        "archive",
    ]);
    let mut ours = Vec::new();
    let mut by_query = Vec::new();
    let mut theirs = Vec::new();
    let config = ws.path().join("config.toml");
    for _ in 0..RUNS {
        orthanc.clear();
        let _ = std::fs::remove_file(&config);
        settle();
        ours.push(run(Command::new(&bin)
            .arg("--workspace")
            .arg(ws.path())
            .args(["send", "1", "--force", "--wait", "--json"])));
        orthanc.clear();
        std::fs::write(&config, "[send]\ncommitment = false\n").unwrap();
        settle();
        by_query.push(run(Command::new(&bin)
            .arg("--workspace")
            .arg(ws.path())
            .args(["send", "1", "--force", "--wait", "--json"])));
        orthanc.clear();
        settle();
        theirs.push(run(Command::new(tool("storescu"))
            .args(["-aet", "QCDESK", "-aec", "ARCHIVE", "127.0.0.1"])
            .arg(orthanc.dicom.to_string())
            .arg("+sd")
            .arg(&ct)));
    }
    let _ = std::fs::remove_file(&config);
    let (q_send, q_query, dcmtk_send) = (fastest(ours), fastest(by_query), fastest(theirs));
    println!(
        "resubmit to Orthanc: qcdesk send --wait {q_send:.2} s proven by Storage Commitment, {q_query:.2} s proven by query; storescu (no proof) {dcmtk_send:.2} s -> ratios {:.2} and {:.2} (goal <= 0.6)",
        q_send / dcmtk_send,
        q_query / dcmtk_send
    );
    drop(orthanc);

    // 2. Receive from storescu.
    let send_to = |port: u16, ae: &str| {
        run(Command::new(tool("storescu"))
            .args(["-aet", "BENCH", "-aec", ae, "127.0.0.1"])
            .arg(port.to_string())
            .arg("+sd")
            .arg(&ct))
    };
    let mut results = Vec::new();
    for durability in ["strict", "grouped"] {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let ws = tempfile::tempdir().unwrap();
            std::fs::write(
                ws.path().join("config.toml"),
                format!("[receiver]\ndurability = \"{durability}\"\n"),
            )
            .unwrap();
            let port = free_port();
            let _l = spawn(Command::new(&bin).arg("--workspace").arg(ws.path()).args([
                "listen",
                "--port",
                &port.to_string(),
            ]));
            wait_port(port, "qcdesk listen");
            settle();
            times.push(send_to(port, "QCDESK"));
        }
        results.push((durability, fastest(times)));
    }
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let out = tempfile::tempdir().unwrap();
        let port = free_port();
        let _scp = spawn(
            Command::new(tool("storescp"))
                .args(["-aet", "STORESCP", "-od"])
                .arg(out.path())
                .arg(port.to_string()),
        );
        wait_port(port, "storescp");
        settle();
        times.push(send_to(port, "STORESCP"));
        assert_eq!(files_in(out.path()), INSTANCES);
    }
    let dcmtk_recv = fastest(times);
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let orthanc = Orthanc::start(free_port());
        settle();
        times.push(send_to(orthanc.dicom, "ARCHIVE"));
    }
    let orthanc_recv = fastest(times);
    println!(
        "receive from storescu: storescp (no flush) {dcmtk_recv:.2} s, Orthanc {orthanc_recv:.2} s"
    );
    for (durability, t) in results {
        let (peer, their, goal) = if durability == "strict" {
            ("Orthanc", orthanc_recv, 0.6)
        } else {
            ("storescp", dcmtk_recv, 0.8)
        };
        println!(
            "receive from storescu: qcdesk listen ({durability}) {t:.2} s -> ratio {:.2} to {peer} (goal <= {goal})",
            t / their
        );
    }
}
