//! The audit trail: one entry per change to a study (who, when, what before and after, why,
//! from which order, which versions), in an append-only table whose entries are chained by
//! hash. The database refuses updates and deletes (triggers); an entry altered or removed
//! around them breaks the chain, and [`Store::verify_audit`] names the first one.
//!
//! The chain alone cannot stop someone who may write the database (any member of a shared
//! workspace's group): they can drop the triggers, rewrite history and recompute every hash.
//! So the chain's head also leaves the database: every append sends `entry:hash` to the
//! system log (syslog / the journal, which the database's writers cannot rewrite), and
//! `audit --export-head` writes it to a file for an auditor; `audit --verify --head FILE`
//! then catches a history rewritten up to that head.
//!
//! Entries hold patient data (the values changed) and so live only in the database, never in
//! log files: the head sent out is a number and a hash.

use std::cell::RefCell;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{Store, StoreError};

/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry says, as appended.
#[derive(Debug, Clone)]
pub struct AuditNew<'a> {
    pub at: &'a str,
    pub os_user: &'a str,
    pub operator: &'a str,
    pub action: &'a str,
    pub study_uid: &'a str,
    /// JSON: reason, source order, changes, versions.
    pub detail: &'a serde_json::Value,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub os_user: String,
    pub operator: String,
    pub action: String,
    pub study_uid: String,
    pub detail: serde_json::Value,
    pub hash: String,
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditCheck {
    pub entries: u64,
    /// The first entry that is not as written, and how.
    pub first_bad: Option<AuditFault>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFault {
    pub id: i64,
    pub problem: String,
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    prev: &str,
    id: i64,
    at: &str,
    os_user: &str,
    operator: &str,
    action: &str,
    study_uid: &str,
    detail: &str,
) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        prev,
        &id.to_string(),
        at,
        os_user,
        operator,
        action,
        study_uid,
        detail,
    ] {
        // Length-prefixed: no two different entries hash the same text.
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

thread_local! {
    /// The head an append in the current transaction made, published once it commits.
    static APPENDED: RefCell<Option<(i64, String)>> = const { RefCell::new(None) };
}

/// The head appended in the transaction that just committed, if any.
pub(super) fn take_appended() -> Option<(i64, String)> {
    APPENDED.with(|a| a.borrow_mut().take())
}

/// The transaction was rolled back: its appends never happened.
pub(super) fn forget_appended() {
    APPENDED.with(|a| a.borrow_mut().take());
}

/// Where the head goes: the system log's socket, unless `QCDESK_AUDIT_SYSLOG` names another
/// (a test's) or says `off`.
fn syslog_socket() -> Option<std::path::PathBuf> {
    match std::env::var_os("QCDESK_AUDIT_SYSLOG") {
        Some(v) if v == "off" => None,
        Some(v) => Some(v.into()),
        None => Some("/dev/log".into()),
    }
}

/// Sends the chain's new head to the system log (authpriv.notice), outside the database. A
/// datagram in the syslog format the journal and every syslog daemon read (RFC 3164): no
/// crate needed for one line. Nothing listening (a container without syslog) is not an error
/// of the change being recorded; `audit --export-head` remains.
pub(super) fn publish(workspace: &std::path::Path, (id, hash): (i64, String)) {
    let Some(socket) = syslog_socket() else {
        return;
    };
    #[cfg(unix)]
    {
        // authpriv (10) * 8 + notice (5).
        // The head last: nothing in the workspace's path can stand in for it.
        let line = format!(
            "<85>qcdesk[{}]: audit of workspace {} head {id}:{hash}",
            std::process::id(),
            crate::text::printable(&workspace.display().to_string())
        );
        let sent = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.send_to(line.as_bytes(), &socket));
        if let Err(e) = sent {
            tracing::debug!("audit head not sent to {}: {e}", socket.display());
        }
    }
    #[cfg(not(unix))]
    let _ = (workspace, socket, id, hash);
}

/// A head known outside the database: an entry's number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub entry: i64,
    pub hash: String,
}

impl AuditHead {
    /// The file `audit --export-head` writes.
    pub fn to_file_text(&self, workspace: &std::path::Path, at: &str) -> String {
        format!(
            "qcdesk audit head\nworkspace: {}\nentry: {}\nhash: {}\nexported: {at}\n",
            workspace.display(),
            self.entry,
            self.hash
        )
    }

    /// Every head in `text`: an exported file's, or each system log line's (`... head
    /// N:HASH` at its end), so a whole journal extract can be checked at once.
    pub fn parse_all(text: &str) -> Vec<AuditHead> {
        if let Some(h) = Self::exported(text) {
            return vec![h];
        }
        text.lines()
            .filter_map(|line| {
                let (n, h) = line.split_whitespace().last()?.split_once(':')?;
                let entry = n.parse().ok()?;
                is_hash(h).then(|| AuditHead {
                    entry,
                    hash: h.to_string(),
                })
            })
            .collect()
    }

