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
    if version == 3 {
        reread_blobs(tx, blobs)?;
        rejudge_conflicts(tx, blobs)?;
        // Classification reads the tables as this build knows them: it runs once the
        // last migration is in (a flag survives an upgrade interrupted in between).
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('reclassify_pending', '1')",
            [],
        )?;
    }
    if version == 4 {
        hash_worklist(tx)?;
    }
    if version == 10 {
        // A Study UID other than the order's is a note now (under the default `keep`).
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('reclassify_pending', '1')",
            [],
        )?;
    }
    if version == super::schema::SCHEMA_VERSION {
        let pending = tx.execute("DELETE FROM settings WHERE key = 'reclassify_pending'", [])?;
        if pending > 0 {
            super::classify::reclassify_all(tx, rules)?;
        }
    }
    Ok(())
}

/// The content digest of every cached order (schema 4).
fn hash_worklist(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let rows: Vec<(i64, crate::model::WorklistItem)> = tx
        .prepare(&format!(
            "SELECT id, {} FROM worklist",
            super::orders::COLUMNS
        ))?
        .query_map([], |r| Ok((r.get(0)?, super::orders::item_at(r, 1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = tx.prepare("UPDATE worklist SET content_hash = ?2 WHERE id = ?1")?;
    for (id, item) in rows {
        update.execute(rusqlite::params![
            id,
            super::worklist_merge::content_hash(&item)
        ])?;
    }
    Ok(())
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
    let (now, now_unix) = crate::fsutil::now();
    for (file_id, hash, dataset_hash, source, header) in rows {
        let p = place(
            tx,
            blobs,
            &hash,
            &dataset_hash,
            &header,
            &source,
            Some(file_id),
            (&now, now_unix),
            &super::ingest::Comparison::Inline,
        )?;
        let differences = serde_json::to_string(&p.differences).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "UPDATE files SET instance_id = ?2, role = ?3, differences = ?4, note = ?5 WHERE id = ?1",
            params![file_id, p.instance_id, p.role.as_str(), differences, p.note],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    use super::super::Store;
    use super::super::blobs::hash_bytes;
    use super::super::schema::MIGRATIONS;

    const STUDY: &str = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322";
    const SOP: &str = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";

    fn ct_small() -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/pydicom/test_files/CT_small.dcm"),
        )
        .unwrap()
    }

    /// Replaces `from` by `to` (same length) once in `bytes`.
    fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("pattern present");
        let mut out = bytes.to_vec();
        out[at..at + to.len()].copy_from_slice(to);
        out
    }

    /// A workspace as qcdesk 0.1 (schema 2) left it after importing four files with one SOP
    /// Instance UID: the original, a re-wrapped copy (new meta group), a copy with another
    /// Patient ID, and a copy filed under another Study UID. Schema 2 called the last three
    /// conflicts of the first.
    fn schema_2_workspace(root: &std::path::Path) {
        let original = ct_small();
        // Implementation Version Name in the meta group: another writer's.
        let rewrapped = patched(&original, b"DCTOOL100 ", b"ROUTER9.9 ");
        assert_ne!(rewrapped, original, "the meta group changed");
        let other_patient = patched(&original, b"1CT1", b"1CT9");
        let other_study = patched(&original, STUDY.as_bytes(), &{
            let mut s = STUDY.as_bytes().to_vec();
            let last = s.len() - 1;
            s[last] = b'9';
            s
        });
        let store = root.join("store");
        let files = [&original, &rewrapped, &other_patient, &other_study];
        let hashes: Vec<String> = files.iter().map(|b| hash_bytes(b)).collect();
        for (b, h) in files.iter().zip(&hashes) {
            let dir = store.join(&h[..2]);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{h}.dcm")), b).unwrap();
        }
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        let conn = Connection::open(root.join("qcdesk.sqlite")).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        for (i, h) in hashes.iter().enumerate() {
            conn.execute(
                "INSERT INTO blobs (hash, size, sop_instance_uid, study_uid, read_errors, truncated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    h,
                    files[i].len() as i64,
                    SOP,
                    STUDY,
                    if i == 2 { r#"["file is truncated: an old message"]"# } else { "[]" },
                    i == 2
                ],
            )
            .unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO studies (id, study_key, study_uid, first_seen, first_seen_unix, last_change)
                 VALUES (1, '{STUDY}', '{STUDY}', '2024-01-01T00:00:00Z', 1704067200, '2024-01-01T00:00:00Z');
             INSERT INTO series (id, study_id, series_key) VALUES (1, 1, 's');
             INSERT INTO instances (id, series_id, sop_key, sop_uid, current_version) VALUES (1, 1, '{SOP}', '{SOP}', 1);
             INSERT INTO versions (id, instance_id, blob_hash, created_at, reason) VALUES (1, 1, '{}', 'then', 'received');
             INSERT INTO rejects (path, reason, at) VALUES ('/x/bad.dcm', 'unreadable', 'a'), ('/x/bad.dcm', 'unreadable', 'b');",
            hashes[0]
        ))
        .unwrap();
        for (i, h) in hashes.iter().enumerate() {
            conn.execute(
                "INSERT INTO files (blob_hash, original_path, source, received_at, instance_id, role)
                 VALUES (?1, ?2, 'inbox', 'then', 1, ?3)",
                params![h, format!("/inbox/{i}.dcm"), if i == 0 { "original" } else { "conflict" }],
            )
            .unwrap();
        }
    }

    #[test]
    fn a_schema_2_workspace_is_upgraded_and_its_conflicts_judged_again() {
        let dir = tempfile::tempdir().unwrap();
        schema_2_workspace(dir.path());
        let store = Store::open(dir.path()).unwrap();
        let conn = &store.conn;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::super::SCHEMA_VERSION);
        let roles: Vec<(String, String)> = conn
            .prepare("SELECT original_path, role FROM files ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let roles: Vec<(&str, &str)> = roles
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            roles,
            [
                ("/inbox/0.dcm", "original"),
                ("/inbox/1.dcm", "duplicate"),
                ("/inbox/2.dcm", "conflict"),
                // Another study's instance now, in a study of its own.
                ("/inbox/3.dcm", "original"),
            ]
        );
        let diff: String = conn
            .query_row(
                "SELECT differences FROM files WHERE original_path = '/inbox/2.dcm'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(diff.contains("PatientID"), "{diff}");
        // Every old file is a receipt; rejects are one row per path.
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT COUNT(*) FROM receipts"), 4);
        assert_eq!(count("SELECT COUNT(*) FROM rejects"), 1);
        assert_eq!(count("SELECT times FROM rejects"), 2);
        assert_eq!(count("SELECT COUNT(*) FROM studies"), 2);
        assert_eq!(
            count("SELECT COUNT(*) FROM blobs WHERE dataset_hash IS NULL"),
            0
        );
        // Faults are typed now (read again from the file: this copy is not truncated).
        let errors: String = conn
            .query_row(
                "SELECT read_errors FROM blobs WHERE truncated = 0 LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(errors, "[]");
        // The findings follow the new rules: a conflict with a named attribute, and the SOP
        // Instance UID in two studies on both.
        let queue = store.queue(&Default::default()).unwrap();
        let first = queue
            .iter()
            .find(|s| s.study_instance_uid.as_deref() == Some(STUDY))
            .unwrap();
        let codes: Vec<&str> = first.findings.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"duplicate_sop_uid"), "{codes:?}");
        assert!(codes.contains(&"sop_uid_in_other_study"), "{codes:?}");
        let other = queue
            .iter()
            .find(|s| s.study_instance_uid.as_deref() != Some(STUDY))
            .unwrap();
        assert!(
            other
                .findings
                .iter()
                .any(|f| f.code == "sop_uid_in_other_study")
        );
        assert!(store.verify(true).unwrap().ok());
    }
}
