//! The desk in a team: the claim it holds on the study it is correcting (taken off the UI
//! thread, renewed by a keeper, given back once no window acts on the study), taking a study
//! over from whoever holds it, and the change feed that reloads the queue when the service,
//! another desk or a command changed the workspace.

use crate::model::{ActorKind, Claim};
use crate::store::{ChangeWatch, Held, Keeper, StoreError};

use super::runtime::{JobKind, Level, Runtime};

/// What the desk knows of the team.
#[derive(Default)]
pub struct TeamData {
    /// The claim the desk holds or is taking.
    pub claim: Option<DeskClaim>,
    /// The question "take this study over?", when asked.
    pub take_over: Option<TakeOver>,
    /// A study the Associate took over: held while it stays selected.
    pub kept: Option<i64>,
    /// The study whose claim was refused: not asked again until its windows close.
    refused: Option<i64>,
    /// Who this desk is (claims held by it are its own).
    me: Option<crate::model::Actor>,
    /// Commits by any connection, counted by the watch.
    watch: Option<ChangeWatch>,
    seen: u64,
    /// Others changed the workspace since the last reload it caused.
    changed: bool,
    /// When others' changes last reloaded the queue.
    last_reload: Option<std::time::Instant>,
}

/// Others' changes reload the queue at most this often (a receiving service commits several
/// times a second; each reload holds the desk's store while it reads).
const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_millis(700);

/// The desk's claim on one study.
pub struct DeskClaim {
    pub study: i64,
    /// None while the job taking it runs.
    keeper: Option<Keeper>,
}

/// Asking the Associate whether to take a study over from its holder.
#[derive(Debug, Clone)]
pub struct TakeOver {
    pub claim: Claim,
    pub reason: String,
}

/// What a claim job found.
pub enum ClaimResult {
    Taken(Box<(Keeper, Claim)>),
    Held(Box<Claim>),
}

impl Runtime {
    /// Who the desk is, and the change feed (called once the store is the desk's).
    pub(super) fn start_team(&mut self, wake: impl Fn() + Send + 'static) {
        let watch = self
            .store_handle()
            .lock()
            .map_err(|_| "store lock poisoned".to_string())
            .and_then(|mut s| {
                let me = crate::store::this_process(ActorKind::Desk, "");
                s.set_actor(me.clone());
                self.team.me = Some(me);
                s.watch_changes(wake).map_err(|e| e.to_string())
            });
        match watch {
            Ok(w) => self.team.watch = Some(w),
            Err(e) => self.notify(
                Level::Error,
                format!("Changes by others will show only after F5: {e}"),
            ),
        }
    }

    /// Whether others' changes call for a reload now: Ok(true) once per batch of commits,
    /// at most every [`RELOAD_EVERY`]; Err(wait) when one is due after `wait`.
    pub(super) fn others_changed(&mut self) -> Result<bool, std::time::Duration> {
        if let Some(g) = self.team.watch.as_ref().map(ChangeWatch::generation)
            && g != self.team.seen
        {
            self.team.seen = g;
            self.team.changed = true;
        }
        if !self.team.changed {
            return Ok(false);
        }
        let now = std::time::Instant::now();
        if let Some(last) = self.team.last_reload
            && now < last + RELOAD_EVERY
        {
            return Err(last + RELOAD_EVERY - now);
        }
        self.team.changed = false;
        self.team.last_reload = Some(now);
        Ok(true)
    }

    /// The study the desk's windows act on (a preview, the edit form, the actions window), or
    /// one taken over and still selected.
    fn claim_wanted(&self, selected: Option<i64>) -> Option<i64> {
        self.correct
            .pending
            .as_ref()
            .map(|p| p.study)
            .or(self.correct.edit.as_ref().map(|e| e.study))
            .or(self.correct.actions.as_ref().map(|a| a.study))
            .or(self.team.kept.filter(|&k| Some(k) == selected))
    }

    /// Takes, keeps or gives back the desk's claim so it covers exactly the study its windows
    /// act on; a claim lost to another closes those windows, saying who took it.
    pub(super) fn sync_claim(&mut self, selected: Option<i64>) {
        if self.team.kept.is_some() && self.team.kept != selected {
            self.team.kept = None;
        }
        let wanted = self.claim_wanted(selected);
        if wanted.is_none() {
            self.team.refused = None;
        }
        let lost = self
            .team
            .claim
            .as_ref()
            .and_then(|c| c.keeper.as_ref().filter(|k| k.lost()).map(|_| c.study));
        if let Some(study) = lost {
            self.drop_claim();
            self.close_windows_of(study);
            self.notify(
                Level::Error,
                format!(
                    "Study {study} is no longer yours (taken over by another desk, or your claim lapsed): what you had open on it was closed, nothing was applied."
                ),
            );
            self.load_queue();
            return;
        }
        if self.team.claim.as_ref().map(|c| c.study) == wanted {
            return;
        }
        self.drop_claim();
        if let Some(study) = wanted
            && self.team.refused != Some(study)
        {
            self.team.claim = Some(DeskClaim {
                study,
                keeper: None,
            });
            self.claim_job(study, None);
        }
    }

