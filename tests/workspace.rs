//! The workspace holds patient data: private permissions, tightened when found loose; and the
//! demo never touches a workspace it did not create.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Every file under `dir` with its bytes and mode, and every folder with its mode.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Option<Vec<u8>>, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        out.insert(d.clone(), (None, mode(&d)));
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), (Some(std::fs::read(&p).unwrap()), mode(&p)));
            }
        }
    }
    out
}

#[test]
fn a_new_workspace_is_private() {
    let parent = tempfile::tempdir().unwrap();
    let ws = parent.path().join("ws");
    let r = qcdesk_json(
        &ws,
        &[
            "import",
            "--json",
            pydicom_dir()
                .join("test_files/CT_small.dcm")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(r["new_instances"], 1);
    assert_eq!(mode(&ws), 0o700);
    assert_eq!(mode(&ws.join("store")), 0o700);
    assert_eq!(mode(&ws.join("tmp")), 0o700);
    assert_eq!(mode(&ws.join("qcdesk.sqlite")), 0o600);
    let blobs = files_under(&ws.join("store"));
    assert_eq!(blobs.len(), 1);
    assert_eq!(mode(&blobs[0]), 0o400);
    assert_eq!(mode(blobs[0].parent().unwrap()), 0o700);
}

#[test]
fn a_set_group_id_folder_is_a_workspace_its_group_shares() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let ws = parent.path().join("shared");
    std::fs::create_dir(&ws).unwrap();
    // As the package makes /var/lib/qcdesk: the receiver service's and the desk users' group.
    std::fs::set_permissions(&ws, std::fs::Permissions::from_mode(0o2770)).unwrap();
    let full = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    // A desk user's usual umask must not keep the group from writing.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" --workspace \"$1\" import --json \"$2\"")
        .arg(bin())
        .arg(&ws)
        .arg(pydicom_dir().join("test_files/CT_small.dcm"))
        .env_remove("QCDESK_WORKSPACE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(full(&ws), 0o2770);
    for dir in ["store", "tmp"] {
        assert_eq!(full(&ws.join(dir)), 0o2770, "{dir}");
    }
    assert_eq!(full(&ws.join("qcdesk.sqlite")), 0o660);
    let blobs = files_under(&ws.join("store"));
    assert_eq!(blobs.len(), 1);
    assert_eq!(full(&blobs[0]), 0o440, "read-only, for the group too");
    assert_eq!(full(blobs[0].parent().unwrap()), 0o2770);
    // Nothing to tighten, nothing said; a loose file (others may read) is still tightened.
    let out = qcdesk(&ws, &["status"]);
    assert!(!stderr(&out).contains("readable"), "{}", stderr(&out));
    std::fs::set_permissions(
        ws.join("qcdesk.sqlite"),
        std::fs::Permissions::from_mode(0o664),
    )
    .unwrap();
    let out = qcdesk(&ws, &["status"]);
    assert!(
        stderr(&out).contains("readable by other users"),
        "{}",
        stderr(&out)
    );
    assert_eq!(full(&ws.join("qcdesk.sqlite")), 0o660);
}

#[test]
fn a_loose_workspace_is_tightened_with_a_note() {
    use std::os::unix::fs::PermissionsExt;
    let ws = tempfile::tempdir().unwrap();
    qcdesk_json(
        ws.path(),
        &[
            "import",
            "--json",
            pydicom_dir()
                .join("test_files/CT_small.dcm")
                .to_str()
                .unwrap(),
        ],
    );
    // What qcdesk 0.1 left: 0755 folders, a 0644 database, 0444 blobs.
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    set(ws.path(), 0o755);
    set(&ws.path().join("store"), 0o755);
    set(&ws.path().join("qcdesk.sqlite"), 0o644);
    let blob = files_under(&ws.path().join("store"))[0].clone();
    set(&blob, 0o444);
    // Not qcdesk's: left as it is.
    let foreign = ws.path().join("notes-of-the-night-shift.txt");
    std::fs::write(&foreign, b"x").unwrap();
    set(&foreign, 0o644);
    let out = qcdesk(ws.path(), &["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("readable by other users"),
        "the user is told: {}",
        stderr(&out)
    );
    assert_eq!(mode(ws.path()), 0o700);
    assert_eq!(mode(&ws.path().join("store")), 0o700);
    assert_eq!(mode(&ws.path().join("qcdesk.sqlite")), 0o600);
    assert_eq!(mode(&blob), 0o400);
    assert_eq!(
        mode(&foreign),
        0o644,
        "a file qcdesk does not own is not changed"
    );
    // Once tight, nothing more to say.
    let out = qcdesk(ws.path(), &["status"]);
    assert!(!stderr(&out).contains("readable"), "{}", stderr(&out));
}

#[test]
fn a_folder_holding_other_files_is_not_made_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inbox.dcm"), b"an original").unwrap();
    let before = snapshot(dir.path());
    let out = qcdesk(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a qcdesk workspace") && stderr(&out).contains("inbox.dcm"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(dir.path()), before, "nothing created or changed");
}

#[test]
fn demo_refuses_a_workspace_holding_anything_else_and_changes_nothing() {
    let ws = tempfile::tempdir().unwrap();
    qcdesk_json(
        ws.path(),
        &[
            "import",
            "--json",
            pydicom_dir()
                .join("test_files/CT_small.dcm")
                .to_str()
                .unwrap(),
        ],
    );
    let before = snapshot(ws.path());
    let out = qcdesk(ws.path(), &["demo", "--no-gui"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a demo workspace"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(ws.path()), before, "the workspace changed");
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    assert_eq!(
        queue.as_array().unwrap().len(),
        1,
        "no demo studies planted"
    );

    // Any other content too: a folder with one unrelated file.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("notes.txt"), b"mine").unwrap();
    let before = snapshot(other.path());
    let out = qcdesk(other.path(), &["demo", "--no-gui"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(snapshot(other.path()), before);

    // A workspace an older qcdesk planted a demo into (demo.json, no fence) is never cleared.
    let planted = tempfile::tempdir().unwrap();
    std::fs::write(planted.path().join("demo.json"), br#"{"version": 1}"#).unwrap();
    std::fs::write(planted.path().join("qcdesk.sqlite"), b"real data").unwrap();
    let before = snapshot(planted.path());
    let out = qcdesk(planted.path(), &["demo", "--no-gui"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("older qcdesk"), "{}", stderr(&out));
    assert_eq!(snapshot(planted.path()), before);
}

#[test]
fn demo_builds_in_a_new_or_empty_folder_and_rebuilds_only_its_own() {
    let parent = tempfile::tempdir().unwrap();
    let fresh = parent.path().join("new-demo");
    let r = qcdesk_json(&fresh, &["demo", "--no-gui", "--json"]);
    assert_eq!(r["reused"], false);
    assert!(fresh.join("qcdesk-demo-workspace").is_file());
    let again = qcdesk_json(&fresh, &["demo", "--no-gui", "--json"]);
    assert_eq!(again["reused"], true);

    // Its own workspace from another demo version is rebuilt.
    let report = fresh.join("demo.json");
    let text = std::fs::read_to_string(&report).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["version"] = 1.into();
    std::fs::write(&report, v.to_string()).unwrap();
    let rebuilt = qcdesk_json(&fresh, &["demo", "--no-gui", "--json"]);
    assert_eq!(rebuilt["reused"], false);
    assert_eq!(
        qcdesk_json(&fresh, &["queue", "--json"])
            .as_array()
            .unwrap()
            .len(),
        rebuilt["studies"].as_array().unwrap().len() + 1
    );

    let empty = tempfile::tempdir().unwrap();
    let r = qcdesk_json(empty.path(), &["demo", "--no-gui", "--json"]);
    assert_eq!(r["reused"], false);
}

#[test]
fn rule_settings_in_config_toml_reclassify_the_studies() {
    let ws = demo_workspace();
    let state_of = |name: &str| -> String {
        let q = qcdesk_json(ws.path(), &["queue", "--json"]);
        q.as_array()
            .unwrap()
            .iter()
            .find(|s| s["patient_name"] == name)
            .unwrap_or_else(|| panic!("{name} not in the queue"))["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // A chest film acquired on the CR reader for a CT order.
    assert_eq!(state_of("SCHNEIDER^ANNA"), "mismatch");
    std::fs::write(
        ws.path().join("config.toml"),
        "[rules]\nmodality_equivalents = [[\"CR\", \"CT\"]]\n",
    )
    .unwrap();
    assert_eq!(state_of("SCHNEIDER^ANNA"), "matched");
    std::fs::write(ws.path().join("config.toml"), "[rules]\nmodalities = 3\n").unwrap();
    let out = qcdesk(ws.path(), &["queue"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
    std::fs::remove_file(ws.path().join("config.toml")).unwrap();
    assert_eq!(state_of("SCHNEIDER^ANNA"), "mismatch");
}
