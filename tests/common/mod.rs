//! Shared helpers for the integration tests: running the binary, temp workspaces, test data.
#![allow(dead_code)]

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
