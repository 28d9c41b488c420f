//! Recording received files. An instance is identified by its data set, not by the bytes of
//! its file: every receiver writes its own file meta group, and routers, CD burners and
//! archives re-wrap files all day. For a SOP Instance UID already held in the study:
//! - the same data set (other meta group, or the very same bytes) is a duplicate receipt;
//! - the same attributes in another encoding is an encoding variant, kept and noted;
//! - other attribute values is a conflict, kept beside the instance with the attributes that
//!   differ, never an overwrite.
//!
//! A SOP Instance UID that turns up in another study becomes an instance of that study too
//! (the rules flag both). Every arrival is a receipt, whatever it turned out to be.

use std::io::BufReader;

use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};

use super::blobs::{BlobStore, Staged};
use super::headers::{HEADER_COLUMNS, faults_to_json};
use super::{Store, StoreError};
use crate::dicom::compare::{Sameness, compare};
use crate::dicom::{Fault, Header};
use crate::fsutil;
use crate::model::{AttrDiff, CopyRole, SourceKind};

/// Where a network receipt came from (filled by the receiver).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkOrigin {
    pub calling_ae: String,
    pub called_ae: String,
    pub peer_address: String,
    pub association_id: Option<i64>,
}

/// One file read by the importer (or received by the SCP), its bytes staged in the blob store.
#[derive(Debug)]
pub struct FileRecord {
    pub staged: Staged,
    pub dataset_offset: u64,
    pub original_path: String,
    /// Folder it was imported from, or the calling AE title.
    pub source: String,
    pub source_kind: SourceKind,
    pub network: Option<NetworkOrigin>,
    pub header: Header,
    pub faults: Vec<Fault>,
    /// When it arrived, if not now (an instance recovered from the receiver's spool).
    pub received_at: Option<String>,
    /// How a comparison with the copy held, if one is needed, is made.
    pub compare: Comparison,
}

/// Whether a copy that may conflict with the one held is compared while its record is
/// written (importing: one writer, nobody waits), or was compared beforehand, outside the
/// write transaction (the receiver: its writer must never wait on a comparison).
#[derive(Debug, Clone, Default)]
pub enum Comparison {
    #[default]
    Inline,
    /// Compared before recording: the held original's blob it was compared with, and the
    /// outcome (None: nothing needed comparing then).
    Before(Option<(String, Sameness)>),
}

impl FileRecord {
    pub fn hash(&self) -> &str {
        &self.staged.hash
    }

    pub fn is_truncated(&self) -> bool {
        self.faults
            .iter()
            .any(|f| f.kind == crate::dicom::FaultKind::Truncated)
    }
}

/// What recording a file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new instance (its original version) in this study.
    New { study_id: i64 },
    /// The data set was held already: a receipt only (`same_bytes`), or a re-wrapped file (a
    /// new file meta group) kept beside the instance.
    Duplicate { study_id: i64, same_bytes: bool },
    /// The same attributes in another encoding: kept beside the instance.
    Variant { study_id: i64 },
    /// The SOP Instance UID is held with other attribute values: kept as a conflict.
    Conflict { study_id: i64 },
    /// The bytes could not be stored (a damaged leftover that could not be repaired).
    Unstored { reason: String },
}

impl RecordOutcome {
    pub fn study_id(&self) -> Option<i64> {
        match self {
            RecordOutcome::New { study_id }
            | RecordOutcome::Duplicate { study_id, .. }
            | RecordOutcome::Variant { study_id }
            | RecordOutcome::Conflict { study_id } => Some(*study_id),
            RecordOutcome::Unstored { .. } => None,
        }
    }
}

pub(super) fn key(uid: &str, hash: &str) -> String {
    if uid.is_empty() {
        format!("file:{hash}")
    } else {
        uid.to_string()
    }
}

fn opt(uid: &str) -> Option<&str> {
    (!uid.is_empty()).then_some(uid)
}

