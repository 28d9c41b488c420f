//! One attempt at one job: send the pending instances over one association, record each
//! archive answer, then prove arrival. Every outcome ends in the store: an instance is `sent`
//! only when the archive said so, and a job is `verified` only once a proof says so.

use std::time::{Duration, Instant};

use super::encode::dataset_for;
use super::proof::{self, Expected};
use super::{JobEnd, Progress, SendConfig};
use crate::net::commitment::CommitResult;
use crate::net::{NetError, Peer, StatusKind, StoreAssociation};
use crate::store::{ItemResult, SendItem, SendJob, Store, StoreError};

/// How long an extra association may take to be accepted before its share goes to the others.
const EXTRA_ASSOCIATION_WAIT: Duration = Duration::from_secs(3);

/// Results are written at least this often (and at the end).
const RECORD_EVERY: Duration = Duration::from_millis(500);

fn retry_or_fail(
    store: &mut Store,
    job: &SendJob,
    cfg: &SendConfig,
    why: String,
) -> Result<JobEnd, StoreError> {
    if job.attempts + 1 >= cfg.retries {
        store.fail_pending_items(job.id, &why)?;
        store.set_send_state(
            job.id,
            crate::model::SendState::Failed,
            &format!("gave up after {} attempts: {why}", job.attempts + 1),
            None,
            true,
        )?;
        return Ok(JobEnd::Failed(why));
    }
    let wait = (cfg.backoff_seconds * 3i64.pow(job.attempts.clamp(0, 5) as u32)).min(600);
    store.set_send_state(
        job.id,
        crate::model::SendState::Queued,
        &why,
        Some(wait),
        true,
    )?;
    Ok(JobEnd::Retry(why))
}

