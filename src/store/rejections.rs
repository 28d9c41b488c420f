//! IOCM rejections in the store: which instances a user's target names, and recording a
//! rejection (the note taken in as an instance of the study, the instances marked, the
//! correction and its audit entry) in one transaction. Rejected instances are left out of the
//! rules and of sending from then on; a rejection is not undone (its note may have reached
//! the archive).

use rusqlite::{OptionalExtension, params};

use super::audit::{self, AuditNew};
use super::ingest::{BatchCtx, FileRecord, RecordOutcome, record_file};
use super::{Store, StoreError};
use crate::fsutil;
use crate::model::RejectedRef;

/// The instances a rejection would reject, all of one study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectTarget {
    pub study_id: i64,
    /// (instance id, what the note lists of it).
    pub instances: Vec<(i64, RejectedRef)>,
}

/// Who rejects, and why.
#[derive(Debug, Clone)]
pub struct RejectRecord<'a> {
    pub code: &'a str,
    pub meaning: &'a str,
    pub os_user: &'a str,
    pub operator: &'a str,
    pub reason: &'a str,
}

const SELECT_TARGET: &str = "SELECT i.id, i.study_id, b.sop_class_uid, COALESCE(i.sop_uid, ''),
        COALESCE(s.series_uid, ''), b.has_pixel_data
     FROM instances i
     JOIN series s ON s.id = i.series_id
     JOIN versions v ON v.id = i.current_version
     JOIN blobs b ON b.hash = v.blob_hash
     WHERE NOT EXISTS (SELECT 1 FROM rejected_instances r WHERE r.instance_id = i.id)
       AND NOT EXISTS (SELECT 1 FROM rejections j WHERE j.note_instance_id = i.id)";

impl Store {
    /// The instances `target` names (a study's queue id or Study Instance UID, a Series
    /// Instance UID, or a SOP Instance UID), those already rejected left out.
    pub fn reject_target(&self, target: &str) -> Result<RejectTarget, StoreError> {
        let target = target.trim();
        let by = |clause: &str,
                  key: &dyn rusqlite::ToSql|
         -> Result<Vec<(i64, i64, RejectedRef)>, StoreError> {
            let mut stmt = self
                .conn
                .prepare(&format!("{SELECT_TARGET} AND {clause} ORDER BY i.id"))?;
            let rows = stmt.query_map([key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    RejectedRef {
                        sop_class_uid: r.get(2)?,
                        sop_instance_uid: r.get(3)?,
                        series_uid: r.get(4)?,
                        is_image: r.get(5)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let found = match self.find_study(target) {
            Ok(id) => by("i.study_id = ?1", &id)?,
            Err(StoreError::StudyNotFound(_)) => {
                let series = by("s.series_uid = ?1", &target)?;
                if series.is_empty() {
                    by("i.sop_uid = ?1", &target)?
                } else {
                    series
                }
            }
            Err(e) => return Err(e),
        };
        let Some(study_id) = found.first().map(|f| f.1) else {
            return Err(StoreError::Correction(format!(
                "nothing to reject: '{target}' names no study, series or instance that is not \
                 rejected already"
            )));
        };
        if found.iter().any(|f| f.1 != study_id) {
            return Err(StoreError::Correction(format!(
                "'{target}' is in more than one study; reject it study by study (give the study)"
            )));
        }
        Ok(RejectTarget {
            study_id,
            instances: found.into_iter().map(|(i, _, r)| (i, r)).collect(),
        })
    }

    /// Records a rejection: `note` (the rejection note, staged) becomes an instance of the
    /// study, the target's instances are marked rejected, with the correction and its audit
    /// entry, and the study is classified again without them. Returns the correction's id.
    pub fn record_rejection(
        &mut self,
        target: &RejectTarget,
        note: &FileRecord,
        rec: &RejectRecord<'_>,
    ) -> Result<i64, StoreError> {
        self.blobs.install([&note.staged])?;
        let blobs = std::sync::Arc::clone(&self.blobs);
        let rules = self.rules.clone();
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            super::claims::check_free(tx, target.study_id, &actor)?;
            let ctx = BatchCtx {
                blobs: &blobs,
                now: fsutil::now(),
                has_rejects: false,
            };
            let now = ctx.now.0.clone();
            match record_file(tx, &ctx, note)? {
                RecordOutcome::New { study_id } if study_id == target.study_id => {}
                other => {
                    return Err(StoreError::Correction(format!(
                        "internal error: the rejection note did not join study {} ({other:?})",
                        target.study_id
                    )));
                }
            }
            let note_instance: i64 = tx.query_row(
                "SELECT instance_id FROM files WHERE blob_hash = ?1",
                [note.hash()],
                |r| r.get(0),
            )?;
            let origin = serde_json::json!({
                "kind": "reject", "code": rec.code, "meaning": rec.meaning,
            });
            tx.execute(
                "INSERT INTO corrections (study_id, at, action, os_user, operator, reason, origin)
                 VALUES (?1, ?2, 'reject', ?3, ?4, ?5, ?6)",
                params![
                    target.study_id,
                    now,
                    rec.os_user,
                    rec.operator,
                    rec.reason,
                    origin.to_string()
                ],
            )?;
            let correction = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO rejections (correction_id, study_id, code, meaning, note_instance_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![correction, target.study_id, rec.code, rec.meaning, note_instance],
            )?;
            let rejection = tx.last_insert_rowid();
            for (instance, _) in &target.instances {
                let already: Option<i64> = tx
                    .query_row(
                        "SELECT rejection_id FROM rejected_instances WHERE instance_id = ?1",
                        [instance],
                        |r| r.get(0),
                    )
                    .optional()?;
                if already.is_some() {
                    return Err(StoreError::Correction(
                        "some of these instances were rejected meanwhile; nothing was changed"
                            .into(),
                    ));
                }
                tx.execute(
                    "INSERT INTO rejected_instances (rejection_id, instance_id) VALUES (?1, ?2)",
                    params![rejection, instance],
                )?;
            }
            let study_uid: String = tx.query_row(
                "SELECT COALESCE(study_uid, '') FROM studies WHERE id = ?1",
                [target.study_id],
                |r| r.get(0),
            )?;
            let detail = serde_json::json!({
                "correction": correction,
                "reason": rec.reason,
                "origin": origin,
                "rejected": target.instances.iter().map(|(_, r)| &r.sop_instance_uid).collect::<Vec<_>>(),
                "note": {
                    "sop_instance_uid": note.header.sop_instance_uid,
                    "blob": note.hash(),
                },
            });
            audit::append(
                tx,
                &AuditNew {
                    at: &now,
                    os_user: rec.os_user,
                    operator: rec.operator,
                    action: "reject",
                    study_uid: &study_uid,
                    detail: &detail,
                },
            )?;
            super::classify::reclassify(tx, &[target.study_id], &rules)?;
            Ok(correction)
        })
    }
}
