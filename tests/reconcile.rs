//! Matching through the command line on the demo department: `qcdesk match` ranks the
//! worklist cache's orders for a study, each point of the score with its reason.

mod common;

use common::*;
use serde_json::Value;

fn study_id(ws: &std::path::Path, patient: &str, state: &str) -> String {
    let queue = qcdesk_json(ws, &["queue", "--json"]);
    queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["patient_name"] == patient && s["state"] == state)
        .unwrap_or_else(|| panic!("no {state} study of {patient}: {queue:#}"))["id"]
        .to_string()
}

#[test]
fn a_study_without_accession_gets_its_order_first_and_clear_when_identity_agrees() {
    let ws = demo_workspace();
    let id = study_id(ws.path(), "KEANE^ROISIN", "unmatched");
    let json: Value = qcdesk_json(ws.path(), &["match", &id, "--json"]);
    let c = json.as_array().unwrap();
    assert!(c.len() >= 2, "{json:#}");
    assert_eq!(
        c[0]["accession"], "A240113",
        "the CT order of the day: {json:#}"
    );
    assert_eq!(c[0]["order"]["procedure"], "CT Thorax trauma");
    // No accession, but ID, name, birth date, modality and time all agree, far above her
    // other order: clear (still applied only by the Associate).
    assert_eq!(c[0]["auto"], true, "{json:#}");
    assert!(c[0]["score"].as_i64().unwrap() >= 99, "{json:#}");
    let factors: Vec<&str> = c[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["factor"].as_str().unwrap())
        .collect();
    for f in [
        "patient_id",
        "family_name",
        "given_name",
        "birth_date",
        "modality",
        "time",
    ] {
        assert!(factors.contains(&f), "{f}: {factors:?}");
    }
    // Her other order (an X-ray the same day) ranks below, the modality against it.
    let other = c
        .iter()
        .find(|x| x["accession"] == "A240134")
        .expect("the X-ray order");
    assert!(other["score"].as_i64() < c[0]["score"].as_i64());
    assert!(
        other["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["factor"] == "modality" && r["weight"].as_f64().unwrap() < 0.0)
    );
    // Text output names the reasons too.
    let out = qcdesk(ws.path(), &["match", &id]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("patient ID 1004714 is the order's"), "{text}");
}

#[test]
fn an_accession_with_its_order_is_a_clear_match_and_a_study_without_orders_says_so() {
    let ws = demo_workspace();
    let id = study_id(ws.path(), "KOENIG^JOERG", "mismatch");
    let json: Value = qcdesk_json(ws.path(), &["match", &id, "--json"]);
    assert_eq!(json[0]["accession"], "A240115");
    assert_eq!(json[0]["auto"], true, "{json:#}");
    // A site that never matches on its own.
    std::fs::write(
        ws.path().join("config.toml"),
        "[reconcile]\nauto_match_score = 101\n",
    )
    .unwrap();
    let json: Value = qcdesk_json(ws.path(), &["match", &id, "--json"]);
    assert_eq!(json[0]["auto"], false, "{json:#}");
    std::fs::remove_file(ws.path().join("config.toml")).unwrap();
    // The late-registered emergency is not in the cache before a sync.
    let id = study_id(ws.path(), "KOVÁCS^PÉTER", "unmatched");
    let json: Value = qcdesk_json(ws.path(), &["match", &id, "--json"]);
    assert_eq!(json.as_array().unwrap().len(), 0, "{json:#}");
    let out = qcdesk(ws.path(), &["match", "99999"]);
    assert_eq!(out.status.code(), Some(1));
}
