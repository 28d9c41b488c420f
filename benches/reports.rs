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

#[path = "common/fill.rs"]
mod fill;

use fill::{STUDIES, fill};

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
