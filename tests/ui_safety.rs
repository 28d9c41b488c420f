//! The desk never misleads: the detail shows a study of the view, an unready study does not
//! leave without a question, a change of patient needs a reason, Escape closes the topmost
//! window, a dismissal is shown as such, and a new study starts at its top. Driven through
//! the accessibility tree with egui_kittest.

mod common;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use qcdesk::model::StudyState;
use qcdesk::ui::DeskApp;

use common::desk::*;
use common::*;

fn loaded(h: &mut Harness<'_, DeskApp>) {
    step_until(h, "the queue and the nodes", |a| {
        a.rt.queue_loads > 0 && a.rt.running.is_empty() && a.rt.worklist.generation > 0
    });
}

fn id_of(h: &Harness<'_, DeskApp>, name: &str) -> i64 {
    h.state()
        .rt
        .rows
        .iter()
        .find(|r| r.patient_name == name)
        .unwrap_or_else(|| panic!("{name} in the demo"))
        .id
}

fn show(h: &mut Harness<'_, DeskApp>, id: i64) {
    h.state_mut().select_for_test(id);
    step_until(h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == id)
    });
    h.run_steps(2);
}

#[test]
fn a_search_that_hides_the_selected_study_changes_the_detail() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let patel = id_of(&h, "PATEL^PRIYA");
    let dubois = id_of(&h, "DUBOIS^CÉLINE");
    show(&mut h, patel);
    assert!(
        h.query_all_by_label("PATEL^PRIYA").count() >= 2,
        "row and heading"
    );

    let search = h.get_by_label("Search:");
    search.focus();
    search.type_text("dubois");
    step_until(&mut h, "DUBOIS's detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == dubois)
    });
    assert_eq!(h.state().state.selected, Some(dubois));
    assert!(
        h.query_by_label("PATEL^PRIYA").is_none(),
        "PATEL is neither listed nor shown"
    );
    assert!(
        h.query_by_label("Send to demo-archive").is_some(),
        "the actions are DUBOIS's"
    );

    // A search nothing fits empties the panel, with a word.
    h.state_mut().state.search = "no-such-patient-anywhere".into();
    h.run_steps(3);
    assert_eq!(h.state().state.selected, None);
    assert!(h.query_by_label("Send to demo-archive").is_none());
    assert!(h.query_by_label_contains("No study selected").is_some());
}

#[test]
fn sending_a_broken_study_asks_and_names_the_file_and_cancel_sends_nothing() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let broken = h
        .state()
        .rt
        .rows
        .iter()
        .find(|r| r.findings.iter().any(|f| f.code == "truncated"))
        .expect("the demo's truncated study")
        .clone();
    let file = broken
        .findings
        .iter()
        .find(|f| f.code == "truncated")
        .and_then(|f| f.file.clone())
        .expect("the finding names its file");
    let name = std::path::Path::new(&file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    show(&mut h, broken.id);
    h.get_by_role_and_label(Role::Button, "Send to demo-archive")
        .click();
    h.run_steps(3);
    assert!(h.state().rt.send_confirm.is_some(), "it asks");
    assert!(
        h.query_all_by_label_contains(&name).count() >= 1,
        "the question names {name}"
    );
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    h.run_steps(5);
    assert!(h.state().rt.send_confirm.is_none());
    let store = qcdesk::store::Store::open(ws.path()).unwrap();
    assert!(store.transfers(None).unwrap().is_empty(), "nothing queued");

    // Sent anyway, the transfer carries what was wrong.
    h.get_by_role_and_label(Role::Button, "Send to demo-archive")
        .click();
    h.run_steps(3);
    h.get_by_role_and_label(Role::Button, "Send anyway").click();
    step_until(&mut h, "the job queued", |a| {
        a.rt.network
            .transfers
            .iter()
            .any(|t| t.study_id == broken.id)
    });
    let t = store.transfers(None).unwrap();
    assert_eq!(t[0].caveat, "1 truncated instance", "{t:?}");
}

