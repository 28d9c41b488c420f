//! The receiver under attack, each case a peer on 127.0.0.1 doing what a hostile host or a
//! careless modality on the hospital network would: data sets nested thousands deep in
//! N-ACTION, N-EVENT-REPORT and C-FIND; idle, trickling and half-open connections; a partial TLS
//! ClientHello; a command that never ends; a huge data set; a deeply nested conflicting copy;
//! a full disk and a locked database under `grouped` durability. After each, the receiver still
//! serves, and nothing it acknowledged is lost.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::peers::*;
use common::raw::*;
use common::*;
use qcdesk::net::{Command as Dimse, CommandField};

fn test_file(name: &str) -> PathBuf {
    pydicom_dir().join("test_files").join(name)
}

/// `qcdesk listen` on a workspace whose `[receiver]` table is `receiver`, its log in a file.
fn listen_with(ws: &Path, port: u16, receiver: &str) -> (Proc, PathBuf) {
    std::fs::write(ws.join("config.toml"), format!("[receiver]\n{receiver}\n")).unwrap();
    let log = ws.with_extension("log");
    let child = Command::new(bin())
        .arg("--workspace")
        .arg(ws)
        .args(["listen", "--port", &port.to_string(), "--ae", "QC_SCP"])
        .env_remove("QCDESK_WORKSPACE")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start qcdesk listen");
    wait_port(port, "qcdesk listen");
    (
        Proc {
            child: Some(child),
            name: "qcdesk listen".into(),
        },
        log,
    )
}

fn pid(p: &Proc) -> u32 {
    p.child.as_ref().expect("running").id()
}

