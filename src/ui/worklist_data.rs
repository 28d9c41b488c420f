//! The desk's runtime side of the worklist and the DICOM nodes: the search index (built off
//! the UI thread), the last syncs, the nodes and their echo results, and the jobs that sync,
//! echo and save. Drawing is in `worklist_view` and `nodes_window`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::jobs::JobId;
use crate::model::{DicomNode, NodeRole};
use crate::net::EchoReport;
use crate::store::{Store, SyncRecord, SyncScope};
use crate::worklist::{SearchIndex, SyncReport};

use super::runtime::{JobKind, Level, Runtime};

/// How a node answered the last echo.
#[derive(Debug, Clone, PartialEq)]
pub enum EchoState {
    Running,
    Ok(EchoReport),
    Failed(String),
}

/// What the worklist view and the nodes window show.
#[derive(Default)]
pub struct WorklistData {
    pub index: Option<Arc<SearchIndex>>,
    /// Loads completed (the view recomputes its hits when this changes).
    pub generation: u64,
    pub syncs: Vec<SyncRecord>,
    pub nodes: Vec<DicomNode>,
    pub local_ae: String,
    pub echo: BTreeMap<String, EchoState>,
    pub syncing: BTreeSet<String>,
    /// Minutes between automatic syncs of each RIS node (0: never).
    pub auto_sync_minutes: u64,
    next_auto_check: Option<Instant>,
    /// The last error of saving a node, shown in the nodes window.
    pub node_error: Option<String>,
    /// The node each running sync or echo job is for.
    sync_jobs: BTreeMap<JobId, String>,
    echo_jobs: BTreeMap<JobId, String>,
    /// A load was asked for while one was running: load again when it is done.
    reload_pending: bool,
}

impl WorklistData {
    pub fn ris_nodes(&self) -> impl Iterator<Item = &DicomNode> {
        self.nodes.iter().filter(|n| n.role == NodeRole::Ris)
    }

    /// The latest sync attempt of `node`.
    pub fn last_sync(&self, node: &str) -> Option<&SyncRecord> {
        self.syncs.iter().find(|s| s.source == node)
    }
}

/// Everything the worklist view needs, read in one job.
pub struct WorklistLoaded {
    index: SearchIndex,
    syncs: Vec<SyncRecord>,
    nodes: Vec<DicomNode>,
    local_ae: String,
    auto_sync_minutes: u64,
}

impl Runtime {
    /// Reads the worklist cache, builds its search index, and the nodes, off the UI thread.
    pub fn load_worklist(&mut self) {
        if self
            .running
            .values()
            .any(|j| j.kind == JobKind::LoadWorklist)
        {
            self.worklist.reload_pending = true;
            return;
        }
        self.store_job("Loading worklist", JobKind::LoadWorklist, |store| {
            let auto_sync_minutes = store.worklist_config().sync_minutes;
            Ok(WorklistLoaded {
                index: SearchIndex::build(store.worklist()?),
                syncs: store.last_syncs()?,
                nodes: store.nodes()?,
                local_ae: store.local_ae_title()?,
                auto_sync_minutes,
            })
        });
    }

    /// Syncs the cache with a RIS node. The job opens its own connection: the network part
    /// may take a while and must not hold the desk's store.
    pub fn sync_worklist(&mut self, node: String) {
        if !self.worklist.syncing.insert(node.clone()) {
            return;
        }
        let ws = self.workspace.clone();
        let title = format!("Syncing worklist from {node}");
        let job_node = node.clone();
        let id = self.spawn(&title, JobKind::SyncWorklist, move |ctx| {
            let mut store = Store::open(&ws).map_err(|e| e.to_string())?;
            store.set_actor(crate::store::this_process(
                crate::model::ActorKind::Desk,
                "",
            ));
            let n = store.node(&node).map_err(|e| e.to_string())?;
            let result = crate::worklist::sync(
                &mut store,
                &n,
                &SyncScope::default(),
                crate::worklist::DEFAULT_LIMIT,
                &mut |got| ctx.progress(got as u64, None, format!("{got} items")),
            );
            Ok((node, result.map_err(|e| e.to_string())))
        });
        self.worklist.sync_jobs.insert(id, job_node);
    }

