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
    pub series_id: i64,
}

/// A study's instances and their current versions when a correction was planned: the
/// correction is refused if any moved on since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionBase {
    pub study_id: i64,
    pub study_uid: String,
    pub instances: Vec<BaseInstance>,
    /// All the study's instances (a correction), or those of some series (a move).
    pub whole_study: bool,
}

/// Where a move takes instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Another study of the workspace.
    Study(i64),
    /// A study made for them, with this Study Instance UID.
    NewStudy { uid: String },
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
    /// The study a move or merge took the instances to (and an undo of one from).
    pub other_study: Option<i64>,
}

impl CorrectionEntry {
    /// Whether it changed instances (a dismissal or a reopening changes none).
    pub fn changes_instances(&self) -> bool {
        !matches!(self.action.as_str(), "dismiss" | "reopen")
    }

    /// Who, in words: the operator name given and the OS account ("J. Smith (jsmith)"), or
    /// the account alone.
    pub fn who(&self) -> String {
        if self.operator.is_empty() || self.operator == self.os_user {
            self.os_user.clone()
        } else {
            format!("{} ({})", self.operator, self.os_user)
        }
    }

    /// What it was, in words: "order A123", "edited by hand", "undo of correction 4",
    /// "dismissed: known duplicate".
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
            ("move", _) => format!(
                "series moved to study {}",
                self.other_study.unwrap_or_default()
            ),
            ("merge", _) => format!("merged into study {}", self.other_study.unwrap_or_default()),
            ("dismiss", _) => {
                let note = self
                    .origin
                    .get("note")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                if note.is_empty() {
                    format!("dismissed: {}", self.reason)
                } else {
                    format!("dismissed: {} ({note})", self.reason)
                }
            }
            ("reopen", _) => "reopened".to_string(),
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

/// The OS account running qcdesk, for the audit trail: the account of the process's real user
/// id, as the system knows it (never `$USER`, which any caller sets: `USER=chief qcdesk fix`
/// must not be recorded as the chief). `uid N` when the account has no name.
pub fn os_user() -> String {
    #[cfg(unix)]
    {
        // SAFETY: getuid cannot fail and touches no memory of ours.
        let uid = unsafe { libc::getuid() };
        account_name(uid).unwrap_or_else(|| format!("uid {uid}"))
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME").unwrap_or_else(|_| "unknown".into())
    }
}

/// The name of the account `uid` in the system's user database.
#[cfg(unix)]
fn account_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: a zeroed passwd is a valid value to be filled.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory that outlives the call; getpwuid_r writes the
    // strings into `buf` and points `pwd`'s fields at them.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points at a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    let name = name.to_string_lossy().trim().to_string();
    (!name.is_empty()).then_some(name)
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
            "SELECT i.id, v.id, v.blob_hash, COALESCE(i.sop_uid, ''), f.original_path, i.series_id
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
                    series_id: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(CorrectionBase {
            study_id,
            study_uid,
            instances,
            whole_study: true,
        })
    }

    /// The instances of the series with this Series Instance UID, to move them.
    pub fn series_base(&self, series_uid: &str) -> Result<CorrectionBase, StoreError> {
        let found: Vec<(i64, i64)> = self
            .conn
            // Series rows a move emptied stay (an undo returns to them); they hold nothing.
            .prepare(
                "SELECT s.id, s.study_id FROM series s WHERE s.series_uid = ?1
                 AND EXISTS (SELECT 1 FROM instances i WHERE i.series_id = s.id) ORDER BY s.id",
            )?
            .query_map([series_uid.trim()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let (series_id, study_id) = match found.as_slice() {
            [] => {
                return Err(StoreError::Correction(format!(
                    "no series '{series_uid}' in this workspace (give its Series Instance UID, as `show` lists it)"
                )));
            }
            [one] => *one,
            _ => {
                return Err(StoreError::Correction(format!(
                    "series '{series_uid}' is in {} studies; merge or correct those first",
                    found.len()
                )));
            }
        };
        let mut base = self.correction_base(study_id)?;
        base.instances.retain(|b| b.series_id == series_id);
        base.whole_study = false;
        Ok(base)
    }

    /// The study-level attributes of a study as its first instance holds them (what moved
    /// instances take on), and its Study Instance UID.
    pub fn study_header(&self, study_id: i64) -> Result<crate::dicom::Header, StoreError> {
        let sql = format!(
            "SELECT {} FROM instances i JOIN versions v ON v.id = i.current_version
             JOIN blobs b ON b.hash = v.blob_hash WHERE i.study_id = ?1 ORDER BY i.id LIMIT 1",
            super::headers::select_list("b")
        );
        self.conn
            .query_row(&sql, [study_id], |r| super::headers::header_from_row(r, 0))
            .optional()?
            .ok_or_else(|| StoreError::Correction(format!("study {study_id} holds no instance")))
    }

    /// Records a correction: the new versions (their bytes made durable first), the instances
    /// moved to them, the correction and its audit entry, and the study classified again. All
    /// or nothing; refused when the study is no longer as `base` found it.
    pub fn commit_correction(
        &mut self,
        base: &CorrectionBase,
        versions: &[NewVersion],
        record: &CorrectionRecord,
        destination: Option<&Destination>,
    ) -> Result<i64, StoreError> {
        if destination.is_some() && versions.len() != base.instances.len() {
            return Err(StoreError::Correction(
                "internal error: a move must rewrite every instance it moves".into(),
            ));
        }
        if versions.is_empty() {
            return Err(StoreError::Correction(
                "the correction changes nothing; nothing was written".into(),
            ));
        }
        self.blobs.install(versions.iter().map(|v| &v.staged))?;
        let rules = self.rules.clone();
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            super::claims::check_free(tx, base.study_id, &actor)?;
            check_unchanged(tx, base)?;
            let (now, _) = fsutil::now();
            let target = match destination {
                None => None,
                Some(d) => Some(target_study(tx, base.study_id, d, &now)?),
            };
            if let Some(t) = target {
                super::claims::check_free(tx, t, &actor)?;
            }
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, operator, reason, origin, changes, other_study_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    base.study_id,
                    now,
                    record.action,
                    record.os_user,
                    record.operator,
                    record.reason,
                    record.origin.to_string(),
                    record.changes.to_string(),
                    target
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
                let series = match target {
                    Some(t) => series_in(tx, t, before.series_id, v.instance_id)?,
                    None => before.series_id,
                };
                move_instance(
                    tx,
                    correction_id,
                    v.instance_id,
                    (before.version_id, before.series_id),
                    (after, series),
                )?;
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
            let mut touched = vec![base.study_id];
            touched.extend(target);
            super::classify::reclassify(tx, &touched, &rules)?;
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
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            super::claims::check_free(tx, study_id, &actor)?;
            let last: Option<i64> = tx
                .query_row(
                    // A rejection is not undone: its note may be in the archive already.
                    "SELECT id FROM corrections WHERE (study_id = ?1 OR other_study_id = ?1)
                     AND action IN ('order', 'edit', 'move', 'merge') AND undone_by IS NULL
                     ORDER BY id DESC LIMIT 1",
                    [study_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(last) = last else {
                return Err(StoreError::Correction(format!(
                    "study {study_id} has no correction to undo"
                )));
            };
            let rows: Vec<Moved> = tx
                .prepare(
                    "SELECT cv.instance_id, cv.before_version, cv.after_version,
                            i.current_version = cv.after_version AND i.series_id = cv.after_series,
                            COALESCE(i.sop_uid, ''), vb.blob_hash, va.blob_hash,
                            cv.before_series, cv.after_series
                     FROM correction_versions cv
                     JOIN instances i ON i.id = cv.instance_id
                     JOIN versions vb ON vb.id = cv.before_version
                     JOIN versions va ON va.id = cv.after_version
                     WHERE cv.correction_id = ?1 ORDER BY cv.instance_id",
                )?
                .query_map([last], |r| {
                    Ok(Moved {
                        instance: r.get(0)?,
                        before: r.get(1)?,
                        after: r.get(2)?,
                        unchanged: r.get(3)?,
                        sop: r.get(4)?,
                        before_hash: r.get(5)?,
                        after_hash: r.get(6)?,
                        before_series: r.get(7)?,
                        after_series: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            if let Some(r) = rows.iter().find(|r| !r.unchanged) {
                return Err(StoreError::Correction(format!(
                    "instance {} changed after correction {last}; \
                     the undo was refused and nothing was changed",
                    r.sop
                )));
            }
            let (source, other): (i64, Option<i64>) = tx.query_row(
                "SELECT study_id, other_study_id FROM corrections WHERE id = ?1",
                [last],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let study_uid: String = tx.query_row(
                "SELECT COALESCE(study_uid, '') FROM studies WHERE id = ?1",
                [study_id],
                |r| r.get(0),
            )?;
            let (now, _) = fsutil::now();
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, operator, reason, undoes, other_study_id)
                 VALUES (?1, ?2, 'undo', ?3, ?4, ?5, ?6, ?7)",
                params![source, now, os_user, operator, reason, last, other],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE corrections SET undone_by = ?2 WHERE id = ?1",
                params![last, id],
            )?;
            let mut moved = Vec::new();
            for r in &rows {
                move_instance(
                    tx,
                    id,
                    r.instance,
                    (r.after, r.after_series),
                    (r.before, r.before_series),
                )?;
                moved.push(serde_json::json!({
                    "sop_instance_uid": r.sop,
                    "before": r.after_hash,
                    "after": r.before_hash,
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
            let mut touched = vec![source];
            touched.extend(other);
            super::classify::reclassify(tx, &touched, &rules)?;
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
                    (SELECT COUNT(*) FROM correction_versions cv WHERE cv.correction_id = c.id),
                    c.other_study_id
             FROM corrections c WHERE c.study_id = ?1 OR c.other_study_id = ?1 ORDER BY c.id",
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
                other_study: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// An instance an undo moves back.
struct Moved {
    instance: i64,
    before: i64,
    after: i64,
    unchanged: bool,
    sop: String,
    before_hash: String,
    after_hash: String,
    before_series: i64,
    after_series: i64,
}

/// The study (or, for a whole-study correction, its series) still has the instances, versions
/// and series the correction was planned on.
fn check_unchanged(
    tx: &rusqlite::Transaction<'_>,
    base: &CorrectionBase,
) -> Result<(), StoreError> {
    let mut series: Vec<i64> = base.instances.iter().map(|b| b.series_id).collect();
    series.sort();
    series.dedup();
    let mut now: Vec<(i64, i64, i64)> = Vec::new();
    let mut stmt = tx.prepare(
        "SELECT id, current_version, series_id FROM instances
         WHERE study_id = ?1 AND (?2 OR series_id IN (SELECT value FROM json_each(?3)))
         ORDER BY id",
    )?;
    let ids = serde_json::to_string(&series).unwrap_or_else(|_| "[]".into());
    for r in stmt.query_map(params![base.study_id, base.whole_study, ids], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })? {
        now.push(r?);
    }
    let then: Vec<(i64, i64, i64)> = base
        .instances
        .iter()
        .map(|b| (b.instance_id, b.version_id, b.series_id))
        .collect();
    if now != then {
        return Err(StoreError::Correction(format!(
            "study {} changed since the correction was prepared (instances arrived, moved or were \
             corrected meanwhile); look at it again and redo the correction. Nothing was changed.",
            base.study_id
        )));
    }
    Ok(())
}

/// The study a move goes to: an existing one, or one made now (taking the source's arrival).
fn target_study(
    tx: &rusqlite::Transaction<'_>,
    source: i64,
    d: &Destination,
    now: &str,
) -> Result<i64, StoreError> {
    match d {
        Destination::Study(id) if *id == source => Err(StoreError::Correction(
            "a series cannot be moved to the study it is in".into(),
        )),
        Destination::Study(id) => Ok(*id),
        Destination::NewStudy { uid } => {
            tx.execute(
                "INSERT INTO studies (study_key, study_uid, state, source, first_seen, first_seen_unix, last_change)
                 SELECT ?2, ?2, state, source, first_seen, first_seen_unix, ?3 FROM studies WHERE id = ?1",
                params![source, uid, now],
            )?;
            Ok(tx.last_insert_rowid())
        }
    }
}

/// The series of study `target` that series `from`'s instances join (made when missing);
/// refused when the target already holds the instance's SOP Instance UID.
fn series_in(
    tx: &rusqlite::Transaction<'_>,
    target: i64,
    from: i64,
    instance: i64,
) -> Result<i64, StoreError> {
    let clash: Option<String> = tx
        .query_row(
            "SELECT COALESCE(i.sop_uid, '') FROM instances i
             WHERE i.study_id = ?1 AND i.sop_key = (SELECT sop_key FROM instances WHERE id = ?2)",
            params![target, instance],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(sop) = clash {
        return Err(StoreError::Correction(format!(
            "study {target} already holds instance {sop}; nothing was moved"
        )));
    }
    let found: Option<i64> = tx
        .query_row(
            "SELECT t.id FROM series t JOIN series f ON f.series_key = t.series_key
             WHERE f.id = ?2 AND t.study_id = ?1",
            params![target, from],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO series (study_id, series_key, series_uid)
         SELECT ?1, series_key, series_uid FROM series WHERE id = ?2",
        params![target, from],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Puts an instance on a version and in a series (and so a study), recording where it was.
fn move_instance(
    tx: &rusqlite::Transaction<'_>,
    correction_id: i64,
    instance_id: i64,
    (from_version, from_series): (i64, i64),
    (to_version, to_series): (i64, i64),
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE instances SET current_version = ?2, series_id = ?3,
             study_id = (SELECT study_id FROM series WHERE id = ?3)
         WHERE id = ?1",
        params![instance_id, to_version, to_series],
    )?;
    tx.execute(
        "INSERT INTO correction_versions
             (correction_id, instance_id, before_version, after_version, before_series, after_series)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            correction_id,
            instance_id,
            from_version,
            to_version,
            from_series,
            to_series
        ],
    )?;
    Ok(())
}