#[test]
fn a_change_of_patient_asks_for_a_reason_and_a_second_confirmation() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    // Not PATEL: a truncated file of hers cannot be rewritten (the correction is refused).
    let study = id_of(&h, "DUBOIS^CÉLINE");
    show(&mut h, study);
    let before = h.state().rt.detail.as_ref().unwrap().row.patient_id.clone();
    h.key_press(egui::Key::E);
    h.run_steps(3);
    assert!(h.state().rt.correct.edit.is_some(), "E opens the form");
    h.state_mut().rt.correct.edit.as_mut().unwrap().values[1] = "QA-OTHER-77".into();
    h.get_by_label_contains("Preview").click();
    step_until(&mut h, "the preview", |a| a.rt.correct.pending.is_some());
    h.run_steps(2);
    assert!(
        h.query_by_label("This changes who the patient is:")
            .is_some(),
        "the change of patient is said first"
    );
    let apply = h.get_by_label("Apply to the other patient");
    assert!(apply.accesskit_node().is_disabled(), "no reason yet");
    // Enter does not apply it.
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert!(h.state().rt.correct.pending.is_some());
    let reason = h.get_by_label("Reason (required):");
    reason.focus();
    reason.type_text("registered under the wrong patient at the CT");
    h.run_steps(2);
    assert!(
        h.get_by_label("Apply to the other patient")
            .accesskit_node()
            .is_disabled(),
        "the second confirmation is still missing"
    );
    h.get_by_role_and_label(
        Role::CheckBox,
        "I have checked: these images belong to the patient they are moved to",
    )
    .click();
    h.run_steps(2);
    let p = h.state().rt.correct.pending.as_ref().unwrap();
    assert!(p.ready(), "reason {:?} confirmed {}", p.reason, p.confirmed);
    h.get_by_label("Apply to the other patient").click();
    h.run_steps(2);
    assert!(
        h.state().rt.correct.pending.is_none(),
        "applying: {:?}",
        h.state().rt.notifications
    );
    step_until(&mut h, "the correction applied", |a| {
        a.rt.detail
            .as_ref()
            .is_some_and(|d| d.row.id == study && d.row.patient_id == "QA-OTHER-77")
    });
    assert_ne!(before, "QA-OTHER-77");
    let store = qcdesk::store::Store::open(ws.path()).unwrap();
    let history = store.corrections_of(study).unwrap();
    assert!(
        history
            .last()
            .unwrap()
            .reason
            .contains("registered under the wrong patient at the CT"),
        "the reason is recorded"
    );
}

#[test]
fn escape_in_the_edit_form_closes_it_and_keeps_the_search() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let search = h.get_by_label("Search:");
    search.focus();
    search.type_text("dubois");
    let dubois = id_of(&h, "DUBOIS^CÉLINE");
    step_until(&mut h, "DUBOIS's detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == dubois)
    });
    h.get_by_label("Edit…").click();
    h.run_steps(3);
    assert!(h.state().rt.correct.edit.is_some());
    // Typing in the form, then Escape.
    h.get_by_label("Patient's Name").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    assert!(h.state().rt.correct.edit.is_none(), "the form is closed");
    assert_eq!(h.state().state.search, "dubois", "the search is kept");
    // The next Escape, with no window open, clears the search.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert_eq!(h.state().state.search, "");
}

#[test]
fn a_dismissed_study_shows_its_banner_and_reopen() {
    let ws = demo_workspace();
    let id: i64 = {
        let mut store = qcdesk::store::Store::open(ws.path()).unwrap();
        let row = store
            .queue(&Default::default())
            .unwrap()
            .into_iter()
            .find(|r| r.state == StudyState::Unmatched)
            .unwrap();
        store
            .dismiss(
                row.id,
                "rule does not apply here",
                "research protocol, consented",
                "tester",
                "J. Smith",
            )
            .unwrap();
        row.id
    };
    let mut h = desk(ws.path());
    loaded(&mut h);
    h.state_mut().state.show_dismissed = true;
    h.run_steps(2);
    show(&mut h, id);
    assert!(
        h.query_by_label("Dismissed: rule does not apply here")
            .is_some()
    );
    assert!(
        h.query_by_label("Note: research protocol, consented")
            .is_some()
    );
    assert!(h.query_all_by_label_contains("by J. Smith").count() >= 1);
    assert!(
        h.query_all_by_label("1 dismissed").count() >= 1,
        "counted apart in the status bar"
    );
    h.get_by_role_and_label(Role::Button, "Reopen").click();
    step_until(&mut h, "the study reopened", |a| {
        a.rt.rows
            .iter()
            .any(|r| r.id == id && r.dismissed.is_none())
    });
}

