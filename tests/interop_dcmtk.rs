//! Interop with independent implementations: files the demo writes must pass dicom3tools'
//! dciodvfy without errors and be read by DCMTK's dcmdump and by pydicom.

mod common;

use std::process::Command;

use common::*;

fn demo_report(ws: &std::path::Path) -> serde_json::Value {
    qcdesk_json(ws, &["demo", "--no-gui", "--json"])
}

#[test]
fn demo_files_pass_dciodvfy_and_dcmdump() {
    let dciodvfy = require_tool("dciodvfy");
    let dcmdump = require_tool("dcmdump");
    let ws = tempfile::tempdir().unwrap();
    let report = demo_report(ws.path());
    let files: Vec<&str> = report["valid_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(files.len() > 150, "{} valid files", files.len());
    // Every series of every modality: one file per series is enough for the IOD check.
    let mut seen_series = std::collections::HashSet::new();
    let mut checked = 0;
    for f in &files {
        let series_dir = std::path::Path::new(f).parent().unwrap().to_path_buf();
        if !seen_series.insert(series_dir) {
            continue;
        }
        let out = Command::new(&dciodvfy).arg(f).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("Error") || l.starts_with("Warning"))
            .collect();
        assert!(problems.is_empty(), "dciodvfy {f}:\n{text}");
        checked += 1;
    }
    assert!(checked >= 40, "checked {checked} series");
    // dcmdump reads every valid file completely.
    for chunk in files.chunks(64) {
        let out = Command::new(&dcmdump)
            .arg("-q")
            .args(chunk)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dcmdump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "dcmdump complained: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn demo_names_survive_in_pydicom_and_dcmtk() {
    let dcmdump = require_tool("dcmdump");
    let ws = tempfile::tempdir().unwrap();
    let report = demo_report(ws.path());
    let planted = report["studies"].as_array().unwrap();
    let yamada = planted
        .iter()
        .find(|p| p["label"] == "cr-chest-yamada")
        .unwrap()["file"]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new(&dcmdump)
        .args(["+U8", "+P", "0010,0010", &yamada])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("YAMADA^TAROU=山田^太郎=やまだ^たろう"),
        "dcmdump: {text}"
    );

    let script = "import sys, pydicom\nd = pydicom.dcmread(sys.argv[1])\nprint(str(d.PatientName))\nprint(d.SpecificCharacterSet)";
    let out = Command::new("python3")
        .args(["-c", script, &yamada])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "pydicom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("YAMADA^TAROU=山田^太郎=やまだ^たろう"),
        "pydicom: {text}"
    );
    assert!(text.contains("ISO_IR 192"));
}
