//! Claims and leases. A claim says who is handling a study: taken when a desk opens a
//! correction, an edit or a move (or by `qcdesk claim`), renewed while its holder works, released
//! on apply, cancel or close, and nobody's once it lapses (a desk that died). A change to a study
//! (fix, undo, dismiss, move, send, reject) checks its claim inside the change's own transaction,
//! so a study another holds is refused naming the holder, whatever process asks; taking it over
//! needs a reason and is audited. A lease says which process runs a job the team needs exactly
//! once (the RIS sync, the send runner): whichever holds it, renewing it while it runs.
//!
//! Both are rows with a holder and an expiry (unix seconds); the [`Keeper`] renews them from a
//! thread with its own connection, so neither a desk's frame nor a long rewrite waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::audit::{self, AuditNew};
use super::{Store, StoreError};
use crate::fsutil;
use crate::model::{Actor, ActorKind, Claim};

/// The process's actor of `kind`: the OS account, this host, a session unique to the process.
pub fn this_process(kind: ActorKind, operator: &str) -> Actor {
    static STARTED: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let started = STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    });
    Actor {
        user: super::os_user(),
        operator: operator.trim().to_string(),
        host: host_name(),
        session: format!("{}:{}:{started}", kind.as_str(), std::process::id()),
        kind,
    }
}

/// This machine's name (what others see beside a claim's holder).
pub fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
        // or truncates (the last byte stays 0).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
            if !name.is_empty() {
                return name;
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into())
}

fn claim_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Claim> {
    let kind: String = r.get(5)?;
    Ok(Claim {
        study: r.get(0)?,
        user: r.get(1)?,
        operator: r.get(2)?,
        host: r.get(3)?,
        session: r.get(4)?,
        kind: ActorKind::parse(&kind).unwrap_or(ActorKind::Desk),
        since_unix: r.get(6)?,
        until_unix: r.get(7)?,
        token: r.get(8)?,
    })
}

const CLAIM_COLUMNS: &str = "study_id, user, operator, host, session, kind, since, until, token";

/// A token no other claim has: this process, this instant, a counter.
fn new_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The study's claim if one holds now.
fn live_claim(conn: &Connection, study_id: i64, now: i64) -> Result<Option<Claim>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE study_id = ?1 AND until > ?2"
        ))?
        .query_row(params![study_id, now], claim_row)
        .optional()?)
}

/// Refuses a change to `study_id` when someone other than `actor` holds it. Called inside the
/// change's transaction: whoever commits first decides.
pub(super) fn check_free(
    tx: &rusqlite::Transaction<'_>,
    study_id: i64,
    actor: &Actor,
) -> Result<(), StoreError> {
    let (_, now) = fsutil::now();
    match live_claim(tx, study_id, now)? {
        Some(c) if !c.held_by(actor) => Err(StoreError::Claimed(Box::new(c))),
        _ => Ok(()),
    }
}

/// What `release` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    /// The actor's claim is gone.
    Released,
    /// Nobody held the study.
    NotClaimed,
}

impl Store {
    /// Who this store's changes are by (the OS user, this host and process, unless set).
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Sets who this process's changes and claims are by (the desk, the command line, the
    /// service).
    pub fn set_actor(&mut self, actor: Actor) {
        self.actor = actor;
    }

    /// `[claims]`: how long a claim lasts unless renewed.
    pub fn claim_config(&self) -> crate::config::ClaimConfig {
        self.claim_config
    }

    /// The study's claim, if one holds now.
    pub fn claim_of(&self, study_id: i64) -> Result<Option<Claim>, StoreError> {
        live_claim(&self.conn, study_id, fsutil::now().1)
    }

