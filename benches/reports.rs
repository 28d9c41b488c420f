//! Reports benchmark (not a timed test): a full report over 100,000 studies. The workspace is
//! filled straight through SQL (one instance per study, a tenth corrected, a twentieth
//! dismissed, a fifth resent and verified, findings on the exceptions), then the store's facts
//! are read and the report computed, the median of five runs each.
//! Goal: the whole report < 200 ms.
//!
//! Run with `cargo bench --bench reports` (or scripts/bench).

use std::time::{Duration, Instant};

use qcdesk::reports::{self, GroupBy, ReportQuery};
use qcdesk::store::Store;

const STUDIES: i64 = 100_000;

fn rfc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn fill(dir: &std::path::Path, now: i64) {
    drop(Store::open(dir).expect("workspace"));
    let mut db = rusqlite::Connection::open(dir.join("qcdesk.sqlite")).unwrap();
    let tx = db.transaction().unwrap();
    let states = [
        "matched",
        "matched",
        "matched",
        "unmatched",
        "mismatch",
        "broken",
        "inconsistent",
    ];
    let modalities = ["CT", "MR", "CR", "US", "XA"];
    for i in 0..STUDIES {
        let seen = now - (i * 53) % (60 * 86_400);
        let state = states[(i % 7) as usize];
        let hash = format!("{i:064x}");
        let uid = format!("2.25.{}", 1_000_000 + i);
        tx.execute(
            "INSERT INTO blobs (hash, size, source_ae, implementation_version, station_name, study_uid, patient_id)
             VALUES (?1, 1000, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![hash, format!("AE{}", i % 40), format!("VER_{}", i % 7), format!("ST{}", i % 25), uid, format!("P{}", i % 30_000)],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO studies (study_key, study_uid, state, modality, station_name, source, patient_id,
                                  n_series, n_instances, n_files, first_seen, first_seen_unix, last_change,
                                  implementation_version)
             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, 1, 1, 1, ?7, ?8, ?7, ?9)",
            rusqlite::params![uid, state, modalities[(i % 5) as usize], format!("ST{}", i % 25), format!("AE{}", i % 40), format!("P{}", i % 30_000), rfc(seen), seen, format!("VER_{}", i % 7)],
        )
        .unwrap();
        let study = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO series (study_id, series_key) VALUES (?1, ?2)",
            rusqlite::params![study, format!("{uid}.1")],
        )
        .unwrap();
        let series = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO instances (series_id, study_id, sop_key, sop_uid) VALUES (?1, ?2, ?3, ?3)",
            rusqlite::params![series, study, format!("{uid}.1.1")],
        )
        .unwrap();
        let instance = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO versions (instance_id, blob_hash, created_at, reason) VALUES (?1, ?2, ?3, 'received')",
            rusqlite::params![instance, hash, rfc(seen)],
        )
        .unwrap();
        let version = tx.last_insert_rowid();
        tx.execute(
            "UPDATE instances SET current_version = ?2 WHERE id = ?1",
            rusqlite::params![instance, version],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO files (blob_hash, original_path, source, received_at, instance_id, role)
             VALUES (?1, '/bench', 'AE', ?2, ?3, 'original')",
            rusqlite::params![hash, rfc(seen), instance],
        )
        .unwrap();
        if state != "matched" {
            tx.execute(
                "INSERT INTO findings (study_id, code, message) VALUES (?1, ?2, 'bench')",
                rusqlite::params![study, format!("code_{}", i % 9)],
            )
            .unwrap();
        }
        if i % 10 == 0 {
            let changes = if i % 30 == 0 {
                r#"[{"tag":"(0010,0020)"}]"#
            } else {
                "[]"
            };
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, changes) VALUES (?1, ?2, 'edit', 'bench', ?3)",
                rusqlite::params![study, rfc(seen + 3_600), changes],
            )
            .unwrap();
        }
        if i % 20 == 7 {
            tx.execute(
                "INSERT INTO dismissals (study_id, reason, by, at, at_unix) VALUES (?1, 'test patient', 'bench', ?2, ?3)",
                rusqlite::params![study, rfc(seen + 7_200), seen + 7_200],
            )
            .unwrap();
        }
        if i % 5 == 0 {
            tx.execute(
                "INSERT INTO send_jobs (study_id, node, state, created_at, updated_at) VALUES (?1, 'pacs', 'verified', ?2, ?3)",
                rusqlite::params![study, rfc(seen + 4_000), rfc(seen + 4_100)],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "reports benchmark skipped: run it with `cargo bench --bench reports` (scripts/bench)"
        );
        return;
    }
    let guard = tempfile::tempdir().expect("tempdir");
    // QCDESK_BENCH_WORKSPACE=DIR reuses a workspace kept by an earlier run (QCDESK_BENCH_KEEP).
    let reuse = std::env::var_os("QCDESK_BENCH_WORKSPACE").map(std::path::PathBuf::from);
    let dir = reuse.clone().unwrap_or_else(|| guard.path().to_path_buf());
    let dir = dir.as_path();
    let (_, now) = qcdesk::fsutil::now();
    if reuse.is_none() {
        let t = Instant::now();
        fill(dir, now);
        println!(
            "filled {STUDIES} studies in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let store = Store::open(dir).unwrap();
    let q = ReportQuery {
        from_unix: now - 30 * 86_400,
        to_unix: now + 1,
        by: GroupBy::Modality,
    };
    for by in GroupBy::ALL {
        let (mut facts_t, mut compute_t, mut total_t) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            let t0 = Instant::now();
            let facts = store.report_facts(by).unwrap();
            let t1 = Instant::now();
            let r = reports::report(&facts, &ReportQuery { by, ..q }, now);
            let t2 = Instant::now();
            assert!(r.totals.arrivals > 0);
            facts_t.push(t1 - t0);
            compute_t.push(t2 - t1);
            total_t.push(t2 - t0);
        }
        let total = median(total_t);
        println!(
            "report over {STUDIES} studies by {:<8}: reading the facts {:>4.0} ms, computing {:>4.0} ms, total {:>4.0} ms (goal < 200 ms: {})",
            by.as_str(),
            median(facts_t).as_secs_f64() * 1000.0,
            median(compute_t).as_secs_f64() * 1000.0,
            total.as_secs_f64() * 1000.0,
            if total < Duration::from_millis(200) {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    // QCDESK_BENCH_KEEP=1 leaves the workspace behind for profiling.
    if std::env::var_os("QCDESK_BENCH_KEEP").is_some() {
        let _ = guard.keep();
        println!("kept {}", dir.display());
    }
}
