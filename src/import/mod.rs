//! Import: files, folders and DICOMDIR media into the quarantine store.
//!
//! The job thread lists the files, worker threads read and store them (header-only parse,
//! content-addressed copy), and the job thread records them in batches, one transaction each,
//! reclassifying the studies each batch touched. A crash loses at most the open batch; blobs
//! written for it are complete files that a re-import finds and reuses.

mod read;
mod record;
mod walk;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use crossbeam_channel::{RecvTimeoutError, bounded};
use serde::Serialize;

pub use read::{FileOutcome, process_file};
pub use walk::{Candidate, collect};

use record::{Batch, Committed, Disconnected, Recorder, commit_batches, install_batches};

use crate::jobs::JobCtx;
use crate::store::{Store, StoreError};

/// A file the import could not index as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileProblem {
    pub path: String,
    pub reason: String,
}

/// What an import did, file by file category. Every file found lands in exactly one of
/// `new_instances`, `duplicates`, `variants`, `conflicts`, `non_dicom`, `dicomdirs`,
/// `unreadable` (unless the import was cancelled).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub files_found: u64,
    pub new_instances: u64,
    /// Data sets already held (the same bytes, or the same data set in another file).
    pub duplicates: u64,
    /// The same attributes as an instance held, in another encoding: kept and noted.
    pub variants: u64,
    /// Other attribute values under a SOP Instance UID already held: kept beside it.
    pub conflicts: u64,
    pub non_dicom: u64,
    pub dicomdirs: u64,
    /// Files or folders that could not be read at all (also kept in the workspace's rejects).
    pub unreadable: Vec<FileProblem>,
    /// DICOM files that were kept but are damaged (they show as `broken` studies).
    pub broken: Vec<FileProblem>,
    /// Non-DICOM files skipped (path and why).
    pub skipped: Vec<FileProblem>,
    pub missing_from_dicomdir: Vec<String>,
    /// Files on a medium its DICOMDIR does not reference (imported all the same).
    pub not_in_dicomdir: Vec<String>,
    /// Ids of the studies that received files.
    pub studies: Vec<i64>,
    pub cancelled: bool,
    pub elapsed_ms: u64,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} files: {} new instances, {} already held, {} conflicting, {} not DICOM",
            self.files_found, self.new_instances, self.duplicates, self.conflicts, self.non_dicom
        );
        if self.variants > 0 {
            s.push_str(&format!(", {} encoding variants", self.variants));
        }
        if self.dicomdirs > 0 {
            s.push_str(&format!(", {} DICOMDIR", self.dicomdirs));
        }
        if !self.unreadable.is_empty() {
            s.push_str(&format!(", {} unreadable", self.unreadable.len()));
        }
        if !self.broken.is_empty() {
            s.push_str(&format!("; {} damaged files kept", self.broken.len()));
        }
        if self.cancelled {
            s.push_str(" (cancelled)");
        }
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records are committed when this many are pending or this long has passed.
pub(crate) const BATCH_SIZE: usize = 400;
pub(crate) const BATCH_AGE: Duration = Duration::from_millis(300);
/// How many files may be read ahead of the first one not yet back in walk order.
const MAX_AHEAD: usize = 4 * BATCH_SIZE;

