//! Who is recorded, and an audit trail that holds against someone who can write the database:
//! the operator is the OS account of the process, whatever `$USER` says; every append sends
//! the chain's head to the system log; a history rewritten with every hash recomputed passes
//! the chain's own check but not one against a head kept outside the database.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// A workspace holding CT_small.dcm, and its queue id.
fn workspace() -> (tempfile::TempDir, String) {
    let ws = tempfile::tempdir().unwrap();
    let file = pydicom_dir().join("test_files/CT_small.dcm");
    qcdesk_json(
        ws.path(),
        &["import", &file.display().to_string(), "--json"],
    );
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let id = queue[0]["id"].to_string();
    (ws, id)
}

/// `qcdesk fix` with an environment of the test's choosing.
fn fix(ws: &Path, id: &str, value: &str, env: &[(&str, &str)]) {
    let mut cmd = Command::new(bin());
    cmd.arg("--workspace")
        .arg(ws)
        .args(["fix", id, "--set", &format!("PatientName={value}")])
        .args(["--reason", "typo at registration"])
        .env_remove("QCDESK_WORKSPACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

fn account() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_os_account_is_recorded_whatever_user_says() {
    let (ws, id) = workspace();
    fix(
        ws.path(),
        &id,
        "DOE^JANE",
        &[
            ("USER", "chief-radiologist"),
            ("LOGNAME", "chief-radiologist"),
        ],
    );
    let audit = qcdesk_json(ws.path(), &["audit", "--json"]);
    let entry = &audit[0];
    assert_eq!(entry["os_user"], account().as_str(), "{entry:#}");
    let history = qcdesk_json(ws.path(), &["history", &id, "--json"]);
    assert_ne!(history[0]["os_user"], "chief-radiologist", "{history:#}");
}

#[test]
fn every_append_sends_the_head_to_the_system_log() {
    let (ws, id) = workspace();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log.sock");
    let log = UnixDatagram::bind(&socket).unwrap();
    log.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    fix(
        ws.path(),
        &id,
        "DOE^JANE",
        &[("QCDESK_AUDIT_SYSLOG", &socket.display().to_string())],
    );
    let mut buf = [0u8; 1024];
    let n = log.recv(&mut buf).expect("a head in the system log");
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    let audit = qcdesk_json(ws.path(), &["audit", "--json"]);
    let hash = audit[0]["hash"].as_str().unwrap();
    assert!(line.starts_with("<85>qcdesk["), "{line}");
    assert!(line.ends_with(&format!("head 1:{hash}")), "{line}");
    assert!(!line.contains("DOE"), "no patient data in the log: {line}");
    // The journal's line itself is a head `--verify --head` takes.
    let kept = dir.path().join("journal.txt");
    std::fs::write(&kept, &line).unwrap();
    let out = qcdesk(
        ws.path(),
        &["audit", "--verify", "--head", &kept.display().to_string()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The chain's hash of an entry, as qcdesk computes it (an attacker with the source can).
fn entry_hash(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

#[test]
fn a_rewritten_history_is_caught_against_a_head_kept_outside() {
    let (ws, id) = workspace();
    fix(ws.path(), &id, "DOE^JANE", &[]);
    fix(ws.path(), &id, "DOE^JOAN", &[]);
    let head = ws.path().with_extension("head");
    let out = qcdesk(
        ws.path(),
        &["audit", "--export-head", &head.display().to_string()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&head).unwrap();
    assert!(text.contains("entry: 2"), "{text}");
    // Someone with write access to the database: triggers dropped, the first entry's
    // operator changed, every hash after it recomputed, the head moved.
    {
        let db = rusqlite::Connection::open(ws.path().join("qcdesk.sqlite")).unwrap();
        db.execute_batch(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
             UPDATE audit_log SET operator = 'somebody else' WHERE id = 1;",
        )
        .unwrap();
        let rows: Vec<(i64, Vec<String>)> = {
            let mut stmt = db
                .prepare(
                    "SELECT id, at, os_user, operator, action, study_uid, detail FROM audit_log ORDER BY id",
                )
                .unwrap();
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    (1..7)
                        .map(|i| r.get(i))
                        .collect::<Result<Vec<String>, _>>()?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let mut prev = "0".repeat(64);
        for (id, f) in rows {
            let idt = id.to_string();
            let hash = entry_hash(&[&prev, &idt, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]]);
            db.execute(
                "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
                rusqlite::params![id, prev, hash],
            )
            .unwrap();
            db.execute(
                "UPDATE settings SET value = ?1 WHERE key = 'audit_head'",
                [format!("{id}:{hash}")],
            )
            .unwrap();
            prev = hash;
        }
    }
    // The chain's own check cannot tell (and says to use a head kept outside)...
    let own = qcdesk(ws.path(), &["audit", "--verify"]);
    assert!(own.status.success(), "{}", stderr(&own));
    assert!(String::from_utf8_lossy(&own.stdout).contains("--head"));
    // ...the head kept outside can.
    let out = qcdesk(
        ws.path(),
        &["audit", "--verify", "--head", &head.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("entry 2") && err.contains("rewritten"),
        "{err}"
    );
    // A head past the end (entries deleted and the chain rebuilt) is caught too.
    std::fs::write(&head, format!("entry: 9\nhash: {}\n", "a".repeat(64))).unwrap();
    let out = qcdesk(
        ws.path(),
        &["audit", "--verify", "--head", &head.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
}
