//! Team benchmark (not a timed test), on the embedded workspace: what a desk among several
//! waits for. A workspace of 100,000 studies (the reports benchmark's), then:
//! - the queue loaded from the store (median of five);
//! - five change watches (five desks) while another connection commits 200 changes of what a
//!   desk shows (a claim taken, then given back), 50 ms apart: from each commit to each
//!   watch's notice (p50, p95, max). A desk then loads its queue: the sum is what it waits;
//! - 200 renewals of a claim (what every open desk's keeper writes): notices caused (goal 0);
//! - claims taken and released per second by one connection.
//!
//! Goals: queue of 100,000 studies <= 1 s; a change at five desks <= 1 s (p95), queue load
//! included; renewals wake no desk.
//!
//! Run with `cargo bench --bench team` (or scripts/bench).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qcdesk::store::{QueueFilter, Store};

#[path = "common/fill.rs"]
mod fill;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("team benchmark skipped: run it with `cargo bench --bench team` (scripts/bench)");
        return;
    }
    let guard = tempfile::tempdir().expect("tempdir");
    let dir = guard.path();
    let (_, now) = qcdesk::fsutil::now();
    let t = Instant::now();
    fill::fill(dir, now);
    println!(
        "filled {} studies in {:.1} s",
        fill::STUDIES,
        t.elapsed().as_secs_f64()
    );
    let mut store = Store::open(dir).unwrap();

    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let rows = store.queue(&QueueFilter::default()).unwrap();
        loads.push(t.elapsed());
        assert_eq!(rows.len() as i64, fill::STUDIES);
    }
    let load = pct(&mut loads, 0.5);
    println!(
        "queue of {} studies loaded in {:.0} ms (median of 5; goal <= 1000 ms: {})",
        fill::STUDIES,
        ms(load),
        if load <= Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );

    // Five desks' watches; each notice stamped.
    let notices: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let watches: Vec<_> = (0..5)
        .map(|n| {
            let notices = Arc::clone(&notices);
            store
                .watch_changes(move || notices.lock().unwrap().push((n, Instant::now())))
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut delays = Vec::new();
    for i in 0..200 {
        notices.lock().unwrap().clear();
        let study = 1 + (i * 37) % fill::STUDIES;
        let lease = Duration::from_secs(60);
        let committed = if i % 2 == 0 {
            store.claim(study, lease, None, None).unwrap();
            Instant::now()
        } else {
            store.claim(study, lease, None, None).unwrap();
            store.release(study).unwrap();
            Instant::now()
        };
        let deadline = committed + Duration::from_secs(2);
        loop {
            let seen: Vec<(usize, Instant)> = notices.lock().unwrap().clone();
            let mut firsts = [None; 5];
            for (n, at) in seen {
                firsts[n].get_or_insert(at);
            }
            if firsts.iter().all(Option::is_some) || Instant::now() > deadline {
                for f in firsts {
                    delays.push(f.map_or(Duration::from_secs(2), |at| {
                        at.saturating_duration_since(committed)
                    }));
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (p50, p95, max) = (
        pct(&mut delays, 0.5),
        pct(&mut delays, 0.95),
        pct(&mut delays, 1.0),
    );
    println!(
        "a change seen by five desks: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; with the queue load, p95 {:.0} ms (goal <= 1000 ms: {})",
        ms(p50),
        ms(p95),
        ms(max),
        ms(p95 + load),
        if p95 + load <= Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );

    // Renewals: what keepers write every few seconds.
    let claim = store.claim(1, Duration::from_secs(60), None, None).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    notices.lock().unwrap().clear();
    let keeper = store
        .keeper(
            qcdesk::store::Held::Claims(vec![claim]),
            Duration::from_secs(4),
        )
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let woken = notices.lock().unwrap().len();
    keeper.abandon();
    println!(
        "claim renewals over 5 s (every second): {woken} desk notices (goal 0: {})",
        if woken == 0 { "met" } else { "NOT met" }
    );
    drop(watches);

    let t = Instant::now();
    for i in 0..500 {
        let study = 10 + i;
        store
            .claim(study, Duration::from_secs(60), None, None)
            .unwrap();
        store.release(study).unwrap();
    }
    println!(
        "claim and release: {:.0} pairs/s on one connection",
        500.0 / t.elapsed().as_secs_f64()
    );
}
