//! The recording side of an import, a pipeline of three stages with one batch in each:
//! the job thread puts the workers' outcomes back in walk order (which of two files with one
//! SOP Instance UID becomes the original must not be luck) and batches the records; an
//! installer thread makes a batch's files durable under their final names (two file-system
//! flushes per batch); a committer thread, owning the store, commits the installed batch in
//! one transaction. Reading, flushing and committing overlap.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::{BATCH_AGE, BATCH_SIZE, FileOutcome, FileProblem, ImportReport};
use crate::store::{FileRecord, RecordOutcome, Store, StoreError};

/// Records and unreadable paths to commit together.
pub(super) struct Batch {
    records: Vec<FileRecord>,
    rejects: Vec<(String, String)>,
}

/// The committer has gone (it failed; its error is reported when it is joined).
#[derive(Debug)]
pub(super) struct Disconnected;

/// The job thread's side: ordering, tallying what needs no store, batching.
pub(super) struct Recorder {
    pub report: ImportReport,
    pending: Vec<FileRecord>,
    rejects: Vec<(String, String)>,
    waiting: BTreeMap<usize, FileOutcome>,
    next_seq: usize,
    last_commit: Instant,
    batches: Option<Sender<Batch>>,
}

impl Recorder {
    pub fn new(
        report: ImportReport,
        rejects: Vec<(String, String)>,
        batches: Sender<Batch>,
    ) -> Recorder {
        Recorder {
            report,
            pending: Vec::new(),
            rejects,
            waiting: BTreeMap::new(),
            next_seq: 0,
            last_commit: Instant::now(),
            batches: Some(batches),
        }
    }

    /// The first sequence number not yet back in walk order.
    pub fn next_seq(&self) -> usize {
        self.next_seq
    }

    pub fn receive(&mut self, seq: usize, outcome: FileOutcome) -> Result<(), Disconnected> {
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

    /// Sends what is left. After a cancel the sequence has holes: what arrived is kept.
    pub fn finish(&mut self) -> Result<(), Disconnected> {
        for (_, outcome) in std::mem::take(&mut self.waiting) {
            self.tally(outcome);
        }
        self.flush()
    }

    /// No more batches: the committer finishes what it has and ends.
    pub fn close(&mut self) {
        self.batches = None;
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

    /// Hands the pending records to the committer (waiting while it commits the previous
    /// batch: reading never runs more than one batch ahead of the store).
    pub fn flush(&mut self) -> Result<(), Disconnected> {
        self.last_commit = Instant::now();
        if self.pending.is_empty() && self.rejects.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            records: std::mem::take(&mut self.pending),
            rejects: std::mem::take(&mut self.rejects),
        };
        match &self.batches {
            Some(tx) => tx.send(batch).map_err(|_| Disconnected),
            None => Err(Disconnected),
        }
    }
}

/// What the committer learned from the store about the records it committed.
#[derive(Default)]
pub(super) struct Committed {
    new_instances: u64,
    duplicates: u64,
    variants: u64,
    conflicts: u64,
    broken: Vec<FileProblem>,
    unstored: Vec<FileProblem>,
    studies: BTreeSet<i64>,
}

impl Committed {
    pub fn merge_into(self, report: &mut ImportReport) {
        report.new_instances += self.new_instances;
        report.duplicates += self.duplicates;
        report.variants += self.variants;
        report.conflicts += self.conflicts;
        report.broken.extend(self.broken);
        report.unreadable.extend(self.unstored);
        report.studies = self.studies.into_iter().collect();
    }

    fn tally(&mut self, rec: &FileRecord, o: RecordOutcome) {
        if let Some(id) = o.study_id() {
            self.studies.insert(id);
        }
        let kept_new_bytes = match &o {
            RecordOutcome::New { .. } => {
                self.new_instances += 1;
                true
            }
            RecordOutcome::Duplicate { same_bytes, .. } => {
                self.duplicates += 1;
                !same_bytes
            }
            RecordOutcome::Variant { .. } => {
                self.variants += 1;
                true
            }
            RecordOutcome::Conflict { .. } => {
                self.conflicts += 1;
                true
            }
            RecordOutcome::Unstored { reason } => {
                self.unstored.push(FileProblem {
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
            self.broken.push(FileProblem {
                path: rec.original_path.clone(),
                reason: errors.join("; "),
            });
        }
    }
}

/// The installer thread: each batch's staged files made durable under their final names, in
/// order, then handed on.
pub(super) fn install_batches(
    blobs: &crate::store::BlobStore,
    batches: Receiver<Batch>,
    installed: Sender<Batch>,
) -> Result<(), StoreError> {
    for batch in batches {
        blobs.install(batch.records.iter().map(|r| &r.staged))?;
        if installed.send(batch).is_err() {
            break; // the committer failed; it reports why
        }
    }
    Ok(())
}

/// The committer thread: each installed batch committed, in order.
pub(super) fn commit_batches(
    mut store: Store,
    batches: Receiver<Batch>,
) -> Result<Committed, StoreError> {
    let mut committed = Committed::default();
    for batch in batches {
        let started = Instant::now();
        let outcomes = store.commit_batch(&batch.records, &batch.rejects)?;
        tracing::debug!(
            "recorded {} files in {} ms",
            batch.records.len(),
            started.elapsed().as_millis()
        );
        for (rec, o) in batch.records.iter().zip(outcomes) {
            committed.tally(rec, o);
        }
    }
    Ok(committed)
}
