//! Reading one candidate file: hash it, read its header, put its bytes in the blob store.
//! Runs on worker threads; never touches the database.

use std::io::{BufReader, Cursor};
use std::path::Path;

use crate::dicom::{NotDicom, read_header};
use crate::model::SourceKind;
use crate::store::{BlobStore, FileRecord};

/// Files up to this size are read into memory once; larger ones are streamed twice.
const IN_MEMORY_LIMIT: u64 = 64 << 20;

#[derive(Debug)]
pub enum FileOutcome {
    Record(Box<FileRecord>),
    NotDicom { path: String, reason: String },
    Dicomdir { path: String },
    Unreadable { path: String, reason: String },
}

/// Reads one file: its header, then its bytes staged in the store (not yet flushed).
pub fn process_file(
    path: &Path,
    source: &str,
    source_kind: SourceKind,
    blobs: &BlobStore,
) -> FileOutcome {
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| FileOutcome::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    };
    // One open and one fstat: the size decides how the file is read.
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return unreadable(e),
    };
    let size = match file.metadata() {
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
        let mut bytes = Vec::with_capacity(size as usize);
        if let Err(e) = std::io::Read::read_to_end(&mut file, &mut bytes) {
            return unreadable(e);
        }
        let outcome = read_header(&mut Cursor::new(&bytes[..]), bytes.len() as u64);
        (outcome, Some(bytes))
    } else {
        let mut reader = BufReader::new(file);
        let outcome = read_header(&mut reader, size);
        file = reader.into_inner();
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
    // What a crash or a failed copy leaves behind a DICM marker (zeros, random bytes): nothing
    // in it is an instance, and storing gigabytes of it helps nobody. Refused with the reason.
    if let Some(why) = outcome.refusal() {
        return FileOutcome::Unreadable {
            path: shown,
            reason: format!("not stored: nothing in it identifies an instance ({why})"),
        };
    }
    // Hash and size are those of the bytes stored, whatever the file did meanwhile.
    let ts = outcome.header.transfer_syntax.clone();
    let staged = match &bytes {
        Some(b) => blobs.stage(b, outcome.dataset_offset, &ts),
        // The same handle the header came from, from its start.
        None => std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))
            .and_then(|_| blobs.stage_reader(&mut file, outcome.dataset_offset, &ts)),
    };
    let staged = match staged {
        Ok(s) => s,
        Err(e) => {
            return FileOutcome::Unreadable {
                path: shown,
                reason: format!("cannot store a copy: {e}"),
            };
        }
    };
    if staged.size != size {
        return FileOutcome::Unreadable {
            path: shown,
            reason: format!(
                "the file changed while it was read ({size} bytes, then {}); import it again once it is complete",
                staged.size
            ),
        };
    }
    FileOutcome::Record(Box::new(FileRecord {
        staged,
        dataset_offset: outcome.dataset_offset,
        original_path: shown,
        // The sending station says more than the folder it was dropped in.
        source: if outcome.header.source_ae.is_empty() {
            source.to_string()
        } else {
            outcome.header.source_ae.clone()
        },
        source_kind,
        network: None,
        header: outcome.header,
        faults: outcome.faults,
        received_at: None,
        compare: Default::default(),
    }))
}