/// Where a file went: its instance, and how it relates to what the instance held.
pub(super) struct Placement {
    pub instance_id: i64,
    pub study_id: i64,
    pub role: CopyRole,
    pub differences: Vec<AttrDiff>,
    pub note: String,
}

/// Finds or creates the study, series and instance of a file (blob `hash`, already in the
/// `blobs` table) and judges it against what the instance holds. `exclude_file` is a `files`
/// row to ignore (the file itself, when an old record is re-judged).
#[allow(clippy::too_many_arguments)]
pub(super) fn place(
    tx: &Transaction<'_>,
    blobs: &BlobStore,
    hash: &str,
    dataset_hash: &str,
    h: &Header,
    source: &str,
    exclude_file: Option<i64>,
    (now, now_unix): (&str, i64),
    comparison: &Comparison,
) -> Result<Placement, StoreError> {
    // A file without UIDs is keyed by its data set, so a re-wrapped copy of it is still the
    // same instance (by its file when the data set could not be hashed).
    let identity = if dataset_hash.is_empty() {
        hash
    } else {
        dataset_hash
    };
    let study_key = key(&h.study_uid, identity);
    // One statement finds or creates the study and marks it changed.
    let study_id: i64 = tx
        .prepare_cached(
            "INSERT INTO studies (study_key, study_uid, source, first_seen, first_seen_unix, last_change)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4)
             ON CONFLICT(study_key) DO UPDATE SET last_change = excluded.last_change
             RETURNING id",
        )?
        .query_row(params![study_key, opt(&h.study_uid), source, now, now_unix], |r| {
            r.get(0)
        })?;

    let sop_key = key(&h.sop_instance_uid, identity);
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM instances WHERE study_id = ?1 AND sop_key = ?2")?
        .query_row(params![study_id, sop_key], |r| r.get(0))
        .optional()?;
    let placed = |instance_id, role, differences, note| Placement {
        instance_id,
        study_id,
        role,
        differences,
        note,
    };
    if let Some(instance_id) = existing {
        let same_dataset: Option<i64> = tx
            .prepare_cached(
                "SELECT f.id FROM files f JOIN blobs b ON b.hash = f.blob_hash
                 WHERE f.instance_id = ?1 AND b.dataset_hash = ?2 AND f.id IS NOT ?3 LIMIT 1",
            )?
            .query_row(params![instance_id, dataset_hash, exclude_file], |r| {
                r.get(0)
            })
            .optional()?;
        if same_dataset.is_some() {
            return Ok(placed(
                instance_id,
                CopyRole::Duplicate,
                Vec::new(),
                String::new(),
            ));
        }
        let held: Option<String> = tx
            .prepare_cached(
                "SELECT blob_hash FROM files WHERE instance_id = ?1 AND role = 'original' AND id IS NOT ?2",
            )?
            .query_row(params![instance_id, exclude_file], |r| r.get(0))
            .optional()?;
        let sameness = match (held, comparison) {
            (None, _) => Sameness::Different(Vec::new()),
            (Some(held), Comparison::Inline) => compare_blobs(blobs, &held, hash),
            (Some(held), Comparison::Before(Some((with, sameness)))) if *with == held => {
                sameness.clone()
            }
            // Another copy of this instance was recorded between the comparison and now:
            // kept as a conflict to look at, never compared under the write lock.
            (Some(_), Comparison::Before(_)) => Sameness::NotCompared {
                why: "another copy of this instance arrived at the same moment".into(),
            },
        };
        return Ok(match sameness {
            Sameness::Variant { note } => placed(instance_id, CopyRole::Variant, Vec::new(), note),
            Sameness::Different(d) => placed(instance_id, CopyRole::Conflict, d, String::new()),
            Sameness::NotCompared { why } => placed(
                instance_id,
                CopyRole::Conflict,
                vec![AttrDiff {
                    attribute: "(not compared)".into(),
                    held: String::new(),
                    received: why,
                }],
                String::new(),
            ),
        });
    }

    let series_key = key(&h.series_uid, identity);
    let series_id: i64 = tx
        .prepare_cached(
            "INSERT INTO series (study_id, series_key, series_uid) VALUES (?1, ?2, ?3)
             ON CONFLICT(study_id, series_key) DO UPDATE SET series_uid = series.series_uid
             RETURNING id",
        )?
        .query_row(params![study_id, series_key, opt(&h.series_uid)], |r| {
            r.get(0)
        })?;
    tx.prepare_cached(
        "INSERT INTO instances (series_id, study_id, sop_key, sop_uid) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        series_id,
        study_id,
        sop_key,
        opt(&h.sop_instance_uid)
    ])?;
    let instance_id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO versions (instance_id, blob_hash, parent_version, created_at, reason)
         VALUES (?1, ?2, NULL, ?3, 'received')",
    )?
    .execute(params![instance_id, hash, now])?;
    let version_id = tx.last_insert_rowid();
    tx.prepare_cached("UPDATE instances SET current_version = ?1 WHERE id = ?2")?
        .execute(params![version_id, instance_id])?;
    Ok(placed(
        instance_id,
        CopyRole::Original,
        Vec::new(),
        String::new(),
    ))
}

