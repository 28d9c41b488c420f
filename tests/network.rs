//! The network loop against independent peers started here on 127.0.0.1: DCMTK's storescu
//! sending to `qcdesk listen`, `qcdesk send` to DCMTK's storescp and to Orthanc (Storage
//! Commitment, query proof, resubmission), and the faults a queue must survive.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::peers::*;
use common::*;
use serde_json::Value;

fn test_file(name: &str) -> PathBuf {
    pydicom_dir().join("test_files").join(name)
}

fn tool(name: &str) -> PathBuf {
    require_tool(name)
}

/// The workspace's stored files: data set bytes of each blob.
fn stored_datasets(ws: &Path) -> Vec<Vec<u8>> {
    files_under(&ws.join("store"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .map(|p| dataset_of(&std::fs::read(&p).unwrap()).to_vec())
        .collect()
}

/// storescp keeping what arrives bit for bit, in any transfer syntax.
fn storescp_bit_preserving(ae: &str, port: u16, dir: &Path) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let child = std::process::Command::new(tool("storescp"))
        .env("TCP_NODELAY", "1")
        .args(["-aet", ae, "+B", "+xa", "+uf", "-od"])
        .arg(dir)
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start storescp");
    wait_port(port, "storescp");
    Proc {
        child: Some(child),
        name: "storescp".into(),
    }
}

/// Adds an archive node `name` = `AE@127.0.0.1:port`.
fn add_archive(ws: &Path, name: &str, ae: &str, port: u16) {
    ok(
        ws,
        &[
            "node",
            "add",
            name,
            &format!("{ae}@127.0.0.1:{port}"),
            "--role",
            "archive",
        ],
    );
}

/// Runs qcdesk, which must succeed.
fn ok(ws: &Path, args: &[&str]) {
    let out = qcdesk(ws, args);
    assert!(out.status.success(), "qcdesk {args:?}: {}", stderr(&out));
}

fn storescu(port: u16, ae: &str, flags: &[&str], files: &[&Path]) -> std::process::Output {
    let mut args: Vec<String> = vec!["-aet".into(), "MODALITY".into(), "-aec".into(), ae.into()];
    args.extend(flags.iter().map(|s| s.to_string()));
    args.push("127.0.0.1".into());
    args.push(port.to_string());
    args.extend(files.iter().map(|f| f.display().to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    run_ok(&tool("storescu"), &refs)
}

#[test]
fn listen_stores_what_storescu_sends_in_every_transfer_syntax_byte_for_byte() {
    let ws = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = test_file("CT_small.dcm");
    // The same image in each encoding DCMTK can make, each sent as it is.
    let made = |name: &str, program: &str, args: &[&str]| -> PathBuf {
        let out = tmp.path().join(name);
        let mut all: Vec<&str> = args.to_vec();
        let (s, o) = (src.display().to_string(), out.display().to_string());
        all.push(&s);
        all.push(&o);
        run_ok(&tool(program), &all);
        out
    };
    let cases: Vec<(PathBuf, &[&str])> = vec![
        (src.clone(), &["-xe"]),
        (made("implicit.dcm", "dcmconv", &["+ti"]), &["-xi"]),
        (made("deflated.dcm", "dcmconv", &["+td"]), &["-xd"]),
        (made("jpeg.dcm", "dcmcjpeg", &[]), &["-R", "-xs"]),
        (made("jpls.dcm", "dcmcjpls", &[]), &["-R", "-xt"]),
        (made("rle.dcm", "dcmcrle", &[]), &["-R", "-xr"]),
    ];
    let port = free_port();
    let mut l = listen(ws.path(), port, None);
    // What storescu puts on the wire, kept bit for bit by storescp (+B) as the reference.
    let wire = tmp.path().join("wire");
    let reference_port = free_port();
    let _reference = storescp_bit_preserving("REF", reference_port, &wire);
    for (file, flags) in &cases {
        storescu(port, "QCDESK", flags, &[file]);
        storescu(reference_port, "REF", flags, &[file]);
    }
    // Another image in a study of its own, and an echo.
    storescu(port, "QCDESK", &[], &[&test_file("MR_small.dcm")]);
    run_ok(
        &tool("echoscu"),
        &["-aec", "QCDESK", "127.0.0.1", &port.to_string()],
    );
    assert!(l.alive());
    assert!(l.terminate().success(), "listen stops cleanly on SIGTERM");

    let stored = stored_datasets(ws.path());
    let sent = files_under(&wire);
    assert_eq!(sent.len(), cases.len(), "storescp kept one file per send");
    for file in &sent {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            stored.iter().any(|d| d == dataset_of(&bytes)),
            "{} ({}): no stored file holds the data set as sent",
            file.display(),
            ts_of(file)
        );
    }
    let syntaxes: std::collections::BTreeSet<String> = sent.iter().map(|f| ts_of(f)).collect();
    assert_eq!(
        syntaxes.len(),
        cases.len(),
        "one transfer syntax per case: {syntaxes:?}"
    );
    // One study per image; the CT's encodings are one instance (variants kept beside it).
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let studies = queue.as_array().unwrap();
    assert_eq!(studies.len(), 2, "{queue:#}");
    assert!(
        studies.iter().all(|s| s["source"] == "MODALITY"),
        "{queue:#}"
    );
    let ct = studies.iter().find(|s| s["modality"] == "CT").unwrap();
    assert_eq!(ct["instances"], 1);
    assert_eq!(ct["files"].as_u64().unwrap(), cases.len() as u64);
    // Each arrival is a receipt with its association, and the peer is remembered.
    let db = rusqlite::Connection::open(ws.path().join("qcdesk.sqlite")).unwrap();
    let (net, with_assoc): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(association_id) FROM receipts WHERE source_kind = 'network'
               AND calling_ae = 'MODALITY' AND called_ae = 'QCDESK' AND peer_address LIKE '127.0.0.1:%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (net, with_assoc),
        (cases.len() as i64 + 1, cases.len() as i64 + 1)
    );
    let (version, n): (String, i64) = db
        .query_row(
            "SELECT implementation_version, associations FROM remote_aes WHERE ae_title = 'MODALITY'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(version.starts_with("OFFIS_DCMTK"), "{version}");
    assert_eq!(n, cases.len() as i64 + 1, "an association per storescu run");
}

#[test]
fn listen_refuses_callers_off_its_allow_list_and_survives_malformed_pdus() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("config.toml"),
        "[receiver]\nallow = [\"MODALITY\"]\nmax_associations = 4\n",
    )
    .unwrap();
    let port = free_port();
    let mut l = listen(ws.path(), port, Some("QC_SCP"));
    // Garbage, an absurd PDU length, a truncated association request, a silent connection.
    let mut garbage = TcpStream::connect(("127.0.0.1", port)).unwrap();
    garbage.write_all(&[0x42; 4096]).unwrap();
    let mut absurd = TcpStream::connect(("127.0.0.1", port)).unwrap();
    absurd
        .write_all(&[0x01, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0, 1])
        .unwrap();
    let mut cut = TcpStream::connect(("127.0.0.1", port)).unwrap();
    cut.write_all(&[0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0, 1, 0, 0])
        .unwrap();
    drop(cut);
    let _silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Health checks and scanners: connections closed at once, or after a few bytes. Each must
    // give its slot back (more of them than the receiver has slots).
    for i in 0..12u8 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if i % 2 == 1 {
            c.write_all(&[0x01, 0x00, 0x00, 0x00]).unwrap();
        }
    }
    // Meanwhile a real sender is served.
    storescu(port, "QC_SCP", &[], &[&test_file("CT_small.dcm")]);
    // Retrieval is not offered: C-MOVE is refused with its status (0122), the association
    // released, not aborted.
    let moved = std::process::Command::new(tool("movescu"))
        .args(["-S", "-aet", "MODALITY", "-aec", "QC_SCP"])
        .args([
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID=1.2.3",
        ])
        .args(["127.0.0.1", &port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&moved.stderr).to_string()
        + &String::from_utf8_lossy(&moved.stdout);
    assert!(text.contains("SOPClassNotSupported"), "{text}");
    // A caller off the list is rejected with the reason.
    let out = std::process::Command::new(tool("storescu"))
        .args([
            "-aet",
            "INTRUDER",
            "-aec",
            "QC_SCP",
            "127.0.0.1",
            &port.to_string(),
        ])
        .arg(test_file("MR_small.dcm"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Calling AE Title Not Recognized"), "{text}");
    // And a wrong called AE title.
    let out = std::process::Command::new(tool("echoscu"))
        .args(["-aec", "NOT_ME", "127.0.0.1", &port.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    drop((garbage, absurd));
    assert!(l.alive(), "the receiver survived");
    run_ok(
        &tool("echoscu"),
        &[
            "-aet",
            "MODALITY",
            "-aec",
            "QC_SCP",
            "127.0.0.1",
            &port.to_string(),
        ],
    );
    l.kill();
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    assert_eq!(
        queue.as_array().unwrap().len(),
        1,
        "only the real instance: {queue:#}"
    );
    // The refusal is recorded: the intruder is on the node map, its association a failure.
    let map = qcdesk_json(ws.path(), &["nodes", "--json"]);
    let intruder = map["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ae_title"] == "INTRUDER")
        .unwrap_or_else(|| panic!("the refused caller is not on the map: {map:#}"));
    assert_eq!(intruder["associations"], 1, "{intruder:#}");
    assert_eq!(intruder["failures"], 1, "{intruder:#}");
    assert_eq!(intruder["instances"], 0, "{intruder:#}");
    let modality = map["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ae_title"] == "MODALITY")
        .unwrap_or_else(|| panic!("{map:#}"));
    assert_eq!(
        modality["failures"], 0,
        "the C-MOVE ended in a release: {modality:#}"
    );
}

/// A workspace holding these files (imported).
fn workspace_with(files: &[PathBuf]) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let mut args = vec!["import".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.push("--json".into());
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    qcdesk_json(ws.path(), &refs);
    ws
}

/// The queue ids of a workspace's studies.
fn queue_ids(ws: &Path) -> Vec<String> {
    qcdesk_json(ws, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].to_string())
        .collect()
}

fn config(ws: &Path, text: &str) {
    std::fs::write(ws.join("config.toml"), text).unwrap();
}

fn send(ws: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["send", "--force", "--json"];
    all.extend_from_slice(args);
    let out = qcdesk(ws, &all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "send {args:?}: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (out.status.code(), json, stderr(&out))
}

#[test]
fn send_transcodes_for_an_archive_that_takes_only_uncompressed_syntaxes() {
    let files: Vec<PathBuf> = [
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEG2000.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "CT_small.dcm",
    ]
    .iter()
    .map(|f| test_file(f))
    .collect();
    let ws = workspace_with(&files);
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let _scp = storescp("ARCH", port, out.path(), false, true);
    add_archive(ws.path(), "arch", "ARCH", port);
    let ids = queue_ids(ws.path());
    let mut args: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    args.push("--node");
    args.push("arch");
    let (code, json, err) = send(ws.path(), &args);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    for t in json.as_array().unwrap() {
        assert_eq!(t["failed"], 0, "{t:#}");
        assert_eq!(t["sent"], t["instances"], "{t:#}");
        // storescp offers neither Storage Commitment nor C-FIND: sent, not verified.
        assert_eq!(t["state"], "sent", "{t:#}");
        assert_eq!(t["verified"], false);
        assert!(
            t["error"].as_str().unwrap().contains("cannot be proven"),
            "{t:#}"
        );
    }
    let received = files_under(out.path());
    assert_eq!(
        received.len(),
        files.len() - 1,
        "MR_small_RLE and MR_small_jpeg_ls are one instance? {received:?}"
    );
    for f in &received {
        let ts = ts_of(f);
        assert!(
            ts == "1.2.840.10008.1.2.1" || ts == "1.2.840.10008.1.2",
            "{} arrived in {ts}",
            f.display()
        );
        run_ok(&tool("dcmdump"), &["-q", &f.display().to_string()]);
    }
}

fn demographics(o: &Orthanc, study: &str) -> (String, String) {
    let found = o.rest(
        "POST",
        "/tools/find",
        &serde_json::json!({"Level": "Study", "Query": {"StudyInstanceUID": study}}).to_string(),
    );
    let id = found[0].as_str().expect("study in Orthanc").to_string();
    let tags = o.get(&format!("/studies/{id}/shared-tags?simplify"));
    let text = |k: &str| tags[k].as_str().unwrap_or("").trim().to_string();
    (text("PatientID"), text("AccessionNumber"))
}

#[test]
fn send_to_orthanc_is_proven_by_storage_commitment_or_query_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let copies = instances_of(&test_file("CT_small.dcm"), 12, &dir.path().join("ct"));
    let mut files = copies.clone();
    files.push(test_file("MR_small_jpeg_ls_lossless.dcm"));
    files.push(test_file("JPEG2000.dcm"));
    let ws = workspace_with(&files);
    let our_port = free_port();
    let orthanc = Orthanc::start(our_port);
    qcdesk_json(
        ws.path(),
        &["node", "local", "--port", &our_port.to_string(), "--json"],
    );
    add_archive(ws.path(), "pacs", "ARCHIVE", orthanc.dicom);
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let studies: Vec<(String, String, String, String)> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].to_string(),
                s["study_instance_uid"].as_str().unwrap().to_string(),
                s["patient_id"].as_str().unwrap().to_string(),
                s["accession"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(studies.len(), 3);
    let ids: Vec<&str> = studies.iter().map(|s| s.0.as_str()).collect();
    let mut args = ids.clone();
    args.push("--wait");
    let (code, json, err) = send(ws.path(), &args);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    for t in json.as_array().unwrap() {
        assert_eq!(t["verified"], true, "{t:#}");
        assert_eq!(t["proof"], "storage_commitment", "{t:#}");
        assert_eq!(t["failures"].as_array().unwrap().len(), 0);
    }
    let instances = orthanc.get("/instances").as_array().unwrap().len();
    assert_eq!(instances, 14);
    // The archive is remembered: its AE title, address and implementation, each association.
    let db = rusqlite::Connection::open(ws.path().join("qcdesk.sqlite")).unwrap();
    let (version, carried): (String, i64) = db
        .query_row(
            "SELECT r.implementation_version,
                    (SELECT SUM(instances) FROM associations WHERE direction = 'out')
             FROM remote_aes r WHERE r.ae_title = 'ARCHIVE'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!version.is_empty(), "Orthanc's implementation version");
    assert_eq!(
        carried, 14,
        "instances carried by the outbound associations"
    );
    for (_, uid, pid, acc) in &studies {
        assert_eq!(demographics(&orthanc, uid), (pid.clone(), acc.clone()));
    }
    // Again: the same instances, nothing duplicated; this time proven by query.
    config(ws.path(), "[send]\ncommitment = false\n");
    let (code, json, err) = send(ws.path(), &args);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    for t in json.as_array().unwrap() {
        assert_eq!(t["proof"], "query", "{t:#}");
    }
    assert_eq!(orthanc.get("/instances").as_array().unwrap().len(), 14);
    let transfers = qcdesk_json(ws.path(), &["transfers", "--json"]);
    assert_eq!(transfers.as_array().unwrap().len(), 6);
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["send_state"] == "verified"),
        "{queue:#}"
    );
}

