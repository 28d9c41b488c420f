//! After Success: each accepted spool entry is hashed (read back from the page cache, both of
//! its hashes in one pass), compared with the copy held when it may conflict (outside any
//! write transaction), and handed to the writer. All of it off the association's path: what a
//! sender waits for is its instance written whole (and flushed, under `strict`), nothing more.
//! The entry is in the spool before Success, so whatever happens here, the next start records
//! it.

use crossbeam_channel::{Receiver, Sender};

use crate::dicom::ReadOutcome;
use crate::fsutil::TempFile;
use crate::store::{BlobStore, Comparison, FileRecord, NetworkOrigin, ReaderSource, StoreReader};

use super::writer::{Job, Spooled};

/// An instance accepted into the spool and answered Success.
pub(super) struct Accepted {
    pub file: TempFile,
    pub dataset_offset: u64,
    pub outcome: ReadOutcome,
    pub network: NetworkOrigin,
    pub original_path: String,
    pub received_at: String,
    pub flushed: bool,
}

/// The judging thread; stops when dropped, once what it was given is passed on.
pub(super) struct Judge {
    queue: Option<Sender<Accepted>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Accepted instances waiting at most: past this, a sender waits for the judge (back-pressure
/// rather than unbounded memory).
const WAITING: usize = 1024;

impl Judge {
    pub(super) fn start(
        blobs: std::sync::Arc<BlobStore>,
        readers: ReaderSource,
        to_writer: Sender<Job>,
    ) -> std::io::Result<Judge> {
        let (tx, rx) = crossbeam_channel::bounded(WAITING);
        let thread = std::thread::Builder::new()
            .name("receiver-judge".into())
            .spawn(move || run(&blobs, &readers, &to_writer, &rx))?;
        Ok(Judge {
            queue: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands over an accepted instance. Should the judge be gone (shutting down), the entry
    /// stays in the spool for the next start.
    pub(super) fn take(&self, accepted: Accepted) {
        if let Some(q) = &self.queue {
            let _ = q.send(accepted);
        }
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    blobs: &BlobStore,
    readers: &ReaderSource,
    to_writer: &Sender<Job>,
    rx: &Receiver<Accepted>,
) {
    let mut reader: Option<StoreReader> = None;
    for a in rx {
        let path = a.file.path().to_path_buf();
        let staged =
            match blobs.adopt_file(&path, a.dataset_offset, &a.outcome.header.transfer_syntax) {
                Ok(s) => s,
                Err(e) => {
                    // Stays in the spool; the next start tries again.
                    tracing::error!("cannot read back {} from the spool: {e}", path.display());
                    continue;
                }
            };
        if reader.is_none() {
            reader = readers
                .open()
                .map_err(|e| tracing::warn!("cannot read the store to compare a copy: {e}"))
                .ok();
        }
        let compare = match &reader {
            Some(r) => r
                .compare_before(&path, &staged.hash, &staged.dataset_hash, &a.outcome.header)
                .unwrap_or_else(|e| {
                    tracing::warn!("cannot look up the copy held: {e}");
                    Comparison::Before(None)
                }),
            None => Comparison::Before(None),
        };
        let record = FileRecord {
            staged,
            dataset_offset: a.dataset_offset,
            original_path: a.original_path,
            source: a.network.calling_ae.clone(),
            source_kind: crate::model::SourceKind::Network,
            network: Some(a.network),
            header: a.outcome.header,
            faults: a.outcome.faults,
            received_at: Some(a.received_at),
            compare,
        };
        let job = Job::Record(Box::new(Spooled {
            record,
            file: a.file,
            flushed: a.flushed,
        }));
        if to_writer.send(job).is_err() {
            // The writer is gone: the entry stays in the spool for the next start.
            return;
        }
    }
}
