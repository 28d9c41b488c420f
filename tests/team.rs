//! A team on one workspace: claims (who is handling a study; refusals naming the holder; take
//! over with an audited reason; a lapsed lease when the holder dies), two changes of one study
//! at once, and a desk that shows what the service and other processes did without a key
//! pressed. Real processes: `qcdesk` commands, `qcdesk listen`, DCMTK's storescu, and the desk
//! in egui_kittest.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::desk::*;
use common::peers::*;
use common::*;

/// `qcdesk claim STUDY --hold` running: its claim renewed until it dies.
fn hold(ws: &Path, study: &str, minutes: &str) -> (Proc, serde_json::Value) {
    let mut child = Command::new(bin())
        .arg("--workspace")
        .arg(ws)
        .args(["claim", study, "--hold", "--minutes", minutes, "--json"])
        .env_remove("QCDESK_WORKSPACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qcdesk claim --hold");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the claim's line");
    let claim: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("claim --hold printed {line:?}: {e}"));
    (
        Proc {
            child: Some(child),
            name: "qcdesk claim --hold".into(),
        },
        claim,
    )
}

fn row(ws: &Path, id: i64) -> serde_json::Value {
    qcdesk_json(ws, &["queue", "--json"])
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("study {id} in the queue"))
}

fn first_open(ws: &Path) -> i64 {
    qcdesk_json(ws, &["queue", "--open", "--json"])
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["state"] == "unmatched")
        .expect("an unmatched study in the demo")["id"]
        .as_i64()
        .expect("id")
}

#[test]
fn a_claim_shows_in_queue_and_show_refuses_others_and_lapses_when_its_holder_is_killed() {
    let ws = demo_workspace();
    let id = first_open(ws.path());
    let sid = id.to_string();
    let (mut holder, claim) = hold(ws.path(), &sid, "0.1");
    let by = claim["claimed_by"]
        .as_str()
        .expect("claimed_by")
        .to_string();
    assert!(by.contains(" at "), "user at host: {by}");

    let r = row(ws.path(), id);
    assert_eq!(r["claimed_by"], by.as_str());
    assert!(r["claimed_until"].is_string() && r["claimed_since"].is_string());
    let shown = qcdesk_json(ws.path(), &["show", &sid, "--json"]);
    assert_eq!(shown["claimed_by"], by.as_str());
    // Another study is nobody's.
    let others = qcdesk_json(ws.path(), &["queue", "--json"]);
    assert!(
        others
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] != id)
            .all(|r| r["claimed_by"].is_null())
    );

    // Every change of the study is refused, naming the holder; nothing is written.
    let before = qcdesk_json(ws.path(), &["history", &sid, "--json"]);
    for args in [
        vec!["fix", &sid, "--set", "StudyDescription=CLAIMED"],
        vec!["dismiss", &sid, "--reason", "test patient"],
    ] {
        let out = qcdesk(ws.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?} refused");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("is being handled by {by} since")),
            "{args:?} names the holder: {err}"
        );
    }
    assert_eq!(qcdesk_json(ws.path(), &["history", &sid, "--json"]), before);

    // The holder dies without releasing: the claim stays until its lease lapses.
    holder.kill();
    let out = qcdesk(
        ws.path(),
        &["fix", &sid, "--set", "StudyDescription=CLAIMED"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "still held right after the kill"
    );
    let until =
        qcdesk::fsutil::parse_rfc3339_unix(row(ws.path(), id)["claimed_until"].as_str().unwrap())
            .expect("claimed_until");
    let wait = until - qcdesk::fsutil::now().1 + 1;
    assert!(
        wait <= 12,
        "a 10-second lease (the least), renewed every 2.5 s: {wait} s left"
    );
    std::thread::sleep(Duration::from_secs(wait.max(0) as u64));
    assert!(row(ws.path(), id)["claimed_by"].is_null(), "lapsed");
    let fixed = qcdesk_json(
        ws.path(),
        &["fix", &sid, "--set", "StudyDescription=CLAIMED", "--json"],
    );
    assert!(fixed["version"].is_i64(), "{fixed}");
    // The command's own claim is given back when it ends.
    assert!(row(ws.path(), id)["claimed_by"].is_null());
}