/// DCMTK's echoscu as MODALITY: whether the receiver answers.
fn echo(port: u16) -> bool {
    Command::new(require_tool("echoscu"))
        .env("TCP_NODELAY", "1")
        .args([
            "-aet",
            "MODALITY",
            "-aec",
            "QC_SCP",
            "127.0.0.1",
            &port.to_string(),
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// DCMTK's storescu sending `files` as `calling`.
fn storescu(port: u16, calling: &str, files: &[&Path]) -> std::process::Output {
    Command::new(require_tool("storescu"))
        .env("TCP_NODELAY", "1")
        .args([
            "-aet",
            calling,
            "-aec",
            "QC_SCP",
            "127.0.0.1",
            &port.to_string(),
        ])
        .args(files)
        .output()
        .expect("storescu")
}

fn instances_in(ws: &Path) -> i64 {
    let queue = qcdesk_json(ws, &["queue", "--json"]);
    queue
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instances"].as_i64().unwrap_or(0))
        .sum()
}

#[test]
fn data_sets_nested_thousands_deep_leave_the_receiver_serving() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut l, log) = listen_with(ws.path(), port, "");
    let (mut s, answer) = associate(
        port,
        "MODALITY",
        "QC_SCP",
        &[STORAGE_COMMITMENT, VERIFICATION],
        EXPLICIT_LE,
    );
    assert_eq!(answer, Answer::Accepted);
    let deep = nested(3000);
    // N-ACTION (a commitment request) and N-EVENT-REPORT (a report), 3,000 deep: refused
    // with a failure status, on the same association.
    let action = Dimse::n_action(STORAGE_COMMITMENT, "1.2.840.10008.1.20.1.1", 1, 1).encode();
    assert!(send_message(&mut s, 1, &action, Some(&deep)));
    let status = response_status(&mut s).expect("an N-ACTION response");
    assert_ne!(status, 0, "a 3000-deep request was accepted");
    let report = Dimse::n_event_report(STORAGE_COMMITMENT, "1.2.840.10008.1.20.1.1", 1, 2).encode();
    assert!(send_message(&mut s, 1, &report, Some(&deep)));
    let status = response_status(&mut s).expect("an N-EVENT-REPORT response");
    assert_ne!(status, 0, "a 3000-deep report was accepted");
    // A C-FIND whose identifier is as deep (the receiver offers no C-FIND, but reads it).
    let find = Dimse::request(CommandField::CFindRq, STORAGE_COMMITMENT, 3, true).encode();
    assert!(send_message(&mut s, 1, &find, Some(&deep)));
    let status = response_status(&mut s).expect("a C-FIND response");
    assert_ne!(status, 0xFF00);
    // The association goes on: a C-ECHO on it.
    let echo_rq = Dimse::request(CommandField::CEchoRq, VERIFICATION, 4, false).encode();
    assert!(send_message(&mut s, 3, &echo_rq, None));
    assert_eq!(response_status(&mut s), Some(0));
    drop(s);
    assert!(
        l.alive(),
        "the receiver died: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        echo(port),
        "the receiver does not answer after deep data sets"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("nested more than 64 deep"),
        "the refusal names the nesting: {text}"
    );
}

/// Sends `bytes` one at a time, `every` apart, until a write fails or `limit` passes; the
/// time the connection was cut, if it was.
fn trickle(mut s: TcpStream, bytes: Vec<u8>, every: Duration, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    for b in bytes.iter().cycle() {
        if s.write_all(&[*b]).is_err() {
            return Some(t.elapsed());
        }
        if t.elapsed() > limit {
            return None;
        }
        std::thread::sleep(every);
        // A closed connection shows on the next write; a reset may need a read to show.
        s.set_nonblocking(true).ok();
        let mut probe = [0u8; 64];
        let gone = matches!(s.read(&mut probe), Ok(0));
        s.set_nonblocking(false).ok();
        if gone {
            return Some(t.elapsed());
        }
    }
    None
}

#[test]
fn idle_and_trickling_connections_never_stop_another_peers_store() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut l, log) = listen_with(
        ws.path(),
        port,
        "handshake_seconds = 3\ntimeout_seconds = 4\nmin_bytes_per_second = 100000",
    );
    let start = Instant::now();
    // Eight connections that never say a word.
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Four trickling an association request, a byte every 200 ms.
    let mut tricklers = Vec::new();
    for _ in 0..4 {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let rq = associate_rq("SLOW", "QC_SCP", &[VERIFICATION], EXPLICIT_LE);
        tricklers.push(std::thread::spawn(move || {
            trickle(s, rq, Duration::from_millis(200), Duration::from_secs(40))
        }));
    }
    // Four associated, then trickling a P-DATA PDU.
    for i in 0..4 {
        let (s, answer) = associate(
            port,
            &format!("DRIP{i}"),
            "QC_SCP",
            &[CT_IMAGE],
            EXPLICIT_LE,
        );
        assert_eq!(answer, Answer::Accepted);
        let pdu = pdata(1, true, false, &[0u8; 4000]);
        tricklers.push(std::thread::spawn(move || {
            trickle(s, pdu, Duration::from_millis(200), Duration::from_secs(40))
        }));
    }
    // The ninth peer: served while all sixteen hold on.
    let t = Instant::now();
    let out = storescu(port, "MODALITY", &[&test_file("CT_small.dcm")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the store waited {:?} behind the idle connections",
        t.elapsed()
    );
    // And each of them is cut at its deadline, not held for ever.
    for (i, h) in tricklers.into_iter().enumerate() {
        let cut = h.join().unwrap();
        let cut = cut.unwrap_or_else(|| panic!("trickler {i} was never cut"));
        assert!(cut < Duration::from_secs(20), "trickler {i} held {cut:?}");
    }
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 16];
        assert!(
            matches!(s.read(&mut b), Ok(0) | Err(_)),
            "an idle connection was not closed"
        );
    }
    assert!(start.elapsed() < Duration::from_secs(40));
    assert!(l.alive());
    assert!(echo(port));
    assert_eq!(instances_in(ws.path()), 1);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("timed out"), "the log says why: {text}");
}

#[test]
fn over_its_caps_a_caller_is_refused_politely_and_others_are_served() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut l, log) = listen_with(ws.path(), port, "max_per_ae = 2\nmax_per_address = 3");
    // Two associations as BUSY: a third is rejected, transient, local limit exceeded.
    let (_a, first) = associate(port, "BUSY", "QC_SCP", &[VERIFICATION], EXPLICIT_LE);
    let (_b, second) = associate(port, "BUSY", "QC_SCP", &[VERIFICATION], EXPLICIT_LE);
    assert_eq!((first, second), (Answer::Accepted, Answer::Accepted));
    let third = associate(port, "BUSY", "QC_SCP", &[VERIFICATION], EXPLICIT_LE).1;
    assert_eq!(
        third,
        Answer::Rejected(2, 3, 2),
        "rejected-transient, local limit exceeded"
    );
    std::thread::sleep(Duration::from_millis(200));
    // Another AE title from the same address has its place, up to the address's cap.
    assert!(echo(port));
    let (_d, fourth) = associate(port, "OTHER", "QC_SCP", &[VERIFICATION], EXPLICIT_LE);
    assert_eq!(fourth, Answer::Accepted);
    let fifth = associate(port, "OTHER2", "QC_SCP", &[VERIFICATION], EXPLICIT_LE).1;
    assert_eq!(fifth, Answer::Rejected(2, 3, 2));
    drop((_a, _b));
    std::thread::sleep(Duration::from_millis(300));
    assert!(echo(port), "places are given back");
    assert!(l.alive());
    l.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("local limit exceeded"), "{text}");
}

