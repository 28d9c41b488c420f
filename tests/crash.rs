//! Crash safety: kill an import at random points; the database and the store stay consistent
//! and a re-import completes to the same result as an uninterrupted one.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Study UID → (state, instances, files), the result an import must reach.
fn outcome(ws: &Path) -> BTreeMap<String, (String, u64, u64)> {
    let q = qcdesk_json(ws, &["queue", "--json"]);
    q.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["study_instance_uid"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_string()
                    + s["patient_id"].as_str().unwrap_or(""),
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["instances"].as_u64().unwrap(),
                    s["files"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Every file in the store is complete: its content hashes to its name.
fn check_store(ws: &Path) {
    for f in files_under(&ws.join("store")) {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let hash = blake3::hash(&std::fs::read(&f).unwrap())
            .to_hex()
            .to_string();
        assert_eq!(hash, name, "{} is incomplete or wrong", f.display());
    }
    let verify = qcdesk_json(ws, &["verify", "--json"]);
    assert_eq!(verify["ok"], true, "{verify}");
}

#[test]
fn killing_an_import_never_leaves_an_inconsistent_workspace() {
    let demo = demo_workspace();
    let sources = [demo.path().join("demo-inbox"), pydicom_dir()];
    let source_args: Vec<&str> = sources.iter().map(|p| p.to_str().unwrap()).collect();

    // Reference: an import nobody interrupts.
    let clean = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut args = vec!["import"];
    args.extend(&source_args);
    let out = qcdesk(clean.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let clean_time = started.elapsed();
    let expected = outcome(clean.path());

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}, clean import {clean_time:?}");
    // Kills land between 10% and 90% of an uninterrupted import's time.
    let total = clean_time.as_millis() as u64;
    let (low, span) = (total / 10, (total * 8 / 10).max(20));
    let mut next_delay = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Duration::from_millis(low + seed % span)
    };
    // A kill counts as mid-import only once the import has begun writing (temp files or
    // store files exist) and has not finished: a kill before the first write proves nothing.
    let began_writing = |ws: &Path| -> bool {
        !files_under(&ws.join("store")).is_empty()
            || files_under(&ws.join("tmp"))
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == "part"))
    };
    let kill_import = |ws: &Path, delay: Duration| -> bool {
        let mut child = Command::new(bin())
            .arg("--workspace")
            .arg(ws)
            .arg("import")
            .args(&source_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let writing = began_writing(ws);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL: no cleanup runs
        let _ = child.wait();
        writing && !finished
    };

    // Fresh workspaces, each killed once at a random point of its first import.
    let mut killed_mid_way = 0;
    for trial in 0..6 {
        let ws = tempfile::tempdir().unwrap();
        let delay = next_delay();
        let mid = kill_import(ws.path(), delay);
        killed_mid_way += usize::from(mid);
        eprintln!("trial {trial}: killed after {delay:?} (mid-import: {mid})");
        check_store(ws.path());
        let out = qcdesk(ws.path(), &args);
        assert!(
            out.status.success(),
            "re-import after a crash failed: {}",
            stderr(&out)
        );
        check_store(ws.path());
        assert_eq!(outcome(ws.path()), expected, "trial {trial}");
    }
    assert!(
        killed_mid_way >= 3,
        "the kills must land after the import began writing and before it finished ({killed_mid_way} of 6 did)"
    );

    // One workspace killed again and again: crashes on top of crashes.
    let ws = tempfile::tempdir().unwrap();
    for trial in 0..4 {
        let delay = next_delay() / (trial + 1);
        let mid = kill_import(ws.path(), delay);
        eprintln!("repeated trial {trial}: killed after {delay:?} (mid-import: {mid})");
        check_store(ws.path());
    }
    let out = qcdesk(ws.path(), &args);
    assert!(
        out.status.success(),
        "re-import after repeated crashes failed: {}",
        stderr(&out)
    );
    check_store(ws.path());
    assert_eq!(outcome(ws.path()), expected);
    let leftovers: Vec<_> = files_under(&ws.path().join("tmp"));
    assert!(
        leftovers.is_empty(),
        "temp files of killed imports remain: {leftovers:?}"
    );
}
