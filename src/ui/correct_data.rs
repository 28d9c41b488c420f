//! The desk's runtime side of corrections: the preview of a correction being considered, and
//! the jobs that compute it, apply it and undo the last one (all off the UI thread). Drawing
//! is in `correct_ui`.

use crate::reconcile::correction::Correction;
use crate::reconcile::fix::{self, Preview, Who};
use crate::store::{CorrectionEntry, os_user};

use super::runtime::{JobKind, Level, Runtime};

/// A correction shown for the Associate to confirm.
#[derive(Debug, Clone)]
pub struct PendingCorrection {
    pub study: i64,
    /// What is applied, in words ("order A240113").
    pub title: String,
    pub correction: Correction,
    pub preview: Preview,
    /// How it changes who the patient is, a line per field (empty: it does not); such a
    /// correction needs `reason` and `confirmed` before it applies.
    pub patient_change: Vec<String>,
    /// Why, as typed in the confirmation window (recorded in the audit trail).
    pub reason: String,
    /// The second confirmation of a patient change.
    pub confirmed: bool,
    /// The order applied, when the correction applies one (what the matching learns from).
    pub order: Option<Box<crate::reconcile::order::OrderPlan>>,
}

impl PendingCorrection {
    pub fn new(study: i64, title: String, correction: Correction, preview: Preview) -> Self {
        let patient_change = crate::reconcile::identity::patient_changes(&preview.changes);
        PendingCorrection {
            study,
            title,
            correction,
            preview,
            patient_change,
            reason: String::new(),
            confirmed: false,
            order: None,
        }
    }

    /// Whether Apply may go ahead: at once, or for a patient change once a reason is given
    /// and the change confirmed a second time.
    pub fn ready(&self) -> bool {
        self.patient_change.is_empty() || (self.confirmed && !self.reason.trim().is_empty())
    }
}

/// Corrections as the desk knows them.
#[derive(Debug, Default)]
pub struct CorrectData {
    /// The preview on screen, awaiting Apply or Cancel.
    pub pending: Option<PendingCorrection>,
    /// The selected study's corrections, oldest first.
    pub history: Option<(i64, Vec<CorrectionEntry>)>,
    /// A correction or undo is running.
    pub busy: bool,
    /// The hand-edit form, when open.
    pub edit: Option<super::edit_form::EditForm>,
    /// The reject / merge / split window, when open.
    pub actions: Option<super::study_actions::ActionsForm>,
    /// The study the desk last applied a correction to: Ctrl+Z undoes only there, so that a
    /// selection moved by a reload or a filter never takes back another study's correction.
    pub last_applied: Option<i64>,
}

/// A move the desk previews: another study of the patient merged in, or a series split off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relocation {
    Merge { into: i64, from: i64 },
    SplitSeries { study: i64, series_uid: String },
}

impl Runtime {
    /// Computes the changes `correction` would make to `study`, to show before anything is
    /// written.
    pub fn preview_correction(&mut self, study: i64, title: String, correction: Correction) {
        self.correct.pending = None;
        self.store_job(
            "Preparing the correction",
            JobKind::PreviewCorrection,
            move |store| {
                let preview = fix::preview(store, study, &correction)
                    .map_err(|e| crate::store::StoreError::Correction(e.to_string()))?;
                Ok(PendingCorrection::new(study, title, correction, preview))
            },
        );
    }

    /// Computes the changes applying `order` to `study` would make (its Study UID taken when
    /// the site says so).
    pub fn preview_order(&mut self, study: i64, order: crate::model::WorklistItem) {
        self.correct.pending = None;
        self.store_job(
            "Preparing the correction",
            JobKind::PreviewCorrection,
            move |store| {
                let plan = crate::reconcile::order::plan(store, study, &order, false)
                    .map_err(|e| crate::store::StoreError::Correction(e.to_string()))?;
                let title = if plan.takes_uid {
                    format!("order {} (and its Study Instance UID)", order.accession)
                } else {
                    format!("order {}", order.accession)
                };
                let mut p = PendingCorrection::new(
                    study,
                    title,
                    plan.correction.clone(),
                    plan.preview.clone(),
                );
                // Joining another patient's study is a change of patient too.
                p.patient_change = plan.patient_changes();
                p.order = Some(Box::new(plan));
                Ok(p)
            },
        );
    }

    /// Previews a merge or a split like a correction (the same confirmation window).
    pub fn preview_relocation(&mut self, r: Relocation) {
        use crate::reconcile::relocate::{MoveTo, plan_merge, plan_move};
        self.correct.pending = None;
        self.store_job(
            "Preparing the move",
            JobKind::PreviewCorrection,
            move |store| {
                let (study, title, plan) = match &r {
                    Relocation::Merge { into, from } => (
                        *into,
                        format!("the merge of study {from}"),
                        plan_merge(store, *into, *from),
                    ),
                    Relocation::SplitSeries { study, series_uid } => (
                        *study,
                        "the move of a series to a new study".to_string(),
                        plan_move(store, series_uid, MoveTo::New),
                    ),
                };
                let plan = plan.map_err(|e| crate::store::StoreError::Correction(e.to_string()))?;
                Ok(PendingCorrection::new(
                    study,
                    title,
                    plan.correction,
                    plan.preview,
                ))
            },
        );
    }

