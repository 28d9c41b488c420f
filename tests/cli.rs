//! The command line contract: exit codes, JSON shapes, errors that name what is wrong.

mod common;

use common::*;

#[test]
fn exit_codes() {
    let ws = tempfile::tempdir().unwrap();
    assert_eq!(
        qcdesk(ws.path(), &["no-such-command"]).status.code(),
        Some(2)
    );
    assert_eq!(
        qcdesk(ws.path(), &["queue", "--state", "purple"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(qcdesk(ws.path(), &["import"]).status.code(), Some(2));
    assert_eq!(qcdesk(ws.path(), &["--help"]).status.code(), Some(0));
    assert_eq!(qcdesk(ws.path(), &["queue"]).status.code(), Some(0));
    let out = qcdesk(ws.path(), &["show", "12345"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("12345"));
    let out = qcdesk(ws.path(), &["import", "/no/such/folder"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/folder"));
}

#[test]
fn queue_and_show_json_have_the_documented_fields() {
    let ws = demo_workspace();
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let rows = queue.as_array().unwrap();
    assert!(!rows.is_empty());
    for key in [
        "id",
        "study_instance_uid",
        "state",
        "patient_name",
        "patient_id",
        "accession",
        "modality",
        "study_date",
        "series",
        "instances",
        "files",
        "findings",
        "source",
        "first_seen",
    ] {
        assert!(rows[0].get(key).is_some(), "queue --json lacks {key}");
    }
    // Most severe first.
    assert_eq!(rows[0]["state"], "broken");
    let broken = qcdesk_json(ws.path(), &["queue", "--state", "broken", "--json"]);
    assert!(
        broken
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "broken")
    );

    let first = &rows[0];
    let by_id = qcdesk_json(ws.path(), &["show", &first["id"].to_string(), "--json"]);
    let by_uid = qcdesk_json(
        ws.path(),
        &[
            "show",
            first["study_instance_uid"].as_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(by_id, by_uid);
    let series = by_id["series_list"].as_array().unwrap();
    assert_eq!(series.len() as u64, first["series"].as_u64().unwrap());
    let inst = &series[0]["instances"][0];
    for key in [
        "sop_instance_uid",
        "sop_class_uid",
        "original_path",
        "blob",
        "size",
        "versions",
        "conflicts",
    ] {
        assert!(inst.get(key).is_some(), "show --json instance lacks {key}");
    }
    assert!(by_id["orders"].is_array());
    for f in first["findings"].as_array().unwrap() {
        assert!(f["code"].is_string() && f["message"].is_string());
    }
}

#[test]
fn worklist_and_status_json() {
    let ws = demo_workspace();
    let wl = qcdesk_json(ws.path(), &["worklist", "--json"]);
    assert!(
        wl.as_array()
            .unwrap()
            .iter()
            .all(|o| o["accession"].is_string() && o["patient_id"].is_string())
    );
    let st = qcdesk_json(ws.path(), &["status", "--json"]);
    let states = st["states"].as_object().unwrap();
    let sum: u64 = states.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(sum, st["studies"].as_u64().unwrap());
}

#[test]
fn version_man_pages_and_completions_come_from_the_cli() {
    let ws = tempfile::tempdir().unwrap();
    let out = qcdesk(ws.path(), &["--version"]);
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        version.starts_with(&format!(
            "qcdesk {} (dicom-rs 0.10.",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    let man = ws.path().join("man");
    let out = qcdesk(ws.path(), &["manpages", man.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A page for qcdesk and one for every command, each naming its options.
    let top = std::fs::read_to_string(man.join("qcdesk.1")).unwrap();
    assert!(
        top.starts_with(".ie") || top.contains(".TH qcdesk 1"),
        "{top:.200}"
    );
    let listen = std::fs::read_to_string(man.join("qcdesk-listen.1")).unwrap();
    assert!(listen.contains("\\-\\-config"), "{listen:.400}");
    for command in [
        "import",
        "fix",
        "send",
        "report",
        "conformance",
        "worklist-sync",
    ] {
        assert!(
            man.join(format!("qcdesk-{command}.1")).exists(),
            "{command}"
        );
    }
    let out = qcdesk(ws.path(), &["completions", "bash"]);
    assert!(out.status.success());
    let bash = String::from_utf8_lossy(&out.stdout);
    assert!(bash.contains("complete -F") && bash.contains("conformance"));
    let out = qcdesk(ws.path(), &["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
