//! The receiver's one writer: it owns the store connection, records what the associations
//! accepted into the spool in batches (the flushes shared by whatever arrived together),
//! removes each spool entry once its record is written, retries what it could not record, and
//! tells the desk or the CLI what changed. It never compares copies (the association threads
//! did that before) and never answers a C-STORE: Success was given once the instance was in
//! the spool as promised.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::refusals::Tally;
use crate::fsutil::TempFile;
use crate::net::commitment::CommitResult;
use crate::net::scp::AssociationInfo;
use crate::store::{AssociationRecord, FileRecord, RecordOutcome, ReportVerdict, Store};

/// The most instances recorded in one transaction.
const BATCH: usize = 256;
/// How often refusal counts are written.
const TALLY_EVERY: Duration = Duration::from_secs(10);
/// The longest wait between attempts to record what failed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// An accepted instance: its record, and its spool file (removed once the record is written).
pub(super) struct Spooled {
    pub record: FileRecord,
    pub file: TempFile,
    /// Its data was flushed before Success (strict).
    pub flushed: bool,
}

/// Attempts to record one instance alone before it is left to the next start.
const ATTEMPTS: u32 = 5;

pub(super) enum Job {
    Opened(AssociationInfo, Sender<Option<i64>>),
    Record(Box<Spooled>),
    Closed(AssociationInfo, usize, String),
    /// A caller's first refusal in a minute (the rest are counted by the tally).
    Refused(crate::store::RefusalCount),
    /// A Storage Commitment report from an archive already checked to be the one asked.
    Report {
        report: CommitResult,
        calling_ae: String,
        peer_address: String,
        reply: Sender<Option<ReportVerdict>>,
    },
}

/// What the receiver did, for whoever shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Instances were recorded in these studies.
    Stored {
        study_ids: Vec<i64>,
        instances: usize,
    },
    /// An association ended (or was refused: `how` starts with "refused").
    Association {
        calling_ae: String,
        peer_address: String,
        stored: usize,
        how: String,
    },
    /// Accepted instances could not be recorded yet: they stay in the spool, and recording is
    /// tried again (and on the next start).
    Failed { instances: usize, why: String },
    /// A Storage Commitment report was recorded.
    Report { transaction_uid: String },
}

