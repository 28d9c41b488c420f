//! The desk's runtime state (not persisted): the store handle, background jobs, the cached
//! queue with its filtered view, the selected study's detail and the notifications.
//! Everything here is plain data updated from job events; drawing lives in the other modules.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::jobs::{JobEvent, JobId, Jobs};
use crate::model::{StudyDetail, StudyRow};
use crate::store::{QueueFilter, Reject, Store, StoreError, StoreStats};

use super::images::Images;
use super::job_output::Output;
use super::state::{DeskState, SortColumn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub level: Level,
    pub text: String,
}

/// A job the desk started and is showing.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub title: String,
    pub kind: JobKind,
    pub done: u64,
    pub total: Option<u64>,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    LoadQueue,
    LoadStudy(i64),
    LoadRejects,
    Import,
    LoadWorklist,
    SyncWorklist,
    Echo,
    SaveNodes,
    LoadTransfers,
    QueueSend,
    PreviewCorrection,
    ApplyCorrection,
    UndoCorrection,
    RejectInstances,
    Dismiss,
    LoadReport,
    LoadNodeMap,
    ProposeOrders,
    PreviewBulk,
    ApplyBulk,
    Claim(i64),
    StartReceiver,
    ScheduledSync,
}

pub struct Runtime {
    pub workspace: PathBuf,
    store: Arc<Mutex<Store>>,
    jobs: Jobs<Output>,
    pub running: BTreeMap<JobId, RunningJob>,
    /// Every study in the workspace, as last loaded.
    pub rows: Vec<StudyRow>,
    /// Lower-cased text each row is searched in, parallel to `rows`.
    search_text: Vec<String>,
    /// Indices into `rows`: the filtered, sorted view the table shows.
    pub view: Vec<usize>,
    view_key: Option<ViewKey>,
    /// The studies behind a figure of the report the user clicked: the queue shows only these.
    pub only: Option<Only>,
    only_serial: u64,
    pub stats: StoreStats,
    pub detail: Option<StudyDetail>,
    /// The selected study's candidate orders, when it is not matched.
    pub candidates: Option<super::candidates::StudyCandidates>,
    pub notifications: Vec<Notification>,
    /// Number of queue loads completed (screenshot mode and tests wait for the first).
    pub queue_loads: u64,
    /// Summary of the last finished import, for the status bar.
    pub last_import: Option<String>,
    /// The unreadable files, once asked for (the "unreadable files" window).
    pub rejects: Option<Vec<Reject>>,
    /// A queue reload was asked for while one was running.
    reload_pending: bool,
    /// Thumbnails, viewer images and headers, decoded off the UI thread.
    pub images: Images,
    /// The worklist cache's search index, syncs and the DICOM nodes.
    pub worklist: super::worklist_data::WorklistData,
    /// The receiver, the send queue's runner and the transfers.
    pub network: super::network_data::NetworkData,
    /// The correction previewed, and the selected study's history.
    pub correct: super::correct_data::CorrectData,
    /// The site's reasons to dismiss a study (`[dismiss] reasons`).
    pub dismiss_reasons: Vec<String>,
    /// `[send]`: the runner's settings, read when the desk opened.
    pub send_config: crate::send::SendConfig,
    /// `[send] unmatched`: whether a study not matched and whole may be sent after asking.
    pub send_policy: crate::send::readiness::UnmatchedSends,
    /// `[queue]`: when an open exception is marked old.
    pub queue_config: crate::model::QueueConfig,
    /// The question asked before sending a study that is not matched and whole.
    pub send_confirm: Option<super::send_confirm::SendConfirm>,
    /// The likely orders of the marked studies, previewed for one confirmation.
    pub bulk: Option<super::bulk_orders::BulkPreview>,
    /// A pass of the matching was asked for while one ran.
    propose_pending: bool,
    /// The Reports view's last report.
    pub report: Option<crate::reports::Report>,
    /// The node map window and its map.
    pub node_map: super::node_map_window::NodeMapWindow,
    /// The desk's claim, take-overs and the change feed.
    pub team: super::team_data::TeamData,
}