/// Runs `job` (claimed by the caller) against `peer`.
pub fn run(
    store: &mut Store,
    job: &SendJob,
    peer: &Peer,
    cfg: &SendConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<JobEnd, StoreError> {
    let all = store.send_items(job.id, false)?;
    let pending: Vec<SendItem> = all
        .iter()
        .filter(|i| i.state == "pending")
        .cloned()
        .collect();
    let total = all.len();
    let done = total - pending.len();
    progress(Progress {
        job: job.id,
        done,
        total,
    });
    let mut assoc: Option<Box<StoreAssociation>> = None;
    let mut done = done;
    // An association carries at most 127 (SOP class, transfer syntax) contexts besides Storage
    // Commitment: a study of more kinds goes over several rounds of associations.
    for batch in by_contexts(&pending, MAX_PAIRS) {
        match send_pending(store, job, peer, cfg, &batch, done, total, progress)? {
            Sent::All(a) => {
                if let Some(earlier) = assoc.take() {
                    earlier.release();
                }
                assoc = a;
            }
            Sent::Cancelled => return Ok(JobEnd::Cancelled),
            Sent::Stopped(why) => return retry_or_fail(store, job, cfg, why),
        }
        done += batch.len();
    }
    let items = store.send_items(job.id, false)?;
    let failed = store
        .transfers(Some(&[job.id]))?
        .first()
        .map(|t| t.failed)
        .unwrap_or(0);
    if failed > 0 {
        if let Some(a) = assoc {
            a.release();
        }
        let why =
            format!("{failed} of {total} instances could not be sent (see each one's reason)");
        store.set_send_state(job.id, crate::model::SendState::Failed, &why, None, true)?;
        return Ok(JobEnd::Failed(why));
    }
    store.set_send_state(job.id, crate::model::SendState::Verifying, "", None, false)?;
    prove(store, job, peer, cfg, assoc, &items)
}

/// The most (SOP class, transfer syntax) pairs one association proposes for instances (one
/// more context is kept for Storage Commitment; 128 is the protocol's limit).
const MAX_PAIRS: usize = 127;

/// `items` in batches of at most `max` distinct (SOP class, transfer syntax) pairs, each pair's
/// instances together.
fn by_contexts(items: &[SendItem], max: usize) -> Vec<Vec<SendItem>> {
    let mut by_pair: std::collections::BTreeMap<(&str, &str), Vec<SendItem>> = Default::default();
    for i in items {
        by_pair
            .entry((i.sop_class.as_str(), i.transfer_syntax.as_str()))
            .or_default()
            .push(i.clone());
    }
    let pairs: Vec<Vec<SendItem>> = by_pair.into_values().collect();
    pairs.chunks(max.max(1)).map(|c| c.concat()).collect()
}

/// How sending the pending instances ended.
enum Sent {
    /// Every instance has the archive's answer; the association kept for the proof.
    All(Option<Box<StoreAssociation>>),
    Cancelled,
    /// A network failure, or instances the archive had no room for: try again later.
    Stopped(String),
}

/// What a sending association reports.
enum FromWorker {
    /// Association `n` opened (to be remembered with the archive's implementation).
    Opened(usize, crate::store::AssociationRecord),
    Answer(ItemResult),
    Lost(NetError),
    /// Association `n` carried this many instances and ended so.
    Ended(usize, usize, String),
    Done(Box<StoreAssociation>),
}

/// Sends `pending` over `cfg.associations` associations at once (the archive takes them in
/// parallel), recording the archive's answers as they come.
#[allow(clippy::too_many_arguments)]
fn send_pending(
    store: &mut Store,
    job: &SendJob,
    peer: &Peer,
    cfg: &SendConfig,
    pending: &[SendItem],
    mut done: usize,
    total: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sent, StoreError> {
    let workers = cfg.associations.clamp(1, 8).min(pending.len());
    // The instances wait in one queue the associations take from: one that cannot open (an
    // archive serving one association at a time) leaves its share to the others.
    let (queue_tx, queue) = crossbeam_channel::unbounded::<&SendItem>();
    for item in pending {
        let _ = queue_tx.send(item);
    }
    drop(queue_tx);
    let wanted: Vec<(String, String)> = pending
        .iter()
        .map(|i| (i.sop_class.clone(), i.transfer_syntax.clone()))
        .collect();
    let blobs = store.blobs();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (tx, rx) = crossbeam_channel::unbounded::<FromWorker>();
    std::thread::scope(|s| {
        for n in 0..workers {
            let (tx, blobs, stop) = (tx.clone(), std::sync::Arc::clone(&blobs), &stop);
            let (queue, wanted) = (queue.clone(), &wanted);
            s.spawn(move || {
                // Storage Commitment is asked on the first association only.
                let opened = if n == 0 {
                    StoreAssociation::open(peer, wanted, cfg.commitment)
                } else {
                    StoreAssociation::open_within(peer, wanted, false, EXTRA_ASSOCIATION_WAIT)
                };
                let mut a = match opened {
                    Ok(a) => a,
                    Err(e) if n == 0 => {
                        let _ = tx.send(FromWorker::Lost(e));
                        return;
                    }
                    Err(e) => {
                        tracing::info!("sending over fewer associations: {e}");
                        return;
                    }
                };
                let (class, version) = a.association().peer_implementation();
                let _ = tx.send(FromWorker::Opened(
                    n,
                    crate::store::AssociationRecord {
                        inbound: false,
                        calling_ae: peer.calling_ae.clone(),
                        called_ae: peer.ae_title.clone(),
                        peer_address: format!("{}:{}", peer.host, peer.port),
                        implementation_class_uid: class,
                        implementation_version: version,
                    },
                ));
                let mut carried = 0usize;
                while let Ok(item) = queue.try_recv() {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    match send_one(&blobs, &mut a, item) {
                        Ok(r) => {
                            carried += 1;
                            let _ = tx.send(FromWorker::Answer(r));
                        }
                        Err(e) => {
                            a.abort();
                            let _ = tx.send(FromWorker::Ended(n, carried, format!("{e}")));
                            let _ = tx.send(FromWorker::Lost(e));
                            return;
                        }
                    }
                }
                let _ = tx.send(FromWorker::Ended(n, carried, "released".into()));
                // Released at once, so an archive serving one association at a time takes
                // the next; the one for the proof stays open.
                if n == 0 && a.offers_commitment() {
                    let _ = tx.send(FromWorker::Done(Box::new(a)));
                } else {
                    a.release();
                }
            });
        }
        drop(tx);
        let mut results = Vec::new();
        let mut last_record = Instant::now();
        let mut busy = 0usize;
        let mut lost: Option<String> = None;
        let mut cancelled = false;
        let mut kept: Vec<Box<StoreAssociation>> = Vec::new();
        let mut opened: std::collections::HashMap<usize, i64> = Default::default();
        for msg in rx {
            match msg {
                FromWorker::Answer(r) => {
                    if r.state.is_none() {
                        busy += 1;
                    }
                    results.push(r);
                    done += 1;
                }
                FromWorker::Lost(e) => {
                    // The other associations finish their instances; the rest stays pending.
                    lost.get_or_insert(e.to_string());
                }
                FromWorker::Done(a) => kept.push(a),
                FromWorker::Opened(n, record) => {
                    // Remembering the peer must not stop the send.
                    if let Ok(id) = store.open_association(&record) {
                        opened.insert(n, id);
                    }
                }
                FromWorker::Ended(n, carried, outcome) => {
                    if let Some(id) = opened.remove(&n) {
                        let _ = store.close_association(id, carried, &outcome);
                    }
                }
            }
            if last_record.elapsed() >= RECORD_EVERY {
                store.record_send_results(job.id, &results)?;
                results.clear();
                last_record = Instant::now();
                progress(Progress {
                    job: job.id,
                    done,
                    total,
                });
                if !cancelled && !store.heartbeat_send_job(job.id)? {
                    cancelled = true;
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
        store.record_send_results(job.id, &results)?;
        progress(Progress {
            job: job.id,
            done,
            total,
        });
        // The association that offers Storage Commitment is kept for the proof.
        let mut proof = None;
        for a in kept {
            if proof.is_none() && a.offers_commitment() && !cancelled && lost.is_none() {
                proof = Some(a);
            } else {
                a.release();
            }
        }
        if cancelled {
            return Ok(Sent::Cancelled);
        }
        if let Some(why) = lost {
            return Ok(Sent::Stopped(why));
        }
        if busy > 0 {
            return Ok(Sent::Stopped(format!(
                "the archive was out of resources for {busy} instances"
            )));
        }
        Ok(Sent::All(proof))
    })
}

/// Sends one instance; an Err is a network failure that ends the association.
fn send_one(
    blobs: &crate::store::BlobStore,
    assoc: &mut StoreAssociation,
    item: &SendItem,
) -> Result<ItemResult, NetError> {
    let failed = |message: String| ItemResult {
        instance_id: item.instance_id,
        state: Some("failed"),
        status: None,
        message,
        sent_as: String::new(),
    };
    // An archive files an instance by its UIDs: one without them is for correction, not for
    // sending.
    if item.sop_uid.trim().is_empty() || item.sop_class.trim().is_empty() {
        return Ok(failed(
            "the instance has no SOP Instance UID or SOP Class UID: correct it before sending"
                .into(),
        ));
    }
    let Some((context, ts)) = assoc.context(&item.sop_class, &item.transfer_syntax) else {
        return Ok(failed(format!(
            "the archive accepts no {} ({})",
            crate::dicom::uids::sop_class_name(&item.sop_class),
            item.sop_class
        )));
    };
    let path = blobs.path(&item.blob_hash);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return Ok(failed(format!("cannot read {}: {e}", path.display()))),
    };
    let data = match dataset_for(&bytes, item.dataset_offset, &item.transfer_syntax, &ts) {
        Ok(d) => d,
        Err(why) => return Ok(failed(why)),
    };
    let status = assoc.store(context, &item.sop_class, &item.sop_uid, data)?;
    // The code is kept apart (`status`); the message says what it means.
    let message = match (status.code, &status.comment) {
        (0, _) => String::new(),
        (_, Some(c)) if !c.is_empty() => format!("{}: {c}", status.meaning()),
        _ => status.meaning().to_string(),
    };
    let state = match status.kind() {
        StatusKind::Success | StatusKind::Warning => Some("sent"),
        // Out of resources: worth another attempt later.
        StatusKind::Failure if status.code & 0xFF00 == 0xA700 => None,
        _ => Some("failed"),
    };
    Ok(ItemResult {
        instance_id: item.instance_id,
        state,
        status: Some(status.code),
        message,
        sent_as: ts,
    })
}

/// Storage Commitment where the archive offers it; a query otherwise (or when no report
/// comes in time).
fn prove(
    store: &mut Store,
    job: &SendJob,
    peer: &Peer,
    cfg: &SendConfig,
    assoc: Option<Box<StoreAssociation>>,
    items: &[SendItem],
) -> Result<JobEnd, StoreError> {
    let mut note = String::new();
    if cfg.commitment {
        let assoc = match assoc {
            Some(a) => Ok(*a),
            None => StoreAssociation::open(peer, &[], true),
        };
        match assoc {
            Ok(mut a) if a.offers_commitment() => {
                // A new transaction each attempt: a report is a verdict that is never
                // overwritten, and an earlier attempt's report must not answer this one.
                let uid = crate::dicom::uids::new_uid(job.id);
                store.set_send_transaction(job.id, &uid)?;
                let request = CommitResult {
                    transaction_uid: uid.clone(),
                    committed: items
                        .iter()
                        .map(|i| (i.sop_class.clone(), i.sop_uid.clone()))
                        .collect(),
                    failed: Vec::new(),
                };
                match a.request_commitment(&request) {
                    Ok(()) => {
                        // The report comes on this association or on a new one to our
                        // receiver (which records it): both are watched.
                        let deadline =
                            Instant::now() + Duration::from_secs(cfg.commitment_wait_seconds);
                        let mut link = Some(a);
                        loop {
                            if let Some(l) = link.as_mut() {
                                match l.poll_report(&uid, Duration::from_millis(50)) {
                                    Ok(Some(report)) => {
                                        store.record_commitment_report(
                                            &report,
                                            &peer.ae_title,
                                            &format!("{}:{}", peer.host, peer.port),
                                        )?;
                                    }
                                    Ok(None) => {}
                                    // The association is gone; the report may still come.
                                    Err(_) => {
                                        if let Some(l) = link.take() {
                                            l.abort();
                                        }
                                    }
                                }
                            } else {
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            if let Some((committed, failed)) = store.commitment_report(&uid)? {
                                if let Some(l) = link.take() {
                                    l.release();
                                }
                                return judge_commitment(store, job, items, &committed, &failed);
                            }
                            if Instant::now() >= deadline {
                                break;
                            }
                        }
                        if let Some(l) = link.take() {
                            l.release();
                        }
                        note = format!(
                            "no Storage Commitment report within {} s; ",
                            cfg.commitment_wait_seconds
                        );
                    }
                    Err(e) => {
                        a.abort();
                        note = format!("Storage Commitment failed ({e}); ");
                    }
                }
            }
            Ok(a) => {
                a.release();
                note = "the archive does not offer Storage Commitment; ".into();
            }
            Err(NetError::NotSupported { .. }) => {
                note = "the archive does not offer Storage Commitment; ".into();
            }
            Err(e) => return retry_or_fail(store, job, cfg, e.to_string()),
        }
    }
    let expected = Expected::of(store, job, items)?;
    match proof::query(peer, &expected) {
        Ok(()) => {
            let uids: Vec<String> = items.iter().map(|i| i.sop_uid.clone()).collect();
            store.set_send_verified(job.id, "query", &uids)?;
            Ok(JobEnd::Verified)
        }
        // Sent, and nothing can prove it: said so, not retried.
        Err(proof::QueryError::Net(e @ NetError::NotSupported { .. })) => {
            let why = format!("{note}arrival cannot be proven: {e}");
            store.set_send_state(job.id, crate::model::SendState::Sent, &why, None, true)?;
            Ok(JobEnd::Unverified(why))
        }
        Err(proof::QueryError::Net(e)) => retry_or_fail(store, job, cfg, format!("{note}{e}")),
        Err(proof::QueryError::Mismatch(why)) => {
            let why = format!("{note}the archive's answer does not match what was sent: {why}");
            store.set_send_state(job.id, crate::model::SendState::Failed, &why, None, true)?;
            Ok(JobEnd::Failed(why))
        }
    }
}

fn judge_commitment(
    store: &mut Store,
    job: &SendJob,
    items: &[SendItem],
    committed: &[String],
    failed: &[(String, u16)],
) -> Result<JobEnd, StoreError> {
    let missing: Vec<(String, String)> = items
        .iter()
        .filter(|i| !committed.contains(&i.sop_uid))
        .map(|i| {
            let why = failed
                .iter()
                .find(|(uid, _)| *uid == i.sop_uid)
                .map(|(_, r)| {
                    format!(
                        "not committed: {} ({r:04X}H)",
                        crate::net::commitment::failure_reason(*r)
                    )
                })
                .unwrap_or_else(|| "not named in the commitment report".into());
            (i.sop_uid.clone(), why)
        })
        .collect();
    if missing.is_empty() {
        store.set_send_verified(job.id, "storage_commitment", committed)?;
        return Ok(JobEnd::Verified);
    }
    store.set_send_uncommitted(job.id, &missing)?;
    let why = format!(
        "the archive did not commit {} of {} instances",
        missing.len(),
        items.len()
    );
    store.set_send_state(job.id, crate::model::SendState::Failed, &why, None, true)?;
    Ok(JobEnd::Failed(why))
}
