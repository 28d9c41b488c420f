//! The desk's runtime side of the network loop: the receiver (on/off, last sender), the send
//! queue's runner, and the transfers as last loaded. Drawing is in `transfers_window` and the
//! status bar.

use std::collections::BTreeMap;

use crate::receive::{Event, Receiver};
use crate::send::{Progress, Runner, SendEvent};
use crate::store::{LastSender, Transfer};

use super::runtime::{JobKind, Level, Runtime};

/// What the transfers window and the status bar show.
#[derive(Default)]
pub struct NetworkData {
    pub receiver: Option<Receiver>,
    /// Why the receiver could not start (shown next to its switch).
    pub receiver_error: Option<String>,
    pub last_sender: Option<LastSender>,
    runner: Option<Runner>,
    pub transfers: Vec<Transfer>,
    /// Live progress of jobs being sent (instances done of total).
    pub progress: BTreeMap<i64, Progress>,
    pub window_open: bool,
    reload_pending: bool,
}

impl NetworkData {
    /// Jobs not yet final.
    pub fn active(&self) -> usize {
        self.transfers
            .iter()
            .filter(|t| !t.state.is_final())
            .count()
    }
}

/// The transfers and the last sender, read in one job.
pub struct TransfersLoaded {
    transfers: Vec<Transfer>,
    last_sender: Option<LastSender>,
}

impl Runtime {
    /// Starts the send queue's runner (jobs left by a crash or another process resume).
    pub fn start_send_runner(&mut self) {
        if self.network.runner.is_some() {
            return;
        }
        self.network.runner = Some(Runner::start(
            &self.workspace,
            self.send_config.clone(),
            crate::model::ActorKind::Desk,
        ));
    }

    /// Loads the transfers and the last sender off the UI thread.
    pub fn load_transfers(&mut self) {
        if self
            .running
            .values()
            .any(|j| j.kind == JobKind::LoadTransfers)
        {
            self.network.reload_pending = true;
            return;
        }
        self.store_job("Loading transfers", JobKind::LoadTransfers, |store| {
            Ok(TransfersLoaded {
                transfers: store.transfers(None)?,
                last_sender: store.last_sender()?,
            })
        });
    }

    /// Queues studies for an archive node; the runner picks them up at once.
    /// Queues each study with the caveat the user accepted (empty: it was clear).
    pub fn send_studies(&mut self, studies: Vec<(i64, String)>, node: String) {
        let n = studies.len();
        let store = self.store_handle();
        self.spawn("Queueing send", JobKind::QueueSend, move |_| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            for (s, caveat) in &studies {
                store
                    .enqueue_send_with(*s, &node, caveat)
                    .map_err(|e| e.to_string())?;
            }
            Ok(format!("{n} {} queued for {node}", plural(n)))
        });
    }

    /// Retries (`retry`) or cancels a job.
    pub fn change_transfer(&mut self, job: i64, retry: bool) {
        let store = self.store_handle();
        self.spawn("Updating transfer", JobKind::QueueSend, move |_| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            let changed = if retry {
                store.retry_send(job)
            } else {
                store.cancel_send(job)
            }
            .map_err(|e| e.to_string())?;
            Ok(match (changed, retry) {
                (true, true) => format!("Transfer {job} queued again"),
                (true, false) => format!("Transfer {job} cancelled"),
                (false, _) => format!("Transfer {job} has moved on; nothing changed"),
            })
        });
    }

    /// Starts or stops the receiver on qcdesk's AE title and port, off the UI thread (reading
    /// its settings, binding the port and recording what a dead receiver left all touch the
    /// database; stopping waits for its writer).
    pub fn toggle_receiver(&mut self) {
        if let Some(r) = self.network.receiver.take() {
            std::thread::spawn(move || drop(r));
            self.notify(Level::Info, "Receiver stopped");
            return;
        }
        if self
            .running
            .values()
            .any(|j| j.kind == JobKind::StartReceiver)
        {
            return;
        }
        let store = self.store_handle();
        let ws = self.workspace.clone();
        self.spawn("Starting the receiver", JobKind::StartReceiver, move |_| {
            let (ae, port, cfg) = {
                let s = store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_string())?;
                (
                    s.local_ae_title().map_err(|e| e.to_string())?,
                    s.local_port().map_err(|e| e.to_string())?,
                    s.receiver_config().clone(),
                )
            };
            Ok(Receiver::start(&ws, &ae, &format!("0.0.0.0:{port}"), &cfg)
                .map_err(|e| e.to_string()))
        });
    }

    /// The receiver's start, as its job ended.
    pub(super) fn receiver_started(&mut self, out: Result<Receiver, String>) {
        match out {
            Ok(r) => {
                self.network.receiver_error = None;
                self.notify(
                    Level::Info,
                    format!("Receiving as {} on port {}", r.ae_title(), r.port()),
                );
                self.network.receiver = Some(r);
            }
            Err(e) => {
                self.notify(Level::Error, format!("The receiver cannot start: {e}"));
                self.network.receiver_error = Some(e);
            }
        }
    }

    /// Takes in what the receiver and the runner did. True: the queue must be reloaded.
    pub fn drain_network(&mut self) -> bool {
        let mut queue_changed = false;
        let mut transfers_changed = false;
        let mut notes = Vec::new();
        if let Some(r) = &self.network.receiver {
            while let Ok(e) = r.events().try_recv() {
                match e {
                    Event::Stored { .. } => queue_changed = true,
                    Event::Association { stored, .. } if stored > 0 => transfers_changed = true,
                    Event::Association { .. } => {}
                    Event::Failed { instances, why } => notes.push((
                        Level::Error,
                        format!("{instances} received instances could not be recorded: {why}"),
                    )),
                    Event::Report { .. } => transfers_changed = true,
                }
            }
        }
        if let Some(r) = &self.network.runner {
            while let Ok(e) = r.events().try_recv() {
                match e {
                    SendEvent::Progress(p) => {
                        self.network.progress.insert(p.job, p);
                    }
                    SendEvent::Ended { job, end } => {
                        self.network.progress.remove(&job);
                        transfers_changed = true;
                        queue_changed = true;
                        if let crate::send::JobEnd::Failed(why) = end {
                            notes.push((Level::Error, format!("Transfer {job} failed: {why}")));
                        }
                    }
                    SendEvent::Error(e) => notes.push((Level::Error, format!("Send queue: {e}"))),
                }
            }
        }
        for (level, text) in notes {
            self.notify(level, text);
        }
        if transfers_changed {
            self.load_transfers();
        }
        queue_changed
    }

    /// Takes in the result of a network job.
    pub(super) fn apply_network(&mut self, out: super::job_output::Output) {
        use super::job_output::Output;
        match out {
            Output::Transfers(l) => {
                self.network.transfers = l.transfers;
                self.network.last_sender = l.last_sender;
                if std::mem::take(&mut self.network.reload_pending) {
                    self.load_transfers();
                }
            }
            Output::SendNote(note) => {
                self.notify(Level::Info, note);
                if let Some(r) = &self.network.runner {
                    r.wake();
                }
                self.load_transfers();
                self.load_queue();
            }
            _ => {}
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "study" } else { "studies" }
}
