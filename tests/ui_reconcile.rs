//! The detail of a study not yet matched lists its candidate orders with their reasons.

mod common;

use egui_kittest::kittest::{NodeT, Queryable};

use common::desk::*;
use common::*;

/// The desk with the demo's study without accession selected and its candidates loaded.
fn keane_selected(
    ws: &std::path::Path,
) -> (egui_kittest::Harness<'static, qcdesk::ui::DeskApp>, i64) {
    let mut h = desk(ws);
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
    (h, id)
}

#[test]
fn an_unmatched_study_shows_its_candidate_orders_and_why() {
    let ws = demo_workspace();
    let (mut h, _) = keane_selected(ws.path());
    h.run_steps(2);
    assert!(h.query_by_label("Candidate orders").is_some());
    assert!(
        h.query_by_label("A240113").is_some(),
        "the CT order of the day"
    );
    let why = h.state().rt.candidates.as_ref().unwrap().ranking.candidates[0].score;
    h.get_by_label(&format!("Why A240113 is {why}% likely"))
        .click();
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

#[test]
fn enter_previews_the_best_order_apply_changes_the_state_and_ctrl_z_undoes_it() {
    use qcdesk::model::StudyState;
    let ws = demo_workspace();
    let (mut h, id) = keane_selected(ws.path());
    h.run_steps(2);
    // Enter: the best candidate's changes, before anything is written.
    h.key_press(egui::Key::Enter);
    step_until(&mut h, "the preview", |a| a.rt.correct.pending.is_some());
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Apply order A240113 to study")
            .is_some()
    );
    assert!(
        h.query_by_label("AccessionNumber (0008,0050)").is_some(),
        "the accession it lacks is among the changes"
    );
    assert!(h.state().rt.correct.history.as_ref().unwrap().1.is_empty());
    // The window is on screen (sequences make long values).
    let r = h.get_by_label("Apply (Enter)").rect();
    assert!(r.min.x >= 0.0 && r.max.x <= 1500.0, "{r:?}");
    h.get_by_label("Apply (Enter)").click();
    step_until(&mut h, "the correction", |a| {
        a.rt.correct
            .history
            .as_ref()
            .is_some_and(|(s, e)| *s == id && e.len() == 1)
    });
    step_until(&mut h, "the queue to show it matched", |a| {
        a.rt.rows
            .iter()
            .any(|r| r.id == id && r.state == StudyState::Matched && r.accession == "A240113")
    });
    h.run_steps(2);
    assert!(h.query_by_label("Undo last (Ctrl+Z)").is_some());
    assert!(
        h.query_by_label("Candidate orders").is_none(),
        "matched now"
    );
    // Ctrl+Z: back as received.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "the undo", |a| {
        a.rt.correct
            .history
            .as_ref()
            .is_some_and(|(s, e)| *s == id && e.len() == 2)
    });
    step_until(&mut h, "the queue to show it unmatched again", |a| {
        a.rt.rows
            .iter()
            .any(|r| r.id == id && r.state == StudyState::Unmatched && r.accession.is_empty())
    });
}