/// Compares two stored files attribute by attribute.
fn compare_blobs(blobs: &BlobStore, held: &str, received: &str) -> Sameness {
    compare_files(&blobs.path(held), &blobs.path(received))
}

/// Compares the file held with a received one attribute by attribute (bounded in time and
/// memory: a copy too costly to compare is `NotCompared`).
pub(super) fn compare_files(held: &std::path::Path, received: &std::path::Path) -> Sameness {
    let open = |path: &std::path::Path| -> std::io::Result<(BufReader<std::fs::File>, u64)> {
        let f = std::fs::File::open(path)?;
        let size = f.metadata()?.len();
        Ok((BufReader::new(f), size))
    };
    match (open(held), open(received)) {
        (Ok((mut a, sa)), Ok((mut b, sb))) => compare(&mut a, sa, &mut b, sb),
        (Err(e), _) | (_, Err(e)) => Sameness::Different(vec![AttrDiff {
            attribute: "(file)".into(),
            held: "held".into(),
            received: format!("could not be compared: {e}"),
        }]),
    }
}

/// What recording a batch needs to know once, not per file.
pub(super) struct BatchCtx<'a> {
    pub blobs: &'a BlobStore,
    /// The time of the batch (RFC 3339) and as Unix seconds.
    pub now: (String, i64),
    /// Whether the workspace lists unreadable files at all (else nothing to clear).
    pub has_rejects: bool,
}

