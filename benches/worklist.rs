//! Worklist benchmark (not a timed test):
//! 1. Sync 10,000 Modality Worklist items from DCMTK's wlmscpfs with `qcdesk worklist sync`
//!    and with DCMTK's `findscu -W` for the same query (the identifier qcdesk sends, written to
//!    a file findscu reads), both as whole processes, peers with TCP_NODELAY=1, the median of
//!    five runs each. qcdesk is timed into a new workspace (10,000 new items written and
//!    indexed) and into one that holds them already (all unchanged). findscu writes nothing.
//!    Goal: qcdesk <= 1.0x findscu's time.
//! 2. Search over 100,000 cached items: load and index time, then per-query times of a mix
//!    of name, reversed-name, typo, prefix, ID, accession and filtered queries. Goal: p95 < 10 ms.
//!
//! Run with `cargo bench --bench worklist` (or scripts/bench).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dicom_object::meta::FileMetaTableBuilder;
use qcdesk::model::WorklistItem;
use qcdesk::store::{Store, SyncScope};
use qcdesk::worklist::{SearchIndex, SearchQuery, mwl};

const ITEMS: usize = 10_000;
const SEARCH_ITEMS: usize = 100_000;

const SURNAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Dubois",
    "Kovács",
    "Andersen",
    "Rossi",
    "Nguyen",
    "O'Brien",
    "Søren",
    "García",
    "Novák",
    "Johansson",
    "Fernandes",
    "Lefèvre",
    "Schneider",
    "Patel",
    "Brown",
    "Wang",
    "Tanaka",
    "Smith",
    "Keane",
    "Ødegård",
    "Król",
    "Yılmaz",
    "Papadopoulos",
];
const GIVEN: &[&str] = &[
    "Jürgen", "Anna", "Céline", "Péter", "Mette", "Giulia", "Thi Lan", "Seán", "José", "Jana",
    "Erik", "João", "Anaïs", "Priya", "Michael", "Fang", "Hanako", "John", "Róisín", "Åse",
];
const MODALITIES: &[(&str, &str)] = &[
    ("CT", "CT01"),
    ("MR", "MR01"),
    ("CR", "CR01"),
    ("US", "US01"),
];

fn item(n: usize, ascii: bool) -> WorklistItem {
    let (m, station) = MODALITIES[n % MODALITIES.len()];
    let mut name = format!(
        "{}^{}",
        SURNAMES[n % SURNAMES.len()],
        GIVEN[(n / SURNAMES.len()) % GIVEN.len()]
    );
    if ascii {
        name = qcdesk::rules::names::fold_accents(&name);
    } else if n % 10 == 7 {
        name.push_str("=山田^太郎=やまだ^たろう");
    }
    let day = 1 + (n % 28);
    WorklistItem {
        accession: format!("A{:08}", n),
        requested_procedure_id: format!("RP{n}"),
        sps_id: format!("SPS{n}"),
        patient_name: name,
        patient_id: format!("P{:07}", n / 3),
        issuer_of_patient_id: "RGH".into(),
        birth_date: format!("19{:02}{:02}{:02}", 30 + n % 70, 1 + n % 12, 1 + n % 28),
        sex: ["F", "M"][n % 2].into(),
        modality: m.into(),
        station_ae: station.into(),
        scheduled_at: format!("202611{day:02}{:02}{:02}00", 7 + n % 12, (n * 7) % 60),
        procedure: format!("{m} examination"),
        study_instance_uid: format!("2.25.{}", 1_000_000_000u64 + n as u64),
        protocol_code: format!("{m}-STD^99RGH^{m} standard"),
        procedure_code: format!("{m}X^99RGH^{m} examination"),
        step_description: format!("{m} examination"),
        ..WorklistItem::default()
    }
}

