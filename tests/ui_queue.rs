//! The desk window, driven through its accessibility tree with egui_kittest (no display needed).

mod common;

use std::path::Path;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use qcdesk::model::StudyState;
use qcdesk::ui::DeskApp;

use common::desk::*;
use common::*;

fn loaded(h: &mut Harness<'_, DeskApp>) {
    step_until(h, "the queue", |a| {
        a.rt.queue_loads > 0 && a.rt.running.is_empty()
    });
}

#[test]
fn the_queue_shows_the_demo_studies() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    assert_eq!(h.state().rt.rows.len(), 32);
    assert_eq!(h.state().rt.view.len(), 32);
    for name in [
        "KOVÁCS^PÉTER",
        "PATEL^PRIYA",
        "HONG^GILDONG=洪^吉洞=홍^길동",
        "ØDEGÅRD^ÅSE",
    ] {
        assert!(h.query_all_by_label(name).count() >= 1, "{name} not shown");
    }
    // Most severe first: the first row is broken and is selected with its detail loaded.
    let first = h.state().rt.rows[h.state().rt.view[0]].clone();
    assert_eq!(first.state, StudyState::Broken);
    step_until(&mut h, "the first study's detail", |a| {
        a.rt.detail.is_some()
    });
    assert_eq!(h.state().state.selected, Some(first.id));
    assert!(
        h.query_all_by_label("32 studies").count() == 1,
        "status bar counts"
    );
}

#[test]
fn filter_and_search_narrow_the_queue() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    // The filter's label stands before its box, and names it.
    h.get_by_label("State:").click();
    h.step();
    h.step();
    h.get_by_role_and_label(Role::Button, "mismatch").click();
    h.step();
    h.step();
    assert_eq!(h.state().state.state_filter, Some(StudyState::Mismatch));
    assert_eq!(h.state().rt.view.len(), 4);
    assert!(
        h.query_by_label("KOVÁCS^PÉTER").is_none(),
        "an unmatched study still shows"
    );
    assert!(h.query_all_by_label("KOENIG^JOERG").count() >= 1);

    h.get_by_label("State:").click();
    h.step();
    h.step();
    h.get_by_role_and_label(Role::Button, "All states").click();
    h.step();
    h.step();
    assert_eq!(h.state().rt.view.len(), 32);

    let search = h.get_by_label("Search:");
    search.focus();
    search.type_text("kovács");
    h.step();
    h.step();
    assert_eq!(
        h.state().rt.view.len(),
        1,
        "search is case-insensitive and accent-exact"
    );
    assert!(h.query_all_by_label("KOVÁCS^PÉTER").count() >= 1);
    assert!(h.query_by_label("BROWN^MICHAEL").is_none(), "filtered out");

    // Findings are searchable too.
    h.state_mut().state.search = "truncated".into();
    h.step();
    assert_eq!(h.state().rt.view.len(), 1);
}

#[test]
fn selecting_a_row_fills_the_detail_panel_and_keys_move_the_selection() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);

    // DUBOIS is never the first row (broken studies come first), so it is not selected yet.
    h.get_by_label("DUBOIS^CÉLINE").click();
    h.step();
    let dubois = h
        .state()
        .rt
        .rows
        .iter()
        .find(|r| r.patient_name == "DUBOIS^CÉLINE")
        .unwrap()
        .id;
    assert_eq!(h.state().state.selected, Some(dubois));
    step_until(&mut h, "DUBOIS's detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == dubois)
    });
    assert!(
        h.query_all_by_label_contains("Study vs. order A240114")
            .count()
            == 1
    );
    assert!(h.query_all_by_label("[patient_id_mismatch]").count() == 1);
    assert!(
        h.query_all_by_label_contains("t2_tse_tra FS").count() >= 1,
        "series list"
    );

    // Arrow down selects the next row in the view; Enter keeps the detail open.
    let pos = h.state().rt.view_position(dubois).unwrap();
    h.key_press(egui::Key::ArrowDown);
    h.step();
    let next = h.state().rt.rows[h.state().rt.view[pos + 1]].id;
    assert_eq!(h.state().state.selected, Some(next));
    h.state_mut().state.show_detail = false;
    h.key_press(egui::Key::Enter);
    h.step();
    assert!(h.state().state.show_detail);

    // Ctrl+F focuses the search field.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.step();
    h.step();
    assert!(h.get_by_label("Search:").is_focused());
}