    /// Every claim that holds now, by study.
    pub fn claims(&self) -> Result<std::collections::HashMap<i64, Claim>, StoreError> {
        let now = fsutil::now().1;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE until > ?1"
        ))?;
        let rows = stmt.query_map([now], claim_row)?;
        rows.map(|r| r.map(|c| (c.study, c)).map_err(Into::into))
            .collect()
    }

    /// Claims the study for this store's actor for `lease` (a claim of its own is renewed).
    /// `session` is the actor's own unless given (`qcdesk claim` claims for every command of
    /// the user on this host). Held by another: refused naming the holder, unless `take_over`
    /// gives a reason, which the audit log keeps with whom it was taken from.
    pub fn claim(
        &mut self,
        study_id: i64,
        lease: Duration,
        session: Option<&str>,
        take_over: Option<&str>,
    ) -> Result<Claim, StoreError> {
        let row = self.study_row(study_id)?;
        let study_uid = row.study_instance_uid.unwrap_or_default();
        let mut actor = self.actor.clone();
        if let Some(s) = session {
            actor.session = s.to_string();
        }
        let take_over = take_over.map(str::trim).filter(|r| !r.is_empty());
        self.in_transaction(|tx| {
            let (at, now) = fsutil::now();
            let held = live_claim(tx, study_id, now)?;
            let mut since = now;
            match &held {
                Some(c) if c.held_by(&actor) && c.session == actor.session => since = c.since_unix,
                Some(c) if c.held_by(&actor) => {}
                Some(c) => {
                    let Some(reason) = take_over else {
                        return Err(StoreError::Claimed(Box::new(c.clone())));
                    };
                    let detail = serde_json::json!({
                        "study": study_id,
                        "from": c.display(),
                        "from_since": crate::model::rfc3339(c.since_unix),
                        "reason": reason,
                    });
                    audit::append(
                        tx,
                        &AuditNew {
                            at: &at,
                            os_user: &actor.user,
                            operator: &actor.operator,
                            action: "take over",
                            study_uid: &study_uid,
                            detail: &detail,
                        },
                    )?;
                }
                None => {}
            }
            let until = now + lease.as_secs().max(1) as i64;
            let token = new_token();
            tx.execute(
                "INSERT INTO claims (study_id, user, operator, host, session, kind, since, until, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(study_id) DO UPDATE SET user = excluded.user,
                     operator = excluded.operator, host = excluded.host,
                     session = excluded.session, kind = excluded.kind, since = excluded.since,
                     until = excluded.until, token = excluded.token",
                params![
                    study_id,
                    actor.user,
                    actor.operator,
                    actor.host,
                    actor.session,
                    actor.kind.as_str(),
                    since,
                    until,
                    token
                ],
            )?;
            Ok(Claim {
                study: study_id,
                user: actor.user.clone(),
                operator: actor.operator.clone(),
                host: actor.host.clone(),
                session: actor.session.clone(),
                kind: actor.kind,
                since_unix: since,
                until_unix: until,
                token,
            })
        })
    }

    /// Gives the study up. Another's claim is not released (take it over first).
    pub fn release(&mut self, study_id: i64) -> Result<Released, StoreError> {
        let actor = self.actor.clone();
        self.in_transaction(|tx| {
            let (_, now) = fsutil::now();
            match live_claim(tx, study_id, now)? {
                None => Ok(Released::NotClaimed),
                Some(c) if !c.held_by(&actor) => Err(StoreError::Claimed(Box::new(c))),
                Some(_) => {
                    tx.execute("DELETE FROM claims WHERE study_id = ?1", [study_id])?;
                    Ok(Released::Released)
                }
            }
        })
    }

    /// Before a command changes these studies: refused if another holds one; each study
    /// nobody holds is claimed for this process while the returned keeper lives (a second
    /// command on the same study meanwhile is refused naming this one). Studies the actor
    /// already holds stay as they are.
    pub fn claim_for_change(&mut self, study_ids: &[i64]) -> Result<Keeper, StoreError> {
        let lease = self.claim_config.lease();
        let mut taken: Vec<Claim> = Vec::new();
        for &id in study_ids {
            match self.claim_of(id)? {
                Some(c) if c.held_by(&self.actor) => {}
                Some(c) => {
                    // Give back what this call took before refusing.
                    for t in &taken {
                        let _ = self.release(t.study);
                    }
                    return Err(StoreError::Claimed(Box::new(c)));
                }
                None => match self.claim(id, lease, None, None) {
                    Ok(c) => taken.push(c),
                    Err(e) => {
                        for t in &taken {
                            let _ = self.release(t.study);
                        }
                        return Err(e);
                    }
                },
            }
        }
        self.keeper(Held::Claims(taken), lease)
    }

    /// A keeper renewing `held` four times a `lease` from its own thread and connection,
    /// releasing it when dropped.
    pub fn keeper(&self, held: Held, lease: Duration) -> Result<Keeper, StoreError> {
        Keeper::start(&self.workspace.db_path(), self.actor.clone(), held, lease)
    }

    /// Takes the job lease `name` for `lease` if nobody else holds it (or renews this
    /// process's). Whoever holds it runs the job; the others leave it alone.
    pub fn try_lease(&mut self, name: &str, lease: Duration) -> Result<bool, StoreError> {
        let holder = self.actor.session.clone();
        // Read first: an idle runner asking every second must not take the write lock.
        let now = fsutil::now().1;
        let other: Option<String> = self
            .conn
            .query_row(
                "SELECT holder FROM leases WHERE name = ?1 AND until > ?2 AND holder <> ?3",
                params![name, now, holder],
                |r| r.get(0),
            )
            .optional()?;
        if other.is_some() {
            return Ok(false);
        }
        let label = self.actor.lease_label();
        self.in_transaction(|tx| take_lease(tx, name, &holder, &label, lease))
    }

    /// Who holds the job lease `name` now: its label ("alice at ws-12 (desk)").
    pub fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        let now = fsutil::now().1;
        Ok(self
            .conn
            .query_row(
                "SELECT label FROM leases WHERE name = ?1 AND until > ?2",
                params![name, now],
                |r| r.get(0),
            )
            .optional()?)
    }
}

