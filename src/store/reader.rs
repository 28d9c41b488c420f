//! A read-only connection for threads that must not wait on the writer, nor make it wait: the
//! receiver's association threads compare a copy that may conflict with the one held, outside
//! any write transaction, and hand the writer the outcome ([`Comparison::Before`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::blobs::BlobStore;
use super::ingest::{Comparison, compare_files, key};
use super::{Store, StoreError};
use crate::dicom::Header;

/// Reads the store; never writes.
pub struct StoreReader {
    conn: Connection,
    blobs: Arc<BlobStore>,
}

/// Opens [`StoreReader`]s on one workspace, from any thread.
#[derive(Debug, Clone)]
pub struct ReaderSource {
    path: std::path::PathBuf,
    blobs: Arc<BlobStore>,
}

impl Store {
    /// What opens read-only connections to this workspace's database, for other threads.
    pub fn reader_source(&self) -> ReaderSource {
        ReaderSource {
            path: self.workspace.db_path(),
            blobs: Arc::clone(&self.blobs),
        }
    }
}

impl ReaderSource {
    pub fn open(&self) -> Result<StoreReader, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|cause| StoreError::Open {
            path: self.path.display().to_string(),
            cause,
        })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(StoreReader {
            conn,
            blobs: Arc::clone(&self.blobs),
        })
    }
}

impl StoreReader {
    /// See [`Store::commitment_requested_of`].
    pub fn commitment_requested_of(
        &self,
        transaction_uid: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        super::transfers::requested_of(&self.conn, transaction_uid)
    }

    /// Compares a received file (at `path`, with these hashes and header) with the copy the
    /// store holds of its instance, when recording it would need that comparison: the same
    /// SOP Instance UID in the same study, held with another data set.
    pub fn compare_before(
        &self,
        path: &Path,
        hash: &str,
        dataset_hash: &str,
        h: &Header,
    ) -> Result<Comparison, StoreError> {
        // The very same file: a receipt, nothing to compare.
        let known: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE blob_hash = ?1)")?
            .query_row([hash], |r| r.get(0))?;
        if known {
            return Ok(Comparison::Before(None));
        }
        let identity = if dataset_hash.is_empty() {
            hash
        } else {
            dataset_hash
        };
        let held: Option<(i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT i.id, f.blob_hash FROM studies s
                 JOIN instances i ON i.study_id = s.id
                 JOIN files f ON f.instance_id = i.id AND f.role = 'original'
                 WHERE s.study_key = ?1 AND i.sop_key = ?2 LIMIT 1",
            )?
            .query_row(
                params![
                    key(&h.study_uid, identity),
                    key(&h.sop_instance_uid, identity)
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((instance_id, held)) = held else {
            return Ok(Comparison::Before(None));
        };
        let same_dataset: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM files f JOIN blobs b ON b.hash = f.blob_hash
                 WHERE f.instance_id = ?1 AND b.dataset_hash = ?2)",
            )?
            .query_row(params![instance_id, dataset_hash], |r| r.get(0))?;
        if same_dataset {
            return Ok(Comparison::Before(None));
        }
        let sameness = compare_files(&self.blobs.path(&held), path);
        Ok(Comparison::Before(Some((held, sameness))))
    }
}
