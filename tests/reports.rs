//! Reports over a workspace whose times the test sets: every figure checked against what the
//! test did (arrivals, exceptions, fixes, dismissals, resends, time to resolve, wrong-patient
//! corrections, rejections, open exceptions by age, per day and per group), the CSV read back.

mod common;

use std::path::Path;

use common::*;
use qcdesk::reports::{self, GroupBy, ReportQuery};
use serde_json::Value;

const T0: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
const H: i64 = 3_600;
const D: i64 = 86_400;

fn rfc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn sql(ws: &Path, sql: &str, args: &[&dyn rusqlite::ToSql]) {
    let db = rusqlite::Connection::open(ws.join("qcdesk.sqlite")).unwrap();
    db.execute(sql, args).unwrap();
}

fn find(ws: &Path, patient: &str, state: &str) -> i64 {
    qcdesk_json(ws, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["patient_name"] == patient && r["state"] == state)
        .unwrap_or_else(|| panic!("{patient} {state}"))["id"]
        .as_i64()
        .unwrap()
}

fn ok(ws: &Path, args: &[&str]) {
    let out = qcdesk(ws, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

#[test]
fn every_figure_of_a_report_follows_from_what_happened() {
    let ws = demo_workspace();
    let w = ws.path();
    let a = find(w, "KEANE^ROISIN", "unmatched");
    let b = find(w, "KOVÁCS^PÉTER", "unmatched");
    let d = find(w, "KOENIG^JOERG", "mismatch");
    let row = qcdesk_json(w, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a)
        .unwrap()
        .clone();
    assert_eq!(
        row["station_name"], "CTROOM1",
        "queue --json names the station"
    );
    let matched: Vec<i64> = qcdesk_json(w, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "matched")
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let (c, e) = (matched[0], matched[1]);

    // What happened, then when.
    ok(w, &["fix", &a.to_string(), "--order", "A240113"]);
    ok(w, &["send", &a.to_string(), "--wait"]);
    ok(w, &["dismiss", &b.to_string(), "--reason", "test patient"]);
    ok(w, &["fix", &d.to_string(), "--set", "PatientID=QC-9"]);
    let series = qcdesk_json(w, &["show", &e.to_string(), "--json"])["series_list"][0]
        ["series_instance_uid"]
        .as_str()
        .unwrap()
        .to_string();
    ok(w, &["reject", &series, "--code", "113001"]);

    sql(
        w,
        "UPDATE studies SET first_seen_unix = ?1",
        &[&(T0 - 10 * D)],
    );
    for (id, t) in [
        (a, T0 + H),
        (b, T0 + D),
        (c, T0 + 2 * D),
        (d, T0 + 2 * D + H),
    ] {
        sql(
            w,
            "UPDATE studies SET first_seen_unix = ?2 WHERE id = ?1",
            &[&id, &t],
        );
    }
    for (id, t) in [
        (a, T0 + 3 * H),
        (d, T0 + 2 * D + 2 * H),
        (e, T0 + D + 5 * H),
    ] {
        sql(
            w,
            "UPDATE corrections SET at = ?2 WHERE study_id = ?1",
            &[&id, &rfc(t)],
        );
    }
    sql(
        w,
        "UPDATE dismissals SET at_unix = ?2, at = ?3 WHERE study_id = ?1",
        &[&b, &(T0 + D + 2 * H), &rfc(T0 + D + 2 * H)],
    );
    sql(
        w,
        "UPDATE send_jobs SET created_at = ?2, updated_at = ?3 WHERE study_id = ?1",
        &[&a, &rfc(T0 + 4 * H), &rfc(T0 + 5 * H)],
    );

    let store = qcdesk::store::Store::open(w).unwrap();
    let facts = store.report_facts(GroupBy::Modality).unwrap();
    let now = T0 + 3 * D;
    let q = ReportQuery {
        from_unix: T0,
        to_unix: T0 + 7 * D,
        by: GroupBy::Modality,
    };
    let r = reports::report(&facts, &q, now);
    assert_eq!(
        (r.from.as_str(), r.to.as_str()),
        ("2026-11-01", "2026-11-07")
    );
    let t = &r.totals;
    assert_eq!(t.arrivals, 4);
    assert_eq!(t.exceptions, 3, "A fixed, B dismissed, D open; C never was");
    assert!((t.exception_rate - 0.75).abs() < 1e-9);
    assert_eq!(t.fixes, 2);
    assert_eq!(t.wrong_patient_corrections, 1, "D's Patient ID");
    assert_eq!(t.dismissals, 1);
    assert_eq!(t.resends, 1);
    assert_eq!(r.resolve.resolved, 2);
    assert_eq!((r.resolve.by_fix, r.resolve.by_dismissal), (1, 1));
    assert_eq!(r.resolve.median_seconds, Some(3 * H), "(4 h + 2 h) / 2");
    assert_eq!(r.resolve.p90_seconds, Some(4 * H));
    assert!((t.dismissal_share - 0.5).abs() < 1e-9);
    assert_eq!(r.rejections.len(), 1);
    assert_eq!(r.rejections[0].code, "113001");
    assert_eq!(r.rejections[0].count, 1);

    // Open now: D under a day old, every other open one from ten days ago.
    let open = qcdesk_json(w, &["queue", "--open", "--json"]);
    let n_open = open.as_array().unwrap().len() as u64;
    assert_eq!(r.open.total, n_open);
    let age = |k: &str| r.open.age.iter().find(|c| c.key == k).unwrap().count;
    assert_eq!(age("< 24 h"), 1);
    assert_eq!(age("older"), n_open - 1);
    assert_eq!(age("< 1 h") + age("< 8 h") + age("< 3 d"), 0);
    assert_eq!(r.open.by_state.iter().map(|c| c.count).sum::<u64>(), n_open);
    // Per finding code: the open studies having it, each once.
    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for row in open.as_array().unwrap() {
        let mut codes: Vec<&str> = row["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        codes.sort();
        codes.dedup();
        for c in codes {
            *expected.entry(c.to_string()).or_default() += 1;
        }
    }
    let got: std::collections::BTreeMap<String, u64> = r
        .open
        .by_code
        .iter()
        .map(|c| (c.key.clone(), c.count))
        .collect();
    assert_eq!(got, expected);

    // Per day.
    assert_eq!(r.days.len(), 7);
    let day = |i: usize| {
        let x = &r.days[i];
        (x.arrivals, x.exceptions, x.fixes, x.dismissals, x.resends)
    };
    assert_eq!(day(0), (1, 1, 1, 0, 1));
    assert_eq!(day(1), (1, 1, 0, 1, 0));
    assert_eq!(day(2), (2, 1, 1, 0, 0));
    assert_eq!(day(3), (0, 0, 0, 0, 0));

    // Per modality: every arrival in one group; A's (CT) resolved in 4 h.
    assert_eq!(r.groups.iter().map(|g| g.arrivals).sum::<u64>(), 4);
    let ct = r.groups.iter().find(|g| g.key == "CT").unwrap();
    assert!(ct.arrivals >= 1 && ct.resolve.by_fix >= 1, "{ct:?}");
    // Per finding code: a study counts under each of its codes.
    let by_code = reports::report(
        &store.report_facts(GroupBy::Code).unwrap(),
        &ReportQuery {
            by: GroupBy::Code,
            ..q
        },
        now,
    );
    assert!(by_code.groups.iter().any(|g| g.key == "(none)"));

    // CSV, read back.
    let dir = tempfile::tempdir().unwrap();
    let files = reports::export::write_csv(&r, dir.path()).unwrap();
    assert_eq!(files.len(), 7);
    let mut rd = csv::Reader::from_path(dir.path().join("summary.csv")).unwrap();
    let summary: Vec<(String, String)> = rd
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x[0].to_string(), x[1].to_string())
        })
        .collect();
    assert!(summary.contains(&("arrivals".into(), "4".into())));
    assert!(summary.contains(&("median_resolve_seconds".into(), "10800".into())));
    let mut rd = csv::Reader::from_path(dir.path().join("days.csv")).unwrap();
    assert_eq!(rd.headers().unwrap().len(), 6);
    assert_eq!(rd.records().count(), 7);
    let mut rd = csv::Reader::from_path(dir.path().join("groups.csv")).unwrap();
    assert_eq!(&rd.headers().unwrap()[0], "modality");

    // The command line over the same workspace.
    let json: Value = qcdesk_json(
        w,
        &[
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-07",
            "--json",
        ],
    );
    assert_eq!(json["totals"]["arrivals"], 4);
    assert_eq!(json["resolve"]["median_seconds"], 3 * H);
    let out = qcdesk(w, &["report", "--by", "colour"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("modality, station, source, version, code"));
    let out = qcdesk(w, &["report", "--from", "1.11.2026"]);
    assert!(stderr(&out).contains("YYYY-MM-DD"));
    let csv_dir = dir.path().join("cli");
    let out = qcdesk(
        w,
        &[
            "report",
            "--by",
            "source",
            "--csv",
            csv_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(csv_dir.join("groups.csv").exists());

    // The page for the meeting: every chart inline, nothing fetched.
    let page = dir.path().join("report.html");
    let out = qcdesk(
        w,
        &[
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-07",
            "--html",
            page.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Exception report 2026-11-01 to 2026-11-07"));
    assert_eq!(html.matches("<svg").count(), 4, "four charts");
    assert!(html.contains("Arrivals (light) and exceptions (dark) per day"));
    assert!(html.contains("Open exceptions by age"));
    for external in [
        "src=", "href=", "http:", "https:", "<script", "@import", "url(",
    ] {
        assert!(!html.contains(external), "{external} in the page");
    }
    assert!(html.contains("@page"), "print layout");
    // Well formed enough for a parser: every opened element closed.
    let checked = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.svg = 0
    def handle_starttag(s, t, a):
        if t in ('meta', 'line'): return
        s.stack.append(t); s.svg += t == 'svg'
    def handle_startendtag(s, t, a): pass
    def handle_endtag(s, t):
        assert s.stack and s.stack[-1] == t, (t, s.stack[-3:]); s.stack.pop()
p = P(); p.feed(open(sys.argv[1]).read()); assert not p.stack, p.stack; print(p.svg)
"#,
        )
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&checked.stdout).trim(), "4");
}