fn take_lease(
    conn: &Connection,
    name: &str,
    holder: &str,
    label: &str,
    lease: Duration,
) -> Result<bool, StoreError> {
    let now = fsutil::now().1;
    let until = now + lease.as_secs().max(1) as i64;
    // One statement: taken when free, lapsed or already ours; otherwise nothing changes.
    let n = conn.execute(
        "INSERT INTO leases (name, holder, label, since, until) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(name) DO UPDATE SET
             holder = excluded.holder, label = excluded.label,
             since = CASE WHEN leases.holder = excluded.holder THEN leases.since ELSE excluded.since END,
             until = excluded.until
         WHERE leases.holder = excluded.holder OR leases.until <= ?4",
        params![name, holder, label, now, until],
    )?;
    Ok(n > 0)
}

/// What a [`Keeper`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// These claims, as taken (each renewed and given back by its token).
    Claims(Vec<Claim>),
    /// The job lease of this name.
    Lease(String),
}

/// Renews a claim or lease while it lives; releases it when dropped. If another took it over
/// meanwhile, [`Keeper::lost`] says so (and it is not released: it is theirs).
pub struct Keeper {
    stop: Option<crossbeam_channel::Sender<()>>,
    lost: Arc<AtomicBool>,
    /// Set by [`Keeper::abandon`]: nothing is given back.
    abandoned: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    held: Held,
}

