//! Corrections as versions: a correction adds a version to each instance it changes and moves
//! the instance to it, in one transaction with its audit entry; an undo moves the instances of
//! the newest correction back to the versions they had. Files are never overwritten: a new
//! version is a new blob, made durable before the transaction that points at it commits, so a
//! crash leaves the study on the old versions or on the new ones, never a mix.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, AuditNew};
use super::blobs::Staged;
use super::{Store, StoreError};
use crate::dicom::ReadOutcome;
use crate::fsutil;

/// An instance as a correction found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseInstance {
    pub instance_id: i64,
    pub version_id: i64,
    pub blob_hash: String,
    pub sop_uid: String,
    /// The file it was received as (names it in messages).
    pub original_path: String,
}

/// A study's instances and their current versions when a correction was planned: the
/// correction is refused if any moved on since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionBase {
    pub study_id: i64,
    pub study_uid: String,
    pub instances: Vec<BaseInstance>,
}

/// A corrected copy of an instance, staged, its header read back.
#[derive(Debug)]
pub struct NewVersion {
    pub instance_id: i64,
    pub staged: Staged,
    pub read: ReadOutcome,
}

/// Who made a correction, why, from what, and what it changed.
#[derive(Debug, Clone)]
pub struct CorrectionRecord {
    /// `order` or `edit`.
    pub action: &'static str,
    pub os_user: String,
    pub operator: String,
    pub reason: String,
    /// JSON: where the values came from (the order).
    pub origin: serde_json::Value,
    /// JSON: the changes, as previewed.
    pub changes: serde_json::Value,
}

/// One correction of a study, as `history` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrectionEntry {
    pub id: i64,
    pub at: String,
    pub action: String,
    pub os_user: String,
    pub operator: String,
    pub reason: String,
    pub origin: serde_json::Value,
    pub changes: serde_json::Value,
    /// The correction this one undid.
    pub undoes: Option<i64>,
    /// The undo that took this one back.
    pub undone_by: Option<i64>,
    /// Instances it moved to another version.
    pub instances: u64,
}

impl CorrectionEntry {
    /// What it was, in words: "order A123", "edited by hand", "undo of correction 4".
    pub fn describe(&self) -> String {
        match (self.action.as_str(), self.undoes) {
            ("undo", Some(u)) => format!("undo of correction {u}"),
            ("order", _) => format!(
                "order {}",
                self.origin
                    .get("accession")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
            ),
            _ => "edited by hand".to_string(),
        }
    }
}

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoOutcome {
    pub correction_id: i64,
    pub undid: i64,
    pub instances: u64,
}

/// The OS account running qcdesk, for the audit trail.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return v;
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid cannot fail and touches no memory of ours.
        format!("uid {}", unsafe { libc::getuid() })
    }
    #[cfg(not(unix))]
    {
        "unknown".into()
    }
}