#[test]
fn the_edit_form_checks_each_value_previews_and_applies_and_n_goes_to_the_next_exception() {
    use qcdesk::model::StudyState;
    use qcdesk::reconcile::fields::FIELDS;
    let ws = demo_workspace();
    let (mut h, id) = keane_selected(ws.path());
    h.run_steps(2);
    h.key_press(egui::Key::E);
    step_until(&mut h, "the form", |a| a.rt.correct.edit.is_some());
    h.run_steps(2);
    assert!(h.query_by_label_contains("Edit study").is_some());
    let at = |k: &str| FIELDS.iter().position(|f| f.keyword == k).unwrap();
    {
        let form = h.state_mut().rt.correct.edit.as_mut().unwrap();
        form.values[at("PatientBirthDate")] = "1980-02-30".into();
        form.values[at("AccessionNumber")] = "A240113".into();
    }
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains("is not a date in YYYYMMDD form")
            .next()
            .is_some(),
        "the birth date's problem is shown beside it"
    );
    assert!(h.query_by_label("1 invalid").is_some());
    {
        let form = h.state_mut().rt.correct.edit.as_mut().unwrap();
        form.values[at("PatientBirthDate")] = form.original[at("PatientBirthDate")].clone();
    }
    h.run_steps(2);
    h.get_by_label("Preview changes").click();
    step_until(&mut h, "the preview", |a| a.rt.correct.pending.is_some());
    h.run_steps(2);
    assert!(h.query_by_label_contains("values typed by hand").is_some());
    h.get_by_label("Apply (Enter)").click();
    step_until(&mut h, "the queue to show it matched", |a| {
        a.rt.rows
            .iter()
            .any(|r| r.id == id && r.state == StudyState::Matched && r.accession == "A240113")
    });
    // N: the next study that is not matched.
    h.run_steps(2);
    h.key_press(egui::Key::N);
    h.run_steps(2);
    let sel = h.state().state.selected.unwrap();
    assert_ne!(sel, id);
    let row = h.state().rt.rows.iter().find(|r| r.id == sel).unwrap();
    assert_ne!(row.state, StudyState::Matched);
}

#[test]
fn the_actions_window_merges_a_split_study_and_rejects_a_series() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| a.rt.queue_loads > 0);
    let split: Vec<i64> = h
        .state()
        .rt
        .rows
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.code == "split_study"))
        .map(|r| r.id)
        .collect();
    assert_eq!(split.len(), 2);
    let (keep, other) = (split[0], split[1]);
    h.state_mut().select_for_test(keep);
    step_until(&mut h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == keep)
    });
    h.run_steps(2);
    h.get_by_label("Dismiss, reject, merge, split…").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("dismiss, reject, merge, split")
            .is_some()
    );
    // The window settles to its content over a few frames (it is anchored by its middle).
    h.run_steps(10);
    h.get_by_label(&format!("Merge study {other}…")).click();
    step_until(&mut h, "the merge preview", |a| {
        a.rt.correct.pending.is_some()
    });
    h.run_steps(2);
    assert!(
        h.query_by_label_contains(&format!("the merge of study {other}"))
            .is_some()
    );
    h.get_by_label("Apply (Enter)").click();
    step_until(&mut h, "the merged queue", |a| {
        !a.rt.rows.iter().any(|r| r.id == other)
            && a.rt
                .rows
                .iter()
                .any(|r| r.id == keep && !r.findings.iter().any(|f| f.code == "split_study"))
    });
    // Reject the first series for quality.
    step_until(&mut h, "the detail again", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == keep) && !a.rt.correct.busy
    });
    h.run_steps(2);
    h.get_by_label("Dismiss, reject, merge, split…").click();
    h.run_steps(3);
    let series = h.state().rt.detail.as_ref().unwrap().series_list[0]
        .series_instance_uid
        .clone();
    h.state_mut().rt.correct.actions.as_mut().unwrap().series = series;
    h.run_steps(2);
    h.get_by_label("Reject (cannot be undone)").click();
    step_until(&mut h, "the rejection", |a| {
        a.rt.detail.as_ref().is_some_and(|d| {
            d.row.id == keep
                && d.series_list[0].instances.iter().all(|i| i.rejected)
                && d.series_list.iter().any(|s| s.modality == "KO")
        })
    });
}

