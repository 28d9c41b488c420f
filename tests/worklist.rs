//! The worklist cache against an independent Modality Worklist SCP: DCMTK's wlmscpfs, started
//! by each test on 127.0.0.1 with `.wl` items written by pydicom (tests/tools/make_wl.py).
//! Also nodes, C-ECHO, CSV and HL7 imports, and search through the command line.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A wlmscpfs serving `root/<AE>/*.wl`.
struct Wlm {
    root: tempfile::TempDir,
    ae: String,
    port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Wlm {
    fn new(ae: &str) -> Wlm {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(ae)).unwrap();
        std::fs::write(root.path().join(ae).join("lockfile"), b"").unwrap();
        Wlm {
            root,
            ae: ae.into(),
            port: free_port(),
            child: None,
        }
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join(&self.ae)
    }

    /// Writes items as .wl files with pydicom.
    fn write(&self, items: Value) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/make_wl.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .spawn()
            .expect("python3 (scripts/test installs pydicom)");
        let spec = json!({ "dir": self.dir(), "items": items });
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), spec.to_string().as_bytes())
            .unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "make_wl.py failed");
    }

    fn remove(&self, file: &str) {
        std::fs::remove_file(self.dir().join(format!("{file}.wl"))).unwrap();
    }

    fn start(&mut self, extra: &[&str]) {
        let wlmscpfs = require_tool("wlmscpfs");
        let child = Command::new(wlmscpfs)
            .env("TCP_NODELAY", "1")
            .args(["-s", "-csk", "-dfp"])
            .arg(self.root.path())
            .args(extra)
            .arg(self.port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wlmscpfs");
        self.child = Some(child);
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "wlmscpfs did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn address(&self) -> String {
        format!("{}@127.0.0.1:{}", self.ae, self.port)
    }
}

impl Drop for Wlm {
    fn drop(&mut self) {
        self.stop();
    }
}

fn item(
    file: &str,
    acc: &str,
    name: &str,
    charset: &str,
    modality: &str,
    station: &str,
    date: &str,
) -> Value {
    json!({
        "file": file, "charset": charset, "accession": acc, "patient_name": name,
        "patient_id": format!("P{acc}"), "issuer": "RGH", "birth_date": "19700101", "sex": "O",
        "modality": modality, "station": station, "date": date, "time": "093000",
        "sps_id": format!("S{acc}"), "rp_id": format!("R{acc}"), "procedure": format!("{modality} exam"),
        "referring": "Brandt^Helga", "requesting": "Ober^Anna", "admission": "V1",
    })
}

fn four_items() -> Value {
    json!([
        item(
            "a1",
            "A1",
            "Müller^Jürgen",
            "ISO_IR 100",
            "CT",
            "CT01",
            "20261101"
        ),
        item(
            "a2",
            "A2",
            "Øster^Åse",
            "ISO_IR 192",
            "MR",
            "MR01",
            "20261102"
        ),
        item(
            "a3",
            "A3",
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
            "\\ISO 2022 IR 87",
            "CT",
            "CT02",
            "20261110"
        ),
        item("a4", "A4", "Doe^Jane", "", "CR", "CR01", "20261120"),
    ])
}