/// Imports `paths` into the workspace at `workspace`, reporting progress through `ctx`.
pub fn import_paths(
    workspace: &Path,
    paths: &[PathBuf],
    ctx: &JobCtx,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let store = Store::open(workspace)?;
    let mut report = ImportReport::default();
    ctx.progress(0, None, "listing files");
    let walked = collect(paths);
    report.dicomdirs = walked.dicomdirs.len() as u64;
    report.missing_from_dicomdir = walked.missing_from_dicomdir;
    report.not_in_dicomdir = walked.not_in_dicomdir;
    let total = walked.files.len() as u64;
    report.non_dicom = walked.skipped.len() as u64;
    report.skipped.extend(
        walked
            .skipped
            .into_iter()
            .map(|(path, reason)| FileProblem { path, reason }),
    );
    report.files_found =
        total + report.dicomdirs + report.non_dicom + walked.unreadable.len() as u64;
    let rejects: Vec<(String, String)> = walked.unreadable.clone();
    report.unreadable.extend(
        walked
            .unreadable
            .into_iter()
            .map(|(path, reason)| FileProblem { path, reason }),
    );

    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
        * 2;
    let (job_tx, job_rx) = bounded::<(usize, Candidate)>(workers * 4);
    let (out_tx, out_rx) = bounded::<(usize, FileOutcome)>(BATCH_SIZE);
    let blobs = store.blobs();
    // Batches go through an installer thread (file-system flushes) to a committer thread that
    // owns the store: while one batch is flushed and another committed, the workers and this
    // thread go on with the next.
    let (batch_tx, batch_rx) = bounded::<Batch>(1);
    let (installed_tx, installed_rx) = bounded::<Batch>(1);
    let stop = std::sync::atomic::AtomicBool::new(false);
    // How far the outcomes are back in walk order: the feeder stays within MAX_AHEAD of it, so
    // one slow file (a scratched disc) cannot make every later file wait, staged, behind it.
    let ordered = std::sync::atomic::AtomicUsize::new(0);
    let mut done = 0u64;
    let result = std::thread::scope(|scope| -> Result<(Committed, ImportReport), ImportError> {
        // Owned by this closure: if it unwinds, the batch sender drops with it, the installer
        // and committer end, and the scope can be left.
        let mut recorder = Recorder::new(report, rejects, batch_tx);
        let installer_blobs = &blobs;
        let installer =
            scope.spawn(move || install_batches(installer_blobs, batch_rx, installed_tx));
        let committer = scope.spawn(move || commit_batches(store, installed_rx));
        for _ in 0..workers {
            let rx = job_rx.clone();
            let tx = out_tx.clone();
            let blobs = &blobs;
            scope.spawn(move || {
                for (seq, c) in rx {
                    // A panic on one file must not stall the files after it in walk order.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        process_file(&c.path, &c.source, c.source_kind, blobs)
                    }))
                    .unwrap_or_else(|_| FileOutcome::Unreadable {
                        path: c.path.display().to_string(),
                        reason: "internal error while reading this file (please report it)".into(),
                    });
                    if tx.send((seq, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(out_tx);
        drop(job_rx);
        // Owned by this closure so that an early return (a database error) drops it, which
        // makes the workers' sends fail and lets the scope end instead of deadlocking.
        let out_rx = out_rx;
        let stop = &stop;
        let ordered = &ordered;
        let files = walked.files;
        scope.spawn(move || {
            for c in files.into_iter().enumerate() {
                while c.0 >= ordered.load(Ordering::Relaxed) + MAX_AHEAD
                    && !stop.load(Ordering::Relaxed)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if stop.load(Ordering::Relaxed) || job_tx.send(c).is_err() {
                    break;
                }
            }
            // job_tx drops here: workers finish what they hold, then their senders close.
        });
        let collected = (|| -> Result<(), Disconnected> {
            loop {
                if ctx.is_cancelled() && !recorder.report.cancelled {
                    recorder.report.cancelled = true;
                    stop.store(true, Ordering::Relaxed);
                }
                match out_rx.recv_timeout(BATCH_AGE) {
                    Ok((seq, outcome)) => {
                        done += 1;
                        recorder.receive(seq, outcome)?;
                        ordered.store(recorder.next_seq(), Ordering::Relaxed);
                        ctx.progress(done, Some(total), format!("{done} of {total} files"));
                    }
                    Err(RecvTimeoutError::Timeout) => recorder.flush()?,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            recorder.finish()
        })();
        // Dropping the receiver stops the workers if the committer failed; dropping the batch
        // sender lets the committer end.
        stop.store(true, Ordering::Relaxed);
        drop(out_rx);
        recorder.close();
        let installed = installer.join().unwrap_or_else(|_| {
            Err(StoreError::Io(std::io::Error::other(
                "the installer panicked",
            )))
        });
        let committed = committer.join().unwrap_or_else(|_| {
            Err(StoreError::Io(std::io::Error::other(
                "the committer panicked",
            )))
        });
        // A failed stage closes its channel: its error is the one to report.
        let committed = committed?;
        installed?;
        collected.map_err(|_| StoreError::Io(std::io::Error::other("import stopped")))?;
        Ok((committed, recorder.report))
    });
    let (committed, mut report) = result?;
    ctx.progress(total, Some(total), "done");
    committed.merge_into(&mut report);
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
