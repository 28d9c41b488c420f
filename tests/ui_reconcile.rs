//! The detail of a study not yet matched lists its candidate orders with their reasons.

mod common;

use egui_kittest::kittest::Queryable;

use common::desk::*;
use common::*;

#[test]
fn an_unmatched_study_shows_its_candidate_orders_and_why() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| a.rt.queue_loads > 0);
    let id = h
        .state()
        .rt
        .rows
        .iter()
        .find(|r| r.patient_name == "KEANE^ROISIN" && r.accession.is_empty())
        .expect("the demo's study without accession")
        .id;
    h.state_mut().select_for_test(id);
    step_until(&mut h, "the candidates", |a| {
        a.rt.candidates.as_ref().is_some_and(|c| c.study == id)
    });
    h.run_steps(2);
    assert!(h.query_by_label("Candidate orders").is_some());
    assert!(
        h.query_by_label("A240113").is_some(),
        "the CT order of the day"
    );
    let why = h.state().rt.candidates.as_ref().unwrap().ranking.candidates[0].score;
    h.get_by_label(&format!("Why A240113 scores {why}")).click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("patient ID 1004714 is the order's")
            .is_some(),
        "the reasons are shown"
    );
    // A matched study lists none.
    let matched = h
        .state()
        .rt
        .rows
        .iter()
        .find(|r| r.state == qcdesk::model::StudyState::Matched)
        .unwrap()
        .id;
    h.state_mut().select_for_test(matched);
    step_until(&mut h, "the matched study", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == matched)
    });
    assert!(h.query_by_label("Candidate orders").is_none());
}