/// What the view was computed for; recomputed only when this changes.
#[derive(Debug, Clone, PartialEq)]
struct ViewKey {
    generation: u64,
    /// The serial of `Runtime::only`, 0 without.
    only: u64,
    state: Option<crate::model::StudyState>,
    modality: String,
    search: String,
    sort: SortColumn,
    ascending: bool,
    dismissed: bool,
}

/// Studies the queue is narrowed to: those behind one figure of a report.
#[derive(Debug, Clone)]
pub struct Only {
    /// What they are, as the report names it ("CT: arrivals", "open < 8 h").
    pub label: String,
    pub ids: std::collections::HashSet<i64>,
    /// Tells one narrowing from the next (the view is recomputed when it changes).
    pub serial: u64,
}

impl Runtime {
    /// Narrows the queue to `ids` (None widens it again).
    pub fn show_only(&mut self, only: Option<(String, Vec<i64>)>) {
        // Never reused: a narrowing replaced within one frame is still told apart.
        self.only_serial += 1;
        let serial = self.only_serial;
        self.only = only.map(|(label, ids)| Only {
            label,
            ids: ids.into_iter().collect(),
            serial,
        });
    }

    pub fn new(
        workspace: PathBuf,
        store: Store,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Runtime {
        let notes: Vec<Notification> = store
            .workspace()
            .notes()
            .iter()
            .map(|n| Notification {
                level: Level::Info,
                text: n.clone(),
            })
            .collect();
        let dismiss_reasons = store.dismiss_reasons().to_vec();
        let send_policy = store.send_config().unmatched;
        let send_config = store.send_config().clone();
        let queue_config = store.queue_config();
        let wake = Arc::new(wake);
        let wake_images = Arc::clone(&wake);
        let wake_team = Arc::clone(&wake);
        let cache = crate::imaging::ThumbCache::new(
            store.workspace().thumbs_dir(),
            store.workspace().tmp_dir(),
        );
        let images = Images::new(store.blobs(), Some(cache), move || wake_images());
        let mut rt = Runtime {
            workspace,
            store: Arc::new(Mutex::new(store)),
            jobs: Jobs::new(move || wake()),
            running: BTreeMap::new(),
            rows: Vec::new(),
            search_text: Vec::new(),
            view: Vec::new(),
            view_key: None,
            only: None,
            only_serial: 0,
            stats: StoreStats::default(),
            detail: None,
            candidates: None,
            notifications: notes,
            queue_loads: 0,
            last_import: None,
            rejects: None,
            reload_pending: false,
            images,
            worklist: Default::default(),
            network: Default::default(),
            correct: Default::default(),
            dismiss_reasons,
            send_policy,
            send_config,
            queue_config,
            send_confirm: None,
            bulk: None,
            propose_pending: false,
            report: None,
            node_map: Default::default(),
            team: Default::default(),
        };
        rt.start_team(move || wake_team());
        rt
    }

    /// Runs `work` in the background; its result is taken in, by what it is, once it ends.
    pub(super) fn spawn<T: Into<Output> + Send + 'static>(
        &mut self,
        title: &str,
        kind: JobKind,
        work: impl FnOnce(&crate::jobs::JobCtx) -> Result<T, String> + Send + 'static,
    ) -> JobId {
        let h = self.jobs.spawn(title, move |ctx| work(ctx).map(Into::into));
        self.running.insert(
            h.id,
            RunningJob {
                title: title.into(),
                kind,
                done: 0,
                total: None,
                note: String::new(),
            },
        );
        h.id
    }

    /// Reloads the queue and counts in the background.
    pub fn load_queue(&mut self) {
        if self.running.values().any(|j| j.kind == JobKind::LoadQueue) {
            // The running load may have read the database before the change that asks for
            // this one: load again when it is done.
            self.reload_pending = true;
            return;
        }
        self.store_job("Loading queue", JobKind::LoadQueue, |store| {
            let rows = store.queue(&QueueFilter::default())?;
            Ok((rows, store.stats()?))
        });
    }