    /// C-ECHO to a node; the result shows in the nodes window.
    pub fn echo_node(&mut self, name: String) {
        if self.worklist.echo.get(&name) == Some(&EchoState::Running) {
            return;
        }
        self.worklist.echo.insert(name.clone(), EchoState::Running);
        let store = self.store_handle();
        let job_name = name.clone();
        let id = self.spawn(&format!("Echo {name}"), JobKind::Echo, move |_| {
            // The peer is resolved under the lock; the network waits without it.
            let resolved = {
                let store = store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_string())?;
                store.node(&name).map_err(|e| e.to_string()).and_then(|n| {
                    crate::worklist::sync::peer_for(&store, &n).map_err(|e| e.to_string())
                })
            };
            let result = resolved
                .and_then(|(peer, _server)| crate::net::echo(&peer).map_err(|e| e.to_string()));
            Ok((name, result))
        });
        self.worklist.echo_jobs.insert(id, job_name);
    }

    /// Clears the running marks of a finished sync or echo job, whatever its outcome: a job
    /// that failed before reporting must not leave Sync now disabled or an echo spinning.
    pub(super) fn worklist_job_finished(&mut self, id: JobId) {
        if let Some(node) = self.worklist.sync_jobs.remove(&id) {
            self.worklist.syncing.remove(&node);
        }
        if let Some(name) = self.worklist.echo_jobs.remove(&id)
            && self.worklist.echo.get(&name) == Some(&EchoState::Running)
        {
            self.worklist
                .echo
                .insert(name, EchoState::Failed("the echo did not finish".into()));
        }
    }

    /// Adds or replaces a node.
    pub fn save_node(&mut self, node: DicomNode) {
        self.worklist.node_error = None;
        self.store_write_job("Saving node", JobKind::SaveNodes, move |store| {
            store.put_node(&node)
        });
    }

    pub fn remove_node(&mut self, name: String) {
        self.worklist.echo.remove(&name);
        self.store_write_job("Removing node", JobKind::SaveNodes, move |store| {
            store.remove_node(&name)
        });
    }

    pub fn set_local_ae(&mut self, ae: String) {
        self.worklist.node_error = None;
        self.store_write_job("Saving AE title", JobKind::SaveNodes, move |store| {
            store.set_local_ae_title(&ae)
        });
    }

    /// Runs the team's sync schedule (`worklist::schedule`) at most once a minute, on a job
    /// with its own connection: each RIS node a grace after it was due (the service, when one
    /// runs, syncs first), one that another process is syncing left to it.
    pub fn auto_sync(&mut self) {
        let now = Instant::now();
        if self.worklist.auto_sync_minutes == 0
            || self.worklist.generation == 0
            || self.worklist.next_auto_check.is_some_and(|t| now < t)
            || self
                .running
                .values()
                .any(|j| j.kind == JobKind::ScheduledSync)
        {
            return;
        }
        self.worklist.next_auto_check = Some(now + Duration::from_secs(60));
        let ws = self.workspace.clone();
        self.spawn(
            "Scheduled worklist sync",
            JobKind::ScheduledSync,
            move |ctx| {
                use crate::worklist::schedule;
                let mut store = Store::open(&ws).map_err(|e| e.to_string())?;
                store.set_actor(crate::store::this_process(
                    crate::model::ActorKind::Desk,
                    "",
                ));
                let done = schedule::run_due(
                    &mut store,
                    schedule::DESK_GRACE_SECONDS,
                    &mut |node, got| ctx.progress(got as u64, None, format!("{node}: {got} items")),
                )
                .map_err(|e| e.to_string())?;
                Ok(done
                    .into_iter()
                    .map(|s| (s.node, s.outcome.map_err(|e| e.to_string())))
                    .collect::<Vec<_>>())
            },
        );
    }

    /// Takes in the result of a worklist or node job.
    pub(super) fn apply_worklist(&mut self, out: super::job_output::Output) {
        use super::job_output::Output;
        match out {
            Output::Worklist(l) => {
                let l = *l;
                let w = &mut self.worklist;
                w.index = Some(Arc::new(l.index));
                w.syncs = l.syncs;
                w.nodes = l.nodes;
                w.local_ae = l.local_ae;
                w.auto_sync_minutes = l.auto_sync_minutes;
                w.generation += 1;
                if std::mem::take(&mut w.reload_pending) {
                    self.load_worklist();
                }
            }
            Output::Synced(done) => {
                for (node, result) in done {
                    self.sync_finished(node, result);
                }
            }
            Output::Echoed(name, result) => {
                let state = match result {
                    Ok(r) => EchoState::Ok(r),
                    Err(e) => EchoState::Failed(e),
                };
                self.worklist.echo.insert(name, state);
            }
            Output::NodesSaved(r) => {
                if let Err(e) = r {
                    self.worklist.node_error = Some(e);
                }
                self.load_worklist();
            }
            _ => {}
        }
    }

    /// A sync's outcome shown; the cache (and the queue, when studies changed) loaded again.
    fn sync_finished(&mut self, node: String, result: Result<SyncReport, String>) {
        self.worklist.syncing.remove(&node);
        match result {
            Ok(r) => {
                let c = r.counts;
                self.notify(
                    Level::Info,
                    format!(
                        "Worklist synced from {node}: {} items, {} new, {} changed, {} vanished",
                        c.received, c.new, c.changed, c.vanished
                    ),
                );
                if c.studies_reclassified > 0 {
                    self.load_queue();
                }
            }
            Err(e) => self.notify(Level::Error, format!("Worklist sync failed: {e}")),
        }
        self.load_worklist();
    }

    /// A short write to the desk's store whose failure is shown where it was asked for.
    fn store_write_job(
        &mut self,
        title: &str,
        kind: JobKind,
        write: impl FnOnce(&mut Store) -> Result<(), crate::store::StoreError> + Send + 'static,
    ) {
        let store = self.store_handle();
        self.spawn(title, kind, move |_| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            Ok(write(&mut store).map_err(|e| e.to_string()))
        });
    }
}