impl Keeper {
    fn start(
        db: &std::path::Path,
        actor: Actor,
        held: Held,
        lease: Duration,
    ) -> Result<Keeper, StoreError> {
        let lost = Arc::new(AtomicBool::new(false));
        if matches!(&held, Held::Claims(claims) if claims.is_empty()) {
            return Ok(Keeper {
                stop: None,
                lost,
                abandoned: Arc::default(),
                thread: None,
                held,
            });
        }
        let conn = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|cause| StoreError::Open {
            path: db.display().to_string(),
            cause,
        })?;
        // Renewed four times a lease, each try waiting at most half the interval for a busy
        // database: two slow rounds still leave the lease standing.
        let every = (lease / 4).max(Duration::from_secs(1));
        conn.busy_timeout((every / 2).max(Duration::from_millis(500)))?;
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let abandoned = Arc::new(AtomicBool::new(false));
        let (lost2, held2, abandoned2) = (Arc::clone(&lost), held.clone(), Arc::clone(&abandoned));
        let thread = std::thread::Builder::new()
            .name("claim keeper".into())
            .spawn(move || {
                // Claims still ours (a lapsed or taken one is not renewed again).
                let mut ours: Vec<bool> = match &held2 {
                    Held::Claims(c) => vec![true; c.len()],
                    Held::Lease(_) => vec![true],
                };
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    match renew(&conn, &actor, &held2, &mut ours, lease) {
                        Ok(true) => {}
                        Ok(false) => lost2.store(true, Ordering::SeqCst),
                        // A busy database: the next round tries again, well within the lease.
                        Err(e) => tracing::warn!("renewing {held2:?}: {e}"),
                    }
                    // A lost lease is not taken again by this keeper: its holder works now.
                    if matches!(held2, Held::Lease(_)) && !ours[0] {
                        break;
                    }
                }
                // Only what is still ours goes (the token or the holder says so).
                if !abandoned2.load(Ordering::SeqCst)
                    && let Err(e) = give_back(&conn, &actor, &held2)
                {
                    tracing::warn!("releasing {held2:?}: {e} (it lapses by itself)");
                }
            })
            .map_err(StoreError::Io)?;
        Ok(Keeper {
            stop: Some(stop),
            lost,
            abandoned,
            thread: Some(thread),
            held,
        })
    }

    /// Whether another took it over (or it lapsed and another took it).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub fn held(&self) -> &Held {
        &self.held
    }

    /// Stops renewing and releases from its own thread, without waiting (the desk's frame
    /// must not wait on the database).
    pub fn detach(mut self) {
        self.stop.take();
        self.thread.take();
    }

    /// Stops renewing without releasing: the claim lapses by itself (what a dead desk leaves).
    pub fn abandon(mut self) {
        self.abandoned.store(true, Ordering::SeqCst);
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread, which releases and ends.
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Renews what is still ours; false once anything was lost (lapsed, released or taken).
fn renew(
    conn: &Connection,
    actor: &Actor,
    held: &Held,
    ours: &mut [bool],
    lease: Duration,
) -> Result<bool, StoreError> {
    let now = fsutil::now().1;
    let until = now + lease.as_secs().max(1) as i64;
    match held {
        Held::Claims(claims) => {
            for (c, ours) in claims.iter().zip(ours.iter_mut()) {
                if !*ours {
                    continue;
                }
                // Not revived once lapsed: others may have changed the study meanwhile.
                let n = conn.execute(
                    "UPDATE claims SET until = ?3 WHERE study_id = ?1 AND token = ?2 AND until > ?4",
                    params![c.study, c.token, until, now],
                )?;
                *ours = n > 0;
            }
        }
        Held::Lease(name) => {
            let label = actor.lease_label();
            ours[0] = take_lease(conn, name, &actor.session, &label, lease)?;
        }
    }
    Ok(ours.iter().all(|&o| o))
}

fn give_back(conn: &Connection, actor: &Actor, held: &Held) -> Result<(), StoreError> {
    match held {
        Held::Claims(claims) => {
            for c in claims {
                conn.execute(
                    "DELETE FROM claims WHERE study_id = ?1 AND token = ?2",
                    params![c.study, c.token],
                )?;
            }
        }
        Held::Lease(name) => {
            conn.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, actor.session],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_study() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO studies (study_key, study_uid, state, source, first_seen, first_seen_unix, last_change)
                 VALUES ('1.2.3', '1.2.3', 'unmatched', 'test', '2026-01-01T00:00:00Z', 0, '')",
                [],
            )
            .unwrap();
        let id = store.conn.last_insert_rowid();
        (dir, store, id)
    }

    #[test]
    fn a_keeper_of_an_earlier_claim_never_releases_a_later_one_of_the_same_study() {
        let (_dir, mut store, id) = store_with_study();
        let lease = Duration::from_secs(60);
        let first = store.claim(id, lease, None, None).unwrap();
        let later = store.claim(id, lease, None, None).unwrap();
        assert_ne!(first.token, later.token);
        // The first claim's keeper ends late (a desk went A, B, A quickly): nothing it does
        // touches the claim taken since.
        drop(store.keeper(Held::Claims(vec![first]), lease).unwrap());
        let held = store.claim_of(id).unwrap().expect("still claimed");
        assert_eq!(held.token, later.token);
        drop(store.keeper(Held::Claims(vec![later]), lease).unwrap());
        assert!(
            store.claim_of(id).unwrap().is_none(),
            "its own keeper gives it back"
        );
    }

    #[test]
    fn a_lapsed_claim_is_not_renewed_and_its_keeper_says_it_is_lost() {
        let (_dir, mut store, id) = store_with_study();
        let c = store
            .claim(id, Duration::from_secs(60), None, None)
            .unwrap();
        store
            .conn
            .execute("UPDATE claims SET until = 1 WHERE study_id = ?1", [id])
            .unwrap();
        let mut ours = vec![true];
        let renewed = renew(
            &store.conn,
            &store.actor,
            &Held::Claims(vec![c]),
            &mut ours,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(!renewed && !ours[0]);
        assert!(store.claim_of(id).unwrap().is_none(), "lapsed, not revived");
    }

    #[test]
    fn a_job_lease_has_one_holder_and_passes_on_once_it_lapses() {
        let (_dir, mut a, _) = store_with_study();
        let mut b = Store::open(a.workspace().root()).unwrap();
        b.set_actor(this_process(ActorKind::Desk, ""));
        assert!(a.try_lease("job", Duration::from_secs(60)).unwrap());
        assert!(!b.try_lease("job", Duration::from_secs(60)).unwrap());
        assert!(
            a.try_lease("job", Duration::from_secs(60)).unwrap(),
            "renewed"
        );
        a.conn
            .execute("UPDATE leases SET until = 1 WHERE name = 'job'", [])
            .unwrap();
        assert!(
            b.try_lease("job", Duration::from_secs(60)).unwrap(),
            "lapsed: taken"
        );
        assert!(!a.try_lease("job", Duration::from_secs(60)).unwrap());
    }
}
