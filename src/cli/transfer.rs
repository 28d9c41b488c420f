//! `listen`, `send` and `transfers`: the network loop from the command line.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::output;
use crate::model::NodeRole;
use crate::receive::{Event, Receiver};
use crate::send::{self, SendEvent};
use crate::store::{Store, Transfer};

/// Set by SIGINT/SIGTERM: `listen` stops accepting, finishes what it holds, and exits 0.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// `qcdesk listen`: the receiver and the send queue, until interrupted.
pub fn listen(
    store: &mut Store,
    ae: Option<String>,
    port: Option<u16>,
    json: bool,
    service: Option<super::install::ServiceConfig>,
) -> Result<()> {
    let service = service.unwrap_or_default();
    let ae = ae.or(service.listen.ae_title);
    let port = port.or(service.listen.port);
    let ae = match ae {
        Some(a) => {
            crate::store::validate_ae_title(&a).map_err(anyhow::Error::msg)?;
            a
        }
        None => store.local_ae_title()?,
    };
    let port = match port {
        Some(p) => p,
        None => store.local_port()?,
    };
    let root = store.workspace().root().to_path_buf();
    let config = service
        .receiver
        .unwrap_or_else(|| store.receiver_config().clone());
    let bind = format!("0.0.0.0:{port}");
    let receiver = Receiver::start(&root, &ae, &bind, &config)?;
    let runner = send::Runner::start(
        &root,
        store.send_config().clone(),
        crate::model::ActorKind::Service,
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let durability = format!("{:?}", config.durability).to_lowercase();
    if json {
        output::print_json_line(&serde_json::json!({
            "event": "listening", "ae_title": ae, "port": receiver.port(),
            "tls_port": receiver.tls_port(), "durability": durability,
        }))?;
    } else {
        let tls = receiver
            .tls_port()
            .map(|p| format!(" and {p} (TLS)"))
            .unwrap_or_default();
        eprintln!(
            "listening as {ae} on port {}{tls} ({durability} durability); Ctrl+C stops",
            receiver.port()
        );
    }
    // The matching's pass over the open studies, on a thread of its own with its own store.
    let mut schedule = crate::reconcile::learn::ProposeSchedule::new(store.match_config());
    let proposing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let syncing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut next_sync = std::time::Instant::now();
    while !STOP.load(Ordering::SeqCst) {
        crossbeam_channel::select! {
            recv(receiver.events()) -> e => if let Ok(e) = e {
                if let (Event::Association { stored, .. }, Some(s)) = (&e, schedule.as_mut())
                    && *stored > 0
                {
                    s.arrived();
                }
                print_receive_event(&e, json)?
            },
            recv(runner.events()) -> e => if let Ok(e) = e { print_send_event(&e, json)? },
            default(Duration::from_millis(200)) => {}
        }
        if let Some(s) = schedule.as_mut()
            && !proposing.load(Ordering::SeqCst)
            && s.due(std::time::Instant::now())
        {
            let root = root.clone();
            in_background(&proposing, move || {
                let done = Store::open(&root)
                    .and_then(|mut st| crate::reconcile::learn::propose_open(&mut st));
                if let Err(e) = done {
                    tracing::warn!("proposing likely orders failed: {e}");
                }
            });
        }
        // The RIS sync schedule: the service syncs each RIS node when due (desks a grace later).
        if std::time::Instant::now() >= next_sync && !syncing.load(Ordering::SeqCst) {
            next_sync = std::time::Instant::now() + Duration::from_secs(60);
            let root = root.clone();
            in_background(&syncing, move || {
                let done = Store::open(&root).and_then(|mut st| {
                    st.set_actor(crate::store::this_process(
                        crate::model::ActorKind::Service,
                        "",
                    ));
                    crate::worklist::schedule::run_due(&mut st, 0, &mut |_, _| {})
                });
                match done {
                    Ok(syncs) => {
                        for s in syncs {
                            match s.outcome {
                                Ok(r) => eprintln!(
                                    "worklist synced from {}: {} items, {} new, {} changed, {} vanished",
                                    s.node,
                                    r.counts.received,
                                    r.counts.new,
                                    r.counts.changed,
                                    r.counts.vanished
                                ),
                                Err(e) => eprintln!("error: worklist sync from {}: {e}", s.node),
                            }
                        }
                    }
                    Err(e) => tracing::warn!("the worklist schedule failed: {e}"),
                }
            });
        }
    }
    drop(receiver);
    drop(runner);
    if !json {
        eprintln!("stopped");
    }
    Ok(())
}

/// Runs `work` on a thread of its own with `busy` set until it ends, however it ends (a panic
/// too: otherwise the service would never run it again).
fn in_background(busy: &std::sync::Arc<AtomicBool>, work: impl FnOnce() + Send + 'static) {
    struct Done(std::sync::Arc<AtomicBool>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.store(false, Ordering::SeqCst);
        }
    }
    busy.store(true, Ordering::SeqCst);
    let done = Done(std::sync::Arc::clone(busy));
    std::thread::spawn(move || {
        let _done = done;
        work();
    });
}

