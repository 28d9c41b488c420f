//! The node map: three senders known from their files (different Source AE Titles,
//! Implementation Version Names and Software Versions) and one network peer; JSON with each
//! one's counts, DOT that Graphviz reads, SVG that parses.

mod common;

use std::process::Command;

use common::peers::*;
use common::*;
use serde_json::Value;

#[test]
fn the_map_lists_every_sender_and_peer_with_counts_and_draws_them() {
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let files = tempfile::tempdir().unwrap();
    let senders = [
        ("test_files/CT_small.dcm", "CT_ROOM1", "SCANNER_A_1"),
        ("test_files/MR_small.dcm", "MR_ROOM2", "SCANNER_B_2"),
        ("test_files/JPEG2000.dcm", "XA_ROOM3", "SCANNER_C_3"),
    ];
    let mut software = Vec::new();
    for (i, (file, ae, version)) in senders.iter().enumerate() {
        let src = pydicom_dir().join(file);
        let bytes = rewrap(&std::fs::read(&src).unwrap(), ae, version);
        let out = files.path().join(format!("{i}.dcm"));
        std::fs::write(&out, bytes).unwrap();
        let sv = Command::new("python3")
            .args([
                "-c",
                "import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); v = d.get('SoftwareVersions', ''); print('\\\\'.join(v) if isinstance(v, pydicom.multival.MultiValue) else v)",
            ])
            .arg(&out)
            .output()
            .unwrap();
        software.push(String::from_utf8_lossy(&sv.stdout).trim().to_string());
    }
    let r = qcdesk_json(w, &["import", files.path().to_str().unwrap(), "--json"]);
    assert_eq!(r["new_instances"], 3, "{r:#}");

    // One network peer.
    let port = free_port();
    let mut listener = listen(w, port, Some("QCDESK"));
    let storescu = require_tool("storescu");
    let sent = Command::new(storescu)
        .args([
            "-aet",
            "MODALITY9",
            "-aec",
            "QCDESK",
            "127.0.0.1",
            &port.to_string(),
        ])
        .arg(pydicom_dir().join("test_files/SC_rgb_small_odd.dcm"))
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    listener.terminate();

    let map: Value = qcdesk_json(w, &["nodes", "--json"]);
    let listed = map["senders"].as_array().unwrap();
    for ((_, ae, version), sv) in senders.iter().zip(&software) {
        let s = listed
            .iter()
            .find(|s| s["source_ae"] == *ae)
            .unwrap_or_else(|| panic!("{ae} missing: {map:#}"));
        assert_eq!(s["implementation_version"], *version);
        assert_eq!(s["software_versions"], sv.as_str(), "{ae}");
        assert_eq!(s["studies"], 1);
        assert_eq!(s["instances"], 1);
        assert_eq!(s["exceptions"], 1, "no order for any of them");
    }
    // The reports group by the same Implementation Version Names.
    let report = qcdesk_json(w, &["report", "--by", "version", "--json"]);
    for (_, _, version) in &senders {
        let g = report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == *version)
            .unwrap_or_else(|| panic!("{version} not a group: {report:#}"));
        assert_eq!(g["arrivals"], 1, "{version}");
        assert_eq!(g["open"], 1, "{version}");
    }
    let peer = map["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ae_title"] == "MODALITY9")
        .unwrap_or_else(|| panic!("{map:#}"));
    assert_eq!(peer["associations"], 1);
    assert_eq!(peer["instances"], 1);
    assert_eq!(peer["failures"], 0);
    assert!(
        peer["implementation_version"]
            .as_str()
            .unwrap()
            .starts_with("OFFIS_DCMTK"),
        "{peer:#}"
    );

    // DOT that Graphviz lays out, SVG that parses, both naming everyone.
    let out = tempfile::tempdir().unwrap();
    let dot = out.path().join("map.dot");
    let svg = out.path().join("map.svg");
    let r = qcdesk(
        w,
        &[
            "nodes",
            "--dot",
            dot.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let laid_out = Command::new(require_tool("dot"))
        .arg("-Tsvg")
        .arg(&dot)
        .output()
        .unwrap();
    assert!(
        laid_out.status.success(),
        "dot: {}",
        String::from_utf8_lossy(&laid_out.stderr)
    );
    let drawn = String::from_utf8_lossy(&laid_out.stdout);
    let ours = std::fs::read_to_string(&svg).unwrap();
    for name in ["CT_ROOM1", "MR_ROOM2", "XA_ROOM3", "MODALITY9", "QCDESK"] {
        assert!(drawn.contains(name), "{name} not in Graphviz's drawing");
        assert!(ours.contains(name), "{name} not in the SVG");
    }
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; print(len(E.parse(sys.argv[1]).getroot()))",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
}