#[test]
fn taking_over_needs_a_reason_is_audited_and_the_holder_learns_it() {
    let ws = demo_workspace();
    let id = first_open(ws.path());
    let sid = id.to_string();
    let (mut holder, claim) = hold(ws.path(), &sid, "0.3");
    let by = claim["claimed_by"].as_str().unwrap().to_string();

    let out = qcdesk(ws.path(), &["claim", &sid, "--take-over", " "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs the reason"),
        "{}",
        stderr(&out)
    );

    let taken = qcdesk_json(
        ws.path(),
        &[
            "claim",
            &sid,
            "--take-over",
            "desk left open overnight",
            "--json",
        ],
    );
    assert_eq!(taken["study"], id);
    let audit = qcdesk_json(ws.path(), &["audit", &sid, "--json"]);
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "take over")
        .expect("the take-over is audited");
    assert_eq!(entry["detail"]["reason"], "desk left open overnight");
    assert_eq!(entry["detail"]["from"], by.as_str());
    let v = qcdesk_json(ws.path(), &["audit", "--verify", "--json"]);
    assert!(v["first_bad"].is_null() && v["entries"] == 1, "{v}");

    // The old holder notices within a renewal and stops, saying so.
    let start = Instant::now();
    while holder.alive() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "holder still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut child = holder.child.take().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("taken over"), "{err}");

    // The command line's claim serves the same user's commands, then is released.
    let fixed = qcdesk_json(
        ws.path(),
        &["fix", &sid, "--set", "StudyDescription=TAKEN", "--json"],
    );
    assert!(fixed["version"].is_i64());
    assert!(
        row(ws.path(), id)["claimed_by"].is_string(),
        "still claimed"
    );
    let released = qcdesk_json(ws.path(), &["release", &sid, "--json"]);
    assert_eq!(released["released"], true);
    assert!(row(ws.path(), id)["claimed_by"].is_null());
}

#[test]
fn two_fixes_of_one_study_at_once_exactly_one_wins_and_the_other_names_the_holder() {
    let ws = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    instances_of(
        &data_dir().join("pydicom/test_files/CT_small.dcm"),
        300,
        files.path(),
    );
    let imported = qcdesk_json(
        ws.path(),
        &["import", files.path().to_str().unwrap(), "--json"],
    );
    assert_eq!(imported["new_instances"], 300, "{imported}");
    let id = qcdesk_json(ws.path(), &["queue", "--json"])[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let spawn = |value: &str| {
        Command::new(bin())
            .arg("--workspace")
            .arg(ws.path())
            .args([
                "fix",
                &id,
                "--set",
                &format!("PatientName={value}"),
                "--json",
            ])
            .env_remove("QCDESK_WORKSPACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qcdesk fix")
    };
    let (a, b) = (spawn("FIRST^DESK"), spawn("SECOND^DESK"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let won: Vec<_> = [&a, &b]
        .into_iter()
        .filter(|o| o.status.success())
        .collect();
    let lost: Vec<_> = [&a, &b]
        .into_iter()
        .filter(|o| !o.status.success())
        .collect();
    assert_eq!(
        (won.len(), lost.len()),
        (1, 1),
        "exactly one wins:\n{}\n{}",
        stderr(&a),
        stderr(&b)
    );
    assert!(
        stderr(lost[0]).contains("is being handled by"),
        "the loser names the holder: {}",
        stderr(lost[0])
    );
    let history = qcdesk_json(ws.path(), &["history", &id, "--json"]);
    assert_eq!(
        history.as_array().unwrap().len(),
        1,
        "one correction: {history}"
    );
}

fn loaded(h: &mut egui_kittest::Harness<'_, qcdesk::ui::DeskApp>) {
    step_until(h, "the queue", |a| {
        a.rt.queue_loads > 0 && a.rt.running.is_empty()
    });
}

#[test]
fn a_desk_shows_a_study_the_service_received_within_a_second_keeping_its_selection() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let selected = h.state().rt.rows[3].id;
    h.state_mut().select_for_test(selected);
    step_until(&mut h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == selected)
    });
    let before = h.state().rt.rows.len();

    let port = free_port();
    let _service = listen(ws.path(), port, Some("QCDESK"));
    let file = data_dir().join("pydicom/test_files/MR_small.dcm");
    run_ok(
        &require_tool("storescu"),
        &[
            "-aet",
            "MODALITY",
            "-aec",
            "QCDESK",
            "127.0.0.1",
            &port.to_string(),
            file.to_str().unwrap(),
        ],
    );
    // storescu has its Success: the instance is recorded by the service's writer; the desk,
    // with no key pressed, shows it.
    let acked = Instant::now();
    step_until(&mut h, "the received study in the queue", |a| {
        a.rt.rows.len() == before + 1
    });
    let took = acked.elapsed();
    assert!(
        took <= Duration::from_millis(1500),
        "shown {took:?} after storescu's Success (the service records, then the desk polls)"
    );
    assert_eq!(h.state().state.selected, Some(selected), "selection kept");
    assert!(
        h.state()
            .rt
            .detail
            .as_ref()
            .is_some_and(|d| d.row.id == selected),
        "detail kept"
    );
}

