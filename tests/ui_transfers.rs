//! Sending from the desk: Send on a study, the transfers window, the receiver's switch; driven
//! through the accessibility tree against the demo's built-in archive.

mod common;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

use common::desk::*;
use common::peers::free_port;
use common::*;

#[test]
fn send_on_a_study_ends_verified_and_the_transfers_window_says_so() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue and the nodes", |a| {
        a.rt.queue_loads > 0 && a.rt.worklist.generation > 0
    });
    h.state_mut().select_for_test(1);
    step_until(&mut h, "the detail", |a| a.rt.detail.is_some());
    h.get_by_role_and_label(Role::Button, "Send to demo-archive")
        .click();
    step_until(&mut h, "the study verified", |a| {
        a.rt.network
            .transfers
            .iter()
            .any(|t| t.study_id == 1 && t.state == qcdesk::model::SendState::Verified)
    });
    step_until(&mut h, "the detail reloaded", |a| {
        a.rt.detail
            .as_ref()
            .is_some_and(|d| d.row.send_state == Some(qcdesk::model::SendState::Verified))
    });
    assert!(h.query_by_label("Send: verified").is_some());
    h.get_by_label("Transfers").click();
    step_until(&mut h, "the transfers window", |a| a.rt.network.window_open);
    h.run_steps(3);
    assert!(
        h.query_by_label("verified (storage commitment)").is_some(),
        "the proof is named"
    );
    // The archive holds the study's files.
    let held = files_under(&ws.path().join("demo-archive"));
    let t = &h.state().rt.network.transfers[0];
    assert_eq!(held.len() as i64, t.instances);
}

#[test]
fn the_receiver_switch_starts_it_on_the_configured_port_and_studies_arrive() {
    let ws = demo_workspace();
    let port = free_port();
    {
        let mut store = qcdesk::store::Store::open(ws.path()).unwrap();
        store.set_local_port(port).unwrap();
    }
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| a.rt.queue_loads > 0);
    let before = h.state().rt.rows.len();
    h.get_by_role_and_label(Role::Button, "Start receiver")
        .click();
    step_until(&mut h, "the receiver on", |a| {
        a.rt.network.receiver.is_some()
    });
    assert!(
        h.query_by_label(&format!("Receiving as QCDESK:{port}"))
            .is_some()
    );
    let file = pydicom_dir().join("test_files").join("CT_small.dcm");
    run_ok(
        &require_tool("storescu"),
        &[
            "-aet",
            "CT_ROOM",
            "-aec",
            "QCDESK",
            "127.0.0.1",
            &port.to_string(),
            &file.display().to_string(),
        ],
    );
    step_until(&mut h, "the new study in the queue", |a| {
        a.rt.rows.len() == before + 1
    });
    step_until(&mut h, "the last sender", |a| {
        a.rt.network.last_sender.is_some()
    });
    assert!(h.query_by_label_contains("last: CT_ROOM").is_some());
    h.get_by_role_and_label(Role::Button, "Stop").click();
    step_until(&mut h, "the receiver off", |a| {
        a.rt.network.receiver.is_none()
    });
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