fn workspace_with_ris(wlm: &Wlm) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let out = qcdesk(
        ws.path(),
        &["node", "add", "ris", &wlm.address(), "--role", "ris"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    ws
}

fn cache(ws: &Path) -> Vec<Value> {
    qcdesk_json(ws, &["worklist", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn by_accession<'a>(items: &'a [Value], acc: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["accession"] == acc)
        .unwrap_or_else(|| panic!("no {acc} in {items:?}"))
}

fn accessions(v: &Value) -> Vec<String> {
    let mut a: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["accession"].as_str().unwrap().to_string())
        .collect();
    a.sort();
    a
}

#[test]
fn sync_by_date_modality_and_station_with_names_intact() {
    let mut wlm = Wlm::new("RISMWL");
    wlm.write(four_items());
    wlm.start(&[]);
    let ws = workspace_with_ris(&wlm);
    let w = ws.path();

    let r = qcdesk_json(
        w,
        &[
            "worklist",
            "sync",
            "--from",
            "2026-11-01",
            "--to",
            "20261105",
            "--json",
        ],
    );
    assert_eq!(
        (r["received"].as_u64(), r["new"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert_eq!(accessions(&Value::Array(cache(w))), ["A1", "A2"]);

    let r = qcdesk_json(w, &["worklist", "sync", "--modality", "CT", "--json"]);
    assert_eq!(
        (
            r["received"].as_u64(),
            r["new"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{r}"
    );

    let r = qcdesk_json(w, &["worklist", "sync", "--station", "CR01", "--json"]);
    assert_eq!(
        (r["received"].as_u64(), r["new"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );

    let items = cache(w);
    assert_eq!(items.len(), 4);
    // Latin-1, UTF-8, ISO 2022 (JIS X 0208) and plain ASCII names arrive as written.
    assert_eq!(by_accession(&items, "A1")["patient_name"], "Müller^Jürgen");
    assert_eq!(by_accession(&items, "A2")["patient_name"], "Øster^Åse");
    assert_eq!(
        by_accession(&items, "A3")["patient_name"],
        "Yamada^Tarou=山田^太郎=やまだ^たろう"
    );
    let a1 = by_accession(&items, "A1");
    for (field, want) in [
        ("patient_id", "PA1"),
        ("issuer_of_patient_id", "RGH"),
        ("birth_date", "19700101"),
        ("modality", "CT"),
        ("station_ae", "CT01"),
        ("scheduled_at", "20261101093000"),
        ("sps_id", "SA1"),
        ("requested_procedure_id", "RA1"),
        ("procedure", "CT exam"),
        ("referring_physician", "Brandt^Helga"),
        ("requesting_physician", "Ober^Anna"),
        ("admission_id", "V1"),
        ("source", "ris"),
    ] {
        assert_eq!(a1[field], want, "{field}: {a1}");
    }
    assert!(a1["vanished_at"].is_null());
    assert!(!a1["first_seen"].as_str().unwrap().is_empty());
}

#[test]
fn a_second_sync_marks_removed_items_and_keeps_them() {
    let mut wlm = Wlm::new("RISMWL");
    wlm.write(four_items());
    wlm.start(&[]);
    let ws = workspace_with_ris(&wlm);
    let w = ws.path();
    qcdesk_json(w, &["worklist", "sync", "--json"]);

    // A2 was performed (the RIS no longer lists it), A4 was rescheduled.
    wlm.remove("a2");
    let mut a4 = item("a4", "A4", "Doe^Jane", "", "CR", "CR01", "20261121");
    a4["time"] = json!("101500");
    wlm.write(json!([a4]));
    let r = qcdesk_json(w, &["worklist", "sync", "--json"]);
    assert_eq!(
        (
            r["received"].as_u64(),
            r["changed"].as_u64(),
            r["unchanged"].as_u64(),
            r["vanished"].as_u64()
        ),
        (Some(3), Some(1), Some(2), Some(1)),
        "{r}"
    );
    let items = cache(w);
    assert_eq!(items.len(), 4, "vanished items stay in the cache");
    let a2 = by_accession(&items, "A2");
    assert!(a2["vanished_at"].is_string(), "{a2}");
    assert!(
        a2["vanished_why"]
            .as_str()
            .unwrap()
            .contains("no longer listed by ris")
    );
    assert_eq!(by_accession(&items, "A4")["scheduled_at"], "20261121101500");

    // A sync limited to MR does not take the CT items' absence for removal.
    wlm.remove("a1");
    let r = qcdesk_json(w, &["worklist", "sync", "--modality", "MR", "--json"]);
    assert_eq!(r["vanished"].as_u64(), Some(0), "{r}");
    assert!(by_accession(&cache(w), "A1")["vanished_at"].is_null());
    // The item coming back is listed again.
    wlm.write(json!([item(
        "a2",
        "A2",
        "Øster^Åse",
        "ISO_IR 192",
        "MR",
        "MR01",
        "20261102"
    )]));
    let r = qcdesk_json(w, &["worklist", "sync", "--modality", "MR", "--json"]);
    assert_eq!(r["changed"].as_u64(), Some(1), "{r}");
    assert!(by_accession(&cache(w), "A2")["vanished_at"].is_null());
}

#[test]
fn an_unmatched_study_becomes_matched_when_its_order_arrives() {
    let ws = demo_workspace();
    let w = ws.path();
    let queue = qcdesk_json(w, &["queue", "--state", "unmatched", "--json"]);
    let study = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["findings"].to_string().contains("no_order"))
        .expect("the demo's study without an order")
        .clone();
    let id = study["id"].to_string();
    let s = qcdesk_json(w, &["show", &id, "--json"]);
    let mut wlm = Wlm::new("RISMWL");
    wlm.write(json!([{
        "file": "late", "charset": "ISO_IR 192",
        "accession": s["accession"], "patient_name": s["patient_name"], "patient_id": s["patient_id"],
        "issuer": s["issuer_of_patient_id"], "birth_date": s["patient_birth_date"], "sex": s["patient_sex"],
        "modality": s["modality"], "station": "CR01", "date": s["study_date"], "time": "140000",
        "sps_id": "SPS-LATE", "rp_id": "RP-LATE", "procedure": "XR Chest 2 views",
        "study_uid": s["study_instance_uid"],
    }]));
    wlm.start(&[]);
    let out = qcdesk(w, &["node", "add", "ris", &wlm.address(), "--role", "ris"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Two RIS nodes now (the demo's and this one): without --node the command must ask.
    let out = qcdesk(w, &["worklist", "sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("choose one with --node"),
        "{}",
        stderr(&out)
    );

    let r = qcdesk_json(w, &["worklist", "sync", "--node", "ris", "--json"]);
    assert_eq!(r["new"].as_u64(), Some(1), "{r}");
    assert!(r["studies_reclassified"].as_u64().unwrap() >= 1, "{r}");
    let after = qcdesk_json(w, &["show", &id, "--json"]);
    assert_eq!(after["state"], "matched", "{after}");
}

#[test]
fn an_absent_ris_or_a_wrong_called_ae_is_a_clear_error_and_changes_nothing() {
    let mut wlm = Wlm::new("RISMWL");
    wlm.write(four_items());
    wlm.start(&[]);
    let ws = workspace_with_ris(&wlm);
    let w = ws.path();
    qcdesk_json(w, &["worklist", "sync", "--json"]);
    let before = cache(w);

    let port = free_port();
    let out = qcdesk(
        w,
        &[
            "node",
            "add",
            "gone",
            &format!("RIS@127.0.0.1:{port}"),
            "--role",
            "ris",
        ],
    );
    assert!(out.status.success());
    let out = qcdesk(w, &["worklist", "sync", "--node", "gone"]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("gone (RIS@127.0.0.1:") && e.contains("connection refused"),
        "{e}"
    );
    assert!(e.contains("the cache was not changed"), "{e}");
    assert_eq!(e.lines().count(), 1, "one line: {e}");

    let out = qcdesk(
        w,
        &[
            "node",
            "add",
            "wrong",
            &format!("NOTRIS@127.0.0.1:{}", wlm.port),
            "--role",
            "ris",
        ],
    );
    assert!(out.status.success());
    let out = qcdesk(w, &["worklist", "sync", "--node", "wrong"]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("association rejected") && e.contains("NOTRIS"),
        "{e}"
    );

    let out = qcdesk(w, &["worklist", "sync", "--node", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no node named 'nosuch'"),
        "{}",
        stderr(&out)
    );

    assert_eq!(cache(w), before, "failed syncs leave the cache as it was");
    let text = qcdesk(w, &["worklist"]);
    let listing = String::from_utf8_lossy(&text.stdout);
    assert!(listing.contains("last sync of wrong FAILED"), "{listing}");
}

#[test]
fn a_ris_stopped_mid_way_leaves_the_cache_as_it_was() {
    let mut wlm = Wlm::new("RISMWL");
    wlm.write(four_items());
    wlm.start(&[]);
    let ws = workspace_with_ris(&wlm);
    let w = ws.path();
    qcdesk_json(w, &["worklist", "sync", "--json"]);
    let before = cache(w);
    wlm.stop();

    // Rescheduled in the RIS, which then dies while answering (one answer per second).
    wlm.write(json!([item(
        "a4", "A4", "Doe^Jane", "", "CR", "CR01", "20261125"
    )]));
    wlm.start(&["--sleep-during", "1"]);
    let sync = Command::new(bin())
        .arg("--workspace")
        .arg(w)
        .args(["worklist", "sync"])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    wlm.stop();
    let out = sync.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("Modality Worklist query") && e.contains("the cache was not changed"),
        "{e}"
    );
    assert_eq!(cache(w), before);
}

#[test]
fn too_many_answers_cancel_the_query() {
    let mut wlm = Wlm::new("RISMWL");
    wlm.write(four_items());
    wlm.start(&[]);
    let ws = workspace_with_ris(&wlm);
    let w = ws.path();
    let out = qcdesk(w, &["worklist", "sync", "--limit", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("listed more than 2 items; the query was cancelled"),
        "{}",
        stderr(&out)
    );
    assert!(cache(w).is_empty());
    // The RIS is still there for the next one.
    let r = qcdesk_json(w, &["worklist", "sync", "--json"]);
    assert_eq!(r["received"].as_u64(), Some(4));
}

#[test]
fn nodes_are_added_listed_echoed_and_removed() {
    let mut wlm = Wlm::new("RISMWL");
    wlm.start(&[]);
    let ws = workspace_with_ris(&wlm);
    let w = ws.path();
    let r = qcdesk_json(w, &["echo", "ris", "--json"]);
    assert_eq!(r["ok"], true);
    assert!(r["echo_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        r["implementation_version"]
            .as_str()
            .unwrap()
            .contains("OFFIS"),
        "{r}"
    );

    let out = qcdesk(
        w,
        &[
            "node",
            "add",
            "pacs",
            "PACS@localhost:104",
            "--role",
            "archive",
            "--calling-ae",
            "QC2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let nodes = qcdesk_json(w, &["node", "list", "--json"]);
    let pacs = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "pacs")
        .unwrap();
    assert_eq!(
        (
            pacs["ae_title"].as_str(),
            pacs["port"].as_u64(),
            pacs["role"].as_str(),
            pacs["calling_ae"].as_str()
        ),
        (Some("PACS"), Some(104), Some("archive"), Some("QC2"))
    );
    for (args, want) in [
        (
            vec!["node", "add", "x", "PACS10.0.0.5:104", "--role", "ris"],
            "no '@'",
        ),
        (
            vec!["node", "add", "x", "PACS@h:0", "--role", "ris"],
            "1 to 65535",
        ),
        (
            vec!["node", "add", "x y", "PACS@h:104", "--role", "ris"],
            "bad node name",
        ),
        (vec!["node", "remove", "nosuch"], "no node named 'nosuch'"),
    ] {
        let out = qcdesk(w, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    let out = qcdesk(w, &["node", "add", "x", "PACS@h:104", "--role", "printer"]);
    assert_eq!(out.status.code(), Some(2), "a bad role is a usage error");

    let local = qcdesk_json(w, &["node", "local", "--ae", "QCDESK_2", "--json"]);
    assert_eq!(local["ae_title"], "QCDESK_2");

    wlm.stop();
    let out = qcdesk(w, &["echo", "ris"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("connection refused"),
        "{}",
        stderr(&out)
    );
    let out = qcdesk(w, &["node", "remove", "pacs"]);
    assert!(out.status.success());
    assert_eq!(
        qcdesk_json(w, &["node", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn csv_and_hl7_orders_import_with_bad_lines_named() {
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(
        &csv,
        "accession;patient_name;patient_id;birth_date;sex;modality;station_ae;scheduled_date;scheduled_time;procedure\n\
         C1;Müller^Jürgen;P1;1970-01-02;M;CT;CT01;2026-11-28;0930;CT Thorax\n\
         C2;Dubois^Amélie;P2;19851332;F;MR;MR01;2026-11-28;1000;MR Knee\n\
         C3;Yamada^Tarou=山田^太郎=やまだ^たろう;P3;19600505;M;CT;CT02;2026-11-29;;CT Head\n\
         C4;Kovács^Péter;P4\n\
         C5;O'Brien^Seán;P5;19900101;M;CR;CR01;2026-11-30;0800;XR Chest\n",
    )
    .unwrap();
    let r = qcdesk_json(w, &["worklist", "import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(r["format"], "csv");
    assert_eq!(r["new"].as_u64(), Some(3), "{r}");
    let lines: Vec<u64> = r["bad_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 5], "{r}");

    let hl7 = dir.path().join("orders.hl7");
    let orm = "MSH|^~\\&|RIS|RGH|QCDESK|RGH|20261128090000||ORM^O01|1|P|2.3.1\r\
PID|1||P6^^^RGH||Schmidt^Peter||19750303|M\r\
ORC|NW|PL6\r\
OBR|1|PL6||MRKNEE^MR Knee^99RGH||||||||||||||H6|RP6|SPS6||||MR|||^^^20261201080000\r";
    let bad = "MSH|^~\\&|RIS|RGH|QCDESK|RGH|20261128090000||ORM^O01|2|P|2.3.1\r\
PID|1||P7^^^RGH||Roe^Rita||19751303|F\r\
ORC|NW|PL7\r\
OBR|1|PL7||CTHEAD^CT Head^99RGH||||||||||||||H7|RP7|SPS7||||CT\r";
    let cancel_c1 = "MSH|^~\\&|RIS|RGH|QCDESK|RGH|20261128090000||ORM^O01|3|P|2.3.1\r\
PID|1||P1^^^RGH||Müller^Jürgen||19700102|M\r\
ORC|CA|PL1\r\
OBR|1|PL1||CTTHX^CT Thorax^99RGH||||||||||||||C1|||||CT\r";
    std::fs::write(&hl7, format!("\u{0b}{orm}\u{1c}\r{bad}\n{cancel_c1}\n")).unwrap();
    let r = qcdesk_json(
        w,
        &[
            "worklist",
            "import",
            hl7.to_str().unwrap(),
            "--source",
            "csv",
            "--json",
        ],
    );
    assert_eq!(r["format"], "hl7");
    assert_eq!(
        (r["new"].as_u64(), r["cancelled"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let bad_lines = r["bad_lines"].as_array().unwrap();
    assert_eq!(bad_lines.len(), 1, "{r}");
    // Lines: 1–4 the ORM, 5 the MLLP end byte, 6 the bad message's MSH, 7 its PID.
    assert_eq!(bad_lines[0]["line"].as_u64(), Some(7), "{r}");
    assert!(
        bad_lines[0]["why"].as_str().unwrap().contains("PID-7"),
        "{r}"
    );

    // In file order: an order cancelled and then ordered again is listed.
    let reissued = dir.path().join("reissued.hl7");
    let nw = orm.replace("|1|P|", "|10|P|");
    let ca = orm.replace("ORC|NW", "ORC|CA").replace("|1|P|", "|11|P|");
    let nw2 = orm
        .replace("|1|P|", "|12|P|")
        .replace("MRKNEE^MR Knee", "MRKNEE2^MR Knee both");
    std::fs::write(&reissued, format!("{nw}\n{ca}\n{nw2}\n")).unwrap();
    let r = qcdesk_json(
        w,
        &[
            "worklist",
            "import",
            reissued.to_str().unwrap(),
            "--source",
            "csv",
            "--json",
        ],
    );
    assert_eq!(r["cancelled"].as_u64(), Some(1), "{r}");
    let h6 = by_accession(&cache(w), "H6").clone();
    assert!(h6["vanished_at"].is_null(), "{h6}");
    assert_eq!(h6["procedure"], "MR Knee both");

    let items = cache(w);
    let c1 = by_accession(&items, "C1");
    assert!(
        c1["vanished_why"]
            .as_str()
            .unwrap()
            .contains("cancelled by"),
        "{c1}"
    );
    let h6 = by_accession(&items, "H6");
    assert_eq!(
        (
            h6["patient_name"].as_str(),
            h6["scheduled_at"].as_str(),
            h6["sps_id"].as_str()
        ),
        (Some("Schmidt^Peter"), Some("20261201080000"), Some("SPS6"))
    );
}

fn search(w: &Path, q: &str) -> Vec<String> {
    qcdesk_json(w, &["worklist", "search", q, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["accession"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn search_finds_names_reversed_unaccented_misspelt_by_prefix_and_in_cjk() {
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(
        &csv,
        "accession,patient_name,patient_id,birth_date,modality,scheduled_date\n\
         S1,Müller^Jürgen,P1,19700102,CT,20261128\n\
         S2,Muller^Anna,P2,19800101,MR,20261127\n\
         S3,Dubois^Amélie^Claire,P3,19851201,CR,20261128\n\
         S4,Yamada^Tarou=山田^太郎=やまだ^たろう,P4,19600505,CT,20261126\n\
         S5,Hong^Gildong=洪^吉洞=홍^길동,P5,19550505,MR,20261125\n\
         S6,Schmidt^Peter,P6,19750303,CT,20261124\n",
    )
    .unwrap();
    qcdesk_json(w, &["worklist", "import", csv.to_str().unwrap(), "--json"]);
    assert_eq!(search(w, "jürgen müller"), ["S1"]);
    assert_eq!(search(w, "JURGEN MULLER"), ["S1"]);
    assert_eq!(search(w, "amelie dubois"), ["S3"]);
    assert_eq!(search(w, "Shmidt"), ["S6"]);
    assert_eq!(search(w, "Schmitd Peter"), ["S6"]);
    assert_eq!(search(w, "mul")[..2], ["S1", "S2"]);
    assert_eq!(search(w, "山田"), ["S4"]);
    assert_eq!(search(w, "やまだ たろう"), ["S4"]);
    assert_eq!(search(w, "홍길동"), ["S5"]);
    assert_eq!(search(w, "P3"), ["S3"]);
    assert_eq!(
        search(w, "modality:CT date:2026-11-24..2026-11-26"),
        ["S4", "S6"]
    );
    let hits = qcdesk_json(w, &["worklist", "search", "muller", "--json"]);
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
}