#[test]
fn the_import_button_starts_an_import_with_progress() {
    let ws = tempfile::tempdir().unwrap();
    let mut h = desk(ws.path());
    loaded(&mut h);
    assert!(h.state().rt.rows.is_empty());
    assert!(h.query_all_by_label("No studies yet").count() == 1);

    h.get_by_label("Import…").click();
    h.run_steps(6);
    assert!(h.state().import_dialog.open);
    let field = h.get_by_label("Path to import:");
    assert!(
        field.is_focused(),
        "the path field takes the keyboard at once"
    );
    field.focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    // pydicom's test files (its charset samples need fonts for scripts the desk does not bundle).
    let src = pydicom_dir().join("test_files");
    h.get_by_label("Path to import:")
        .type_text(src.to_str().unwrap());
    h.step();
    h.step();
    assert_eq!(h.state().import_dialog.path, src.to_str().unwrap());
    // The dialog asks a helper thread whether the path exists; the button waits for it.
    step_until(&mut h, "the path checked off the UI thread", |a| {
        a.import_dialog.path_found() == Some(true)
    });
    h.get_by_role_and_label(Role::Button, "Import").click();
    h.step();
    assert!(
        h.state().rt.import_running(),
        "the import runs in the background"
    );
    h.step();
    assert!(
        h.query_by_role(Role::ProgressIndicator).is_some(),
        "progress is shown"
    );

    step_until(&mut h, "the import and the reload", |a| {
        !a.rt.import_running() && a.rt.running.is_empty() && !a.rt.rows.is_empty()
    });
    assert!(
        h.state()
            .rt
            .notifications
            .iter()
            .any(|n| n.text.starts_with("Import finished: 176 files"))
    );
    assert_eq!(h.state().rt.stats.instances, 128);
}

/// The comparison the rules made, as `show --json` gives it: (field, verdict) per field.
fn rule_verdicts(ws: &Path, id: i64) -> Vec<(String, String)> {
    let show = qcdesk_json(ws, &["show", &id.to_string(), "--json"]);
    show["orders"][0]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("study {id} has no order comparison: {show}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["verdict"].as_str().unwrap().replace('_', " "),
            )
        })
        .collect()
}

#[test]
fn the_marks_in_the_detail_are_the_rules_verdicts() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let studies: Vec<(i64, StudyState)> = h
        .state()
        .rt
        .rows
        .iter()
        .filter(|r| matches!(r.state, StudyState::Mismatch | StudyState::Matched))
        .map(|r| (r.id, r.state))
        .collect();
    assert!(
        studies
            .iter()
            .filter(|s| s.1 == StudyState::Mismatch)
            .count()
            >= 4
    );
    let mut mismatches_drawn = 0;
    for (id, _) in studies {
        h.state_mut().state.search.clear();
        h.state_mut().select_for_test(id);
        step_until(&mut h, "the study's detail", |a| {
            a.rt.detail.as_ref().is_some_and(|d| d.row.id == id)
        });
        h.run_steps(2);
        for (field, verdict) in rule_verdicts(ws.path(), id) {
            let label = format!("{field}: {verdict}");
            assert_eq!(
                h.query_all_by_label(&label).count(),
                1,
                "study {id}: the desk must mark '{label}' as the rules say"
            );
            if verdict == "mismatch" {
                mismatches_drawn += 1;
            }
        }
    }
    assert!(mismatches_drawn >= 5, "{mismatches_drawn} mismatch marks");
}

#[test]
fn unreadable_files_can_be_listed_and_the_theme_switched() {
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        inbox.path().join("gone.dcm"),
        inbox.path().join("dangling.dcm"),
    )
    .unwrap();
    let out = qcdesk(ws.path(), &["import", inbox.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut h = desk(ws.path());
    loaded(&mut h);
    h.get_by_label("1 unreadable files").click();
    step_until(&mut h, "the rejects", |a| a.rt.rejects.is_some());
    h.run_steps(4);
    assert!(h.query_all_by_label_contains("dangling.dcm").count() >= 1);
    assert!(
        h.query_all_by_label_contains("broken symbolic link")
            .count()
            >= 1
    );

    assert!(!h.state().state.dark);
    h.get_by_label("Dark theme").click();
    h.run_steps(2);
    assert!(h.state().state.dark);
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
    assert!(h.query_all_by_label("Light theme").count() == 1);
}
