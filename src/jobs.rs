//! Background jobs: every task that can take longer than a frame (import, demo generation,
//! loading the queue) runs on its own thread and reports through one channel of [`JobEvent`]s.
//! The UI drains the channel in `logic()`; the CLI prints from it. A waker (the UI's
//! `request_repaint`) is called after each event so nobody polls.
//!
//! A set of jobs has one result type `R`, chosen by its owner (the desk's is an enum with a
//! variant per kind of job; a command's is what its one job returns): results are typed, never
//! cast back. A job's closure sees only a [`JobCtx`] (progress, cancellation), whatever `R`.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

pub type JobId = u64;

/// What a finished job produced, or why it failed.
pub type JobResult<R> = Result<R, String>;

pub enum JobEvent<R> {
    Started {
        id: JobId,
        title: String,
    },
    Progress {
        id: JobId,
        done: u64,
        total: Option<u64>,
        note: String,
    },
    Finished {
        id: JobId,
        outcome: JobResult<R>,
    },
}

impl<R> std::fmt::Debug for JobEvent<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobEvent::Started { id, title } => write!(f, "Started({id}, {title})"),
            JobEvent::Progress {
                id,
                done,
                total,
                note,
            } => {
                write!(f, "Progress({id}, {done}/{total:?}, {note})")
            }
            JobEvent::Finished { id, outcome } => {
                write!(
                    f,
                    "Finished({id}, {})",
                    if outcome.is_ok() { "ok" } else { "failed" }
                )
            }
        }
    }
}

type WakeFn = Arc<dyn Fn() + Send + Sync>;

/// Starts jobs and hands out their events.
pub struct Jobs<R> {
    tx: Sender<JobEvent<R>>,
    rx: Receiver<JobEvent<R>>,
    next_id: AtomicU64,
    wake: WakeFn,
}

/// Lets the starter of a job cancel it.
#[derive(Debug, Clone)]
pub struct JobHandle {
    pub id: JobId,
    cancel: Arc<AtomicBool>,
}

impl JobHandle {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// How a job's progress reaches its set's channel, whatever the set's result type.
type ProgressFn = Box<dyn Fn(JobId, u64, Option<u64>, String) + Send>;

/// Given to the job's closure: report progress, check for cancellation.
pub struct JobCtx {
    id: JobId,
    report: ProgressFn,
    cancel: Arc<AtomicBool>,
    last_progress: Cell<Option<Instant>>,
}

/// Progress events closer together than this are dropped (the last one always goes).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(40);

impl JobCtx {
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Reports progress; throttled, except when `done == total`.
    pub fn progress(&self, done: u64, total: Option<u64>, note: impl Into<String>) {
        let now = Instant::now();
        let due = self
            .last_progress
            .get()
            .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
        if !due && total != Some(done) {
            return;
        }
        self.last_progress.set(Some(now));
        (self.report)(self.id, done, total, note.into());
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

impl<R: Send + 'static> Default for Jobs<R> {
    fn default() -> Self {
        Jobs::new(|| {})
    }
}

impl<R: Send + 'static> Jobs<R> {
    /// `wake` is called after every event (the UI passes `ctx.request_repaint`).
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Jobs<R> {
        let (tx, rx) = unbounded();
        Jobs {
            tx,
            rx,
            next_id: AtomicU64::new(1),
            wake: Arc::new(wake),
        }
    }

    /// Runs `work` on a new thread. A panic inside is reported as a failure, not lost.
    pub fn spawn(
        &self,
        title: impl Into<String>,
        work: impl FnOnce(&JobCtx) -> Result<R, String> + Send + 'static,
    ) -> JobHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, wake) = (self.tx.clone(), Arc::clone(&self.wake));
        let ctx = JobCtx {
            id,
            report: Box::new(move |id, done, total, note| {
                // The receiver only goes away when the app shuts down: nothing to tell then.
                let _ = tx.send(JobEvent::Progress {
                    id,
                    done,
                    total,
                    note,
                });
                wake();
            }),
            cancel: Arc::clone(&cancel),
            last_progress: Cell::new(None),
        };
        let title = title.into();
        let _ = self.tx.send(JobEvent::Started {
            id,
            title: title.clone(),
        });
        (self.wake)();
        let (tx, wake) = (self.tx.clone(), Arc::clone(&self.wake));
        let spawned = std::thread::Builder::new()
            .name(format!("job-{id}"))
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| work(&ctx))).unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    Err(format!("internal error in '{title}': {msg}"))
                });
                let _ = tx.send(JobEvent::Finished { id, outcome });
                wake();
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(JobEvent::Finished {
                id,
                outcome: Err(format!("cannot start a thread: {e}")),
            });
            (self.wake)();
        }
        JobHandle { id, cancel }
    }

    pub fn events(&self) -> &Receiver<JobEvent<R>> {
        &self.rx
    }

    /// Blocks until job `id` finishes, calling `on_event` for every event meanwhile.
    pub fn wait(&self, id: JobId, mut on_event: impl FnMut(&JobEvent<R>)) -> JobResult<R> {
        loop {
            let Ok(e) = self.rx.recv() else {
                return Err("job channel closed".into());
            };
            on_event(&e);
            if let JobEvent::Finished { id: done, outcome } = e
                && done == id
            {
                return outcome;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_progress_and_result() {
        let jobs = Jobs::<String>::default();
        let h = jobs.spawn("count", |ctx| {
            for i in 0..=10 {
                ctx.progress(i, Some(10), "counting");
            }
            Ok("ok".to_string())
        });
        let mut last = None;
        let out = jobs.wait(h.id, |e| {
            if let JobEvent::Progress { done, .. } = e {
                last = Some(*done);
            }
        });
        assert_eq!(out.unwrap(), "ok");
        assert_eq!(
            last,
            Some(10),
            "the final progress event is never throttled"
        );
    }

    #[test]
    fn a_panic_is_a_failure() {
        let jobs = Jobs::<()>::default();
        let h = jobs.spawn("boom", |_| panic!("kaput"));
        let out = jobs.wait(h.id, |_| {});
        assert!(matches!(out, Err(m) if m.contains("kaput")));
    }
}