#[test]
fn a_partial_client_hello_costs_no_cpu_after_its_deadline() {
    let ws = tempfile::tempdir().unwrap();
    let pki = tempfile::tempdir().unwrap();
    let out = Command::new(require_tool("openssl"))
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=localhost",
        ])
        .current_dir(pki.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (port, tls_port) = (free_port(), free_port());
    let (mut l, _log) = listen_with(
        ws.path(),
        port,
        &format!(
            "handshake_seconds = 2\ntls_port = {tls_port}\ntls_cert = \"{}\"\ntls_key = \"{}\"",
            pki.path().join("cert.pem").display(),
            pki.path().join("key.pem").display()
        ),
    );
    wait_port(tls_port, "the TLS port");
    // A ClientHello record announcing 512 bytes, 60 sent: then closed, or held.
    let mut partial = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC];
    partial.extend_from_slice(&[0x03; 51]);
    for _ in 0..4 {
        let mut s = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
        s.write_all(&partial).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut held = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    held.write_all(&partial).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let t = Instant::now();
    let mut b = [0u8; 16];
    assert!(matches!(held.read(&mut b), Ok(0) | Err(_)));
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "held for {:?}",
        t.elapsed()
    );
    // Past the deadline: the receiver idles.
    std::thread::sleep(Duration::from_secs(1));
    let before = cpu_ticks(pid(&l));
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid(&l)) - before;
    assert!(
        spent <= 20,
        "the receiver spent {spent} ticks of CPU in 2 s while idle"
    );
    // Plain associations are served, and a stop completes.
    assert!(echo(port));
    let t = Instant::now();
    let status = l.terminate();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_endless_command_and_a_huge_data_set_cost_bounded_memory() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut l, _log) = listen_with(ws.path(), port, "");
    let baseline = memory_kib(pid(&l)).0;
    // Command fragments that never end: the association is aborted after the cap.
    let (mut s, answer) = associate(port, "MODALITY", "QC_SCP", &[CT_IMAGE], EXPLICIT_LE);
    assert_eq!(answer, Answer::Accepted);
    let fragment = pdata(1, true, false, &vec![0u8; 60 << 10]);
    let mut sent = 0u64;
    while sent < 2 << 30 {
        if s.write_all(&fragment).is_err() {
            break;
        }
        sent += fragment.len() as u64;
    }
    assert!(
        sent < 64 << 20,
        "{} MiB of command were taken before the receiver gave up",
        sent >> 20
    );
    // A C-STORE of 300 MiB: it streams to the spool, never held whole.
    let (mut s, answer) = associate(port, "MODALITY", "QC_SCP", &[CT_IMAGE], EXPLICIT_LE);
    assert_eq!(answer, Answer::Accepted);
    let store = Dimse::store(CT_IMAGE, "1.2.3.4.5", 1).encode();
    assert!(s.write_all(&pdata(1, true, true, &store)).is_ok());
    let chunk = vec![0x5Au8; 512 << 10];
    for i in 0..600 {
        s.write_all(&pdata(1, false, i == 599, &chunk)).unwrap();
    }
    assert!(response_status(&mut s).is_some(), "a C-STORE response");
    let peak = memory_kib(pid(&l)).0;
    assert!(
        peak < baseline + 150 * 1024,
        "memory grew from {baseline} KiB to {peak} KiB"
    );
    assert!(l.alive());
    assert!(echo(port));
    // Nothing of it stays behind in the spool.
    l.terminate();
    assert!(files_under(&ws.path().join("spool")).is_empty());
}