    /// The head of a file `audit --export-head` wrote.
    fn exported(text: &str) -> Option<AuditHead> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let (entry, hash) = (field("entry:")?, field("hash:")?);
        Some(AuditHead {
            entry: entry.parse().ok()?,
            hash,
        })
        .filter(|h| is_hash(&h.hash))
    }
}

fn is_hash(h: &str) -> bool {
    h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())
}

/// Appends an entry inside the caller's transaction; returns its id.
pub(super) fn append(tx: &Transaction<'_>, e: &AuditNew<'_>) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let detail = e.detail.to_string();
    let hash = entry_hash(
        &prev,
        id,
        e.at,
        e.os_user,
        e.operator,
        e.action,
        e.study_uid,
        &detail,
    );
    tx.execute(
        "INSERT INTO audit_log (id, at, os_user, operator, action, study_uid, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            e.at,
            e.os_user,
            e.operator,
            e.action,
            e.study_uid,
            detail,
            prev,
            hash
        ],
    )?;
    // The head, kept apart: removing the newest entries leaves a chain that is whole.
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ('audit_head', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [format!("{id}:{hash}")],
    )?;
    APPENDED.with(|a| *a.borrow_mut() = Some((id, hash)));
    Ok(id)
}

impl Store {
    /// The audit entries, oldest first; of one study (by Study Instance UID) when given.
    pub fn audit(&self, study_uid: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, os_user, operator, action, study_uid, detail, hash FROM audit_log
             WHERE ?1 IS NULL OR study_uid = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([study_uid], |r| {
            let detail: String = r.get(6)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                os_user: r.get(2)?,
                operator: r.get(3)?,
                action: r.get(4)?,
                study_uid: r.get(5)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                hash: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest entry: the head to keep outside the database. None while the log is empty.
    pub fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(AuditHead {
                        entry: r.get(0)?,
                        hash: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// [`Store::verify_audit`], and then the head known outside the database: its entry must
    /// be in the chain with that very hash. A history rewritten by someone who could write
    /// the database (hashes recomputed, head moved) passes the chain's own check but not this.
    pub fn verify_audit_against(&self, outside: &AuditHead) -> Result<AuditCheck, StoreError> {
        let mut check = self.verify_audit()?;
        if check.first_bad.is_some() {
            return Ok(check);
        }
        let held: Option<String> = self
            .conn
            .query_row(
                "SELECT hash FROM audit_log WHERE id = ?1",
                [outside.entry],
                |r| r.get(0),
            )
            .optional()?;
        check.first_bad = match held {
            Some(h) if h == outside.hash => None,
            Some(_) => Some(AuditFault {
                id: outside.entry,
                problem: "it is not the entry whose hash was kept outside the database: the history up to it was rewritten".into(),
            }),
            None => Some(AuditFault {
                id: outside.entry,
                problem: format!(
                    "entries up to {} were kept outside the database but are missing (the log holds {})",
                    outside.entry, check.entries
                ),
            }),
        };
        Ok(check)
    }

    /// Walks the whole chain: each entry must follow the one before it (by id and hash) and
    /// hash to what it says; the last must be the head recorded when it was written.
    pub fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, os_user, operator, action, study_uid, detail, prev_hash, hash
             FROM audit_log ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev_id = 0i64;
        let mut prev_hash = GENESIS.to_string();
        let mut entries = 0u64;
        let mut first_bad = None;
        while let Some(r) = rows.next()? {
            entries += 1;
            let id: i64 = r.get(0)?;
            let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
            let stored_prev = text(7)?;
            let stored_hash = text(8)?;
            if first_bad.is_none() {
                let problem = if id != prev_id + 1 {
                    Some(if id > prev_id + 1 {
                        format!(
                            "entries {}..{} before it are missing (deleted)",
                            prev_id + 1,
                            id - 1
                        )
                    } else {
                        "its number is out of sequence".to_string()
                    })
                } else if stored_prev != prev_hash {
                    Some(
                        "it does not follow the entry before it (that one was altered or replaced)"
                            .into(),
                    )
                } else if entry_hash(
                    &stored_prev,
                    id,
                    &text(1)?,
                    &text(2)?,
                    &text(3)?,
                    &text(4)?,
                    &text(5)?,
                    &text(6)?,
                ) != stored_hash
                {
                    Some("its content was altered after it was written".into())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    first_bad = Some(AuditFault { id, problem });
                }
            }
            prev_id = id;
            prev_hash = stored_hash;
        }
        if first_bad.is_none() {
            let head: Option<String> = self
                .conn
                .query_row(
                    "SELECT value FROM settings WHERE key = 'audit_head'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let expected = (entries > 0).then(|| format!("{prev_id}:{prev_hash}"));
            if head != expected {
                let newest = head
                    .as_deref()
                    .and_then(|h| h.split(':').next())
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(0);
                first_bad = Some(AuditFault {
                    id: prev_id + 1,
                    problem: if newest > prev_id {
                        format!(
                            "entries {}..{} at the end are missing (deleted)",
                            prev_id + 1,
                            newest
                        )
                    } else {
                        "the newest entry is not the one last written".into()
                    },
                });
            }
        }
        Ok(AuditCheck { entries, first_bad })
    }
}
