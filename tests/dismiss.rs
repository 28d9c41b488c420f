//! Resolving an exception without change: `dismiss` with one of the site's reasons, `reopen`,
//! `queue --open`, audited; the desk's window and its queue filter.

mod common;

use common::desk::*;
use common::*;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::Value;

fn unmatched(ws: &std::path::Path) -> String {
    qcdesk_json(ws, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "unmatched")
        .expect("an unmatched study")["id"]
        .to_string()
}

fn open_ids(ws: &std::path::Path) -> Vec<String> {
    qcdesk_json(ws, &["queue", "--open", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].to_string())
        .collect()
}

#[test]
fn a_dismissed_study_leaves_the_open_exceptions_until_reopened() {
    let ws = demo_workspace();
    let w = ws.path();
    let id = unmatched(w);
    let all = qcdesk_json(w, &["queue", "--json"]);
    let open = open_ids(w);
    assert!(open.contains(&id));
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == "matched")
            .all(|r| !open.contains(&r["id"].to_string())),
        "matched studies are not open exceptions"
    );

    let bad = qcdesk(w, &["dismiss", &id, "--reason", "looks fine to me"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("'phantom or QA scan'"),
        "{}",
        stderr(&bad)
    );

    let done = qcdesk_json(
        w,
        &[
            "dismiss",
            &id,
            "--reason",
            "Phantom or QA scan",
            "--note",
            "weekly QA phantom",
            "--operator",
            "J. Smith",
            "--json",
        ],
    );
    assert_eq!(done["dismissed"]["reason"], "phantom or QA scan");
    assert_eq!(done["dismissed"]["by"], "J. Smith");
    assert!(!open_ids(w).contains(&id));
    let row = qcdesk_json(w, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].to_string().as_str() == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["dismissed"]["note"], "weekly QA phantom");
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    assert_eq!(show["dismissed"]["reason"], "phantom or QA scan");

    let again = qcdesk(w, &["dismiss", &id, "--reason", "test patient"]);
    assert!(stderr(&again).contains("reopen it first"));
    let matched = all
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "matched")
        .unwrap()["id"]
        .to_string();
    let refused = qcdesk(w, &["dismiss", &matched, "--reason", "test patient"]);
    assert!(stderr(&refused).contains("not an exception"));

    let reopened = qcdesk_json(w, &["reopen", &id, "--json"]);
    assert_eq!(reopened["dismissed"], Value::Null);
    assert!(open_ids(w).contains(&id));
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    assert_eq!(show["dismissed"], Value::Null);
    let history = qcdesk_json(w, &["history", &id, "--json"]);
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["dismiss", "reopen"]);
    let audit = qcdesk_json(w, &["audit", &id, "--json"]);
    assert_eq!(audit[0]["action"], "dismiss");
    assert_eq!(audit[0]["detail"]["note"], "weekly QA phantom");
    assert!(qcdesk(w, &["audit", "--verify"]).status.success());
    // A site's own list.
    std::fs::write(
        w.join("config.toml"),
        "[dismiss]\nreasons = [\"vendor test\"]\n",
    )
    .unwrap();
    let out = qcdesk(w, &["dismiss", &id, "--reason", "vendor test"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_desk_dismisses_from_the_actions_window_and_hides_dismissed_studies() {
    let ws = demo_workspace();
    let id: i64 = unmatched(ws.path()).parse().unwrap();
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| a.rt.queue_loads > 0);
    h.state_mut().select_for_test(id);
    step_until(&mut h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == id)
    });
    h.run_steps(2);
    h.get_by_label("Dismiss, reject, merge, split…").click();
    h.run_steps(10);
    // The first reason, a false positive, says nothing by itself: a note is required.
    assert!(
        h.get_by_label("Dismiss").accesskit_node().is_disabled(),
        "Dismiss waits for the note"
    );
    let note = h.get_by_label("Note (required)");
    note.focus();
    note.type_text("order placed on paper; RIS entry follows");
    h.run_steps(3);
    h.get_by_label("Dismiss").click();
    step_until(&mut h, "the dismissal", |a| {
        a.rt.rows
            .iter()
            .any(|r| r.id == id && r.dismissed.is_some())
            && !a.rt.correct.busy
    });
    h.run_steps(2);
    assert!(
        !h.state()
            .rt
            .view
            .iter()
            .any(|&i| h.state().rt.rows[i].id == id),
        "out of the exception view"
    );
    h.get_by_label("Dismissed").click();
    h.run_steps(3);
    assert!(
        h.state()
            .rt
            .view
            .iter()
            .any(|&i| h.state().rt.rows[i].id == id)
    );
}