#[test]
fn n_starts_the_next_exception_at_its_top() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let first = h.state().rt.rows[h.state().rt.view[0]].id;
    show(&mut h, first);
    // The name in the detail's heading: the topmost label with it inside the detail panel
    // (the queue's row is left of the panel; the order grid repeats the name lower down).
    let heading = |h: &Harness<'_, DeskApp>| {
        let d = h.state().rt.detail.clone().unwrap();
        let panel_left = h
            .query_all_by(|n| n.raw_bounds().is_some() && n.value().as_deref() == Some("Study"))
            .map(|n| n.rect().left())
            .next()
            .expect("the detail panel");
        h.query_all_by_label(&d.row.patient_name)
            .map(|n| n.rect())
            .filter(|r| r.left() >= panel_left)
            .min_by(|a, b| a.top().total_cmp(&b.top()))
            .unwrap()
    };
    let top = heading(&h).top();
    // Scroll the detail down, well past its heading.
    for _ in 0..6 {
        h.get_by_label_contains("Series (").scroll_down();
        h.step();
    }
    h.run_steps(3);
    assert!(heading(&h).top() < top - 50.0, "the detail scrolled");
    h.key_press(egui::Key::N);
    step_until(&mut h, "the next exception", |a| {
        a.rt.detail
            .as_ref()
            .is_some_and(|d| Some(d.row.id) != Some(first))
    });
    h.run_steps(3);
    assert!(
        (heading(&h).top() - top).abs() < 2.0,
        "the next study starts at its top ({} vs {top})",
        heading(&h).top()
    );
}

#[test]
fn the_queue_at_1280_px_shows_state_patient_age_and_findings() {
    let ws = demo_workspace();
    let store = qcdesk::store::Store::open(ws.path()).unwrap();
    let wsp = ws.path().to_path_buf();
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| DeskApp::new(cc, wsp, store, false));
    h.state_mut().state.queue_thumbnails = false;
    loaded(&mut h);
    h.run_steps(3);
    for column in ["State", "Patient", "Age", "Findings"] {
        // A header reads "State ▲" when the queue is sorted by it.
        let r = h
            .query_all_by_role(Role::Button)
            .find(|n| {
                n.accesskit_node().label().is_some_and(|l| {
                    l == column
                        || l.strip_prefix(column)
                            .is_some_and(|m| m == " ▲" || m == " ▼")
                })
            })
            .unwrap_or_else(|| panic!("{column} header"))
            .rect();
        assert!(
            r.right() <= 1280.0 && r.left() >= 0.0,
            "{column} header at {r:?}"
        );
    }
    // The detail is there beside it.
    assert!(h.state().state.show_detail);
    assert!(h.query_all_by_label("Study").count() >= 1);
}

#[test]
fn the_detail_panel_keeps_its_width_whatever_the_study() {
    let ws = demo_workspace();
    let mut h = desk_with_thumbnails(ws.path());
    loaded(&mut h);
    let ids: Vec<i64> = h.state().rt.rows.iter().map(|r| r.id).collect();
    // The panel's title "Study" stands at its left edge.
    let panel_left = |h: &Harness<'_, DeskApp>| {
        h.query_all_by(|n| n.raw_bounds().is_some() && n.value().as_deref() == Some("Study"))
            .map(|n| n.rect().left())
            .next()
            .expect("the detail panel")
    };
    let first = panel_left(&h);
    assert!(1500.0 - first < 500.0, "default width: {}", 1500.0 - first);
    for id in ids {
        show(&mut h, id);
        step_until(&mut h, "the candidates and history", |a| {
            a.rt.running.is_empty()
        });
        h.run_steps(3);
        assert!(
            (panel_left(&h) - first).abs() < 1.0,
            "study {id} widened the panel to {}",
            1500.0 - panel_left(&h)
        );
    }
}

#[test]
fn ctrl_z_takes_back_only_the_correction_just_made_here() {
    let ws = demo_workspace();
    // A correction made earlier (by the command line) on DUBOIS's study.
    let out = qcdesk(
        ws.path(),
        &["fix", "A240114", "--set", "StudyDescription=MRI Head QA"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut h = desk(ws.path());
    loaded(&mut h);
    let dubois = id_of(&h, "DUBOIS^CÉLINE");
    show(&mut h, dubois);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(5);
    assert!(
        h.state().rt.notifications.iter().any(|n| n
            .text
            .contains("Ctrl+Z takes back the correction just made")),
        "{:?}",
        h.state().rt.notifications
    );
    let store = qcdesk::store::Store::open(ws.path()).unwrap();
    let history = store.corrections_of(dubois).unwrap();
    assert_eq!(history.len(), 1, "nothing undone: {history:?}");
    assert!(history[0].undone_by.is_none());
}