    /// Ranks the orders of every open study unmatched or mismatching its order, in the background, and reloads the
    /// queue to show the likely ones.
    pub fn propose_orders(&mut self) {
        if self
            .running
            .values()
            .any(|j| j.kind == JobKind::ProposeOrders)
        {
            // The running pass may have read the studies before the change: pass again.
            self.propose_pending = true;
            return;
        }
        let store = self.store_handle();
        self.spawn("Finding likely orders", JobKind::ProposeOrders, move |_| {
            use crate::reconcile::learn;
            let lock = || store.lock().map_err(|_| "store lock poisoned".to_string());
            // The store is held only to read and to write: other jobs run while it ranks.
            let input = learn::propose_input(&*lock()?).map_err(|e| e.to_string())?;
            let (proposals, summary) = learn::propose(input);
            lock()?
                .replace_proposals(&proposals)
                .map_err(|e| e.to_string())?;
            Ok(summary)
        });
    }

    /// Loads one study's detail in the background.
    pub fn load_study(&mut self, id: i64) {
        self.store_job("Loading study", JobKind::LoadStudy(id), move |store| {
            let detail = store.study_detail(id)?;
            // A study not matched yet gets its candidate orders ranked.
            let candidates = crate::reconcile::learn::candidates_for(store, &detail, 5)?;
            let history = store.corrections_of(id)?;
            Ok((detail, candidates, history))
        });
    }

    /// Computes the report of the last `days` days (today included), grouped `by`.
    pub fn load_report(&mut self, days: i64, by: crate::reports::GroupBy) {
        self.store_job("Computing the report", JobKind::LoadReport, move |store| {
            let (_, now) = crate::fsutil::now();
            let today = crate::reports::parse_date(&crate::reports::date_of(now)).unwrap_or(now);
            let q = crate::reports::ReportQuery {
                from_unix: today + 86_400 - days * 86_400,
                to_unix: today + 86_400,
                by,
            };
            let facts = store.report_facts(by)?;
            Ok(crate::reports::report(&facts, &q, now))
        });
    }

    /// Loads the node map.
    pub fn load_node_map(&mut self) {
        self.store_job("Loading the node map", JobKind::LoadNodeMap, |store| {
            crate::reports::node_map::node_map(store)
        });
    }

    /// Loads the list of files that could not be read.
    pub fn load_rejects(&mut self) {
        self.store_job("Loading unreadable files", JobKind::LoadRejects, |store| {
            store.rejects()
        });
    }