#[test]
fn the_reports_view_shows_its_plots_counts_a_dismissal_and_leads_to_the_queue() {
    let ws = demo_workspace();
    let unmatched = qcdesk_json(ws.path(), &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "unmatched")
        .unwrap()["id"]
        .to_string();
    let out = qcdesk(
        ws.path(),
        &["dismiss", &unmatched, "--reason", "test patient"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| a.rt.queue_loads > 0);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    step_until(&mut h, "the report", |a| a.rt.report.is_some());
    h.run_steps(3);
    assert!(
        h.query_all_by_label_contains("Arrivals (light) and exceptions (dark) per day")
            .count()
            >= 1
    );
    for title in [
        "Open exceptions by age",
        "Hours to resolve per modality (p90 light, median dark)",
        "Exception rate per modality (%)",
    ] {
        assert!(h.query_by_label(title).is_some(), "{title}");
    }
    let r = h.state().rt.report.clone().unwrap();
    assert_eq!(r.totals.dismissals, 1, "the dismissal counts");
    assert!(r.totals.arrivals > 0);
    assert!(h.query_all_by_label_contains("1 dismissed").count() >= 1);
    // A bar leads to the queue narrowed to the studies behind it. The demo's studies are
    // placed at clock times of past days, so which age bar holds studies depends on the time
    // of day: the test clicks the first bar that has some, by its name.
    let shown = |h: &egui_kittest::Harness<'static, qcdesk::ui::DeskApp>| {
        let mut ids: Vec<i64> = h
            .state()
            .rt
            .view
            .iter()
            .map(|&i| h.state().rt.rows[i].id)
            .collect();
        ids.sort_unstable();
        ids
    };
    let bucket = r
        .open
        .age
        .iter()
        .position(|c| c.count > 0)
        .expect("the demo has open exceptions");
    let (key, count) = (r.open.age[bucket].key.clone(), r.open.age[bucket].count);
    h.get_by_label(&format!("Open exceptions by age: {key}: {count}"))
        .click();
    h.run_steps(3);
    assert_eq!(h.state().state.view, qcdesk::ui::View::Queue);
    let only = h.state().rt.only.clone().expect("the queue is narrowed");
    assert_eq!(only.label, format!("open, {key}"));
    // The bucket's bounds, as the report's keys name them.
    let bounds: [(&str, std::ops::Range<i64>); 5] = [
        ("< 1 h", 0..3600),
        ("< 8 h", 3600..8 * 3600),
        ("< 24 h", 8 * 3600..24 * 3600),
        ("< 3 d", 24 * 3600..72 * 3600),
        ("older", 72 * 3600..i64::MAX),
    ];
    let range = bounds
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, r)| r.clone())
        .expect("a known bucket");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut expected: Vec<i64> = h
        .state()
        .rt
        .rows
        .iter()
        .filter(|r| {
            let age = now - r.first_seen_unix;
            r.state != qcdesk::model::StudyState::Matched
                && r.dismissed.is_none()
                && range.contains(&age)
        })
        .map(|r| r.id)
        .collect();
    expected.sort_unstable();
    assert_eq!(expected.len() as u64, count, "the bar counts its studies");
    assert_eq!(shown(&h), expected);
    assert!(
        h.query_by_label_contains(&format!("Report: open, {key}"))
            .is_some()
    );

    // A group's name in the table leads to its arrivals (replacing the narrowing).
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    h.run_steps(3);
    h.get_by_label("CT").click();
    h.run_steps(3);
    assert_eq!(h.state().state.view, qcdesk::ui::View::Queue);
    let ct = shown(&h);
    assert!(!ct.is_empty());
    assert!(ct.iter().all(|id| {
        let r = h.state().rt.rows.iter().find(|r| r.id == *id).unwrap();
        r.modality.split('\\').any(|m| m == "CT")
    }));
    let ct_group = r.groups.iter().find(|g| g.key == "CT").unwrap();
    assert_eq!(ct.len() as u64, ct_group.arrivals);
    // Show all widens the queue again.
    h.get_by_label("Show all").click();
    h.run_steps(3);
    assert!(h.state().rt.only.is_none());
    assert!(shown(&h).len() > ct.len());
}

#[test]
fn the_node_map_shows_each_sender_and_a_click_shows_its_studies() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    step_until(&mut h, "the queue", |a| a.rt.queue_loads > 0);
    // Over the Reports view, so the queue's own AE titles are not on screen too.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    h.run_steps(2);
    h.get_by_label("Node map…").click();
    step_until(&mut h, "the map", |a| a.rt.node_map.map.is_some());
    h.run_steps(10);
    for sender in ["CT_SOMATOM1", "MR_AERA1", "US_LOGIQ3", "CR_FCR2"] {
        assert!(h.query_by_label(sender).is_some(), "{sender}");
    }
    assert!(h.query_by_label("demo-archive").is_some());
    assert!(
        h.query_by_label_contains("software syngo CT VA48A")
            .is_some()
    );
    h.get_by_label("MR_AERA1").click();
    h.run_steps(3);
    assert_eq!(h.state().state.view, qcdesk::ui::View::Queue);
    assert_eq!(h.state().state.search, "MR_AERA1");
    assert!(!h.state().rt.view.is_empty());
    assert!(
        h.state()
            .rt
            .view
            .iter()
            .all(|&i| h.state().rt.rows[i].source == "MR_AERA1")
    );
}