/// Records one file inside the caller's transaction.
pub(super) fn record_file(
    tx: &Transaction<'_>,
    ctx: &BatchCtx<'_>,
    rec: &FileRecord,
) -> Result<RecordOutcome, StoreError> {
    let now = ctx.now.0.as_str();
    let held: Option<(i64, i64)> = tx
        .prepare_cached(
            "SELECT f.id, i.study_id FROM files f JOIN instances i ON i.id = f.instance_id
             WHERE f.blob_hash = ?1",
        )?
        .query_row([rec.hash()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((file_id, study_id)) = held {
        insert_receipt(tx, file_id, rec, now)?;
        if ctx.has_rejects {
            clear_reject(tx, &rec.original_path)?;
        }
        return Ok(RecordOutcome::Duplicate {
            study_id,
            same_bytes: true,
        });
    }
    insert_blob(tx, rec)?;
    let p = place(
        tx,
        ctx.blobs,
        rec.hash(),
        &rec.staged.dataset_hash,
        &rec.header,
        &rec.source,
        None,
        (now, ctx.now.1),
        &rec.compare,
    )?;
    let differences = serde_json::to_string(&p.differences).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT INTO files (blob_hash, original_path, source, received_at, instance_id, role, differences, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        rec.hash(),
        rec.original_path,
        rec.source,
        now,
        p.instance_id,
        p.role.as_str(),
        differences,
        p.note
    ])?;
    let file_id = tx.last_insert_rowid();
    insert_receipt(tx, file_id, rec, now)?;
    if ctx.has_rejects {
        clear_reject(tx, &rec.original_path)?;
    }
    let study_id = p.study_id;
    Ok(match p.role {
        CopyRole::Original => RecordOutcome::New { study_id },
        CopyRole::Duplicate => RecordOutcome::Duplicate {
            study_id,
            same_bytes: false,
        },
        CopyRole::Variant => RecordOutcome::Variant { study_id },
        CopyRole::Conflict => RecordOutcome::Conflict { study_id },
    })
}

fn insert_receipt(
    tx: &Transaction<'_>,
    file_id: i64,
    rec: &FileRecord,
    now: &str,
) -> Result<(), StoreError> {
    let net = rec.network.as_ref();
    let now = rec.received_at.as_deref().unwrap_or(now);
    let path = (rec.source_kind != SourceKind::Network).then_some(rec.original_path.as_str());
    tx.prepare_cached(
        "INSERT INTO receipts (file_id, blob_hash, received_at, source_kind, source, path,
                               calling_ae, called_ae, peer_address, association_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        file_id,
        rec.hash(),
        now,
        rec.source_kind.as_str(),
        rec.source,
        path,
        net.map(|n| n.calling_ae.as_str()),
        net.map(|n| n.called_ae.as_str()),
        net.map(|n| n.peer_address.as_str()),
        net.and_then(|n| n.association_id)
    ])?;
    Ok(())
}

/// A file that reads now is no longer unreadable.
fn clear_reject(tx: &Transaction<'_>, path: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM rejects WHERE path = ?1")?
        .execute([path])?;
    Ok(())
}

/// The statement inserting a blob row, built once from the header attribute list.
fn insert_blob_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let cols = HEADER_COLUMNS.join(", ");
        let fixed = 8;
        let marks = (0..HEADER_COLUMNS.len() + fixed)
            .map(|i| format!("?{}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT OR IGNORE INTO blobs (hash, size, has_pixel_data, truncated, read_errors,
                 read_warnings, dataset_hash, dataset_offset, {cols})
             VALUES ({marks})"
        )
    })
}

fn insert_blob(tx: &Transaction<'_>, rec: &FileRecord) -> Result<(), StoreError> {
    insert_blob_row(
        tx,
        &rec.staged,
        rec.dataset_offset,
        &rec.header,
        &rec.faults,
    )
}

/// The `blobs` row of staged bytes whose header was read (a received file, a corrected copy).
pub(super) fn insert_blob_row(
    tx: &Transaction<'_>,
    staged: &Staged,
    dataset_offset: u64,
    header: &Header,
    faults: &[Fault],
) -> Result<(), StoreError> {
    let sql = insert_blob_sql();
    let (errors, warnings) = faults_to_json(faults);
    let size = staged.size as i64;
    let offset = dataset_offset as i64;
    let truncated = faults
        .iter()
        .any(|f| f.kind == crate::dicom::FaultKind::Truncated);
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![
        &staged.hash,
        &size,
        &header.has_pixel_data,
        &truncated,
        &errors,
        &warnings,
        &staged.dataset_hash,
        &offset,
    ];
    let header_vals = header.values();
    for v in &header_vals {
        values.push(v);
    }
    tx.prepare_cached(sql)?.execute(params_from_iter(values))?;
    Ok(())
}