fn print_receive_event(e: &Event, json: bool) -> Result<()> {
    match e {
        Event::Stored { .. } => {}
        Event::Association {
            calling_ae,
            peer_address,
            stored,
            how,
        } => {
            if json {
                output::print_json_line(&serde_json::json!({
                    "event": "association", "calling_ae": calling_ae,
                    "peer_address": peer_address, "stored": stored, "outcome": how,
                }))?;
            } else {
                eprintln!("{calling_ae} ({peer_address}): {stored} instances stored, {how}");
            }
        }
        Event::Failed { instances, why } => {
            if json {
                output::print_json_line(&serde_json::json!({
                    "event": "failed", "instances": instances, "error": why,
                }))?;
            } else {
                eprintln!("error: {instances} received instances not recorded: {why}");
            }
        }
        Event::Report { transaction_uid } => {
            if !json {
                eprintln!("Storage Commitment report {transaction_uid} received");
            }
        }
    }
    Ok(())
}

fn print_send_event(e: &SendEvent, json: bool) -> Result<()> {
    match e {
        SendEvent::Progress(_) => {}
        SendEvent::Ended { job, end } => {
            if json {
                output::print_json_line(&serde_json::json!({
                    "event": "send", "job": job, "outcome": format!("{end:?}"),
                }))?;
            } else {
                eprintln!("send job {job}: {end:?}");
            }
        }
        SendEvent::Error(why) => eprintln!("error: send queue: {why}"),
    }
    Ok(())
}

/// Keeps a receiver for Storage Commitment reports while `send` runs, unless something
/// listens on qcdesk's port already (the desk, `qcdesk listen`).
fn report_receiver(store: &Store, root: &Path) -> Option<Receiver> {
    let ae = store.local_ae_title().ok()?;
    let port = store.local_port().ok()?;
    let config = store.receiver_config().clone();
    Receiver::start(root, &ae, &format!("0.0.0.0:{port}"), &config).ok()
}

/// `qcdesk send STUDY... [--node] [--wait] [--json]`.
pub fn send(
    store: &mut Store,
    studies: &[String],
    node: Option<String>,
    wait: bool,
    force: bool,
    json: bool,
) -> Result<()> {
    let node = store.node_for(NodeRole::Archive, node.as_deref())?;
    // Every study is checked before any is queued: a refusal queues nothing.
    let policy = store.send_config().unmatched;
    let mut ready = Vec::new();
    for s in studies {
        let id = store.find_study(s).with_context(|| format!("study {s}"))?;
        let readiness = send::readiness::Readiness::of(&store.study_detail(id)?);
        readiness
            .check(policy, force)
            .map_err(|why| anyhow::anyhow!("study {id}: {why}"))?;
        ready.push((id, readiness.caveat()));
    }
    let mut jobs = Vec::new();
    for (id, caveat) in ready {
        jobs.push(store.enqueue_send_with(id, &node.name, &caveat)?);
    }
    let root = store.workspace().root().to_path_buf();
    let _reports = report_receiver(store, &root);
    let cfg = store.send_config().clone();
    let owner = crate::store::owner_name("send");
    let tty = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |p: send::Progress| {
        if tty {
            eprint!("\rjob {}: {}/{} instances", p.job, p.done, p.total);
        }
    };
    send::run_jobs(store, &owner, &cfg, &jobs, wait, &mut progress)?;
    if tty {
        eprintln!();
    }
    let transfers = store.transfers(Some(&jobs))?;
    if json {
        let rows: Vec<SendJson> = transfers.iter().map(SendJson::from).collect();
        output::print_json(&rows)?;
    } else {
        print_transfers(&transfers);
    }
    let short: Vec<&Transfer> = transfers
        .iter()
        .filter(|t| {
            if wait {
                !t.verified
            } else {
                t.state == crate::model::SendState::Failed
            }
        })
        .collect();
    if !short.is_empty() {
        bail!(
            "{} of {} studies {}",
            short.len(),
            transfers.len(),
            if wait { "not verified" } else { "failed" }
        );
    }
    Ok(())
}