    /// Takes the study over from its holder for `reason` (audited).
    pub fn take_over(&mut self, study: i64, reason: String) {
        self.team.take_over = None;
        self.drop_claim();
        self.team.refused = None;
        self.team.kept = Some(study);
        self.team.claim = Some(DeskClaim {
            study,
            keeper: None,
        });
        self.claim_job(study, Some(reason));
    }

    /// Asks whether to take over the study `claim` holds.
    pub fn ask_take_over(&mut self, claim: Claim) {
        self.team.take_over = Some(TakeOver {
            claim,
            reason: String::new(),
        });
    }

    fn claim_job(&mut self, study: i64, take_over: Option<String>) {
        let store = self.store_handle();
        let title = if take_over.is_some() {
            format!("Taking study {study} over")
        } else {
            format!("Claiming study {study}")
        };
        self.spawn(&title, JobKind::Claim(study), move |_| {
            let mut store = store
                .lock()
                .map_err(|_| "store lock poisoned".to_string())?;
            let lease = store.claim_config().lease();
            match store.claim(study, lease, None, take_over.as_deref()) {
                Ok(c) => {
                    let keeper = store
                        .keeper(Held::Claims(vec![c.clone()]), lease)
                        .map_err(|e| e.to_string())?;
                    Ok(ClaimResult::Taken(Box::new((keeper, c))))
                }
                Err(StoreError::Claimed(c)) => Ok(ClaimResult::Held(c)),
                Err(e) => Err(e.to_string()),
            }
        });
    }

    pub(super) fn apply_claim(&mut self, out: ClaimResult) {
        let study = match &out {
            ClaimResult::Taken(t) => t.1.study,
            ClaimResult::Held(c) => c.study,
        };
        let ours = self
            .team
            .claim
            .as_ref()
            .is_some_and(|c| c.study == study && c.keeper.is_none());
        match out {
            ClaimResult::Taken(t) => {
                let (keeper, c) = *t;
                if ours && let Some(dc) = self.team.claim.as_mut() {
                    dc.keeper = Some(keeper);
                    if self.team.kept == Some(study) {
                        self.notify(
                            Level::Info,
                            format!("You took study {study} over (kept in the audit log)."),
                        );
                    }
                } else {
                    // Asked for, then no longer wanted: given back at once.
                    keeper.detach();
                }
                tracing::debug!("claimed study {study} until {}", c.until_unix);
                self.load_queue();
            }
            ClaimResult::Held(c) => {
                if ours {
                    self.drop_claim();
                }
                self.team.refused = Some(study);
                self.team.kept = None;
                self.close_windows_of(study);
                self.notify(
                    Level::Error,
                    format!(
                        "Study {study} is being handled by {} since {}: nothing was opened on it.",
                        c.display(),
                        crate::text::local_clock(c.since_unix)
                    ),
                );
                self.ask_take_over(*c);
                self.load_queue();
            }
        }
    }

    /// A claim job failed (the database): the windows stay, and the store's own check still
    /// refuses a change another holds.
    pub(super) fn claim_failed(&mut self, study: i64) {
        if self.team.claim.as_ref().is_some_and(|c| c.study == study) {
            self.drop_claim();
            self.team.refused = Some(study);
        }
    }

    /// Gives the desk's claim back from its keeper's own thread (the frame never waits on
    /// the database).
    fn drop_claim(&mut self) {
        if let Some(c) = self.team.claim.take()
            && let Some(k) = c.keeper
        {
            k.detach();
        }
    }

    fn close_windows_of(&mut self, study: i64) {
        if self
            .correct
            .pending
            .as_ref()
            .is_some_and(|p| p.study == study)
        {
            self.correct.pending = None;
        }
        if self.correct.edit.as_ref().is_some_and(|e| e.study == study) {
            self.correct.edit = None;
        }
        if self
            .correct
            .actions
            .as_ref()
            .is_some_and(|a| a.study == study)
        {
            self.correct.actions = None;
        }
    }

    /// The claim another holds on `study` now, as last loaded (the queue row or the detail).
    pub fn held_by_other(&self, study: i64) -> Option<Claim> {
        if self.claimed() == Some(study) {
            return None;
        }
        let now = crate::fsutil::now().1;
        let from_rows = self.rows.iter().find(|r| r.id == study).map(|r| &r.claim);
        let from_detail = self
            .detail
            .as_ref()
            .filter(|d| d.row.id == study)
            .map(|d| &d.row.claim);
        from_detail
            .or(from_rows)
            .and_then(|c| c.holder.clone())
            .filter(|c| c.until_unix > now && !self.is_mine(c))
    }

    /// Whether the claim is this desk's own.
    pub fn is_mine(&self, c: &Claim) -> bool {
        self.team.me.as_ref().is_some_and(|me| c.held_by(me))
    }

    /// The study the desk holds a claim on now (taken, not just asked for).
    pub fn claimed(&self) -> Option<i64> {
        self.team
            .claim
            .as_ref()
            .filter(|c| c.keeper.is_some())
            .map(|c| c.study)
    }
}
