//! Golden test of the demo: each planted exception lands in the state and finding it plants.

mod common;

use common::*;

/// The planted studies and what the desk must say about them. Written here, independently
/// of the generator's own expectations, so a change to either is caught.
const GOLDEN: &[(&str, &str, Option<&str>)] = &[
    ("ct-thorax-mueller", "matched", None),
    // Sent twice: once by the station, once by a router with its own file meta group.
    ("mr-head-garcia", "matched", None),
    ("cr-chest-yamada", "matched", None),
    ("us-abdomen-wang", "matched", None),
    ("ct-thorax-obrien", "matched", None),
    ("cr-chest-nguyen", "matched", None),
    ("mr-head-smith", "matched", None),
    // An archive copy in Implicit VR came back too: kept as an encoding variant, noted.
    ("us-abdomen-odegard", "matched", Some("format_note")),
    ("ct-thorax-hong", "matched", None),
    // Its Patient ID is used for ROSSI^MARCO by another study.
    ("cr-chest-rossi", "inconsistent", Some("patient_conflict")),
    ("mr-head-tanaka", "matched", None),
    ("ct-thorax-andersen", "matched", None),
    ("cr-chest-noorder-kovacs", "unmatched", Some("no_order")),
    (
        "ct-trauma-noaccession-keane",
        "unmatched",
        Some("no_accession"),
    ),
    (
        "mr-head-wrongid-dubois",
        "mismatch",
        Some("patient_id_mismatch"),
    ),
    (
        "ct-thorax-misspelled-koenig",
        "mismatch",
        Some("patient_name_mismatch"),
    ),
    (
        "us-abdomen-wrongbirth-sato",
        "mismatch",
        Some("birth_date_mismatch"),
    ),
    (
        "cr-chest-wrongmodality-schneider",
        "mismatch",
        Some("modality_mismatch"),
    ),
    (
        "mr-head-mixedpatient-brown",
        "inconsistent",
        Some("mixed_patient"),
    ),
    (
        "ct-thorax-twoaccessions-fernandes",
        "inconsistent",
        Some("multiple_accessions"),
    ),
    (
        "us-abdomen-duplicatesop-johansson",
        "inconsistent",
        Some("duplicate_sop_uid"),
    ),
    ("ct-thorax-truncated-patel", "broken", Some("truncated")),
    ("cr-chest-nosopuid-smith", "broken", Some("missing_uid")),
    ("mr-head-baddate-nguyen", "nonconformant", Some("bad_value")),
    (
        "us-abdomen-nopixels-rossi",
        "broken",
        Some("missing_pixel_data"),
    ),
    ("ct-thorax-corrupt-wang", "broken", Some("unreadable")),
    // An ASCII-only station: the name matches its order once accents are folded.
    ("cr-chest-ascii-odegard", "matched", Some("name_variant")),
    (
        "ct-thorax-split-obrien",
        "inconsistent",
        Some("split_study"),
    ),
    (
        "mr-head-studyuid-andersen",
        "matched",
        Some("study_uid_differs"),
    ),
    (
        "us-abdomen-patientconflict-rossi",
        "inconsistent",
        Some("patient_conflict"),
    ),
    (
        "ct-thorax-noscs-lefevre",
        "nonconformant",
        Some("undeclared_charset"),
    ),
];

#[test]
fn every_planted_exception_lands_in_its_state() {
    let ws = tempfile::tempdir().unwrap();
    let report = qcdesk_json(ws.path(), &["demo", "--no-gui", "--json"]);
    assert_eq!(report["reused"], false);
    let planted = report["studies"].as_array().unwrap();
    assert_eq!(planted.len(), GOLDEN.len());
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let studies = queue.as_array().unwrap();
    assert_eq!(
        studies.len(),
        GOLDEN.len() + 1,
        "one queue entry per planted study, and the split-off scout of the split study"
    );

    for (label, state, code) in GOLDEN {
        let p = planted
            .iter()
            .find(|p| p["label"] == *label)
            .unwrap_or_else(|| panic!("{label} not planted"));
        assert_eq!(
            p["expected_state"], *state,
            "generator and golden table disagree on {label}"
        );
        let uid = p["study_instance_uid"].as_str().unwrap();
        let s = studies
            .iter()
            .find(|s| s["study_instance_uid"] == uid)
            .unwrap_or_else(|| panic!("{label}: study {uid} not in the queue"));
        assert_eq!(s["state"], *state, "{label}: {}", s["findings"]);
        let codes: Vec<&str> = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        match code {
            Some(c) => assert_eq!(
                codes.first(),
                Some(c),
                "{label}: most severe finding first: {codes:?}"
            ),
            None => assert!(codes.is_empty(), "{label}: {codes:?}"),
        }
    }
    // The split-off study carries the finding too.
    let split = &planted
        .iter()
        .find(|p| p["label"] == "ct-thorax-split-obrien")
        .unwrap();
    let accession = split["accession"].as_str().unwrap();
    let halves: Vec<&serde_json::Value> = studies
        .iter()
        .filter(|s| s["accession"] == accession)
        .collect();
    assert_eq!(halves.len(), 2);
    for h in halves {
        assert_eq!(h["state"], "inconsistent");
        assert_eq!(h["findings"][0]["code"], "split_study", "{h}");
    }
    // Re-sent and transcoded copies are receipts and variants, not conflicts.
    let garcia = planted
        .iter()
        .find(|p| p["label"] == "mr-head-garcia")
        .unwrap();
    let show = qcdesk_json(
        ws.path(),
        &[
            "show",
            garcia["study_instance_uid"].as_str().unwrap(),
            "--json",
        ],
    );
    for series in show["series_list"].as_array().unwrap() {
        for i in series["instances"].as_array().unwrap() {
            assert_eq!(i["receipts"].as_array().unwrap().len(), 2, "{i}");
            assert_eq!(i["conflicts"], 0);
        }
    }

    // Per-file findings name the planted file.
    for (label, _, code) in GOLDEN
        .iter()
        .filter(|g| matches!(g.2, Some("truncated" | "unreadable" | "missing_uid")))
    {
        let p = planted.iter().find(|p| p["label"] == *label).unwrap();
        let s = studies
            .iter()
            .find(|s| s["study_instance_uid"] == p["study_instance_uid"])
            .unwrap();
        let f = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code.unwrap())
            .unwrap();
        assert_eq!(f["file"], p["file"], "{label}");
    }

    let status = qcdesk_json(ws.path(), &["status", "--json"]);
    assert_eq!(status["worklist"], report["worklist_items"]);

    // Running the demo again reuses the workspace.
    let again = qcdesk_json(ws.path(), &["demo", "--no-gui", "--json"]);
    assert_eq!(again["reused"], true);
    assert_eq!(qcdesk_json(ws.path(), &["queue", "--json"]), queue);
}

#[test]
fn the_worklist_cache_drives_matching() {
    // Importing the demo files into a workspace without the demo worklist: nothing can match.
    let demo = demo_workspace();
    let ws = tempfile::tempdir().unwrap();
    let inbox = demo.path().join("demo-inbox");
    qcdesk_json(ws.path(), &["import", "--json", inbox.to_str().unwrap()]);
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    for s in queue.as_array().unwrap() {
        assert_ne!(s["state"], "matched", "matched without any order: {s}");
        assert_ne!(s["state"], "mismatch", "mismatch without any order: {s}");
    }
}
