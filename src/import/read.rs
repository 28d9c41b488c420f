//! Reading one candidate file: hash it, read its header, put its bytes in the blob store.
//! Runs on worker threads; never touches the database.

use std::io::{BufReader, Cursor};
use std::path::Path;

use crate::dicom::{NotDicom, read_header};
use crate::store::{BlobStore, FileRecord, hash_bytes};

/// Files up to this size are read into memory once; larger ones are streamed twice.
const IN_MEMORY_LIMIT: u64 = 64 << 20;

#[derive(Debug)]
pub enum FileOutcome {
    Record(Box<FileRecord>),
    NotDicom { path: String, reason: String },
    Dicomdir { path: String },
    Unreadable { path: String, reason: String },
}

pub fn process_file(path: &Path, source: &str, blobs: &BlobStore) -> FileOutcome {
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| FileOutcome::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return unreadable(e),
    };
    if size == 0 {
        return FileOutcome::NotDicom {
            path: shown,
            reason: NotDicom::Empty.to_string(),
        };
    }
    let (outcome, bytes) = if size <= IN_MEMORY_LIMIT {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return unreadable(e),
        };
        let outcome = read_header(&mut Cursor::new(&bytes[..]), bytes.len() as u64);
        (outcome, Some(bytes))
    } else {
        let outcome = match std::fs::File::open(path) {
            Ok(f) => read_header(&mut BufReader::new(f), size),
            Err(e) => return unreadable(e),
        };
        (outcome, None)
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(NotDicom::Io(reason)) => {
            return FileOutcome::Unreadable {
                path: shown,
                reason,
            };
        }
        // Not DICOM: nothing is stored (and gigabytes are not hashed).
        Err(e) => {
            return FileOutcome::NotDicom {
                path: shown,
                reason: e.to_string(),
            };
        }
    };
    if outcome.header.is_dicomdir() {
        return FileOutcome::Dicomdir { path: shown };
    }
    // Hash and size are those of the bytes stored, whatever the file did meanwhile.
    let stored = match &bytes {
        Some(b) => {
            let hash = hash_bytes(b);
            blobs.put(&hash, b).map(|_| (hash, b.len() as u64))
        }
        None => blobs.put_file(path),
    };
    let (hash, size) = match stored {
        Ok(hs) => hs,
        Err(e) => {
            return FileOutcome::Unreadable {
                path: shown,
                reason: format!("cannot store a copy: {e}"),
            };
        }
    };
    let truncated = outcome.errors.iter().any(|e| e.contains("truncated"));
    FileOutcome::Record(Box::new(FileRecord {
        hash,
        size,
        original_path: shown,
        // The sending station says more than the folder it was dropped in.
        source: if outcome.header.source_ae.is_empty() {
            source.to_string()
        } else {
            outcome.header.source_ae.clone()
        },
        header: outcome.header,
        errors: outcome.errors,
        warnings: outcome.warnings,
        truncated,
    }))
}