#[test]
fn a_desk_claims_the_study_it_edits_a_command_is_refused_and_closing_releases_it() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let id = first_open(ws.path());
    h.state_mut().select_for_test(id);
    step_until(&mut h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == id)
    });
    h.key_press(egui::Key::E);
    step_until(&mut h, "the desk's claim", |a| a.rt.claimed() == Some(id));
    let sid = id.to_string();
    let r = row(ws.path(), id);
    assert!(r["claimed_by"].is_string(), "{r}");
    let out = qcdesk(ws.path(), &["fix", &sid, "--set", "StudyDescription=X"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is being handled by"),
        "{}",
        stderr(&out)
    );

    // Escape closes the form: the claim is given back.
    h.key_press(egui::Key::Escape);
    let start = Instant::now();
    while !row(ws.path(), id)["claimed_by"].is_null() {
        assert!(start.elapsed() < Duration::from_secs(10), "released");
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    let fixed = qcdesk_json(
        ws.path(),
        &["fix", &sid, "--set", "StudyDescription=X", "--json"],
    );
    assert!(fixed["version"].is_i64());
}

#[test]
fn a_desk_shows_who_holds_a_study_and_takes_it_over_with_a_reason() {
    use egui_kittest::kittest::Queryable;
    let ws = demo_workspace();
    let id = first_open(ws.path());
    let (mut holder, claim) = hold(ws.path(), &id.to_string(), "0.3");
    let by = claim["claimed_by"].as_str().unwrap().to_string();
    let mut h = desk(ws.path());
    loaded(&mut h);
    h.state_mut().select_for_test(id);
    step_until(&mut h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == id)
    });
    h.run_steps(2);
    assert!(
        h.query_by_label_contains(&format!("Being handled by {by} since"))
            .is_some(),
        "the detail says who"
    );
    let person = by.split(" at ").next().unwrap().to_string();
    assert!(
        h.query_by_label_contains(&format!("being handled by {person} since"))
            .is_some(),
        "so does the queue"
    );
    // Opening the edit form asks first.
    h.key_press(egui::Key::E);
    h.run_steps(3);
    assert!(h.state().rt.correct.edit.is_none(), "nothing opened");
    assert!(h.state().rt.team.take_over.is_some(), "asked to take over");
    h.state_mut().rt.team.take_over.as_mut().unwrap().reason = "holder went home".into();
    h.run_steps(2);
    h.get_by_label("Take over").click();
    step_until(&mut h, "the desk's claim", |a| a.rt.claimed() == Some(id));
    let start = Instant::now();
    while holder.alive() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "old holder stops"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(100));
    }
    let audit = qcdesk_json(ws.path(), &["audit", &id.to_string(), "--json"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "take over" && e["detail"]["reason"] == "holder went home"),
        "{audit}"
    );
}

/// The holder of a lease now, read from the workspace's database.
fn lease_holder(ws: &Path, name: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(ws.join("qcdesk.sqlite")).expect("open the database");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT label FROM leases WHERE name = ?1 AND until > CAST(strftime('%s', 'now') AS INTEGER)",
        [name],
        |r| r.get(0),
    )
    .ok()
}