/// The queue's "1 likely order", then the likely order applied to two marked studies at once:
/// each previewed with its changes, a patient change asking for a reason and a confirmation,
/// one Apply, one correction per study, each undone on its own.
#[test]
fn the_likely_orders_of_marked_studies_are_applied_at_once_each_its_own_correction() {
    let ws = demo_workspace();
    let w = ws.path();
    let mut h = desk(w);
    step_until(&mut h, "the likely orders", |a| {
        a.rt.rows.iter().any(|r| r.likely_order.is_some())
    });
    h.run_steps(2);
    let id = |h: &egui_kittest::Harness<'_, qcdesk::ui::DeskApp>, name: &str| {
        h.state()
            .rt
            .rows
            .iter()
            .find(|r| r.patient_name == name)
            .map(|r| r.id)
            .unwrap()
    };
    let (keane, dubois) = (id(&h, "KEANE^ROISIN"), id(&h, "DUBOIS^CÉLINE"));
    assert!(
        h.query_all_by_label_contains("1 likely order").count() >= 2,
        "the queue says so before a study is opened"
    );
    // Ctrl+click marks (the harness marks directly: a click with a modifier is the same).
    h.state_mut().state.marked.extend([keane, dubois]);
    h.run_steps(2);
    h.get_by_label("Apply likely orders… (2)").click();
    step_until(&mut h, "the batch preview", |a| a.rt.bulk.is_some());
    h.run_steps(2);
    assert!(h.query_by_label_contains("← order A240113").is_some());
    assert!(h.query_by_label_contains("← order A240114").is_some());
    // Dubois's Patient ID is replaced: a patient change, so a reason and a confirmation.
    assert!(
        h.query_by_label_contains("This changes who the patient is")
            .is_some()
    );
    let apply = h.get_by_label("Apply 2 orders");
    assert!(apply.accesskit_node().is_disabled(), "no reason yet");
    let reason = h.get_by_label("Reason (required):");
    reason.focus();
    reason.type_text("IDs typed wrong at registration");
    h.run_steps(2);
    h.get_by_role_and_label(
        egui::accesskit::Role::CheckBox,
        "I checked each patient change",
    )
    .click();
    h.run_steps(2);
    h.get_by_label("Apply 2 orders").click();
    step_until(&mut h, "the batch applied", |a| {
        a.rt.bulk.is_none()
            && !a.rt.correct.busy
            && a.rt
                .rows
                .iter()
                .filter(|r| r.id == keane || r.id == dubois)
                .all(|r| r.state == qcdesk::model::StudyState::Matched)
    });
    assert!(h.state().state.marked.is_empty());
    drop(h);
    // One correction each, with the reason; undone one by one.
    for s in [keane, dubois] {
        let history = qcdesk_json(w, &["history", &s.to_string(), "--json"]);
        let entries = history.as_array().unwrap();
        assert_eq!(entries.len(), 1, "{history:#}");
        assert_eq!(entries[0]["action"], "order");
        assert!(
            entries[0]["reason"]
                .as_str()
                .unwrap()
                .contains("IDs typed wrong at registration"),
            "{history:#}"
        );
    }
    assert!(qcdesk(w, &["undo", &dubois.to_string()]).status.success());
    let show = |s: i64| qcdesk_json(w, &["show", &s.to_string(), "--json"])["state"].clone();
    assert_eq!(show(dubois), "mismatch");
    assert_eq!(show(keane), "matched", "the other correction stands");
}