struct Writer {
    store: Store,
    events: Sender<Event>,
    tally: std::sync::Arc<Tally>,
    /// Accepted, waiting for their batch.
    batch: Vec<Spooled>,
    /// When the open group closes (grouped), or None.
    group_deadline: Option<Instant>,
    /// What failed to record (with its attempts so far), and when to try again.
    retry: Vec<(Spooled, u32)>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

pub(super) fn run(
    store: Store,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    window: Option<Duration>,
    tally: std::sync::Arc<Tally>,
) {
    let mut w = Writer {
        store,
        events,
        tally,
        batch: Vec::new(),
        group_deadline: None,
        retry: Vec::new(),
        retry_at: None,
        backoff: Duration::from_secs(1),
    };
    let mut next_tally = Instant::now() + TALLY_EVERY;
    loop {
        let wake = [w.group_deadline, w.retry_at, Some(next_tally)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_tally);
        match jobs.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(Job::Record(s)) => {
                w.batch.push(*s);
                match window {
                    Some(window) => {
                        w.group_deadline
                            .get_or_insert_with(|| Instant::now() + window);
                        if w.batch.len() >= BATCH {
                            w.flush();
                        }
                    }
                    // Strict (each already flushed): whatever else is waiting shares the batch.
                    None => {
                        let mut other = None;
                        while w.batch.len() < BATCH {
                            match jobs.try_recv() {
                                Ok(Job::Record(s)) => w.batch.push(*s),
                                Ok(job) => {
                                    other = Some(job);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        w.flush();
                        if let Some(job) = other {
                            w.handle(job);
                        }
                    }
                }
            }
            Ok(job) => w.handle(job),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                w.flush();
                w.retry_now();
                w.write_tally();
                let left = w.retry.len();
                if left > 0 {
                    tracing::error!(
                        "{left} accepted instances stay in the spool unrecorded; the next start of the receiver records them"
                    );
                }
                return;
            }
        }
        let now = Instant::now();
        if w.group_deadline.is_some_and(|d| d <= now) {
            w.flush();
        }
        if w.retry_at.is_some_and(|d| d <= now) {
            w.retry_now();
        }
        if next_tally <= now {
            w.write_tally();
            next_tally = now + TALLY_EVERY;
        }
    }
}

impl Writer {
    fn handle(&mut self, job: Job) {
        match job {
            Job::Opened(info, reply) => {
                let id = self
                    .store
                    .open_association(&AssociationRecord {
                        inbound: true,
                        calling_ae: info.calling_ae.clone(),
                        called_ae: info.called_ae.clone(),
                        peer_address: info.peer_address.clone(),
                        implementation_class_uid: info.implementation_class_uid.clone(),
                        implementation_version: info.implementation_version.clone(),
                    })
                    .map_err(|e| tracing::warn!("cannot record an association: {e}"))
                    .ok();
                let _ = reply.send(id);
            }
            Job::Closed(info, stored, how) => {
                // The association's instances are recorded before it is closed.
                self.flush();
                if let Some(id) = info.id
                    && let Err(e) = self.store.close_association(id, stored, &how)
                {
                    tracing::warn!("cannot record the end of an association: {e}");
                }
                let _ = self.events.send(Event::Association {
                    calling_ae: info.calling_ae,
                    peer_address: info.peer_address,
                    stored,
                    how,
                });
            }
            Job::Report {
                report,
                calling_ae,
                peer_address,
                reply,
            } => {
                let verdict = self
                    .store
                    .record_commitment_report(&report, &calling_ae, &peer_address)
                    .map_err(|e| tracing::warn!("cannot record a commitment report: {e}"))
                    .ok();
                let _ = reply.send(verdict);
                if verdict == Some(ReportVerdict::Recorded) {
                    let _ = self.events.send(Event::Report {
                        transaction_uid: report.transaction_uid,
                    });
                }
            }
            Job::Record(s) => {
                self.batch.push(*s);
                self.flush();
            }
            Job::Refused(first) => {
                if let Err(e) = self.store.record_refusals(&[first]) {
                    tracing::warn!("cannot record a refused association: {e}");
                }
            }
        }
    }

    fn flush(&mut self) {
        self.group_deadline = None;
        let batch = std::mem::take(&mut self.batch);
        let failed = self.record(batch, false);
        if !failed.is_empty() {
            self.retry.extend(failed.into_iter().map(|s| (s, 0)));
            self.retry_at.get_or_insert(Instant::now() + self.backoff);
        }
    }

    /// Each instance that failed in a batch is tried alone: one that cannot be recorded must
    /// not hold up the others.
    fn retry_now(&mut self) {
        self.retry_at = None;
        for (s, attempts) in std::mem::take(&mut self.retry) {
            if let Some(failed) = self.record(vec![s], true).pop() {
                if attempts + 1 >= ATTEMPTS {
                    tracing::error!(
                        "received instance {} still cannot be recorded after {ATTEMPTS} attempts; it stays in the spool for the next start",
                        failed.file.path().display()
                    );
                } else {
                    self.retry.push((failed, attempts + 1));
                }
            }
        }
        if !self.retry.is_empty() {
            self.retry_at = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Records a batch; returns what failed (it stays in the spool, to be tried again).
    fn record(&mut self, batch: Vec<Spooled>, retrying: bool) -> Vec<Spooled> {
        if batch.is_empty() {
            return Vec::new();
        }
        let flushed = batch.iter().all(|s| s.flushed);
        let mut records = Vec::with_capacity(batch.len());
        let mut files = Vec::with_capacity(batch.len());
        for s in batch {
            let Spooled {
                record,
                file,
                flushed,
            } = s;
            records.push(record);
            files.push((file, flushed));
        }
        let outcome = if flushed {
            self.store.record_flushed_batch(&records)
        } else {
            self.store.record_batch(&records, &[])
        };
        match outcome {
            Ok(outcomes) => {
                if retrying {
                    tracing::warn!(
                        "{} received instances kept in the spool are recorded now",
                        records.len()
                    );
                }
                self.backoff = Duration::from_secs(1);
                let mut studies: Vec<i64> = Vec::new();
                let instances = records.len();
                drop(records);
                for (outcome, (file, _)) in outcomes.iter().zip(files) {
                    match outcome {
                        // A damaged store file that could not be repaired: the spool keeps
                        // its copy for the next start.
                        RecordOutcome::Unstored { reason } => tracing::error!(
                            "received instance {} not recorded ({reason}); kept in the spool",
                            file.path().display()
                        ),
                        o => {
                            if let Some(id) = o.study_id()
                                && !studies.contains(&id)
                            {
                                studies.push(id);
                            }
                            if let Err(e) = file.discard() {
                                tracing::warn!("cannot remove a recorded spool entry: {e}");
                            }
                        }
                    }
                }
                let _ = self.events.send(Event::Stored {
                    study_ids: studies,
                    instances,
                });
                Vec::new()
            }
            Err(e) => {
                let why = e.to_string();
                let n = records.len();
                if !retrying {
                    tracing::error!(
                        "cannot record {n} received instances: {why}; they stay in the spool and recording is tried again"
                    );
                    let _ = self.events.send(Event::Failed {
                        instances: n,
                        why: format!("{why} (kept in the spool; recording is tried again)"),
                    });
                }
                records
                    .into_iter()
                    .zip(files)
                    .map(|(record, (file, flushed))| Spooled {
                        record,
                        file,
                        flushed,
                    })
                    .collect()
            }
        }
    }

    fn write_tally(&mut self) {
        let counts = self.tally.take();
        if let Err(e) = self.store.record_refusals(&counts) {
            tracing::warn!("cannot record refused associations: {e}");
        }
    }
}
