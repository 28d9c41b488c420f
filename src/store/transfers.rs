//! The persistent send queue: a job per study and archive node, an item per instance (the
//! current version when queued), each item's status as the archive gave it, and the Storage
//! Commitment reports that prove arrival. An item is `sent` only once the archive said so.
//!
//! Jobs are claimed by one runner at a time (the desk, `qcdesk listen` or `qcdesk send`): a
//! claim whose heartbeat stopped (a killed process) is taken over after [`STALE_SECONDS`].

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError};
use crate::fsutil;
use crate::model::{CommitResult, SendState};

/// A claim not refreshed for this long belongs to a runner that died.
pub const STALE_SECONDS: i64 = 60;

/// A recorded commitment report: committed SOP Instance UIDs, failed ones with the reason.
pub type CommitmentReport = (Vec<String>, Vec<(String, u16)>);

/// The node the transaction `uid` was requested of: (name, AE title, host).
pub(super) fn requested_of(
    conn: &rusqlite::Connection,
    uid: &str,
) -> Result<Option<(String, String, String)>, StoreError> {
    if uid.is_empty() {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT n.name, n.ae_title, n.host FROM send_jobs j JOIN nodes n ON n.name = j.node
             WHERE j.transaction_uid = ?1 ORDER BY j.id DESC LIMIT 1",
            [uid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// What became of a Storage Commitment report offered to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportVerdict {
    /// The first report of its transaction: recorded.
    Recorded,
    /// The same report again: nothing changes.
    Repeated,
    /// Another report for a transaction that has its verdict: refused, nothing changes.
    Conflicting,
}

impl rusqlite::types::ToSql for SendState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for SendState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = v.as_str()?;
        SendState::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown send state '{text}'").into())
        })
    }
}

/// A job as the runner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendJob {
    pub id: i64,
    pub study_id: i64,
    pub study_uid: String,
    pub node: String,
    pub state: SendState,
    pub attempts: i64,
    pub transaction_uid: String,
}

/// An instance to send (or sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendItem {
    pub instance_id: i64,
    pub blob_hash: String,
    pub sop_class: String,
    pub sop_uid: String,
    pub transfer_syntax: String,
    pub dataset_offset: u64,
    pub state: String,
}

/// What the archive answered for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    pub instance_id: i64,
    /// `sent` or `failed`; None leaves the item pending (to be tried again).
    pub state: Option<&'static str>,
    pub status: Option<u16>,
    pub message: String,
    pub sent_as: String,
}

/// One failed instance, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    pub sop_instance_uid: String,
    pub status: Option<String>,
    pub message: String,
}

/// A job for `transfers` and the desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub job: i64,
    pub study_id: i64,
    pub study_instance_uid: String,
    pub patient_id: String,
    pub accession: String,
    pub node: String,
    pub state: SendState,
    pub instances: i64,
    pub sent: i64,
    pub failed: i64,
    pub warnings: i64,
    pub verified: bool,
    /// `storage_commitment` or `query` once verified.
    pub proof: Option<String>,
    pub attempts: i64,
    pub last_error: String,
    pub updated_at: String,
    pub failures: Vec<ItemFailure>,
    /// Copies of the study under an earlier identity the archive still held when last checked
    /// (see `send::stale`).
    pub stale: Vec<StaleCopy>,
    /// What was wrong with what was sent, the user having been asked (empty: nothing).
    pub caveat: String,
}

/// A study the archive holds under an identity the study no longer has (a corrected Patient
/// ID beside the old one, a moved series' old study).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaleCopy {
    pub study_instance_uid: String,
    pub patient_id: String,
    pub accession: String,
    /// Number of Study Related Instances, as the archive says.
    pub instances: String,
}

/// The identities a study has had: what its instances say now, and every Study UID any
/// version of them carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudyIdentities {
    /// (Study Instance UID, Patient ID) of the current versions.
    pub current: std::collections::BTreeSet<(String, String)>,
    /// Study Instance UIDs of every version.
    pub uids: std::collections::BTreeSet<String>,
    /// Some instance has more than one version, or came or went by a move.
    pub corrected: bool,
}

/// Owners are `<role>-<pid>@<host>`: a runner of this host whose process is gone is dead.
pub fn owner_name(role: &str) -> String {
    format!("{role}-{}@{}", std::process::id(), host_name())
}

use super::claims::host_name;