#[test]
fn one_sync_of_a_ris_at_a_time_however_many_processes_ask() {
    let ws = tempfile::tempdir().unwrap();
    // A RIS that takes the connection and never answers: the first sync waits on it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&held);
    std::thread::spawn(move || {
        for s in silent.incoming().flatten() {
            keep.lock().unwrap().push(s);
        }
    });
    let out = qcdesk(
        ws.path(),
        &[
            "node",
            "add",
            "slow-ris",
            &format!("RIS@127.0.0.1:{port}"),
            "--role",
            "ris",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut first = Proc {
        child: Some(
            Command::new(bin())
                .arg("--workspace")
                .arg(ws.path())
                .args(["worklist", "sync", "--node", "slow-ris"])
                .env_remove("QCDESK_WORKSPACE")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ),
        name: "first sync".into(),
    };
    let start = Instant::now();
    let holder = loop {
        if let Some(h) = lease_holder(ws.path(), "worklist sync:slow-ris") {
            break h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first sync holds the lease"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for _ in 0..2 {
        let out = qcdesk(ws.path(), &["worklist", "sync", "--node", "slow-ris"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains(&format!("slow-ris is being synced by {holder}")),
            "{}",
            stderr(&out)
        );
    }
    assert!(first.alive(), "the first sync still waits on the RIS");
    // Only the first asked: no refused sync is recorded as an attempt.
    let conn = rusqlite::Connection::open(ws.path().join("qcdesk.sqlite")).unwrap();
    let recorded: i64 = conn
        .query_row("SELECT COUNT(*) FROM worklist_syncs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded, 0);
    first.kill();
}

#[test]
fn one_sender_per_team_however_many_services_run_and_another_takes_over_when_it_dies() {
    let ws = demo_workspace();
    let matched: Vec<i64> = qcdesk_json(ws.path(), &["queue", "--state", "matched", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(matched.len() >= 2, "matched studies in the demo");
    // Two services on the workspace, each printing its events (a send's end among them).
    let logs = tempfile::tempdir().unwrap();
    let mut services: Vec<(Proc, std::path::PathBuf)> = (0..2)
        .map(|n| {
            let port = free_port();
            let log = logs.path().join(format!("service{n}.jsonl"));
            let child = Command::new(bin())
                .arg("--workspace")
                .arg(ws.path())
                .args(["listen", "--port", &port.to_string(), "--json"])
                .env_remove("QCDESK_WORKSPACE")
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            wait_port(port, "qcdesk listen");
            let p = Proc {
                child: Some(child),
                name: format!("service {n}"),
            };
            (p, log)
        })
        .collect();
    let start = Instant::now();
    let holder = loop {
        if let Some(h) = lease_holder(ws.path(), "send runner") {
            break h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "a runner holds the lease"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(holder.ends_with("(service)"), "{holder}");
    // Which service reported the end of `job`.
    let sent_by = |services: &[(Proc, std::path::PathBuf)], job: i64| -> Vec<usize> {
        services
            .iter()
            .enumerate()
            .filter(|(_, (_, log))| {
                std::fs::read_to_string(log).unwrap().lines().any(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .is_ok_and(|v| v["event"] == "send" && v["job"] == job)
                })
            })
            .map(|(i, _)| i)
            .collect()
    };
    // `send` queues; the service holding the lease sends (the command waits for its attempt).
    let sent = qcdesk_json(ws.path(), &["send", &matched[0].to_string(), "--json"]);
    assert_eq!(sent[0]["state"], "verified", "{sent}");
    let by = sent_by(&services, sent[0]["job"].as_i64().unwrap());
    assert_eq!(by.len(), 1, "one sender: {by:?}");
    let at = by[0];
    // It dies: once its lease lapses, the other service or the command itself takes the
    // lease and sends (whichever asks first); the job is not left queued.
    services[at].0.kill();
    let sent = qcdesk_json(ws.path(), &["send", &matched[1].to_string(), "--json"]);
    assert_eq!(sent[0]["state"], "verified", "{sent}");
    let by = sent_by(&services, sent[0]["job"].as_i64().unwrap());
    assert!(by.iter().all(|&i| i != at) && by.len() <= 1, "{by:?}");
}

#[test]
fn a_desk_shows_others_dismissals_claims_and_sends_without_a_key_pressed() {
    let ws = demo_workspace();
    let mut h = desk(ws.path());
    loaded(&mut h);
    let id = first_open(ws.path());
    let matched = qcdesk_json(ws.path(), &["queue", "--state", "matched", "--json"])[0]["id"]
        .as_i64()
        .unwrap();
    let sid = id.to_string();
    let wait = |h: &mut egui_kittest::Harness<'_, qcdesk::ui::DeskApp>,
                what: &str,
                done: &dyn Fn(&qcdesk::ui::DeskApp) -> bool| {
        let start = Instant::now();
        while !done(h.state()) {
            assert!(
                start.elapsed() < Duration::from_millis(1500),
                "{what} not shown within 1.5 s"
            );
            std::thread::sleep(Duration::from_millis(10));
            h.step();
        }
    };
    let row = |a: &qcdesk::ui::DeskApp, id: i64| a.rt.rows.iter().find(|r| r.id == id).cloned();

    let out = qcdesk(ws.path(), &["claim", &sid, "--minutes", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait(&mut h, "the claim", &|a| {
        row(a, id).is_some_and(|r| r.claim.claimed_by.is_some())
    });
    let out = qcdesk(ws.path(), &["release", &sid]);
    assert!(out.status.success());
    wait(&mut h, "the release", &|a| {
        row(a, id).is_some_and(|r| r.claim.claimed_by.is_none())
    });

    let out = qcdesk(ws.path(), &["dismiss", &sid, "--reason", "test patient"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait(&mut h, "the dismissal", &|a| {
        row(a, id).is_some_and(|r| r.dismissed.is_some())
    });

    // A send made by a command (the desk's own runner may be the one sending it).
    let sent = qcdesk_json(ws.path(), &["send", &matched.to_string(), "--json"]);
    assert_eq!(sent[0]["state"], "verified", "{sent}");
    wait(&mut h, "the send", &|a| {
        row(a, matched).is_some_and(|r| r.send_state == Some(qcdesk::model::SendState::Verified))
    });
}
