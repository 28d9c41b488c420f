//! Resubmission: the send queue's runner. Jobs (a study for an archive node, queued in the
//! store) are claimed one at a time, sent over an association proposing each file's own
//! transfer syntax plus the uncompressed ones (transcoding when the archive refuses a
//! compressed one), retried with backoff on refusal, timeout or abort, and proven by Storage
//! Commitment or by a query. The desk, `qcdesk listen` and `qcdesk send` all run it, but
//! only the process holding the team's [`RUNNER_LEASE`] sends: one sender per team however
//! many desks and services are open (another takes over within [`RUNNER_LEASE_TIME`] of the
//! holder's death).

mod encode;
mod job;
mod proof;
pub mod readiness;
pub mod stale;

pub use proof::QueryError;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::store::{Held, Keeper, Store, StoreError};

/// The lease whose holder runs the send queue.
pub const RUNNER_LEASE: &str = "send runner";
/// How long the runner's lease lasts unless renewed (its keeper renews four times a lease).
pub const RUNNER_LEASE_TIME: Duration = Duration::from_secs(30);

/// Holds the runner's lease for as long as this process may send: taken when free, kept by a
/// keeper, taken again if it was lost. None: another process sends.
fn runner_lease(store: &mut Store, held: &mut Option<Keeper>) -> Result<bool, StoreError> {
    if held.as_ref().is_some_and(Keeper::lost) {
        *held = None;
    }
    if held.is_none() && store.try_lease(RUNNER_LEASE, RUNNER_LEASE_TIME)? {
        *held = Some(store.keeper(Held::Lease(RUNNER_LEASE.into()), RUNNER_LEASE_TIME)?);
    }
    Ok(held.is_some())
}

pub use crate::config::SendConfig;
pub use encode::dataset_for;

/// How far a job got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub job: i64,
    pub done: usize,
    pub total: usize,
}

/// How an attempt at a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Verified,
    /// Every instance sent, and the archive offers no way to prove it.
    Unverified(String),
    Failed(String),
    /// Queued again for a later attempt.
    Retry(String),
    Cancelled,
}

/// What a background runner reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEvent {
    Progress(Progress),
    Ended { job: i64, end: JobEnd },
    Error(String),
}

/// Claims the next due job and runs one attempt at it. None: nothing is due.
pub fn run_next(
    store: &mut Store,
    owner: &str,
    cfg: &SendConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<(i64, JobEnd)>, StoreError> {
    let Some(job) = store.claim_send_job(owner)? else {
        return Ok(None);
    };
    let node = match store.node(&job.node) {
        Ok(n) => n,
        Err(e) => {
            let why = format!("node {}: {e}", job.node);
            store.set_send_state(job.id, crate::model::SendState::Failed, &why, None, true)?;
            return Ok(Some((job.id, JobEnd::Failed(why))));
        }
    };
    let (peer, _embedded) = match crate::embedded::peer_for(store, &node) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("node {}: {e}", job.node);
            store.set_send_state(job.id, crate::model::SendState::Failed, &why, None, true)?;
            return Ok(Some((job.id, JobEnd::Failed(why))));
        }
    };
    let end = job::run(store, &job, &peer, cfg, progress)?;
    if matches!(end, JobEnd::Verified | JobEnd::Unverified(_)) {
        check_stale(store, job.study_id, job.id, &peer)?;
    }
    Ok(Some((job.id, end)))
}

/// After a corrected study is sent: what the archive still holds under its old identities,
/// recorded with the job. A failed query is logged, not a failure of the send.
pub fn check_stale(
    store: &mut Store,
    study_id: i64,
    job: i64,
    peer: &crate::net::Peer,
) -> Result<Vec<crate::store::StaleCopy>, StoreError> {
    let ids = store.study_identities(study_id)?;
    if !ids.corrected {
        return Ok(Vec::new());
    }
    match stale::find_stale(peer, &ids) {
        Ok(found) => {
            store.set_send_stale(job, &found)?;
            Ok(found)
        }
        Err(e) => {
            tracing::warn!("job {job}: cannot look for stale copies: {e:?}");
            Ok(Vec::new())
        }
    }
}

/// Runs due jobs until none is. With `wait`, also waits for the retries of `jobs` until each
/// is final.
pub fn run_jobs(
    store: &mut Store,
    owner: &str,
    cfg: &SendConfig,
    jobs: &[i64],
    wait: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), StoreError> {
    let mut lease = None;
    loop {
        let mine = runner_lease(store, &mut lease)?;
        if mine {
            // The lease is looked at again before each job: lost, another sends the rest.
            while runner_lease(store, &mut lease)?
                && run_next(store, owner, cfg, progress)?.is_some()
            {}
        }
        let transfers = store.transfers(Some(jobs))?;
        // Without waiting: one attempt at each, by this process or by the runner that holds
        // the lease (a desk, the service).
        let done = if wait {
            transfers.iter().all(|t| t.state.is_final())
        } else {
            mine || transfers.iter().all(|t| {
                t.state.is_final() || (t.state == crate::model::SendState::Queued && t.attempts > 0)
            })
        };
        if done {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A runner on a thread of its own (the desk, `qcdesk listen`): runs due jobs as they come.
pub struct Runner {
    stop: Arc<AtomicBool>,
    wake: Sender<()>,
    events: Receiver<SendEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Runner {
    /// `kind`: who the runner's lease names (the desk, the service). The runner's store is
    /// opened on its own thread (a caller's frame never waits on the database); a failure to
    /// open it is reported as an event.
    pub fn start(root: &Path, cfg: SendConfig, kind: crate::model::ActorKind) -> Runner {
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = crossbeam_channel::unbounded::<()>();
        let (tx, events) = crossbeam_channel::unbounded();
        let flag = Arc::clone(&stop);
        let owner = crate::store::owner_name("runner");
        let root = root.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("send-runner".into())
            .spawn(move || {
                let mut store = match Store::open(&root) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ =
                            tx.send(SendEvent::Error(format!("the send queue cannot run: {e}")));
                        return;
                    }
                };
                store.set_actor(crate::store::this_process(kind, ""));
                let mut lease = None;
                while !flag.load(Ordering::SeqCst) {
                    let mut progress = |p: Progress| {
                        let _ = tx.send(SendEvent::Progress(p));
                    };
                    let next = match runner_lease(&mut store, &mut lease) {
                        Ok(true) => run_next(&mut store, &owner, &cfg, &mut progress),
                        // Another process sends; this one looks again in a while.
                        Ok(false) => Ok(None),
                        Err(e) => Err(e),
                    };
                    match next {
                        Ok(Some((job, end))) => {
                            let _ = tx.send(SendEvent::Ended { job, end });
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = tx.send(SendEvent::Error(e.to_string()));
                        }
                    }
                    let _ = woken.recv_timeout(Duration::from_secs(1));
                }
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("cannot start the send runner: {e}");
                None
            }
        };
        Runner {
            stop,
            wake,
            events,
            thread,
        }
    }

    /// Look for due jobs now (one was just queued).
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    pub fn events(&self) -> &Receiver<SendEvent> {
        &self.events
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