#[test]
fn an_archive_that_is_down_or_rejects_us_fails_the_job_clearly_after_retries() {
    let ws = workspace_with(&[test_file("CT_small.dcm")]);
    config(ws.path(), "[send]\nretries = 2\nbackoff_seconds = 1\n");
    let port = free_port();
    add_archive(ws.path(), "down", "PACS", port);
    let t = Instant::now();
    let (code, json, err) = send(ws.path(), &["1", "--wait"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not verified"), "{err}");
    let job = &json[0];
    assert_eq!(job["state"], "failed", "{job:#}");
    assert_eq!(job["sent"], 0);
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{job:#}"
    );
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{job:#}"
    );
    assert!(
        job["failures"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not sent"),
        "{job:#}"
    );
    assert!(t.elapsed() < Duration::from_secs(20));

    // A receiver that does not know our AE title: rejected, said so.
    let other = tempfile::tempdir().unwrap();
    config(other.path(), "[receiver]\nallow = [\"SOMEONE\"]\n");
    let _l = listen(other.path(), port, Some("PACS"));
    let (code, json, _) = send(ws.path(), &["1", "--wait"]);
    assert_eq!(code, Some(1));
    let e = json[0]["error"].as_str().unwrap();
    assert!(
        e.contains("association rejected")
            && e.contains("does not know qcdesk's AE title 'QCDESK'"),
        "{e}"
    );
    let transfers = qcdesk_json(ws.path(), &["transfers", "--json"]);
    assert!(
        transfers
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "failed")
    );
}

/// An archive that answers every C-STORE with A700 (out of resources): the library's SCP
/// with a handler that refuses, standing in for a full archive.
struct Full;

impl qcdesk::net::scp::Handler for Full {
    fn accepts_storage(&self) -> bool {
        true
    }
    fn store(
        &self,
        _info: &qcdesk::net::scp::AssociationInfo,
        _rq: qcdesk::net::scp::StoreRequest,
    ) -> qcdesk::net::scp::Answer {
        qcdesk::net::scp::Answer::status(0xA700, "disk full")
    }
}

#[test]
fn a_full_archive_answering_a700_ends_in_failed_instances_with_the_meaning() {
    let ws = workspace_with(&[test_file("CT_small.dcm"), test_file("MR_small.dcm")]);
    config(ws.path(), "[send]\nretries = 2\nbackoff_seconds = 1\n");
    let server = qcdesk::net::scp::Server::serve(
        qcdesk::net::scp::ScpConfig::new("FULL", "127.0.0.1:0"),
        std::sync::Arc::new(Full),
    )
    .unwrap();
    add_archive(ws.path(), "full", "FULL", server.port());
    let (code, json, _) = send(ws.path(), &["1", "2", "--wait"]);
    assert_eq!(code, Some(1));
    for t in json.as_array().unwrap() {
        assert_eq!(t["state"], "failed", "{t:#}");
        assert_eq!(t["sent"], 0);
        let f = &t["failures"][0];
        assert_eq!(f["status"], "A700H", "{t:#}");
        assert!(
            f["message"].as_str().unwrap().contains("out of resources"),
            "{t:#}"
        );
    }
}

#[test]
fn killing_the_archive_or_qcdesk_mid_send_loses_nothing_and_reports_nothing_falsely() {
    let dir = tempfile::tempdir().unwrap();
    let copies = instances_of(&test_file("CT_small.dcm"), 40, &dir.path().join("ct"));
    let ws = workspace_with(&copies);
    config(ws.path(), "[send]\nretries = 5\nbackoff_seconds = 1\n");
    let out = dir.path().join("archive");
    let port = free_port();
    // Nagle on: storescp answers each instance ~40 ms late, so the send takes seconds.
    let mut scp = storescp("ARCH", port, &out, true, false);
    add_archive(ws.path(), "arch", "ARCH", port);

    // qcdesk killed mid-queue.
    let mut sender = std::process::Command::new(bin())
        .arg("--workspace")
        .arg(ws.path())
        .args(["send", "1", "--force", "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while files_under(&out).len() < 5 {
        assert!(t.elapsed() < Duration::from_secs(20), "nothing arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    sender.kill().unwrap();
    sender.wait().unwrap();
    let mid = qcdesk_json(ws.path(), &["transfers", "--json"]);
    let job = &mid[0];
    assert!(job["sent"].as_i64().unwrap() < 40, "{job:#}");
    assert!(
        job["sent"].as_i64().unwrap() <= files_under(&out).len() as i64,
        "reported sent only what arrived: {job:#}"
    );

    // The archive killed mid-send, then back: the retry finishes the job.
    let resume = std::process::Command::new(bin())
        .arg("--workspace")
        .arg(ws.path())
        .args(["send", "1", "--force", "--wait", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let before = files_under(&out).len();
    while files_under(&out).len() < before + 3 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the resumed send stalled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    scp.kill();
    std::thread::sleep(Duration::from_millis(300));
    let _scp = storescp("ARCH", port, &out, true, true);
    let done = resume.wait_with_output().unwrap();
    // storescp cannot prove arrival: the job ends `sent` (exit 1 with --wait).
    assert_eq!(
        done.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let json: Value = serde_json::from_slice(&done.stdout).unwrap();
    let job = &json[0];
    assert_eq!(job["state"], "sent", "{job:#}");
    assert_eq!(job["sent"], 40, "{job:#}");
    assert_eq!(job["failed"], 0);
    // Every instance reached the archive (some twice: resent after the kill, harmless).
    let mut uids: Vec<String> = files_under(&out)
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
        .map(|n| n.split_once('.').map(|(_, u)| u.to_string()).unwrap_or(n))
        .collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 40, "{uids:?}");
    let transfers = qcdesk_json(ws.path(), &["transfers", "--json"]);
    assert_eq!(
        transfers.as_array().unwrap().len(),
        1,
        "one job, resumed: {transfers:#}"
    );
}

#[test]
fn a_corrected_patient_id_resent_to_orthanc_reports_the_stale_copy_until_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let copies = instances_of(&test_file("CT_small.dcm"), 3, &dir.path().join("ct"));
    let ws = workspace_with(&copies);
    let w = ws.path();
    let our_port = free_port();
    let orthanc = Orthanc::start(our_port);
    qcdesk_json(
        w,
        &["node", "local", "--port", &our_port.to_string(), "--json"],
    );
    add_archive(w, "pacs", "ARCHIVE", orthanc.dicom);
    let queue = qcdesk_json(w, &["queue", "--json"]);
    let id = queue[0]["id"].to_string();
    let uid = queue[0]["study_instance_uid"].as_str().unwrap().to_string();
    let old_pid = queue[0]["patient_id"].as_str().unwrap().to_string();
    let (code, json, err) = send(w, &[&id, "--wait"]);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    assert_eq!(json[0]["stale"], serde_json::json!([]), "not corrected yet");

    // The wrong patient, corrected, resent: Orthanc keeps the old copy beside the new one.
    ok(
        w,
        &[
            "fix",
            &id,
            "--set",
            "PatientID=QC-NEW-1",
            "--reason",
            "wrong patient",
        ],
    );
    config(w, "[send]\ncommitment = false\n");
    let (code, json, err) = send(w, &[&id, "--wait"]);
    assert_eq!(
        code,
        Some(0),
        "the old copy does not fail the send: {err}\n{json:#}"
    );
    assert_eq!(json[0]["proof"], "query");
    let stale = json[0]["stale"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{json:#}");
    assert_eq!(stale[0]["patient_id"], old_pid.as_str());
    assert_eq!(stale[0]["study_instance_uid"], uid.as_str());
    let text = qcdesk(w, &["transfers"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("stale copy remains in archive"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    let again = qcdesk_json(w, &["stale", &id, "--json"]);
    assert_eq!(again["stale"].as_array().unwrap().len(), 1);

    // Gone once the archive's administrator deletes it.
    let found = orthanc.rest(
        "POST",
        "/tools/find",
        &serde_json::json!({"Level": "Study", "Query": {"StudyInstanceUID": uid, "PatientID": old_pid}})
            .to_string(),
    );
    let old = found[0]
        .as_str()
        .expect("the old copy in Orthanc")
        .to_string();
    orthanc.rest("DELETE", &format!("/studies/{old}"), "");
    let after = qcdesk_json(w, &["stale", &id, "--json"]);
    assert_eq!(after["stale"], serde_json::json!([]), "{after:#}");
    let transfers = qcdesk_json(w, &["transfers", "--json"]);
    assert_eq!(transfers[0]["stale"], serde_json::json!([]));
    assert_eq!(demographics(&orthanc, &uid).0, "QC-NEW-1");
}

#[test]
fn instances_the_archive_did_not_commit_are_sent_again_on_retry() {
    use qcdesk::store::{ItemResult, Store};
    let ws = workspace_with(&[test_file("CT_small.dcm"), test_file("MR_small.dcm")]);
    let mut store = Store::open(ws.path()).unwrap();
    let studies: Vec<i64> = qcdesk_json(ws.path(), &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let job = store.enqueue_send(studies[0], "pacs").unwrap();
    let items = store.send_items(job, false).unwrap();
    assert_eq!(items.len(), 1);
    // Sent, then the commitment report names it as failed: the job ends failed.
    let sent: Vec<ItemResult> = items
        .iter()
        .map(|i| ItemResult {
            instance_id: i.instance_id,
            state: Some("sent"),
            status: Some(0),
            message: String::new(),
            sent_as: i.transfer_syntax.clone(),
        })
        .collect();
    store.record_send_results(job, &sent).unwrap();
    store
        .set_send_uncommitted(
            job,
            &[(
                items[0].sop_uid.clone(),
                "not committed: no such object instance (0112H)".into(),
            )],
        )
        .unwrap();
    store
        .set_send_state(
            job,
            qcdesk::model::SendState::Failed,
            "the archive did not commit 1 of 1 instances",
            None,
            true,
        )
        .unwrap();
    assert!(store.send_items(job, true).unwrap().is_empty());
    // A retry by hand sends it again.
    assert!(store.retry_send(job).unwrap());
    let pending = store.send_items(job, true).unwrap();
    assert_eq!(
        pending.len(),
        1,
        "the uncommitted instance is pending again"
    );
    assert_eq!(pending[0].sop_uid, items[0].sop_uid);
}

#[test]
fn a_study_of_more_kinds_than_one_association_carries_goes_over_several() {
    // 130 instances of 130 storage classes: more (class, syntax) pairs than the 127 contexts one
    // association proposes besides Storage Commitment.
    let classes: Vec<&str> = qcdesk::net::storage_classes::STORAGE_SOP_CLASSES
        .iter()
        .copied()
        .filter(|c| !qcdesk::dicom::uids::sop_class_name(c).contains("Retired"))
        .take(130)
        .collect();
    assert_eq!(classes.len(), 130);
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys, pydicom\n\
        src, out = sys.argv[1], sys.argv[2]\n\
        for i, uid in enumerate(sys.argv[3:]):\n\
        \x20   d = pydicom.dcmread(src)\n\
        \x20   d.SOPClassUID = uid\n\
        \x20   d.file_meta.MediaStorageSOPClassUID = uid\n\
        \x20   d.SOPInstanceUID = '2.25.4711%d' % i\n\
        \x20   d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID\n\
        \x20   d.InstanceNumber = i + 1\n\
        \x20   d.save_as('%s/%03d.dcm' % (out, i))\n";
    let made = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(test_file("CT_small.dcm"))
        .arg(dir.path())
        .args(&classes)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let ws = workspace_with(&[dir.path().to_path_buf()]);
    // The archive: a second qcdesk receiver, which takes every storage class (DCMTK's storescp
    // refuses the newest ones even when promiscuous).
    let archive = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut receiver = listen(archive.path(), port, Some("ARCH"));
    add_archive(ws.path(), "arch", "ARCH", port);
    let ids = queue_ids(ws.path());
    assert_eq!(ids.len(), 1, "one study");
    let (code, json, err) = send(ws.path(), &[&ids[0], "--node", "arch"]);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    let t = &json[0];
    assert_eq!(t["instances"], 130, "{t:#}");
    assert_eq!(t["sent"], 130, "{t:#}");
    assert_eq!(t["failed"], 0, "{t:#}");
    receiver.terminate();
    let held = qcdesk_json(archive.path(), &["queue", "--json"]);
    assert_eq!(held[0]["instances"], 130, "{held:#}");
    // Over two associations at least (127 + 3 kinds).
    let map = qcdesk_json(archive.path(), &["nodes", "--json"]);
    let peer = map["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["instances"] == 130)
        .unwrap_or_else(|| panic!("{map:#}"));
    assert!(peer["associations"].as_i64().unwrap() >= 2, "{peer:#}");
}
