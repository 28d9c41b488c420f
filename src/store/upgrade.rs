//! Upgrade steps that SQL cannot do, run inside the migration's transaction right after its
//! script (see `schema`).
//!
//! Version 3 identifies instances by their data set: every blob's header is read again (which
//! also brings the new attributes, typed faults and character set decoding), its data set
//! hashed, and every file recorded as a conflict under the old rules judged again: a duplicate
//! (re-wrapped), an encoding variant, a real conflict naming its attributes, or an instance of
//! another study. Then every study is classified by the current rules.

use std::io::{BufReader, Read, Seek};

use rusqlite::{Transaction, params, params_from_iter};

use super::StoreError;
use super::blobs::{BlobStore, dataset_hasher};
use super::headers::{HEADER_COLUMNS, faults_to_json, header_from_row, select_list};
use super::ingest::place;
use crate::dicom::read_header;
use crate::rules::RulesConfig;

pub(super) fn after_script(
    version: i64,
    tx: &Transaction<'_>,
    blobs: &BlobStore,
    rules: &RulesConfig,
) -> Result<(), StoreError> {
    if version != 3 {
        return Ok(());
    }
    reread_blobs(tx, blobs)?;
    rejudge_conflicts(tx, blobs)?;
    super::classify::reclassify_all(tx, rules)
}

/// Reads every blob's header again and hashes its data set.
fn reread_blobs(tx: &Transaction<'_>, blobs: &BlobStore) -> Result<(), StoreError> {
    let hashes: Vec<String> = tx
        .prepare("SELECT hash FROM blobs WHERE dataset_hash IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let sets = HEADER_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 8))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE blobs SET dataset_hash = ?2, dataset_offset = ?3, read_errors = ?4,
             read_warnings = ?5, truncated = ?6, has_pixel_data = ?7, {sets}
         WHERE hash = ?1"
    );
    for hash in hashes {
        let path = blobs.path(&hash);
        let Ok(file) = std::fs::File::open(&path) else {
            // A missing blob stays as it was; `verify` reports it.
            continue;
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut src = BufReader::new(file);
        let Ok(outcome) = read_header(&mut src, size) else {
            continue;
        };
        let Ok(dataset_hash) = hash_from(
            &mut src,
            outcome.dataset_offset,
            &outcome.header.transfer_syntax,
        ) else {
            continue;
        };
        let (errors, warnings) = faults_to_json(&outcome.faults);
        let offset = outcome.dataset_offset as i64;
        let truncated = outcome.is_truncated();
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![
            &hash,
            &dataset_hash,
            &offset,
            &errors,
            &warnings,
            &truncated,
            &outcome.header.has_pixel_data,
        ];
        let header_vals = outcome.header.values();
        for v in &header_vals {
            values.push(v);
        }
        tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    }
    Ok(())
}

fn hash_from<R: Read + Seek>(src: &mut R, offset: u64, ts: &str) -> std::io::Result<String> {
    src.seek(std::io::SeekFrom::Start(offset))?;
    let mut h = dataset_hasher(ts);
    h.update_reader(src)?;
    Ok(h.finalize().to_hex().to_string())
}

/// Judges the files the old rules called conflicts by the data set and attribute comparison.
fn rejudge_conflicts(tx: &Transaction<'_>, blobs: &BlobStore) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT f.id, f.blob_hash, COALESCE(b.dataset_hash, ''), f.source, {}
         FROM files f JOIN blobs b ON b.hash = f.blob_hash
         WHERE f.role = 'conflict' ORDER BY f.id",
        select_list("b")
    );
    let rows: Vec<(i64, String, String, String, crate::dicom::Header)> = tx
        .prepare(&sql)?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                header_from_row(r, 4)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    for (file_id, hash, dataset_hash, source, header) in rows {
        let p = place(
            tx,
            blobs,
            &hash,
            &dataset_hash,
            &header,
            &source,
            Some(file_id),
        )?;
        let differences = serde_json::to_string(&p.differences).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "UPDATE files SET instance_id = ?2, role = ?3, differences = ?4, note = ?5 WHERE id = ?1",
            params![file_id, p.instance_id, p.role.as_str(), differences, p.note],
        )?;
    }
    Ok(())
}