/// One study of `send --json`.
#[derive(serde::Serialize)]
struct SendJson<'a> {
    study_instance_uid: &'a str,
    job: i64,
    node: &'a str,
    state: &'a str,
    instances: i64,
    sent: i64,
    failed: i64,
    warnings: i64,
    verified: bool,
    proof: Option<&'a str>,
    error: &'a str,
    failures: &'a [crate::store::ItemFailure],
    /// Copies under the study's earlier identities the archive still held when checked.
    stale: &'a [crate::store::StaleCopy],
    /// What was wrong with what was sent (`send --force`); absent when nothing.
    #[serde(skip_serializing_if = "str::is_empty")]
    caveat: &'a str,
}

impl<'a> From<&'a Transfer> for SendJson<'a> {
    fn from(t: &'a Transfer) -> Self {
        SendJson {
            study_instance_uid: &t.study_instance_uid,
            job: t.job,
            node: &t.node,
            state: t.state.as_str(),
            instances: t.instances,
            sent: t.sent,
            failed: t.failed,
            warnings: t.warnings,
            verified: t.verified,
            proof: t.proof.as_deref(),
            error: &t.last_error,
            failures: &t.failures,
            stale: &t.stale,
            caveat: &t.caveat,
        }
    }
}

fn print_transfers(transfers: &[Transfer]) {
    if transfers.is_empty() {
        println!("no transfers");
        return;
    }
    for t in transfers {
        println!(
            "{:>4}  {:<10} {:<12} {}/{} sent{}{}  {}  {}",
            t.job,
            t.state,
            t.node,
            t.sent,
            t.instances,
            if t.failed > 0 {
                format!(", {} failed", t.failed)
            } else {
                String::new()
            },
            t.proof
                .as_deref()
                .map(|p| format!(" (proof: {p})"))
                .unwrap_or_default(),
            t.study_instance_uid,
            t.last_error
        );
        if !t.caveat.is_empty() {
            println!("      sent as it was: {}", t.caveat);
        }
        if !t.stale.is_empty() {
            println!("      {}", crate::send::stale::describe(&t.stale));
        }
        for f in t.failures.iter().take(10) {
            println!(
                "        {} {} {}",
                f.sop_instance_uid,
                f.status.as_deref().unwrap_or(""),
                f.message
            );
        }
        if t.failures.len() > 10 {
            println!("        ... and {} more", t.failures.len() - 10);
        }
    }
}

/// `qcdesk transfers [--json] [--cancel JOB] [--retry JOB]`.
pub fn transfers(
    store: &mut Store,
    cancel: Option<i64>,
    retry: Option<i64>,
    json: bool,
) -> Result<()> {
    if let Some(job) = cancel
        && !store.cancel_send(job)?
    {
        bail!("job {job} is not under way (nothing to cancel)");
    }
    if let Some(job) = retry
        && !store.retry_send(job)?
    {
        bail!("job {job} has not failed or been cancelled (nothing to retry)");
    }
    let transfers = store.transfers(None)?;
    if json {
        let rows: Vec<SendJson> = transfers.iter().map(SendJson::from).collect();
        output::print_json(&rows)?;
    } else {
        print_transfers(&transfers);
    }
    Ok(())
}

/// `qcdesk stale STUDY [--node NAME] [--json]`: asks the archive again for copies of the study
/// under identities it no longer has, and records the answer with its last send to that node.
pub fn stale(store: &mut Store, study: &str, node: Option<&str>, json: bool) -> Result<()> {
    let id = store.find_study(study)?;
    let node = store.node_for(crate::model::NodeRole::Archive, node)?;
    let (peer, _embedded) = crate::embedded::peer_for(store, &node)?;
    let ids = store.study_identities(id)?;
    let found = crate::send::stale::find_stale(&peer, &ids)
        .map_err(|e| anyhow::anyhow!("{}: {e}", node.name))?;
    let job = store
        .transfers(None)?
        .into_iter()
        .find(|t| t.study_id == id && t.node == node.name)
        .map(|t| t.job);
    if let Some(job) = job {
        store.set_send_stale(job, &found)?;
    }
    if json {
        return output::print_json(&serde_json::json!({
            "study": id, "node": node.name, "stale": found,
        }));
    }
    if found.is_empty() {
        println!(
            "{}: no stale copy of study {id} (every copy there has the study's current identity)",
            node.name
        );
    } else {
        println!("{}: {}", node.name, crate::send::stale::describe(&found));
    }
    Ok(())
}
