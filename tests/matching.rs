//! Matching that learns, and an applied order that ends the exception, through the command
//! line: `match --explain` shows a weight moved by a confirmed match and back after
//! `--reset-learning`; `fix --order` with an order scheduled under another Study UID leaves
//! the study matched (the default `keep`), and under `take` the emptied study says where its
//! instances went; `match --all` proposes the likely order the queue shows.

mod common;

use common::*;
use serde_json::Value;

fn row<'a>(explain: &'a Value, field: &str, level: &str) -> &'a Value {
    explain["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["field"] == field && r["level"] == level)
        .unwrap_or_else(|| panic!("no {field}/{level} in {explain:#}"))
}

fn id_of(ws: &std::path::Path, patient: &str) -> String {
    let queue = qcdesk_json(ws, &["queue", "--json"]);
    queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["patient_name"] == patient)
        .unwrap_or_else(|| panic!("no study of {patient}: {queue:#}"))["id"]
        .to_string()
}

#[test]
fn a_confirmed_match_changes_a_weight_that_explain_shows_and_reset_forgets() {
    let ws = demo_workspace();
    let w = ws.path();
    let before = qcdesk_json(w, &["match", "--explain", "--json"]);
    assert_eq!(before["labels"]["applied"], 0);
    // Dubois: her Patient ID has two digits swapped against her order's.
    let id = id_of(w, "DUBOIS^CÉLINE");
    let ranked = qcdesk_json(w, &["match", &id, "--json"]);
    assert_eq!(ranked[0]["accession"], "A240114", "{ranked:#}");
    let reasons = ranked[0]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["factor"] == "patient_id" && r["level"] == "close"),
        "{ranked:#}"
    );
    let out = qcdesk(w, &["fix", &id, "--order", "A240114", "--reason", "typo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = qcdesk_json(w, &["match", "--explain", "--json"]);
    assert_eq!(after["labels"]["applied"], 1, "{after:#}");
    let (b, a) = (
        row(&before, "patient_id", "close"),
        row(&after, "patient_id", "close"),
    );
    assert_eq!(a["m_count"], 1);
    assert!(
        a["weight"].as_f64().unwrap() > b["weight"].as_f64().unwrap(),
        "a confirmed typo'd ID makes that level weigh more: {b} -> {a}"
    );
    let text = String::from_utf8_lossy(&qcdesk(w, &["match", "--explain"]).stdout).to_string();
    assert!(text.contains("1 confirmed matches"), "{text}");
    assert!(text.contains("patient_id   close"), "{text}");
    // Undone, the match counts against; reset, nothing is learnt any more.
    assert!(qcdesk(w, &["undo", &id]).status.success());
    let undone = qcdesk_json(w, &["match", "--explain", "--json"]);
    assert_eq!(undone["labels"]["applied"], 0);
    assert_eq!(undone["labels"]["undone"], 1);
    let reset = qcdesk_json(w, &["match", "--reset-learning", "--json"]);
    assert!(reset["forgotten"].as_u64().unwrap() >= 1);
    let reset = qcdesk_json(w, &["match", "--explain", "--json"]);
    assert_eq!(
        row(&reset, "patient_id", "close")["weight"],
        b["weight"],
        "{reset:#}"
    );
}

const ORDER_WITH_UID: &str = "accession,patient_name,patient_id,birth_date,sex,modality,scheduled_date,scheduled_time,procedure,study_instance_uid\n\
ACC77,Müller^Jürgen,P7700,19700102,M,CT,2026-11-28,0930,CT Thorax,1.2.826.0.1.3680043.8.498.77\n";

fn workspace_with_order(config: Option<&str>) -> (tempfile::TempDir, String) {
    let ws = tempfile::tempdir().unwrap();
    if let Some(c) = config {
        std::fs::write(ws.path().join("config.toml"), c).unwrap();
    }
    let src = pydicom_dir().join("test_files/CT_small.dcm");
    qcdesk_json(ws.path(), &["import", src.to_str().unwrap(), "--json"]);
    let f = ws.path().join("orders.csv");
    std::fs::write(&f, ORDER_WITH_UID).unwrap();
    qcdesk_json(
        ws.path(),
        &["worklist", "import", f.to_str().unwrap(), "--json"],
    );
    let id = qcdesk_json(ws.path(), &["queue", "--json"])[0]["id"].to_string();
    (ws, id)
}

#[test]
fn an_order_under_another_study_uid_ends_the_exception_and_an_emptied_study_says_where() {
    // The default: the study keeps its own UID, and is matched; the difference is a note.
    let (ws, id) = workspace_with_order(None);
    let w = ws.path();
    let out = qcdesk(w, &["fix", &id, "--order", "ACC77", "--reason", "t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    assert_eq!(show["state"], "matched", "{show:#}");
    let codes: Vec<&str> = show["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["study_uid_differs"], "{show:#}");

    // A site that takes the order's UID: the instances move; the study they left says so.
    let (ws, id) = workspace_with_order(Some("[reconcile]\nstudy_uid = \"take\"\n"));
    let w = ws.path();
    let out = qcdesk(w, &["fix", &id, "--order", "ACC77", "--reason", "t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let queue = qcdesk_json(w, &["queue", "--json"]);
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue:#}");
    assert_eq!(queue[0]["state"], "matched", "{queue:#}");
    assert_eq!(
        queue[0]["study_instance_uid"],
        "1.2.826.0.1.3680043.8.498.77"
    );
    let to = queue[0]["id"].to_string();
    let left = qcdesk_json(w, &["show", &id, "--json"]);
    assert_eq!(left["moved_to"][0]["study"].to_string(), to, "{left:#}");
    assert_eq!(left["findings"][0]["code"], "emptied", "{left:#}");
    let text = String::from_utf8_lossy(&qcdesk(w, &["show", &id]).stdout).to_string();
    assert!(text.contains("emptied"), "{text}");
    assert!(
        text.contains(&format!("Moved to            study {to}")),
        "{text}"
    );
    // Unknown policy: named.
    std::fs::write(
        w.join("config.toml"),
        "[reconcile]\nstudy_uid = \"sometimes\"\n",
    )
    .unwrap();
    let out = qcdesk(w, &["queue"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("study_uid"), "{}", stderr(&out));
}

#[test]
fn the_background_pass_proposes_likely_orders_that_the_queue_shows() {
    let ws = demo_workspace();
    let w = ws.path();
    let keane = id_of(w, "KEANE^ROISIN");
    let queue = qcdesk_json(w, &["queue", "--json"]);
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["likely_order"].is_null()),
        "nothing proposed before a pass"
    );
    let pass = qcdesk_json(w, &["match", "--all", "--json"]);
    assert!(pass["proposed"].as_u64().unwrap() >= 1, "{pass:#}");
    let queue = qcdesk_json(w, &["queue", "--json"]);
    let row = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].to_string().as_str() == keane.as_str())
        .unwrap();
    assert_eq!(row["likely_order"]["accession"], "A240113", "{row:#}");
    // Matched studies propose nothing; a corrected study's proposal is dropped.
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["state"] == "matched")
            .all(|s| s["likely_order"].is_null())
    );
    assert!(
        qcdesk(w, &["fix", &keane, "--order", "A240113", "--reason", "t"])
            .status
            .success()
    );
    let show = qcdesk_json(w, &["show", &keane, "--json"]);
    assert!(show["likely_order"].is_null(), "{show:#}");
}

#[test]
fn the_receiver_service_proposes_likely_orders_on_its_own() {
    let ws = demo_workspace();
    let w = ws.path();
    let port = common::peers::free_port();
    let _listen = common::peers::listen(w, port, None);
    let start = std::time::Instant::now();
    loop {
        let queue = qcdesk_json(w, &["queue", "--json"]);
        let keane = queue
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["patient_name"] == "KEANE^ROISIN")
            .cloned()
            .unwrap();
        if keane["likely_order"]["accession"] == "A240113" {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "listen proposed nothing: {keane:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