/// Records (or counts again) a file that could not be taken in at all.
pub fn record_reject(tx: &Transaction<'_>, path: &str, reason: &str) -> Result<(), StoreError> {
    let (now, _) = fsutil::now();
    tx.prepare_cached(
        "INSERT INTO rejects (path, reason, at, first_at, times) VALUES (?1, ?2, ?3, ?3, 1)
         ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, at = excluded.at, times = times + 1",
    )?
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
    /// The staged bytes are made durable under their final names first (two file-system
    /// flushes for the whole batch), then [`Store::commit_batch`].
    pub fn record_batch(
        &mut self,
        records: &[FileRecord],
        rejects: &[(String, String)],
    ) -> Result<Vec<RecordOutcome>, StoreError> {
        self.blobs.install(records.iter().map(|r| &r.staged))?;
        self.commit_batch(records, rejects)
    }

    /// [`Store::record_batch`] of files whose data was flushed already (the receiver's strict
    /// durability flushed each before answering): only the new names are flushed.
    pub fn record_flushed_batch(
        &mut self,
        records: &[FileRecord],
    ) -> Result<Vec<RecordOutcome>, StoreError> {
        self.blobs
            .install_with(records.iter().map(|r| &r.staged), true)?;
        self.commit_batch(records, &[])
    }

    /// Records a batch whose staged bytes [`BlobStore::install`] has made durable, in one
    /// transaction, and reclassifies the studies it touched. A final-named file the database
    /// does not know (a crash leftover) is hashed before it is trusted, and replaced from its
    /// source when damaged.
    pub fn commit_batch(
        &mut self,
        records: &[FileRecord],
        rejects: &[(String, String)],
    ) -> Result<Vec<RecordOutcome>, StoreError> {
        let mut unstored: Vec<Option<String>> = vec![None; records.len()];
        for (i, rec) in records.iter().enumerate() {
            if rec.staged.was_present() && !self.knows_blob(rec.hash())? {
                unstored[i] = self.check_leftover(rec).err();
            }
        }
        let blobs = std::sync::Arc::clone(&self.blobs);
        let rules = self.rules.clone();
        let has_rejects: bool =
            self.conn
                .query_row("SELECT EXISTS (SELECT 1 FROM rejects)", [], |r| r.get(0))?;
        self.in_transaction(|tx| {
            let ctx = BatchCtx {
                blobs: &blobs,
                now: fsutil::now(),
                has_rejects,
            };
            let mut outcomes = Vec::with_capacity(records.len());
            let mut touched = std::collections::BTreeSet::new();
            for (rec, problem) in records.iter().zip(&unstored) {
                if let Some(reason) = problem {
                    record_reject(tx, &rec.original_path, reason)?;
                    outcomes.push(RecordOutcome::Unstored {
                        reason: reason.clone(),
                    });
                    continue;
                }
                let o = record_file(tx, &ctx, rec)?;
                if !matches!(
                    o,
                    RecordOutcome::Duplicate {
                        same_bytes: true,
                        ..
                    }
                ) && let Some(id) = o.study_id()
                {
                    touched.insert(id);
                }
                outcomes.push(o);
            }
            for (path, reason) in rejects {
                record_reject(tx, path, reason)?;
            }
            let touched: Vec<i64> = touched.into_iter().collect();
            super::classify::reclassify(tx, &touched, &rules)?;
            Ok(outcomes)
        })
    }

    fn knows_blob(&self, hash: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?
            .query_row([hash], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// A blob under its final name that no row references: trust it only once it hashes to
    /// its name; otherwise put a fresh copy from the source there.
    fn check_leftover(&self, rec: &FileRecord) -> Result<(), String> {
        match self.blobs.verify_blob(rec.hash()) {
            // Complete; and made durable before a row references it (the crash may have
            // come before its flush).
            Ok(true) => self
                .blobs
                .flush_blob(rec.hash())
                .map_err(|e| format!("cannot store a copy: {e}")),
            Ok(false) | Err(_) => {
                tracing::warn!(
                    "store file {} was damaged; replacing it",
                    self.blobs.path(rec.hash()).display()
                );
                let source = rec
                    .staged
                    .kept_at()
                    .unwrap_or(std::path::Path::new(&rec.original_path));
                self.blobs
                    .repair(rec.hash(), source)
                    .map_err(|e| format!("cannot store a copy (the store held a damaged one): {e}"))
            }
        }
    }
}
