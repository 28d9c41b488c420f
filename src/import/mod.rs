//! Import: files, folders and DICOMDIR media into the quarantine store.
//!
//! The job thread lists the files, worker threads read and store them (header-only parse,
//! content-addressed copy), and the job thread records them in batches, one transaction each,
//! reclassifying the studies each batch touched. A crash loses at most the open batch; blobs
//! written for it are complete files that a re-import finds and reuses.

mod read;
mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use crossbeam_channel::{RecvTimeoutError, bounded};
use serde::Serialize;

pub use read::{FileOutcome, process_file};
pub use walk::{Candidate, collect};

use crate::jobs::JobCtx;
use crate::store::{FileRecord, RecordOutcome, Store, StoreError};

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
const BATCH_SIZE: usize = 400;
const BATCH_AGE: Duration = Duration::from_millis(300);

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
    let mut recorder = Recorder::new(store, report, rejects);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut done = 0u64;
    let result = std::thread::scope(|scope| -> Result<(), ImportError> {
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
        let files = walked.files;
        scope.spawn(move || {
            for c in files.into_iter().enumerate() {
                if stop.load(Ordering::Relaxed) || job_tx.send(c).is_err() {
                    break;
                }
            }
            // job_tx drops here: workers finish what they hold, then their senders close.
        });
        loop {
            if ctx.is_cancelled() && !recorder.report.cancelled {
                recorder.report.cancelled = true;
                stop.store(true, Ordering::Relaxed);
            }
            match out_rx.recv_timeout(BATCH_AGE) {
                Ok((seq, outcome)) => {
                    done += 1;
                    recorder.receive(seq, outcome)?;
                    ctx.progress(done, Some(total), format!("{done} of {total} files"));
                }
                Err(RecvTimeoutError::Timeout) => recorder.flush()?,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        recorder.finish()
    });
    result?;
    ctx.progress(total, Some(total), "done");
    let mut report = recorder.report;
    report.studies = recorder.studies.into_iter().collect();
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The job thread's side of an import: puts the workers' outcomes back in walk order (which
/// of two files with one SOP Instance UID becomes the original must not be luck), batches the
/// records and commits each batch in one transaction.
struct Recorder {
    store: Store,
    report: ImportReport,
    pending: Vec<FileRecord>,
    rejects: Vec<(String, String)>,
    studies: BTreeSet<i64>,
    waiting: BTreeMap<usize, FileOutcome>,
    next_seq: usize,
    last_commit: Instant,
}

impl Recorder {
    fn new(store: Store, report: ImportReport, rejects: Vec<(String, String)>) -> Recorder {
        Recorder {
            store,
            report,
            pending: Vec::new(),
            rejects,
            studies: BTreeSet::new(),
            waiting: BTreeMap::new(),
            next_seq: 0,
            last_commit: Instant::now(),
        }
    }

    fn receive(&mut self, seq: usize, outcome: FileOutcome) -> Result<(), ImportError> {
        self.waiting.insert(seq, outcome);
        while let Some(outcome) = self.waiting.remove(&self.next_seq) {
            self.next_seq += 1;
            self.tally(outcome);
        }
        if self.pending.len() >= BATCH_SIZE || self.last_commit.elapsed() >= BATCH_AGE {
            self.flush()?;
        }
        Ok(())
    }

    /// Records what is left. After a cancel the sequence has holes: what arrived is kept.
    fn finish(&mut self) -> Result<(), ImportError> {
        for (_, outcome) in std::mem::take(&mut self.waiting) {
            self.tally(outcome);
        }
        self.flush()
    }

    fn tally(&mut self, outcome: FileOutcome) {
        let report = &mut self.report;
        match outcome {
            FileOutcome::Record(rec) => self.pending.push(*rec),
            FileOutcome::NotDicom { path, reason } => {
                report.non_dicom += 1;
                report.skipped.push(FileProblem { path, reason });
            }
            FileOutcome::Dicomdir { .. } => report.dicomdirs += 1,
            FileOutcome::Unreadable { path, reason } => {
                self.rejects.push((path.clone(), reason.clone()));
                report.unreadable.push(FileProblem { path, reason });
            }
        }
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        self.last_commit = Instant::now();
        if self.pending.is_empty() && self.rejects.is_empty() {
            return Ok(());
        }
        let outcomes = self.store.record_batch(&self.pending, &self.rejects)?;
        tracing::debug!(
            "recorded {} files in {} ms",
            self.pending.len(),
            self.last_commit.elapsed().as_millis()
        );
        let report = &mut self.report;
        for (rec, o) in self.pending.iter().zip(outcomes) {
            if let Some(id) = o.study_id() {
                self.studies.insert(id);
            }
            let kept_new_bytes = match &o {
                RecordOutcome::New { .. } => {
                    report.new_instances += 1;
                    true
                }
                RecordOutcome::Duplicate { same_bytes, .. } => {
                    report.duplicates += 1;
                    !same_bytes
                }
                RecordOutcome::Variant { .. } => {
                    report.variants += 1;
                    true
                }
                RecordOutcome::Conflict { .. } => {
                    report.conflicts += 1;
                    true
                }
                RecordOutcome::Unstored { reason } => {
                    report.unreadable.push(FileProblem {
                        path: rec.original_path.clone(),
                        reason: reason.clone(),
                    });
                    false
                }
            };
            let errors: Vec<&str> = rec
                .faults
                .iter()
                .filter(|f| f.kind.is_error())
                .map(|f| f.message.as_str())
                .collect();
            if kept_new_bytes && !errors.is_empty() {
                report.broken.push(FileProblem {
                    path: rec.original_path.clone(),
                    reason: errors.join("; "),
                });
            }
        }
        self.pending.clear();
        self.rejects.clear();
        Ok(())
    }
}