fn owner_alive(owner: &str) -> bool {
    let Some((who, host)) = owner.rsplit_once('@') else {
        return !owner.is_empty();
    };
    if host != host_name() {
        // Another machine's runner: only its heartbeat tells.
        return true;
    }
    match who
        .rsplit_once('-')
        .and_then(|(_, pid)| pid.parse::<u32>().ok())
    {
        Some(pid) => pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

impl Store {
    /// Queues `study_id` for `node`. A job still under way for the same study and node is
    /// returned instead of a second one; otherwise the items are the instances' current
    /// versions now.
    pub fn enqueue_send(&mut self, study_id: i64, node: &str) -> Result<i64, StoreError> {
        self.enqueue_send_with(study_id, node, "")
    }

    /// Queues the study for `node`, recording `caveat`: what is wrong with what is sent (the
    /// user was asked and went ahead), shown with the job's state from then on.
    pub fn enqueue_send_with(
        &mut self,
        study_id: i64,
        node: &str,
        caveat: &str,
    ) -> Result<i64, StoreError> {
        let (now, unix) = fsutil::now();
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            super::claims::check_free(tx, study_id, &actor)?;
            let open: Option<i64> = tx
                .query_row(
                    "SELECT id FROM send_jobs WHERE study_id = ?1 AND node = ?2
                       AND state IN ('queued', 'sending', 'verifying')
                     ORDER BY id DESC LIMIT 1",
                    params![study_id, node],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = open {
                return Ok(id);
            }
            tx.execute(
                "INSERT INTO send_jobs (study_id, node, state, created_at, updated_at,
                     next_attempt_unix, caveat)
                 VALUES (?1, ?2, 'queued', ?3, ?3, ?4, ?5)",
                params![study_id, node, now, unix, caveat],
            )?;
            let job = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO send_items (job_id, instance_id, blob_hash, sop_class, sop_uid)
                 SELECT ?1, i.id, v.blob_hash, b.sop_class_uid, COALESCE(i.sop_uid, '')
                 FROM instances i
                 JOIN versions v ON v.id = i.current_version
                 JOIN blobs b ON b.hash = v.blob_hash
                 WHERE i.study_id = ?2
                   -- Rejected instances stay here; their rejection note goes.
                   AND NOT EXISTS (SELECT 1 FROM rejected_instances r WHERE r.instance_id = i.id)",
                params![job, study_id],
            )?;
            Ok(job)
        })
    }

    /// Claims the next job that is due (or whose runner died) for `owner`.
    pub fn claim_send_job(&mut self, owner: &str) -> Result<Option<SendJob>, StoreError> {
        let (now, unix) = fsutil::now();
        self.in_transaction(|tx| {
            let candidates: Vec<(i64, String, String, i64)> = tx
                .prepare(
                    "SELECT id, state, owner, heartbeat_unix FROM send_jobs
                     WHERE (state = 'queued' AND next_attempt_unix <= ?1)
                        OR state IN ('sending', 'verifying')
                     ORDER BY next_attempt_unix, id",
                )?
                .query_map([unix], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            // A job under way belongs to its runner while that one lives and beats.
            let id = candidates.into_iter().find_map(|(id, state, by, beat)| {
                let orphan = beat < unix - STALE_SECONDS || !owner_alive(&by);
                (state == "queued" || orphan).then_some(id)
            });
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE send_jobs SET owner = ?2, heartbeat_unix = ?3, updated_at = ?4,
                     state = CASE WHEN state = 'verifying' THEN 'verifying' ELSE 'sending' END
                 WHERE id = ?1",
                params![id, owner, unix, now],
            )?;
            Ok(Some(tx.query_row(
                "SELECT j.id, j.study_id, COALESCE(s.study_uid, ''), j.node, j.state,
                        j.attempts, j.transaction_uid
                 FROM send_jobs j JOIN studies s ON s.id = j.study_id WHERE j.id = ?1",
                [id],
                |r| {
                    Ok(SendJob {
                        id: r.get(0)?,
                        study_id: r.get(1)?,
                        study_uid: r.get(2)?,
                        node: r.get(3)?,
                        state: r.get(4)?,
                        attempts: r.get(5)?,
                        transaction_uid: r.get(6)?,
                    })
                },
            )?))
        })
    }

    /// Fails the items still pending when a job is given up, saying why (an item keeps the
    /// archive's own answer when it had one).
    pub fn fail_pending_items(&mut self, job: i64, why: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE send_items SET state = 'failed',
                 message = CASE WHEN message = '' THEN ?2 ELSE message END
             WHERE job_id = ?1 AND state = 'pending'",
            params![job, format!("not sent: {why}")],
        )?;
        Ok(())
    }

    /// Keeps a claim alive; false when the job was cancelled meanwhile.
    pub fn heartbeat_send_job(&mut self, job: i64) -> Result<bool, StoreError> {
        let (_, unix) = fsutil::now();
        let n = self.conn.execute(
            "UPDATE send_jobs SET heartbeat_unix = ?2 WHERE id = ?1 AND state != 'cancelled'",
            params![job, unix],
        )?;
        Ok(n > 0)
    }

    /// The job's items (all, or only those still pending).
    pub fn send_items(&self, job: i64, pending_only: bool) -> Result<Vec<SendItem>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT it.instance_id, it.blob_hash, it.sop_class, it.sop_uid, b.transfer_syntax,
                    b.dataset_offset, it.state
             FROM send_items it JOIN blobs b ON b.hash = it.blob_hash
             WHERE it.job_id = ?1 AND (?2 = 0 OR it.state = 'pending')
             ORDER BY it.instance_id",
        )?;
        let rows = stmt.query_map(params![job, pending_only as i64], |r| {
            Ok(SendItem {
                instance_id: r.get(0)?,
                blob_hash: r.get(1)?,
                sop_class: r.get(2)?,
                sop_uid: r.get(3)?,
                transfer_syntax: r.get(4)?,
                dataset_offset: r.get::<_, i64>(5)? as u64,
                state: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records what the archive answered for some items, and keeps the claim alive.
    pub fn record_send_results(
        &mut self,
        job: i64,
        results: &[ItemResult],
    ) -> Result<(), StoreError> {
        let (now, unix) = fsutil::now();
        self.in_transaction(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE send_items SET state = COALESCE(?3, state), status = ?4, message = ?5,
                     sent_as = ?6
                 WHERE job_id = ?1 AND instance_id = ?2",
            )?;
            for r in results {
                stmt.execute(params![
                    job,
                    r.instance_id,
                    r.state,
                    r.status.map(i64::from),
                    r.message,
                    r.sent_as
                ])?;
            }
            tx.execute(
                "UPDATE send_jobs SET heartbeat_unix = ?2, updated_at = ?3 WHERE id = ?1",
                params![job, unix, now],
            )?;
            Ok(())
        })
    }

    /// Sets a job's state, its error and when it may be tried again; counts the attempt
    /// when `attempted`.
    pub fn set_send_state(
        &mut self,
        job: i64,
        state: SendState,
        error: &str,
        retry_in_seconds: Option<i64>,
        attempted: bool,
    ) -> Result<(), StoreError> {
        let (now, unix) = fsutil::now();
        self.conn.execute(
            "UPDATE send_jobs SET state = ?2, last_error = ?3, updated_at = ?4,
                 next_attempt_unix = ?5, attempts = attempts + ?6, owner = '',
                 heartbeat_unix = CASE WHEN ?2 IN ('sending', 'verifying') THEN ?7 ELSE 0 END
             WHERE id = ?1 AND state != 'cancelled'",
            params![
                job,
                state,
                error,
                now,
                unix + retry_in_seconds.unwrap_or(0),
                attempted as i64,
                unix
            ],
        )?;
        Ok(())
    }

    /// Marks a job verified by `proof`, with the instances the proof confirmed.
    pub fn set_send_verified(
        &mut self,
        job: i64,
        proof: &str,
        committed: &[String],
    ) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        self.in_transaction(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE send_items SET committed = 1 WHERE job_id = ?1 AND sop_uid = ?2",
            )?;
            for uid in committed {
                stmt.execute(params![job, uid])?;
            }
            tx.execute(
                "UPDATE send_jobs SET state = 'verified', proof = ?2, last_error = '',
                     updated_at = ?3, owner = ''
                 WHERE id = ?1 AND state != 'cancelled'",
                params![job, proof, now],
            )?;
            Ok(())
        })
    }

    pub fn set_send_transaction(&mut self, job: i64, uid: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE send_jobs SET transaction_uid = ?2 WHERE id = ?1",
            params![job, uid],
        )?;
        Ok(())
    }

    /// Cancels a job not yet finished; the runner stops at its next instance.
    pub fn cancel_send(&mut self, job: i64) -> Result<bool, StoreError> {
        let (now, _) = fsutil::now();
        let n = self.conn.execute(
            "UPDATE send_jobs SET state = 'cancelled', updated_at = ?2, owner = ''
             WHERE id = ?1 AND state IN ('queued', 'sending', 'sent', 'verifying', 'failed')",
            params![job, now],
        )?;
        Ok(n > 0)
    }

    /// Queues a failed or cancelled job again: its failed items, and those the archive did not
    /// commit, become pending (and are sent again).
    pub fn retry_send(&mut self, job: i64) -> Result<bool, StoreError> {
        let (now, unix) = fsutil::now();
        self.in_transaction(|tx| {
            let n = tx.execute(
                "UPDATE send_jobs SET state = 'queued', next_attempt_unix = ?3, updated_at = ?2,
                     attempts = 0, last_error = ''
                 WHERE id = ?1 AND state IN ('failed', 'cancelled')",
                params![job, now, unix],
            )?;
            if n > 0 {
                tx.execute(
                    "UPDATE send_items SET state = 'pending', committed = NULL
                     WHERE job_id = ?1 AND (state = 'failed' OR committed = 0)",
                    [job],
                )?;
            }
            Ok(n > 0)
        })
    }

    /// The node a Storage Commitment transaction was requested of, if qcdesk is waiting for
    /// its report: (node name, AE title, host).
    pub fn commitment_requested_of(
        &self,
        transaction_uid: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        requested_of(&self.conn, transaction_uid)
    }

    /// Records a Storage Commitment report from `calling_ae` at `peer_address`. A verdict is
    /// never overwritten: the same report again is a repeat (the archive resent it), another
    /// one for the same transaction is refused. The caller has checked that the transaction is
    /// qcdesk's and the sender the node it was asked of.
    pub fn record_commitment_report(
        &mut self,
        report: &CommitResult,
        calling_ae: &str,
        peer_address: &str,
    ) -> Result<ReportVerdict, StoreError> {
        let (now, _) = fsutil::now();
        let committed: Vec<&str> = report.committed.iter().map(|(_, i)| i.as_str()).collect();
        let failed: Vec<(&str, u16)> = report
            .failed
            .iter()
            .map(|(_, i, r)| (i.as_str(), *r))
            .collect();
        let committed = serde_json::to_string(&committed).unwrap_or_default();
        let failed = serde_json::to_string(&failed).unwrap_or_default();
        let inserted = self.conn.execute(
            "INSERT INTO commitment_reports
                 (transaction_uid, received_at, committed, failed, calling_ae, peer_address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (transaction_uid) DO NOTHING",
            params![
                report.transaction_uid,
                now,
                committed,
                failed,
                calling_ae,
                peer_address
            ],
        )?;
        if inserted == 1 {
            return Ok(ReportVerdict::Recorded);
        }
        let held: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT committed, failed FROM commitment_reports WHERE transaction_uid = ?1",
                [&report.transaction_uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match held {
            Some((c, f)) if c == committed && f == failed => ReportVerdict::Repeated,
            _ => ReportVerdict::Conflicting,
        })
    }

    /// The report for a transaction, once it came: committed SOP Instance UIDs, and failed
    /// ones with their reasons.
    pub fn commitment_report(
        &self,
        transaction_uid: &str,
    ) -> Result<Option<CommitmentReport>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT committed, failed FROM commitment_reports WHERE transaction_uid = ?1",
                [transaction_uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(c, f)| {
            (
                serde_json::from_str(&c).unwrap_or_default(),
                serde_json::from_str(&f).unwrap_or_default(),
            )
        }))
    }

    /// Jobs, newest first (`only`: these job ids).
    pub fn transfers(&self, only: Option<&[i64]>) -> Result<Vec<Transfer>, StoreError> {
        // The runner asks about one job after each attempt and `send --wait` polls its own:
        // only those jobs are counted, not the whole queue's history.
        let filter = match only {
            Some(ids) => format!(
                "WHERE j.id IN ({})",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            ),
            None => String::new(),
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT j.id, j.study_id, COALESCE(s.study_uid, ''), s.patient_id, s.accession,
                    j.node, j.state, j.proof, j.attempts, j.last_error, j.updated_at,
                    (SELECT COUNT(*) FROM send_items it WHERE it.job_id = j.id),
                    (SELECT COUNT(*) FROM send_items it WHERE it.job_id = j.id AND it.state = 'sent'),
                    (SELECT COUNT(*) FROM send_items it WHERE it.job_id = j.id AND it.state = 'failed'),
                    (SELECT COUNT(*) FROM send_items it WHERE it.job_id = j.id AND it.state = 'sent'
                        AND it.status BETWEEN 45056 AND 49151),
                    j.stale, j.caveat
             FROM send_jobs j JOIN studies s ON s.id = j.study_id {filter} ORDER BY j.id DESC"
        ))?;
        let rows = stmt.query_map([], |r| {
            let state: SendState = r.get(6)?;
            let proof: String = r.get(7)?;
            Ok(Transfer {
                job: r.get(0)?,
                study_id: r.get(1)?,
                study_instance_uid: r.get(2)?,
                patient_id: r.get(3)?,
                accession: r.get(4)?,
                node: r.get(5)?,
                verified: state == SendState::Verified,
                state,
                proof: (!proof.is_empty()).then_some(proof),
                attempts: r.get(8)?,
                last_error: r.get(9)?,
                updated_at: r.get(10)?,
                instances: r.get(11)?,
                sent: r.get(12)?,
                failed: r.get(13)?,
                warnings: r.get(14)?,
                failures: Vec::new(),
                stale: serde_json::from_str(&r.get::<_, String>(15)?).unwrap_or_default(),
                caveat: r.get(16)?,
            })
        })?;
        let mut out: Vec<Transfer> = rows.collect::<Result<_, _>>()?;
        let mut fails = self.conn.prepare_cached(
            "SELECT sop_uid, status, message FROM send_items
             WHERE job_id = ?1 AND (state = 'failed' OR committed = 0) ORDER BY instance_id",
        )?;
        for t in &mut out {
            t.failures = fails
                .query_map([t.job], |r| {
                    Ok(ItemFailure {
                        sop_instance_uid: r.get(0)?,
                        status: r.get::<_, Option<i64>>(1)?.map(|s| format!("{s:04X}H")),
                        message: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    /// The identities study `study_id` has had (to look for stale copies in an archive).
    pub fn study_identities(&self, study_id: i64) -> Result<StudyIdentities, StoreError> {
        let mut out = StudyIdentities::default();
        let mut stmt = self.conn.prepare(
            "SELECT TRIM(b.study_uid), TRIM(b.patient_id), v.id = i.current_version
             FROM instances i JOIN versions v ON v.instance_id = i.id
             JOIN blobs b ON b.hash = v.blob_hash
             WHERE i.study_id = ?1
               AND NOT EXISTS (SELECT 1 FROM rejected_instances r WHERE r.instance_id = i.id)",
        )?;
        let rows = stmt.query_map([study_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        let mut versions = 0usize;
        for row in rows {
            let (uid, pid, current) = row?;
            versions += 1;
            out.uids.insert(uid.clone());
            if current {
                out.current.insert((uid, pid));
            }
        }
        let instances: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM instances WHERE study_id = ?1",
            [study_id],
            |r| r.get(0),
        )?;
        let moves: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM corrections WHERE (study_id = ?1 OR other_study_id = ?1)
             AND action IN ('move', 'merge')",
            [study_id],
            |r| r.get(0),
        )?;
        out.corrected = versions as i64 > instances || moves > 0;
        Ok(out)
    }

    /// Records what the last check found of stale copies for a send job.
    pub fn set_send_stale(&mut self, job: i64, stale: &[StaleCopy]) -> Result<(), StoreError> {
        let json = serde_json::to_string(stale).unwrap_or_else(|_| "[]".into());
        self.conn.execute(
            "UPDATE send_jobs SET stale = ?2 WHERE id = ?1",
            params![job, json],
        )?;
        Ok(())
    }

    /// Items the archive did not commit: marked, with the reason, for the job's report.
    pub fn set_send_uncommitted(
        &mut self,
        job: i64,
        failed: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.in_transaction(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE send_items SET committed = 0, message = ?3 WHERE job_id = ?1 AND sop_uid = ?2",
            )?;
            for (uid, why) in failed {
                stmt.execute(params![job, uid, why])?;
            }
            Ok(())
        })
    }

    /// The Patient ID and Accession Number a stored file carries.
    pub fn blob_identity(&self, hash: &str) -> Result<(String, String), StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT patient_id, accession FROM blobs WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or_default())
    }

    /// The state of a study's newest send job, and its caveat (empty: nothing to say).
    pub fn send_state(&self, study_id: i64) -> Result<Option<(SendState, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT state, caveat FROM send_jobs WHERE study_id = ?1 ORDER BY id DESC LIMIT 1",
                [study_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The send state of each study with a job: the newest job's state and caveat.
    pub fn send_states(
        &self,
    ) -> Result<std::collections::HashMap<i64, (SendState, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT study_id, state, caveat FROM send_jobs
             WHERE id IN (SELECT MAX(id) FROM send_jobs GROUP BY study_id)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
