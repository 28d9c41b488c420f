//! The receiver's one writer: it owns the store connection, records what the associations
//! hand it in batches (the flushes shared by whatever arrived together), answers each waiting
//! handler, and tells the desk or the CLI what changed.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::net::commitment::CommitResult;
use crate::net::scp::AssociationInfo;
use crate::store::{AssociationRecord, FileRecord, Store};

/// The most instances recorded in one transaction.
const BATCH: usize = 256;

pub(super) enum Job {
    Opened(AssociationInfo, Sender<Option<i64>>),
    /// An instance; the sender waits for the answer when it gave a channel (strict).
    Record(Box<FileRecord>, Reply),
    Closed(AssociationInfo, usize, String),
    Report(CommitResult, Sender<bool>),
}

/// Where a strict handler waits for its instance to be recorded.
type Reply = Option<Sender<Result<(), String>>>;

/// What the receiver did, for whoever shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Instances were recorded in these studies.
    Stored {
        study_ids: Vec<i64>,
        instances: usize,
    },
    /// An association ended.
    Association {
        calling_ae: String,
        peer_address: String,
        stored: usize,
        how: String,
    },
    /// Instances could not be recorded (they were answered with a failure, or, in grouped
    /// mode, had been answered already: then this is the only trace).
    Failed { instances: usize, why: String },
    /// A Storage Commitment report was recorded.
    Report { transaction_uid: String },
}

pub(super) fn run(
    mut store: Store,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    window: Option<Duration>,
) {
    let mut batch: Vec<(Box<FileRecord>, Reply)> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let job = match deadline {
            Some(d) => match jobs.recv_timeout(d.saturating_duration_since(Instant::now())) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    flush(&mut store, &mut batch, &events);
                    return;
                }
            },
            None => match jobs.recv() {
                Ok(j) => Some(j),
                Err(_) => {
                    flush(&mut store, &mut batch, &events);
                    return;
                }
            },
        };
        match job {
            None => {
                flush(&mut store, &mut batch, &events);
                deadline = None;
            }
            Some(Job::Record(rec, reply)) => {
                batch.push((rec, reply));
                match window {
                    // Grouped: record when the window closes (or the batch is full).
                    Some(w) => {
                        deadline.get_or_insert_with(|| Instant::now() + w);
                        if batch.len() >= BATCH {
                            flush(&mut store, &mut batch, &events);
                            deadline = None;
                        }
                    }
                    // Strict: whatever else is waiting right now shares the flushes.
                    None => {
                        while batch.len() < BATCH {
                            match jobs.try_recv() {
                                Ok(Job::Record(r, reply)) => batch.push((r, reply)),
                                Ok(other) => {
                                    flush(&mut store, &mut batch, &events);
                                    handle(&mut store, other, &events);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        flush(&mut store, &mut batch, &events);
                    }
                }
            }
            Some(Job::Closed(info, stored, how)) => {
                // The association's instances are recorded before it is closed.
                flush(&mut store, &mut batch, &events);
                deadline = None;
                handle(&mut store, Job::Closed(info, stored, how), &events);
            }
            Some(other) => handle(&mut store, other, &events),
        }
    }
}

fn handle(store: &mut Store, job: Job, events: &Sender<Event>) {
    match job {
        Job::Opened(info, reply) => {
            let id = store
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
            if let Some(id) = info.id
                && let Err(e) = store.close_association(id, stored, &how)
            {
                tracing::warn!("cannot record the end of an association: {e}");
            }
            let _ = events.send(Event::Association {
                calling_ae: info.calling_ae,
                peer_address: info.peer_address,
                stored,
                how,
            });
        }
        Job::Report(report, reply) => {
            let ok = store.record_commitment_report(&report).is_ok();
            let _ = reply.send(ok);
            if ok {
                let _ = events.send(Event::Report {
                    transaction_uid: report.transaction_uid,
                });
            }
        }
        Job::Record(rec, reply) => {
            let mut batch = vec![(rec, reply)];
            flush(store, &mut batch, events);
        }
    }
}

fn flush(store: &mut Store, batch: &mut Vec<(Box<FileRecord>, Reply)>, events: &Sender<Event>) {
    if batch.is_empty() {
        return;
    }
    let taken = std::mem::take(batch);
    let (records, replies): (Vec<FileRecord>, Vec<_>) =
        taken.into_iter().map(|(r, s)| (*r, s)).unzip();
    match store.record_batch(&records, &[]) {
        Ok(outcomes) => {
            let mut studies: Vec<i64> = Vec::new();
            for (outcome, reply) in outcomes.iter().zip(replies) {
                let answer = match outcome {
                    crate::store::RecordOutcome::Unstored { reason } => Err(reason.clone()),
                    o => {
                        if let Some(id) = o.study_id()
                            && !studies.contains(&id)
                        {
                            studies.push(id);
                        }
                        Ok(())
                    }
                };
                if let Some(r) = reply {
                    let _ = r.send(answer);
                }
            }
            let _ = events.send(Event::Stored {
                study_ids: studies,
                instances: records.len(),
            });
        }
        Err(e) => {
            let why = e.to_string();
            tracing::error!("cannot record {} received instances: {why}", records.len());
            for r in replies.into_iter().flatten() {
                let _ = r.send(Err(why.clone()));
            }
            let _ = events.send(Event::Failed {
                instances: records.len(),
                why,
            });
        }
    }
}
