//! The desk's worklist view and nodes window, driven through the accessibility tree.

mod common;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use qcdesk::model::{DicomNode, NodeRole, StudyState};
use qcdesk::store::Store;
use qcdesk::ui::{DeskApp, EchoState, View};

use common::desk::*;
use common::*;

fn worklist_shown(h: &mut Harness<'_, DeskApp>) {
    h.get_by_role_and_label(Role::Button, "Worklist").click();
    step_until(h, "the worklist", |a| {
        a.state.view == View::Worklist && a.rt.worklist.generation > 0 && a.rt.running.is_empty()
    });
}

fn open_nodes(h: &mut Harness<'_, DeskApp>) {
    h.get_by_role_and_label(Role::Button, "Nodes…").click();
    step_until(h, "the nodes window", |a| a.nodes_window.open);
    // A new window is measured in its first frame and drawn in the next.
    h.run_steps(3);
}

#[test]
fn typing_in_the_worklist_search_shows_the_matching_orders() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    worklist_shown(&mut h);
    assert!(h.query_by_label("36 orders in the cache").is_some());
    assert!(h.query_all_by_label("ANDERSEN^METTE").count() >= 1);

    let search = h.get_by_label("Search orders:");
    search.focus();
    search.type_text("celine dubo");
    h.run_steps(3);
    assert_eq!(h.state().worklist_view.hits.len(), 1);
    assert!(
        h.query_all_by_label("DUBOIS^CÉLINE").count() >= 1,
        "the match is listed"
    );
    assert!(
        h.query_by_label("ANDERSEN^METTE").is_none(),
        "others are not"
    );
    assert!(h.query_by_label_contains("1 found").is_some());
    // The order is shown whole beside the list.
    assert!(h.query_all_by_label("MRI Head without contrast").count() >= 1);
    assert!(h.query_by_label("Requested Procedure ID").is_some());
}

#[test]
fn sync_now_brings_the_late_order_and_matches_its_study() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| {
        a.rt.queue_loads > 0 && a.rt.running.is_empty()
    });
    let kovacs = |a: &DeskApp| {
        a.rt.rows
            .iter()
            .find(|r| r.patient_name == "KOVÁCS^PÉTER" && r.modality == "CR")
            .map(|r| r.state)
    };
    assert_eq!(kovacs(h.state()), Some(StudyState::Unmatched));
    worklist_shown(&mut h);
    h.get_by_role_and_label(Role::Button, "Sync now").click();
    step_until(&mut h, "the sync and the queue reload", |a| {
        a.rt.worklist.syncing.is_empty()
            && a.rt.running.is_empty()
            && kovacs(a) == Some(StudyState::Matched)
    });
    assert!(
        h.query_by_label_contains("Worklist synced from demo-ris: 37 items, 1 new")
            .is_some(),
        "the outcome is shown"
    );
    assert!(h.query_by_label_contains("Last synced").is_some());
    assert!(h.query_by_label("37 orders in the cache").is_some());
}

#[test]
fn echo_on_a_stopped_node_shows_the_error() {
    let ws = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Store::open(ws.path())
        .unwrap()
        .put_node(&DicomNode {
            name: "stopped".into(),
            ae_title: "ARCHIVE".into(),
            host: "127.0.0.1".into(),
            port,
            role: NodeRole::Archive,
            ..DicomNode::default()
        })
        .unwrap();
    let mut h = desk(ws.path());
    step_until(&mut h, "the desk", |a| a.rt.worklist.generation > 0);
    open_nodes(&mut h);
    h.get_by_role_and_label(Role::Button, "Echo stopped")
        .click();
    step_until(&mut h, "the echo", |a| {
        matches!(
            a.rt.worklist.echo.get("stopped"),
            Some(EchoState::Failed(_))
        )
    });
    let shown = h.query_by_label_contains("connection refused");
    assert!(shown.is_some(), "the error is shown beside the node");
    assert!(
        h.query_all_by_label_contains(&format!("ARCHIVE@127.0.0.1:{port}"))
            .count()
            >= 1
    );
}

#[test]
fn the_node_form_refuses_a_bad_port_and_saves_a_good_node() {
    let ws = tempfile::tempdir().unwrap();
    let mut h = desk(ws.path());
    step_until(&mut h, "the desk", |a| a.rt.worklist.generation > 0);
    open_nodes(&mut h);
    for (field, text) in [
        ("Name:", "pacs"),
        ("AE title:", "PACS"),
        ("Host:", "10.0.0.5"),
    ] {
        let f = h.get_by_label(field);
        f.focus();
        f.type_text(text);
        h.run_steps(1);
    }
    let port = h.get_by_label("Port:");
    port.focus();
    port.type_text("x");
    h.run_steps(1);
    h.get_by_role_and_label(Role::Button, "Save node").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("is not a number from 1 to 65535")
            .is_some(),
        "the bad port is named"
    );
    assert!(h.state().rt.worklist.nodes.is_empty());
    // "104x" → "104": remove the typed letter.
    h.get_by_label("Port:").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Backspace);
    h.run_steps(1);
    h.get_by_role_and_label(Role::Button, "Save node").click();
    step_until(&mut h, "the saved node", |a| {
        !a.rt.worklist.nodes.is_empty()
    });
    let n = &h.state().rt.worklist.nodes[0];
    assert_eq!(
        (n.name.as_str(), n.ae_title.as_str(), n.port),
        ("pacs", "PACS", 104)
    );
    assert_eq!(n.role, NodeRole::Ris);
    let stored = Store::open(ws.path()).unwrap().node("pacs").unwrap();
    assert_eq!(stored.host, "10.0.0.5");
}
