//! Recording received files: blob header row, file row, and the study/series/instance they
//! belong to. Same bytes twice is a no-op; the same SOP Instance UID with other bytes is kept
//! as a conflict beside the instance, never an overwrite.

use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};

use super::headers::{HEADER_COLUMNS, header_values};
use super::{Store, StoreError};
use crate::dicom::Header;
use crate::fsutil;

/// One file read by the importer (or received by the SCP), its bytes already in the blob store.
#[derive(Debug, Clone)]
pub struct FileRecord {
    pub hash: String,
    pub size: u64,
    pub original_path: String,
    /// Folder it was imported from, or the calling AE title.
    pub source: String,
    pub header: Header,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub truncated: bool,
}

/// What recording a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new instance (its original version) in this study.
    New { study_id: i64 },
    /// These bytes were already held: nothing changed.
    Duplicate,
    /// The SOP Instance UID is held with other bytes; kept as a conflict of that instance.
    Conflict { study_id: i64 },
}

fn key(uid: &str, hash: &str) -> String {
    if uid.is_empty() {
        format!("file:{hash}")
    } else {
        uid.to_string()
    }
}

fn opt(uid: &str) -> Option<&str> {
    (!uid.is_empty()).then_some(uid)
}

/// Records one file inside the caller's transaction.
pub fn record_file(tx: &Transaction<'_>, rec: &FileRecord) -> Result<RecordOutcome, StoreError> {
    let held: Option<i64> = tx
        .prepare_cached("SELECT id FROM files WHERE blob_hash = ?1")?
        .query_row([&rec.hash], |r| r.get(0))
        .optional()?;
    if held.is_some() {
        return Ok(RecordOutcome::Duplicate);
    }
    insert_blob(tx, rec)?;
    let (now, now_unix) = fsutil::now();
    let h = &rec.header;

    let sop_key = key(&h.sop_instance_uid, &rec.hash);
    let existing: Option<(i64, i64)> = tx.prepare_cached("SELECT i.id, s.study_id FROM instances i JOIN series s ON s.id = i.series_id WHERE i.sop_key = ?1")?.query_row(
            [&sop_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((instance_id, study_id)) = existing {
        insert_file(tx, rec, &now, instance_id, "conflict")?;
        touch(tx, study_id, &now)?;
        return Ok(RecordOutcome::Conflict { study_id });
    }

    let study_key = key(&h.study_uid, &rec.hash);
    tx.prepare_cached("INSERT INTO studies (study_key, study_uid, source, first_seen, first_seen_unix, last_change)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4) ON CONFLICT(study_key) DO NOTHING")?.execute(
        params![study_key, opt(&h.study_uid), rec.source, now, now_unix],
    )?;
    let study_id: i64 = tx
        .prepare_cached("SELECT id FROM studies WHERE study_key = ?1")?
        .query_row([&study_key], |r| r.get(0))?;

    let series_key = key(&h.series_uid, &rec.hash);
    tx.prepare_cached(
        "INSERT INTO series (study_id, series_key, series_uid) VALUES (?1, ?2, ?3)
         ON CONFLICT(study_id, series_key) DO NOTHING",
    )?
    .execute(params![study_id, series_key, opt(&h.series_uid)])?;
    let series_id: i64 = tx
        .prepare_cached("SELECT id FROM series WHERE study_id = ?1 AND series_key = ?2")?
        .query_row(params![study_id, series_key], |r| r.get(0))?;

    tx.prepare_cached("INSERT INTO instances (series_id, sop_key, sop_uid) VALUES (?1, ?2, ?3)")?
        .execute(params![series_id, sop_key, opt(&h.sop_instance_uid)])?;
    let instance_id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO versions (instance_id, blob_hash, parent_version, created_at, reason)
         VALUES (?1, ?2, NULL, ?3, 'received')",
    )?
    .execute(params![instance_id, rec.hash, now])?;
    let version_id = tx.last_insert_rowid();
    tx.prepare_cached("UPDATE instances SET current_version = ?1 WHERE id = ?2")?
        .execute(params![version_id, instance_id])?;
    insert_file(tx, rec, &now, instance_id, "original")?;
    touch(tx, study_id, &now)?;
    Ok(RecordOutcome::New { study_id })
}

/// The `files` row of a received file; `role` is `original` or `conflict`.
fn insert_file(
    tx: &Transaction<'_>,
    rec: &FileRecord,
    now: &str,
    instance_id: i64,
    role: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO files (blob_hash, original_path, source, received_at, instance_id, role)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        rec.hash,
        rec.original_path,
        rec.source,
        now,
        instance_id,
        role
    ])?;
    Ok(())
}

fn touch(tx: &Transaction<'_>, study_id: i64, now: &str) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE studies SET last_change = ?1 WHERE id = ?2")?
        .execute(params![now, study_id])?;
    Ok(())
}

fn insert_blob(tx: &Transaction<'_>, rec: &FileRecord) -> Result<(), StoreError> {
    let cols = HEADER_COLUMNS.join(", ");
    let marks = (0..HEADER_COLUMNS.len() + 6)
        .map(|i| format!("?{}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT OR IGNORE INTO blobs (hash, size, has_pixel_data, truncated, read_errors, read_warnings, {cols})
         VALUES ({marks})"
    );
    let errors = serde_json::to_string(&rec.errors).unwrap_or_else(|_| "[]".into());
    let warnings = serde_json::to_string(&rec.warnings).unwrap_or_else(|_| "[]".into());
    let size = rec.size as i64;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![
        &rec.hash,
        &size,
        &rec.header.has_pixel_data,
        &rec.truncated,
        &errors,
        &warnings,
    ];
    let header_vals = header_values(&rec.header);
    for v in &header_vals {
        values.push(v);
    }
    tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    Ok(())
}

/// A file that could not be taken in at all (unreadable), kept so the user can see it.
pub fn record_reject(tx: &Transaction<'_>, path: &str, reason: &str) -> Result<(), StoreError> {
    let (now, _) = fsutil::now();
    tx.prepare_cached("INSERT INTO rejects (path, reason, at) VALUES (?1, ?2, ?3)")?
        .execute(params![path, reason, now])?;
    Ok(())
}

impl Store {
    /// Sets when a study first arrived. For simulated arrivals (the demo's department, whose
    /// studies were "received" over the past days); real arrivals are stamped on import.
    pub fn set_first_seen(&mut self, study_uid: &str, unix: i64) -> Result<(), StoreError> {
        let text = time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        self.conn.execute(
            "UPDATE studies SET first_seen = ?2, first_seen_unix = ?3 WHERE study_uid = ?1",
            params![study_uid, text, unix],
        )?;
        Ok(())
    }

    /// Records a batch of files in one transaction and reclassifies the studies they touched.
    /// The blobs must be in the blob store already; they are synced before the commit.
    pub fn record_batch(
        &mut self,
        records: &[FileRecord],
        rejects: &[(String, String)],
    ) -> Result<Vec<RecordOutcome>, StoreError> {
        self.blobs.sync()?;
        self.in_transaction(|tx| {
            let mut outcomes = Vec::with_capacity(records.len());
            let mut touched = std::collections::BTreeSet::new();
            for rec in records {
                let o = record_file(tx, rec)?;
                if let RecordOutcome::New { study_id } | RecordOutcome::Conflict { study_id } = o {
                    touched.insert(study_id);
                }
                outcomes.push(o);
            }
            for (path, reason) in rejects {
                record_reject(tx, path, reason)?;
            }
            let touched: Vec<i64> = touched.into_iter().collect();
            super::classify::reclassify(tx, &touched)?;
            Ok(outcomes)
        })
    }
}