/// Explicit VR LE elements of a data set, top level: (offset, (group, element)) of each.
fn top_level(data: &[u8]) -> Vec<(usize, (u16, u16))> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let group = u16::from_le_bytes([data[at], data[at + 1]]);
        let element = u16::from_le_bytes([data[at + 2], data[at + 3]]);
        out.push((at, (group, element)));
        let vr = &data[at + 4..at + 6];
        let long = matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        let (len, header) = if long {
            (
                u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize,
                12,
            )
        } else {
            (u16::from_le_bytes([data[at + 6], data[at + 7]]) as usize, 8)
        };
        assert_ne!(len, u32::MAX as usize, "undefined length at the top level");
        at += header + len;
    }
    out
}

/// The data set of `file` (Explicit VR LE) with a Referenced Series Sequence (0008,1115)
/// nested `depth` deep inserted where it belongs.
fn nested_copy(file: &Path, depth: usize) -> Vec<u8> {
    let bytes = std::fs::read(file).unwrap();
    let data = dataset_of(&bytes);
    let cut = top_level(data)
        .into_iter()
        .find(|(_, tag)| *tag > (0x0008, 0x1115))
        .map(|(at, _)| at)
        .unwrap();
    let mut deep = data[..cut].to_vec();
    let inner = nested(depth);
    // (0008,1115) SQ, undefined length, one item holding the nesting.
    deep.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0]);
    deep.extend_from_slice(&u32::MAX.to_le_bytes());
    deep.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
    deep.extend_from_slice(&u32::MAX.to_le_bytes());
    deep.extend_from_slice(&inner[16..]);
    deep.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    deep.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    deep.extend_from_slice(&data[cut..]);
    deep
}

#[test]
fn a_deeply_nested_instance_is_refused_by_every_reader_not_a_crash() {
    // Received safely (the header reader is iterative), then corrected, dumped, rendered.
    let ws = tempfile::tempdir().unwrap();
    let original = test_file("CT_small.dcm");
    let bytes = std::fs::read(&original).unwrap();
    let meta_end = bytes.len() - dataset_of(&bytes).len();
    let mut file = bytes[..meta_end].to_vec();
    file.extend(nested_copy(&original, 3000));
    let path = ws.path().with_extension("dcm");
    std::fs::write(&path, &file).unwrap();
    qcdesk_json(
        ws.path(),
        &["import", &path.display().to_string(), "--json"],
    );
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let id = queue[0]["id"].to_string();
    let out = qcdesk(ws.path(), &["fix", &id, "--set", "PatientName=DOE^JOHN"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused, not a crash: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("nested more than 64 deep"),
        "{}",
        stderr(&out)
    );
    // Its picture still renders (pixels are read without the nesting).
    let thumbs = ws.path().with_extension("thumbs");
    let r = qcdesk_json(
        ws.path(),
        &[
            "thumbs",
            &path.display().to_string(),
            "--out",
            &thumbs.display().to_string(),
            "--json",
        ],
    );
    assert_eq!(r[0]["status"], "ok", "{r}");
}

#[test]
fn a_deeply_nested_conflicting_copy_delays_no_other_store() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut l, _log) = listen_with(ws.path(), port, "");
    let original = test_file("CT_small.dcm");
    assert!(storescu(port, "MODALITY", &[&original]).status.success());
    // The same instance again, with a Referenced Series Sequence nested 8,000 deep.
    let deep = nested_copy(&original, 8000);
    let sop_uid = {
        let obj = dicom_object::open_file(&original).unwrap();
        obj.meta().media_storage_sop_instance_uid().to_string()
    };
    let (mut s, answer) = associate(port, "RESENDER", "QC_SCP", &[CT_IMAGE], EXPLICIT_LE);
    assert_eq!(answer, Answer::Accepted);
    let store = Dimse::store(CT_IMAGE, &sop_uid, 1).encode();
    // Sent while another peer stores: that one is not held up.
    let deep_send = std::thread::spawn(move || {
        assert!(send_message(&mut s, 1, &store, Some(&deep)));
        response_status(&mut s)
    });
    let t = Instant::now();
    let out = storescu(port, "MODALITY", &[&test_file("MR_small.dcm")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "another association's store waited {:?}",
        t.elapsed()
    );
    assert_eq!(deep_send.join().unwrap(), Some(0), "the copy is kept");
    assert!(l.alive());
    l.terminate();
    // Kept as a conflict that was not compared, saying why.
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let ct = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["modality"] == "CT")
        .expect("the CT study");
    let show = qcdesk_json(ws.path(), &["show", &ct["id"].to_string(), "--json"]);
    let copies = &show["series_list"][0]["instances"][0]["copies"];
    let conflict = copies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "conflict")
        .unwrap_or_else(|| panic!("{copies:#}"));
    let why = conflict["differences"][0]["received"].as_str().unwrap();
    assert!(why.contains("nested more than 64 deep"), "{why}");
}

