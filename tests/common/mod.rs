//! Shared helpers for the integration tests: running the binary, temp workspaces, test data.
#![allow(dead_code)]

pub mod desk;
pub mod peers;
pub mod raw;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_qcdesk")
}

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn pydicom_dir() -> PathBuf {
    data_dir().join("pydicom")
}

/// Runs `qcdesk --workspace WS args...`.
pub fn qcdesk(ws: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .env_remove("QCDESK_WORKSPACE")
        .output()
        .expect("run qcdesk")
}

/// Runs a command that must succeed and returns its stdout parsed as JSON.
pub fn qcdesk_json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let out = qcdesk(ws, args);
    assert!(
        out.status.success(),
        "qcdesk {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "qcdesk {args:?}: bad JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every regular file under `dir` (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A demo workspace built once per test binary run, in a temp dir.
pub fn demo_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = qcdesk(dir.path(), &["demo", "--no-gui"]);
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    dir
}

/// Finds a program on PATH; fails the test with a clear message if missing
/// (scripts/test installs every peer the suite needs).
pub fn require_tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("{name} is not installed: run scripts/test, which installs the test peers")
        })
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The same data set in a new Part 10 file: a new file meta group written as a router or a
/// CD burner would (another Source AE Title and Implementation Version Name), the data set
/// bytes untouched.
pub fn rewrap(file: &[u8], source_ae: &str, implementation_version: &str) -> Vec<u8> {
    assert_eq!(&file[128..132], b"DICM", "not a Part 10 file");
    // Walk the meta group (Explicit VR Little Endian) to where the data set starts, keeping
    // every element but the ones a receiver rewrites.
    let mut at = 132;
    let mut kept: Vec<(u16, [u8; 2], Vec<u8>)> = Vec::new();
    while at + 8 <= file.len() && u16::from_le_bytes([file[at], file[at + 1]]) == 2 {
        let element = u16::from_le_bytes([file[at + 2], file[at + 3]]);
        let vr = [file[at + 4], file[at + 5]];
        let (len, head) = if matches!(&vr, b"OB" | b"UN" | b"UT" | b"SQ") {
            (
                u32::from_le_bytes([file[at + 8], file[at + 9], file[at + 10], file[at + 11]])
                    as usize,
                12,
            )
        } else {
            (u16::from_le_bytes([file[at + 6], file[at + 7]]) as usize, 8)
        };
        let value = file[at + head..at + head + len].to_vec();
        if !matches!(element, 0x0000 | 0x0013 | 0x0016) {
            kept.push((element, vr, value));
        }
        at += head + len;
    }
    let pad = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(b' ');
        }
        v
    };
    kept.push((0x0013, *b"SH", pad(implementation_version)));
    kept.push((0x0016, *b"AE", pad(source_ae)));
    kept.sort_by_key(|k| k.0);
    let mut meta = Vec::new();
    for (element, vr, value) in &kept {
        meta.extend_from_slice(&2u16.to_le_bytes());
        meta.extend_from_slice(&element.to_le_bytes());
        meta.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"UN" | b"UT" | b"SQ") {
            meta.extend_from_slice(&[0, 0]);
            meta.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            meta.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        meta.extend_from_slice(value);
    }
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(&file[at..]);
    out
}

/// Runs a program that must succeed (a DCMTK tool, say), naming it when it fails.
pub fn run_ok(program: &Path, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The findings of the study with this Study Instance UID, as `queue --json` lists them:
/// (state, codes, messages).
pub fn study_findings(ws: &Path, study_uid: &str) -> (String, Vec<String>, Vec<String>) {
    let q = qcdesk_json(ws, &["queue", "--json"]);
    let s = q
        .as_array()
        .expect("queue is a list")
        .iter()
        .find(|s| s["study_instance_uid"] == study_uid)
        .unwrap_or_else(|| panic!("study {study_uid} not in the queue: {q}"));
    let findings = s["findings"].as_array().expect("findings");
    (
        s["state"].as_str().unwrap_or_default().to_string(),
        findings
            .iter()
            .map(|f| f["code"].as_str().unwrap_or_default().to_string())
            .collect(),
        findings
            .iter()
            .map(|f| f["message"].as_str().unwrap_or_default().to_string())
            .collect(),
    )
}

/// Runs `qcdesk --workspace WS args...` as an unprivileged user: directly when the tests run
/// as one, as `nobody` through `setpriv` when they run as root (as CI does), after handing
/// `owned` (the workspace, inboxes) to that user. Permission checks are then real, never
/// skipped; a machine with neither fails loudly.
pub fn qcdesk_unprivileged(ws: &Path, args: &[&str], owned: &[&Path]) -> Output {
    if !is_root() {
        return qcdesk(ws, args);
    }
    let setpriv = require_tool("setpriv");
    const NOBODY: u32 = 65534;
    for p in owned {
        chown_tree(p, NOBODY);
    }
    Command::new(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ])
        .arg(bin())
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .env_remove("QCDESK_WORKSPACE")
        .output()
        .expect("run qcdesk through setpriv")
}

/// Gives `path` (and everything under it, but files left unreadable on purpose) to `uid`.
pub fn chown_tree(path: &Path, uid: u32) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        // A file made unreadable (mode 000) stays root's: that is what the test is about.
        if meta.is_file() && meta.permissions().mode() & 0o777 == 0 {
            continue;
        }
        std::os::unix::fs::chown(&p, Some(uid), Some(uid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("read dir").flatten() {
                stack.push(e.path());
            }
        }
    }
}

/// Mode bits (permissions) of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