    /// Rejects the study's instances (or one series') for `code` (IHE IOCM).
    pub fn reject_instances(
        &mut self,
        study: i64,
        series_uid: Option<String>,
        code: &'static crate::reconcile::reject::RejectCode,
        reason: String,
    ) {
        if self.correct.busy {
            return;
        }
        self.correct.busy = true;
        let store = self.store_handle();
        self.spawn("Rejecting instances", JobKind::RejectInstances, move |_| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            let target = match &series_uid {
                Some(s) => s.clone(),
                None => study.to_string(),
            };
            let t = store.reject_target(&target).map_err(|e| e.to_string())?;
            let who = Who {
                os_user: os_user(),
                operator: String::new(),
                reason,
            };
            let done = crate::reconcile::reject::reject(&mut store, &t, code, &who)
                .map_err(|e| e.to_string())?;
            Ok((study, done))
        });
    }

    /// Dismisses the study for `(reason, note)`, or reopens it (`None`).
    pub fn dismiss(&mut self, study: i64, how: Option<(String, String)>) {
        if self.correct.busy {
            return;
        }
        self.correct.busy = true;
        let store = self.store_handle();
        let title = if how.is_some() {
            "Dismissing"
        } else {
            "Reopening"
        };
        self.spawn(title, JobKind::Dismiss, move |_| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            let note = match how {
                Some((reason, note)) => {
                    let d = store
                        .dismiss(study, &reason, &note, &os_user(), "")
                        .map_err(|e| e.to_string())?;
                    format!("Study {study} dismissed: {}.", d.reason)
                }
                None => {
                    store
                        .reopen(study, &os_user(), "")
                        .map_err(|e| e.to_string())?;
                    format!("Study {study} reopened.")
                }
            };
            Ok((study, note))
        });
    }

    /// Applies the correction on screen.
    pub fn apply_correction(&mut self, operator: String) {
        if self.correct.busy || !self.correct.pending.as_ref().is_some_and(|p| p.ready()) {
            return;
        }
        let Some(p) = self.correct.pending.take() else {
            return;
        };
        self.correct.last_applied = Some(p.study);
        self.correct.busy = true;
        let store = self.store_handle();
        let title = format!("Applying {} to study {}", p.title, p.study);
        self.spawn(&title, JobKind::ApplyCorrection, move |ctx| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            let who = Who {
                os_user: os_user(),
                operator,
                reason: if p.reason.trim().is_empty() {
                    format!("applied {} at the desk", p.title)
                } else {
                    format!("applied {} at the desk: {}", p.title, p.reason.trim())
                },
            };
            let progress = |d, t| ctx.progress(d, Some(t), "instances");
            let applied = match &p.order {
                Some(plan) => {
                    crate::reconcile::order::apply(&mut store, plan, &who, progress, None)
                }
                None => fix::apply(&mut store, &p.preview, &p.correction, &who, progress),
            }
            .map_err(|e| e.to_string())?;
            let state = store
                .study_row(p.study)
                .map(|r| r.state.as_str().to_string())
                .unwrap_or_default();
            Ok((p.study, p.title, applied, state))
        });
    }

    /// Takes back the study's newest correction.
    pub fn undo_correction(&mut self, study: i64, operator: String) {
        if self.correct.busy {
            return;
        }
        self.correct.busy = true;
        let store = self.store_handle();
        self.spawn(
            "Undoing the last correction",
            JobKind::UndoCorrection,
            move |_| {
                let mut store = store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_string())?;
                let out = store
                    .undo_correction(study, &os_user(), &operator, "undone at the desk")
                    .map_err(|e| e.to_string())?;
                Ok((study, out))
            },
        );
    }

    pub(super) fn apply_correct(&mut self, out: super::job_output::Output, selected: Option<i64>) {
        use super::job_output::Output;
        match out {
            Output::Preview(p) => {
                let p = *p;
                if selected == Some(p.study) {
                    if p.preview.instances == 0 {
                        self.notify(
                            Level::Info,
                            format!("Study {} already holds the values of {}.", p.study, p.title),
                        );
                    } else {
                        self.correct.pending = Some(p);
                    }
                }
            }
            Output::Applied(done) => {
                let (study, title, applied, state) = *done;
                self.notify(
                    Level::Info,
                    format!(
                        "Study {study}: {title} applied to {} instance(s) (correction {}); now {state}. Ctrl+Z undoes it.",
                        applied.instances, applied.correction
                    ),
                );
                self.after_correction(study, selected);
            }
            Output::Rejected(study, done) => {
                self.notify(
                    Level::Info,
                    format!(
                        "Study {study}: {} instance(s) rejected ({}); the rejection note goes with the study.",
                        done.rejected, done.meaning
                    ),
                );
                self.after_correction(study, selected);
            }
            Output::Dismissed(study, note) => {
                self.notify(Level::Info, note);
                self.after_correction(study, selected);
            }
            Output::Undone(study, out) => {
                self.notify(
                    Level::Info,
                    format!(
                        "Study {study}: correction {} undone; {} instance(s) back on their previous version.",
                        out.undid, out.instances
                    ),
                );
                self.after_correction(study, selected);
            }
            _ => {}
        }
    }

    fn after_correction(&mut self, study: i64, selected: Option<i64>) {
        self.correct.busy = false;
        self.load_queue();
        if selected == Some(study) {
            self.load_study(study);
        }
    }

    /// A correction job failed: the desk may start another.
    pub(super) fn correction_failed(&mut self) {
        self.correct.busy = false;
    }
}