#[test]
fn grouped_durability_loses_nothing_acknowledged_when_the_database_is_locked() {
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut l, _log) = listen_with(ws.path(), port, "durability = \"grouped\"");
    // Another process holds the database's write lock (a long import, a backup tool).
    let db = rusqlite::Connection::open(ws.path().join("qcdesk.sqlite")).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = instances_of(&test_file("CT_small.dcm"), 3, dir.path());
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let out = storescu(port, "MODALITY", &refs);
    assert!(out.status.success(), "acknowledged: {}", stderr(&out));
    // The receiver dies before it could record them; the lock goes.
    l.kill();
    db.execute_batch("ROLLBACK").unwrap();
    drop(db);
    assert_eq!(instances_in(ws.path()), 0);
    // The next start records what was acknowledged, from the spool.
    let (mut l, log) = listen_with(ws.path(), port, "durability = \"grouped\"");
    l.terminate();
    assert_eq!(instances_in(ws.path()), 3);
    assert!(files_under(&ws.path().join("spool")).is_empty());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("recorded from the spool"), "{text}");
    // Each a network receipt of its association.
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let id = queue[0]["id"].to_string();
    let show = qcdesk_json(ws.path(), &["show", &id, "--json"]);
    let receipt = &show["series_list"][0]["instances"][0]["receipts"][0];
    assert_eq!(receipt["source_kind"], "network", "{receipt:#}");
    assert_eq!(receipt["calling_ae"], "MODALITY", "{receipt:#}");
}

/// Runs `args` inside the mount namespace of process `pid`.
fn in_namespace(pid: u32, args: &[&str]) -> std::process::Output {
    Command::new(require_tool("nsenter"))
        .args(["-t", &pid.to_string(), "-m", "--"])
        .args(args)
        .output()
        .expect("nsenter")
}

#[test]
fn grouped_durability_loses_nothing_acknowledged_when_the_disk_fills() {
    assert!(
        is_root(),
        "this test mounts a small file system in a mount namespace: run it as root (CI does)"
    );
    let ws = tempfile::tempdir().unwrap();
    let port = free_port();
    // The workspace on a 24 MB tmpfs of the receiver's own mount namespace.
    let script = format!(
        "mount -t tmpfs -o size=24m qcdesk-full {ws} && printf '[receiver]\\ndurability = \"grouped\"\\n' > {ws}/config.toml && exec {bin} --workspace {ws} listen --port {port} --ae QC_SCP",
        ws = ws.path().display(),
        bin = bin(),
    );
    let child = Command::new(require_tool("unshare"))
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_remove("QCDESK_WORKSPACE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut l = Proc {
        child: Some(child),
        name: "qcdesk listen".into(),
    };
    wait_port(port, "qcdesk listen");
    let ns = pid(&l);
    let wsp = ws.path().display().to_string();
    // Fill the disk, leaving room for about two instances.
    let filler = format!("{wsp}/filler");
    let _ = in_namespace(
        ns,
        &["dd", "if=/dev/zero", &format!("of={filler}"), "bs=64k"],
    );
    let _ = in_namespace(ns, &["truncate", "-s", "-150K", &filler]);
    let dir = tempfile::tempdir().unwrap();
    let files = instances_of(&test_file("CT_small.dcm"), 12, dir.path());
    let (mut s, answer) = associate(port, "MODALITY", "QC_SCP", &[CT_IMAGE], EXPLICIT_LE);
    assert_eq!(answer, Answer::Accepted);
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        let uid = dicom_object::open_file(f)
            .unwrap()
            .meta()
            .media_storage_sop_instance_uid()
            .to_string();
        let store = Dimse::store(CT_IMAGE, &uid, i as u16 + 1).encode();
        assert!(send_message(&mut s, 1, &store, Some(dataset_of(&bytes))));
        match response_status(&mut s) {
            Some(0) => acknowledged.push(uid),
            Some(status) => {
                assert_eq!(status & 0xF000, 0xA000, "{status:04X}");
                refused += 1;
            }
            None => panic!("no answer"),
        }
    }
    assert!(refused > 0, "the disk never filled");
    assert!(
        !acknowledged.is_empty(),
        "nothing was taken before the disk filled"
    );
    drop(s);
    // Room again: what was acknowledged gets recorded (the writer retries).
    let rm = in_namespace(ns, &["rm", "-f", &filler]);
    assert!(rm.status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = in_namespace(ns, &[bin(), "--workspace", &wsp, "queue", "--json"]);
        let n: i64 = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|q| {
                q.as_array()
                    .map(|a| a.iter().map(|s| s["instances"].as_i64().unwrap_or(0)).sum())
            })
            .unwrap_or(0);
        if n as usize == acknowledged.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} acknowledged, {n} recorded",
            acknowledged.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = in_namespace(ns, &["ls", &format!("{wsp}/spool")]);
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "the spool is empty: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(l.alive());
}