    /// A job that reads the desk's store (one connection, shared through a lock).
    pub(super) fn store_job<T: Into<Output> + Send + 'static>(
        &mut self,
        title: &str,
        kind: JobKind,
        read: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) {
        let store = Arc::clone(&self.store);
        self.spawn(title, kind, move |_| {
            let store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            read(&store).map_err(|e| e.to_string())
        });
    }

    /// The desk's store, for jobs that lock it themselves.
    pub(super) fn store_handle(&self) -> Arc<Mutex<Store>> {
        Arc::clone(&self.store)
    }

    /// Starts importing `paths` into this workspace.
    pub fn import(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        let ws = self.workspace.clone();
        let title = match paths.as_slice() {
            [one] => format!("Importing {}", one.display()),
            many => format!("Importing {} items", many.len()),
        };
        self.spawn(&title, JobKind::Import, move |ctx| {
            crate::import::import_paths(&ws, &paths, ctx).map_err(|e| e.to_string())
        });
    }

    pub fn import_running(&self) -> bool {
        self.running.values().any(|j| j.kind == JobKind::Import)
    }

    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        match level {
            Level::Error => tracing::error!("{text}"),
            Level::Info => tracing::info!("{text}"),
        }
        self.notifications.push(Notification { level, text });
        // Keep the list short: the newest matter.
        if self.notifications.len() > 8 {
            self.notifications.remove(0);
        }
    }

    /// Applies every job event that has arrived. Returns true when the queue was reloaded.
    pub fn drain_events(&mut self, selected: Option<i64>) -> bool {
        let mut reloaded = false;
        while let Ok(event) = self.jobs.events().try_recv() {
            match event {
                JobEvent::Started { .. } => {}
                JobEvent::Progress {
                    id,
                    done,
                    total,
                    note,
                } => {
                    if let Some(j) = self.running.get_mut(&id) {
                        j.done = done;
                        j.total = total;
                        j.note = note;
                    }
                }
                JobEvent::Finished { id, outcome } => {
                    let Some(job) = self.running.remove(&id) else {
                        continue;
                    };
                    // Whatever the outcome (a failed or panicked job too).
                    self.worklist_job_finished(id);
                    if matches!(
                        job.kind,
                        JobKind::ApplyCorrection | JobKind::UndoCorrection | JobKind::ApplyBulk
                    ) && outcome.is_err()
                    {
                        self.correction_failed();
                    }
                    if let (JobKind::Claim(study), Err(_)) = (job.kind, &outcome) {
                        self.claim_failed(study);
                    }
                    let applied = outcome.and_then(|out| self.apply(out, selected));
                    match applied {
                        Ok(r) => reloaded |= r,
                        Err(e) => {
                            self.notify(Level::Error, format!("{} failed: {e}", job.title));
                        }
                    }
                }
            }
        }
        reloaded
    }

    /// Takes a finished job's result in, by what it is.
    fn apply(&mut self, out: Output, selected: Option<i64>) -> Result<bool, String> {
        // New orders, new studies or a study changed: the likely orders are found again.
        let propose = matches!(
            out,
            Output::Synced(_)
                | Output::Import(_)
                | Output::Applied(_)
                | Output::Undone(..)
                | Output::BulkApplied(_)
        );
        match out {
            Output::Queue(rows, stats) => {
                // The selected study changed (another desk, the service, a command): its
                // detail is loaded again; one that did not keeps what is drawn.
                if let Some(id) = selected
                    && self.rows.iter().find(|r| r.id == id) != rows.iter().find(|r| r.id == id)
                    && !self
                        .running
                        .values()
                        .any(|j| j.kind == JobKind::LoadStudy(id))
                {
                    self.load_study(id);
                }
                self.search_text = rows.iter().map(search_text).collect();
                self.rows = rows;
                self.stats = stats;
                self.queue_loads += 1;
                self.view_key = None;
                if self.queue_loads == 1 {
                    self.propose_orders();
                }
                if std::mem::take(&mut self.reload_pending) {
                    self.load_queue();
                }
                return Ok(true);
            }
            Output::Study(loaded) => {
                let (d, c, h) = *loaded;
                // A late answer for a study no longer selected is dropped.
                if selected == Some(d.row.id) {
                    self.correct.history = Some((d.row.id, h));
                    self.detail = Some(d);
                    self.candidates = c;
                }
            }
            Output::Import(report) => {
                let summary = report.summary();
                let level = if report.unreadable.is_empty() {
                    Level::Info
                } else {
                    Level::Error
                };
                self.notify(level, format!("Import finished: {summary}"));
                for p in report.unreadable.iter().take(5) {
                    self.notify(
                        Level::Error,
                        format!("Could not read {}: {}", p.path, p.reason),
                    );
                }
                self.last_import = Some(summary);
                self.load_queue();
                if let Some(id) = selected {
                    self.load_study(id);
                }
            }
            Output::Rejects(r) => self.rejects = Some(r),
            Output::Proposed(summary) => {
                tracing::debug!(
                    "likely orders: {} of {} open studies ({} clear)",
                    summary.proposed,
                    summary.studies,
                    summary.clear
                );
                self.load_queue();
                if std::mem::take(&mut self.propose_pending) {
                    self.propose_orders();
                }
            }
            Output::NodeMap(m) => self.node_map.map = Some(*m),
            Output::Report(r) => self.report = Some(*r),
            out @ (Output::BulkPreview(_) | Output::BulkApplied(_)) => self.apply_bulk_result(out),
            out @ (Output::Worklist(_)
            | Output::Synced(_)
            | Output::Echoed(..)
            | Output::NodesSaved(_)) => self.apply_worklist(out),
            out @ (Output::Transfers(_) | Output::SendNote(_)) => self.apply_network(out),
            Output::ReceiverStarted(r) => self.receiver_started(*r),
            out @ (Output::Preview(_)
            | Output::Applied(_)
            | Output::Rejected(..)
            | Output::Dismissed(..)
            | Output::Undone(..)) => self.apply_correct(out, selected),
            Output::Claim(r) => self.apply_claim(r),
        }
        if propose {
            self.propose_orders();
        }
        Ok(false)
    }

    /// Recomputes the filtered, sorted view when the filter, sort or data changed.
    /// Recomputes the view when the rows, filters, search or sort changed; true if it did.
    pub fn refresh_view(&mut self, state: &DeskState) -> bool {
        let key = ViewKey {
            generation: self.queue_loads,
            only: self.only.as_ref().map_or(0, |o| o.serial),
            state: state.state_filter,
            modality: state.modality_filter.clone(),
            search: state.search.trim().to_lowercase(),
            sort: state.sort,
            ascending: state.ascending,
            dismissed: state.show_dismissed,
        };
        if self.view_key.as_ref() == Some(&key) {
            return false;
        }
        let words: Vec<&str> = key.search.split_whitespace().collect();
        let mut view: Vec<usize> = (0..self.rows.len())
            .filter(|&i| {
                let r = &self.rows[i];
                key.state.is_none_or(|s| r.state == s)
                    && self.only.as_ref().is_none_or(|o| o.ids.contains(&r.id))
                    // Dismissed studies have left the exception views unless asked for (or
                    // a report's figure counted them).
                    && (key.dismissed || key.only != 0 || r.dismissed.is_none())
                    && (key.modality.is_empty()
                        || r.modality.split('\\').any(|m| m == key.modality))
                    && words.iter().all(|w| self.search_text[i].contains(w))
            })
            .collect();
        let rows = &self.rows;
        view.sort_by(|&a, &b| {
            let (ra, rb) = (&rows[a], &rows[b]);
            let ord = match key.sort {
                SortColumn::State => ra
                    .state
                    .cmp(&rb.state)
                    .then(ra.first_seen_unix.cmp(&rb.first_seen_unix)),
                SortColumn::Patient => ra.patient_name.cmp(&rb.patient_name),
                SortColumn::PatientId => ra.patient_id.cmp(&rb.patient_id),
                SortColumn::Accession => ra.accession.cmp(&rb.accession),
                SortColumn::Modality => ra.modality.cmp(&rb.modality),
                SortColumn::StudyDate => ra.study_date.cmp(&rb.study_date),
                SortColumn::Instances => ra.instances.cmp(&rb.instances),
                SortColumn::Source => ra.source.cmp(&rb.source),
                // By age: ascending (▲) is youngest first, as the arrow says.
                SortColumn::Age => rb.first_seen_unix.cmp(&ra.first_seen_unix),
            };
            let ord = ord.then(ra.id.cmp(&rb.id));
            if key.ascending { ord } else { ord.reverse() }
        });
        self.view = view;
        self.view_key = Some(key);
        true
    }

    /// Modalities present in the queue, for the filter menu.
    pub fn modalities(&self) -> Vec<String> {
        let mut m: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| r.modality.split('\\').map(str::to_string))
            .filter(|s| !s.is_empty())
            .collect();
        m.sort();
        m.dedup();
        m
    }

    /// Position of study `id` in the current view.
    pub fn view_position(&self, id: i64) -> Option<usize> {
        self.view.iter().position(|&i| self.rows[i].id == id)
    }
}

fn search_text(r: &StudyRow) -> String {
    let mut s = format!(
        "{} {} {} {} {} {} {} {} {}",
        r.patient_name,
        r.patient_id,
        r.accession,
        r.study_instance_uid.as_deref().unwrap_or(""),
        r.study_description,
        r.modality,
        r.source,
        r.station_name,
        r.id
    );
    for f in &r.findings {
        s.push(' ');
        s.push_str(&f.code);
        s.push(' ');
        s.push_str(&f.message);
    }
    s.to_lowercase()
}