/// A DICOM file (meta + data set) of `obj`, for wlmscpfs and findscu.
fn part10(obj: dicom_object::InMemDicomObject, sop_class: &str) -> Vec<u8> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax("1.2.840.10008.1.2.1")
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid("2.25.1")
        .implementation_class_uid(qcdesk::dicom::write::IMPLEMENTATION_CLASS_UID);
    let file = obj.with_meta(meta).expect("meta");
    let mut out = Vec::new();
    file.write_all(&mut out).expect("encode");
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn start_wlmscpfs(root: &Path, port: u16) -> Child {
    let child = Command::new("wlmscpfs")
        .env("TCP_NODELAY", "1")
        .args(["-csk", "-dfp"])
        .arg(root)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wlmscpfs (dcmtk)");
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "wlmscpfs did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn sync_benchmark(tmp: &Path) {
    let root = tmp.join("wl");
    let dir = root.join("RISMWL");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lockfile"), b"").unwrap();
    let t = Instant::now();
    for n in 0..ITEMS {
        let bytes = part10(mwl::identifier(&item(n, true)), "1.2.276.0.7230010.3.1.0.1");
        std::fs::write(dir.join(format!("{n:05}.wl")), bytes).unwrap();
    }
    println!("{ITEMS} .wl items written in {:.1} s", secs(t.elapsed()));
    let query = tmp.join("query.dcm");
    std::fs::write(
        &query,
        part10(mwl::query(&SyncScope::default()), "1.2.840.10008.5.1.4.31"),
    )
    .unwrap();
    let port = free_port();
    let mut server = start_wlmscpfs(&root, port);
    let qcdesk = env!("CARGO_BIN_EXE_qcdesk");
    let run = |cmd: &mut Command| -> Duration {
        let t = Instant::now();
        let out = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        let d = t.elapsed();
        assert!(
            out.status.success(),
            "{:?}: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        );
        d
    };
    let mut findscu = Vec::new();
    let mut fresh = Vec::new();
    let mut again = Vec::new();
    for i in 0..5 {
        findscu.push(run(Command::new("findscu")
            .env("TCP_NODELAY", "1")
            .args(["-q", "-W", "-aet", "QCDESK", "-aec", "RISMWL", "127.0.0.1"])
            .arg(port.to_string())
            .arg(&query)));
        let ws = tmp.join(format!("ws{i}"));
        let add = Command::new(qcdesk)
            .arg("--workspace")
            .arg(&ws)
            .args([
                "node",
                "add",
                "ris",
                &format!("RISMWL@127.0.0.1:{port}"),
                "--role",
                "ris",
            ])
            .output()
            .unwrap();
        assert!(add.status.success());
        let sync = |ws: &Path| {
            let mut c = Command::new(qcdesk);
            c.arg("--workspace")
                .arg(ws)
                .args(["worklist", "sync", "--json"]);
            c
        };
        fresh.push(run(&mut sync(&ws)));
        let t = Instant::now();
        let out = sync(&ws).output().unwrap();
        again.push(t.elapsed());
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sync json");
        assert_eq!(r["received"].as_u64(), Some(ITEMS as u64), "{r}");
        assert_eq!(r["unchanged"].as_u64(), Some(ITEMS as u64), "{r}");
    }
    let _ = server.kill();
    let _ = server.wait();
    let (f, q1, q2) = (median(findscu), median(fresh), median(again));
    println!("sync of {ITEMS} items (whole processes, median of 5):");
    println!("  findscu -q -W (writes nothing)    {:.3} s", secs(f));
    println!(
        "  qcdesk worklist sync, new cache   {:.3} s  ratio {:.2}",
        secs(q1),
        secs(q1) / secs(f)
    );
    println!(
        "  qcdesk worklist sync, unchanged   {:.3} s  ratio {:.2}",
        secs(q2),
        secs(q2) / secs(f)
    );
}

fn search_benchmark(tmp: &Path) {
    let ws = tmp.join("search-ws");
    let mut store = Store::open(&ws).expect("workspace");
    let items: Vec<WorklistItem> = (0..SEARCH_ITEMS).map(|n| item(n, false)).collect();
    let t = Instant::now();
    store.merge_worklist("ris", &items, None).expect("merge");
    println!(
        "{SEARCH_ITEMS} items merged into the cache in {:.1} s",
        secs(t.elapsed())
    );
    let t = Instant::now();
    let loaded = store.worklist().expect("load");
    let load = t.elapsed();
    let t = Instant::now();
    let index = SearchIndex::build(loaded);
    println!(
        "load {:.0} ms, index {:.0} ms (off the UI thread in the desk)",
        load.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut queries: Vec<String> = Vec::new();
    for k in 0..1000 {
        let n = k * 97 % SEARCH_ITEMS;
        let it = &items[n];
        let name = it.patient_name.split('=').next().unwrap_or("");
        let (family, given) = name.split_once('^').unwrap_or((name, ""));
        let q = match k % 8 {
            0 => format!("{family} {given}"),
            1 => format!("{given} {family}"),
            2 => qcdesk::rules::names::fold_accents(family).to_lowercase(),
            3 => {
                // one letter dropped
                let f: String = qcdesk::rules::names::fold_accents(family).to_lowercase();
                let cut = f.len() / 2;
                format!("{}{}", &f[..cut], &f[cut + 1..])
            }
            4 => family.chars().take(3).collect(),
            5 => it.patient_id.clone(),
            6 => it.accession.clone(),
            _ => format!("{family} modality:{} date:20261101-20261114", it.modality),
        };
        queries.push(q);
    }
    let mut times = Vec::new();
    let mut found = 0usize;
    for q in &queries {
        let t = Instant::now();
        let hits = index.search(&SearchQuery::parse(q), 200);
        times.push(t.elapsed());
        found += usize::from(!hits.is_empty());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "search over {SEARCH_ITEMS} items, {} queries ({found} with hits): median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(times[times.len() - 1])
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "worklist benchmark skipped: run it with `cargo bench --bench worklist` (scripts/bench)"
        );
        return;
    }
    let guard = tempfile::tempdir().expect("tempdir");
    let dir = guard.path().to_path_buf();
    sync_benchmark(&dir);
    search_benchmark(&dir);
    // QCDESK_BENCH_KEEP=1 leaves the items and workspaces behind for profiling.
    if std::env::var_os("QCDESK_BENCH_KEEP").is_some() {
        let _ = guard.keep();
        println!("kept {}", dir.display());
    }
}