impl Store {
    /// The instances of a study and their current versions.
    pub fn correction_base(&self, study_id: i64) -> Result<CorrectionBase, StoreError> {
        let study_uid: String = self
            .conn
            .query_row(
                "SELECT COALESCE(study_uid, '') FROM studies WHERE id = ?1",
                [study_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::StudyNotFound(study_id.to_string()))?;
        let mut stmt = self.conn.prepare(
            "SELECT i.id, v.id, v.blob_hash, COALESCE(i.sop_uid, ''), f.original_path
             FROM instances i
             JOIN versions v ON v.id = i.current_version
             JOIN files f ON f.instance_id = i.id AND f.role = 'original'
             WHERE i.study_id = ?1 ORDER BY i.id",
        )?;
        let instances = stmt
            .query_map([study_id], |r| {
                Ok(BaseInstance {
                    instance_id: r.get(0)?,
                    version_id: r.get(1)?,
                    blob_hash: r.get(2)?,
                    sop_uid: r.get(3)?,
                    original_path: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(CorrectionBase {
            study_id,
            study_uid,
            instances,
        })
    }

    /// Records a correction: the new versions (their bytes made durable first), the instances
    /// moved to them, the correction and its audit entry, and the study classified again. All
    /// or nothing; refused when the study is no longer as `base` found it.
    pub fn commit_correction(
        &mut self,
        base: &CorrectionBase,
        versions: &[NewVersion],
        record: &CorrectionRecord,
    ) -> Result<i64, StoreError> {
        if versions.is_empty() {
            return Err(StoreError::Correction(
                "the correction changes nothing; nothing was written".into(),
            ));
        }
        self.blobs.install(versions.iter().map(|v| &v.staged))?;
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            check_unchanged(tx, base)?;
            let (now, _) = fsutil::now();
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, operator, reason, origin, changes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    base.study_id,
                    now,
                    record.action,
                    record.os_user,
                    record.operator,
                    record.reason,
                    record.origin.to_string(),
                    record.changes.to_string()
                ],
            )?;
            let correction_id = tx.last_insert_rowid();
            let mut moved = Vec::new();
            for v in versions {
                let Some(before) = base
                    .instances
                    .iter()
                    .find(|b| b.instance_id == v.instance_id)
                else {
                    return Err(StoreError::Correction(format!(
                        "internal error: instance {} is not in study {}",
                        v.instance_id, base.study_id
                    )));
                };
                super::ingest::insert_blob_row(
                    tx,
                    &v.staged,
                    v.read.dataset_offset,
                    &v.read.header,
                    &v.read.faults,
                )?;
                let reason = format!("correction {correction_id}");
                tx.execute(
                    "INSERT INTO versions (instance_id, blob_hash, parent_version, created_at, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![v.instance_id, v.staged.hash, before.version_id, now, reason],
                )?;
                let after = tx.last_insert_rowid();
                move_instance(tx, correction_id, v.instance_id, before.version_id, after)?;
                moved.push(serde_json::json!({
                    "sop_instance_uid": before.sop_uid,
                    "before": before.blob_hash,
                    "after": v.staged.hash,
                }));
            }
            let detail = serde_json::json!({
                "correction": correction_id,
                "reason": record.reason,
                "origin": record.origin,
                "changes": record.changes,
                "versions": moved,
            });
            audit::append(
                tx,
                &AuditNew {
                    at: &now,
                    os_user: &record.os_user,
                    operator: &record.operator,
                    action: record.action,
                    study_uid: &base.study_uid,
                    detail: &detail,
                },
            )?;
            super::classify::reclassify(tx, &[base.study_id], &rules)?;
            Ok(correction_id)
        })
    }

    /// Moves the instances of the study's newest correction not yet undone back to the
    /// versions they had before it. Refused when they have moved on since (a later arrival
    /// does not count: it was never corrected).
    pub fn undo_correction(
        &mut self,
        study_id: i64,
        os_user: &str,
        operator: &str,
        reason: &str,
    ) -> Result<UndoOutcome, StoreError> {
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            let last: Option<i64> = tx
                .query_row(
                    "SELECT id FROM corrections WHERE study_id = ?1 AND action != 'undo'
                     AND undone_by IS NULL ORDER BY id DESC LIMIT 1",
                    [study_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(last) = last else {
                return Err(StoreError::Correction(format!(
                    "study {study_id} has no correction to undo"
                )));
            };
            let rows: Vec<(i64, i64, i64, i64, String, String, String)> = tx
                .prepare(
                    "SELECT cv.instance_id, cv.before_version, cv.after_version, i.current_version,
                            COALESCE(i.sop_uid, ''), vb.blob_hash, va.blob_hash
                     FROM correction_versions cv
                     JOIN instances i ON i.id = cv.instance_id
                     JOIN versions vb ON vb.id = cv.before_version
                     JOIN versions va ON va.id = cv.after_version
                     WHERE cv.correction_id = ?1 ORDER BY cv.instance_id",
                )?
                .query_map([last], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect::<Result<_, _>>()?;
            if let Some(r) = rows.iter().find(|r| r.3 != r.2) {
                return Err(StoreError::Correction(format!(
                    "instance {} of study {study_id} changed after correction {last}; \
                     the undo was refused and nothing was changed",
                    r.4
                )));
            }
            let study_uid: String = tx.query_row(
                "SELECT COALESCE(study_uid, '') FROM studies WHERE id = ?1",
                [study_id],
                |r| r.get(0),
            )?;
            let (now, _) = fsutil::now();
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, operator, reason, undoes)
                 VALUES (?1, ?2, 'undo', ?3, ?4, ?5, ?6)",
                params![study_id, now, os_user, operator, reason, last],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE corrections SET undone_by = ?2 WHERE id = ?1",
                params![last, id],
            )?;
            let mut moved = Vec::new();
            for (instance, before, after, _, sop, before_hash, after_hash) in &rows {
                move_instance(tx, id, *instance, *after, *before)?;
                moved.push(serde_json::json!({
                    "sop_instance_uid": sop,
                    "before": after_hash,
                    "after": before_hash,
                }));
            }
            let detail = serde_json::json!({
                "correction": id,
                "undoes": last,
                "reason": reason,
                "versions": moved,
            });
            audit::append(
                tx,
                &AuditNew {
                    at: &now,
                    os_user,
                    operator,
                    action: "undo",
                    study_uid: &study_uid,
                    detail: &detail,
                },
            )?;
            super::classify::reclassify(tx, &[study_id], &rules)?;
            Ok(UndoOutcome {
                correction_id: id,
                undid: last,
                instances: rows.len() as u64,
            })
        })
    }