/// Sends a Storage Commitment report as `calling` to the receiver; the status answered.
fn report_as(port: u16, calling: &str, report: &qcdesk::net::commitment::CommitResult) -> u16 {
    let (mut s, answer) = associate(port, calling, "QC_SCP", &[STORAGE_COMMITMENT], EXPLICIT_LE);
    assert_eq!(answer, Answer::Accepted);
    let (event, data) = qcdesk::net::commitment::write_report(report, EXPLICIT_LE).unwrap();
    let command =
        Dimse::n_event_report(STORAGE_COMMITMENT, "1.2.840.10008.1.20.1.1", event, 7).encode();
    assert!(send_message(&mut s, 1, &command, Some(&data)));
    response_status(&mut s).expect("an N-EVENT-REPORT response")
}

#[test]
fn a_forged_storage_commitment_report_changes_nothing() {
    let ws = demo_workspace();
    // A study sent to the demo archive and verified by its report.
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let study = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "matched")
        .expect("a matched study")["id"]
        .to_string();
    let out = qcdesk(
        ws.path(),
        &[
            "send",
            &study,
            "--force",
            "--node",
            "demo-archive",
            "--wait",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let db = rusqlite::Connection::open(ws.path().join("qcdesk.sqlite")).unwrap();
    let verdict = |db: &rusqlite::Connection| -> (String, String, String, String) {
        db.query_row(
            "SELECT transaction_uid, committed, failed, calling_ae FROM commitment_reports",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    };
    let before = verdict(&db);
    let uids: Vec<String> = serde_json::from_str(&before.1).unwrap();
    assert!(!uids.is_empty());
    let port = free_port();
    let (mut l, log) = listen_with(ws.path(), port, "");
    let failed_all = qcdesk::net::commitment::CommitResult {
        transaction_uid: before.0.clone(),
        committed: Vec::new(),
        failed: uids
            .iter()
            .map(|u| (CT_IMAGE.to_string(), u.clone(), 0x0110))
            .collect(),
    };
    // From an AE title other than the archive's: refused.
    assert_eq!(report_as(port, "FORGER", &failed_all), 0x0110);
    // From the archive's AE title and address, but against its earlier verdict: refused.
    assert_eq!(report_as(port, "DEMO_PACS", &failed_all), 0x0110);
    // For a transaction qcdesk never started: refused, nothing recorded.
    let unknown = qcdesk::net::commitment::CommitResult {
        transaction_uid: "2.25.1234".into(),
        ..failed_all.clone()
    };
    assert_eq!(report_as(port, "DEMO_PACS", &unknown), 0x0115);
    assert!(l.alive());
    l.terminate();
    assert_eq!(verdict(&db), before, "the verdict stands");
    let reports: i64 = db
        .query_row("SELECT COUNT(*) FROM commitment_reports", [], |r| r.get(0))
        .unwrap();
    assert_eq!(reports, 1);
    let state: String = db
        .query_row("SELECT state FROM send_jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "verified");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("FORGER") && text.contains("refused"),
        "{text}"
    );
}
