//! `qcdesk claim` and `qcdesk release`: saying who handles a study, from the command line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use super::output;
use crate::model::{Actor, Claim};
use crate::store::{Held, Released, Store};

/// Set by SIGINT/SIGTERM while `claim --hold` keeps its claim.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

#[derive(Serialize)]
struct ClaimJson {
    study: i64,
    /// `claimed_by`, `claimed_since`, `claimed_until`, as `queue --json` prints them.
    #[serde(flatten)]
    info: crate::model::ClaimInfo,
    /// Renewed by this process until it is interrupted (`--hold`).
    held: bool,
}

impl ClaimJson {
    fn of(c: &Claim, held: bool) -> ClaimJson {
        ClaimJson {
            study: c.study,
            info: c.info(),
            held,
        }
    }
}

/// What `claim` was asked.
pub struct ClaimArgs<'a> {
    pub study: &'a str,
    pub minutes: Option<f64>,
    pub take_over: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub hold: bool,
    pub json: bool,
}

/// `qcdesk claim STUDY [--minutes N] [--take-over REASON] [--hold]`.
pub fn claim(store: &mut Store, a: &ClaimArgs<'_>) -> Result<()> {
    let id = store.find_study(a.study)?;
    if let Some(op) = a.operator {
        let mut actor = store.actor().clone();
        actor.operator = op.trim().to_string();
        store.set_actor(actor);
    }
    let lease = match a.minutes {
        None => store.claim_config().lease(),
        // At least 10 s, as the site's setting: a shorter lease lapses between renewals.
        Some(m) if m.is_finite() && m > 0.0 && m <= 24.0 * 60.0 => {
            Duration::from_secs_f64(m * 60.0).max(Duration::from_secs(10))
        }
        Some(m) => bail!("--minutes {m}: give a number of minutes above 0, at most a day"),
    };
    let take_over = a.take_over.map(str::trim);
    if take_over == Some("") {
        bail!("--take-over needs the reason (kept in the audit log)");
    }
    // A held claim is this process's own (it lapses when the process dies); otherwise every
    // command of this user on this host may act under it.
    let session = (!a.hold).then_some(Actor::COMMAND_LINE);
    let c = store.claim(id, lease, session, take_over)?;
    if a.json {
        output::print_json_line(&ClaimJson::of(&c, a.hold))?;
    } else {
        println!(
            "study {id} claimed by {} until {}{}",
            c.display(),
            crate::text::local_clock(c.until_unix),
            if a.hold {
                ", renewed until interrupted"
            } else {
                " (`qcdesk release` gives it up)"
            }
        );
    }
    if !a.hold {
        return Ok(());
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let keeper = store.keeper(Held::Claims(vec![c.clone()]), lease)?;
    while !STOP.load(Ordering::SeqCst) {
        if keeper.lost() {
            bail!("study {id}: the claim was taken over by someone else");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(keeper);
    if !a.json {
        println!("study {id} released");
    }
    Ok(())
}

/// `qcdesk release STUDY`.
pub fn release(store: &mut Store, study: &str, json: bool) -> Result<()> {
    let id = store.find_study(study)?;
    let out = store.release(id)?;
    let released = out == Released::Released;
    if json {
        output::print_json(&serde_json::json!({"study": id, "released": released}))?;
    } else if released {
        println!("study {id} released");
    } else {
        println!("study {id} was not claimed");
    }
    Ok(())
}