    /// A study's corrections, oldest first.
    pub fn corrections_of(&self, study_id: i64) -> Result<Vec<CorrectionEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.at, c.action, c.os_user, c.operator, c.reason, c.origin, c.changes,
                    c.undoes, c.undone_by,
                    (SELECT COUNT(*) FROM correction_versions cv WHERE cv.correction_id = c.id)
             FROM corrections c WHERE c.study_id = ?1 ORDER BY c.id",
        )?;
        let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
        let rows = stmt.query_map([study_id], |r| {
            Ok(CorrectionEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                action: r.get(2)?,
                os_user: r.get(3)?,
                operator: r.get(4)?,
                reason: r.get(5)?,
                origin: json(r.get(6)?),
                changes: json(r.get(7)?),
                undoes: r.get(8)?,
                undone_by: r.get(9)?,
                instances: r.get::<_, i64>(10)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The study still has the instances and versions the correction was planned on.
fn check_unchanged(
    tx: &rusqlite::Transaction<'_>,
    base: &CorrectionBase,
) -> Result<(), StoreError> {
    let now: Vec<(i64, i64)> = tx
        .prepare("SELECT id, current_version FROM instances WHERE study_id = ?1 ORDER BY id")?
        .query_map([base.study_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let then: Vec<(i64, i64)> = base
        .instances
        .iter()
        .map(|b| (b.instance_id, b.version_id))
        .collect();
    if now != then {
        return Err(StoreError::Correction(format!(
            "study {} changed since the correction was prepared (instances arrived or were \
             corrected meanwhile); look at it again and redo the correction. Nothing was changed.",
            base.study_id
        )));
    }
    Ok(())
}

fn move_instance(
    tx: &rusqlite::Transaction<'_>,
    correction_id: i64,
    instance_id: i64,
    from: i64,
    to: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE instances SET current_version = ?2 WHERE id = ?1",
        params![instance_id, to],
    )?;
    tx.execute(
        "INSERT INTO correction_versions (correction_id, instance_id, before_version, after_version)
         VALUES (?1, ?2, ?3, ?4)",
        params![correction_id, instance_id, from, to],
    )?;
    Ok(())
}
