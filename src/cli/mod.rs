//! The command line: argument parsing, dispatch, exit codes. Thin: every command calls the
//! core and prints its result as text or JSON (`--json`, schema in docs/cli.md).

mod correct;
mod install;
mod network;
mod output;
mod reconcile;
mod report;
mod team;
mod transfer;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};

use crate::jobs::{JobEvent, Jobs};
use crate::model::StudyState;
use crate::store::{QueueFilter, Store};
use crate::workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "qcdesk",
    version = install::VERSION,
    about = "PACS exception handling and QA desk"
)]
struct Cli {
    /// Workspace folder (database + file store). Default: the platform data dir.
    #[arg(long, global = true, env = "QCDESK_WORKSPACE", value_name = "DIR")]
    workspace: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What every command that changes a study takes.
#[derive(Debug, clap::Args)]
struct ChangeOpts {
    /// Show the changes without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Why (kept in the audit log; needed when images go to another patient).
    #[arg(long)]
    reason: Option<String>,
    /// Who, when the OS account is shared (kept in the audit log).
    #[arg(long)]
    operator: Option<String>,
    #[arg(long)]
    json: bool,
}

impl ChangeOpts {
    fn args(&self) -> correct::ChangeArgs<'_> {
        correct::ChangeArgs {
            dry_run: self.dry_run,
            reason: self.reason.as_deref(),
            operator: self.operator.as_deref(),
            json: self.json,
        }
    }
}

/// What `move` and `merge` take.
#[derive(Debug, clap::Args)]
struct RelocateOpts {
    #[command(flatten)]
    change: ChangeOpts,
    /// Confirm that images go to another patient.
    #[arg(long)]
    confirm_other_patient: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import DICOM files, folders (recursively) or DICOMDIR media into quarantine.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Print the import report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the studies in the queue, most severe first.
    Queue {
        /// Only studies in this state: broken, inconsistent, mismatch, nonconformant, unmatched,
        /// matched.
        #[arg(long, value_parser = parse_state)]
        state: Option<StudyState>,
        /// Only open exceptions: neither matched (fixed) nor dismissed.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one study: demographics, findings, series, instances, matching orders.
    Show {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        #[arg(long)]
        json: bool,
    },
    /// The worklist orders a study may belong to, most likely first, with the probability of
    /// each and the evidence field by field; or the weights in use (--explain), or a pass over
    /// every open study (--all).
    Match {
        /// The id shown in the queue, the Study Instance UID or the accession.
        #[arg(required_unless_present_any = ["explain", "reset_learning", "all"])]
        study: Option<String>,
        /// At most this many candidates.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Show the weight of every agreement level (m, u, bits) and what it was learnt from.
        #[arg(long, conflicts_with_all = ["study", "all", "reset_learning"])]
        explain: bool,
        /// Forget the matches the Associate confirmed and rejected: the weights return to the
        /// defaults and the cache.
        #[arg(long, conflicts_with_all = ["study", "all"])]
        reset_learning: bool,
        /// Propose the likely order of every open study unmatched or mismatching its order (what the desk shows in
        /// the queue); applies nothing.
        #[arg(long, conflicts_with = "study")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Correct a study: apply a worklist order (--order) or set values by hand (--set). Writes
    /// new versions of the instances it changes; the originals stay as received.
    Fix {
        /// The id shown in the queue, the Study Instance UID or the accession. with --set, several studies of
        /// one patient.
        #[arg(required = true, value_name = "STUDY")]
        studies: Vec<String>,
        /// The accession number of the worklist order to apply (IHE SWF/IRWF attribute set).
        #[arg(long, value_name = "ACCESSION", conflicts_with = "set")]
        order: Option<String>,
        /// The Scheduled Procedure Step ID, when several orders share the accession.
        #[arg(long, value_name = "SPS_ID", requires = "order")]
        step: Option<String>,
        /// Give the study the order's Study Instance UID as well (its instances join the
        /// workspace's study of that UID, or a new one).
        #[arg(long, requires = "order")]
        take_study_uid: bool,
        /// A value to set, e.g. PatientID=12345 (repeatable). Fields: PatientName, PatientID,
        /// IssuerOfPatientID, PatientBirthDate, PatientSex, AccessionNumber,
        /// ReferringPhysicianName, StudyID, StudyDescription.
        #[arg(long = "set", value_name = "KEYWORD=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        opts: ChangeOpts,
    },
    /// Move a series to another study or to a new one (split). Its instances take the target's
    /// Study UID, patient and study attributes (a new study: a new Study UID only).
    Move {
        /// The Series Instance UID (as `show` lists it).
        series: String,
        /// The study to move it to (queue id, Study Instance UID or accession).
        #[arg(
            long,
            value_name = "STUDY",
            conflicts_with = "new",
            required_unless_present = "new"
        )]
        to: Option<String>,
        /// Move it to a new study.
        #[arg(long)]
        new: bool,
        #[command(flatten)]
        opts: RelocateOpts,
    },
    /// Merge FROM_STUDY into STUDY: every series of FROM_STUDY moves, taking STUDY's Study UID,
    /// patient and study attributes (the split-study case: one accession over two Study UIDs).
    Merge {
        /// The study kept.
        study: String,
        /// The study merged into it.
        from_study: String,
        #[command(flatten)]
        opts: RelocateOpts,
    },
    /// Reject instances (IHE IOCM): a study, a series or one instance, for a reason code
    /// (113001 quality, 113037 patient safety, 113038 incorrect worklist entry, 113039
    /// retention expired). Adds a Key Object Selection rejection note to the study; rejected
    /// instances leave the rules and are not sent.
    Reject {
        /// A study (queue id, Study Instance UID or accession), a Series or a SOP Instance UID.
        target: String,
        #[arg(long)]
        code: String,
        #[command(flatten)]
        opts: ChangeOpts,
    },
    /// Say you are handling a study: others see "being handled by YOU" in the queue, and their
    /// fixes, undos, dismissals, moves and sends of it are refused naming you, until you release
    /// it or the claim lapses.
    Claim {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        /// How long the claim lasts (default: `[claims] minutes` in config.toml).
        #[arg(long, value_name = "N")]
        minutes: Option<f64>,
        /// Take the study over from whoever holds it; the reason is audited.
        #[arg(long, value_name = "REASON")]
        take_over: Option<String>,
        /// Keep renewing the claim until interrupted (it lapses after its lease if this
        /// process dies).
        #[arg(long)]
        hold: bool,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Give up a study you claimed.
    Release {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        #[arg(long)]
        json: bool,
    },
    /// Resolve an exception without change (a phantom, a research scan, a known duplicate):
    /// it leaves the open exceptions, audited; `reopen` brings it back.
    Dismiss {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        /// One of the site's reasons (`[dismiss] reasons` in config.toml). Unless the site
        /// changed them: "rule does not apply here" (a false positive; needs --note),
        /// "phantom or QA scan", "research scan without order", "test patient", "known
        /// duplicate", "sent to the wrong system".
        #[arg(long)]
        reason: String,
        /// Free text beside the reason (required with "rule does not apply here").
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Reopen a dismissed study: an open exception again.
    Reopen {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Exception KPIs over a period: arrivals, exceptions, fixes, dismissals, resends,
    /// time to resolve, wrong-patient corrections, rejections, open exceptions by state, code
    /// and age, and a table per modality, station, source, implementation version or code.
    Report {
        /// First day (YYYY-MM-DD, UTC). Default: 30 days before --to.
        #[arg(long)]
        from: Option<String>,
        /// Last day included (YYYY-MM-DD, UTC). Default: today.
        #[arg(long)]
        to: Option<String>,
        /// Group the table by modality, station, source, version or code.
        #[arg(long, default_value = "modality")]
        by: String,
        #[arg(long, conflicts_with_all = ["csv", "html"])]
        json: bool,
        /// Write the tables as CSV files into this folder.
        #[arg(long, value_name = "DIR", conflicts_with = "html")]
        csv: Option<PathBuf>,
        /// Write a self-contained HTML page (charts inline, prints on A4/Letter).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// The node map: senders seen in the files (AE title, station, device, software and
    /// implementation versions, studies, exception rate), network peers, configured nodes.
    Nodes {
        #[arg(long, conflicts_with_all = ["dot", "svg"])]
        json: bool,
        /// Write the map as a Graphviz DOT file.
        #[arg(long, value_name = "FILE")]
        dot: Option<PathBuf>,
        /// Write the map as an SVG file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Take back a study's newest correction: its instances return to their previous versions.
    Undo {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A study's corrections and undos, oldest first.
    History {
        /// The id shown in the queue, the Study Instance UID or the accession.
        study: String,
        #[arg(long)]
        json: bool,
    },
    /// The audit log of every change (of one study when given); --verify checks its hash chain
    /// and names the first entry tampered with (exit 1), against a head kept outside the
    /// database with --head; --export-head writes that head for an auditor.
    Audit {
        study: Option<String>,
        #[arg(long)]
        verify: bool,
        /// With --verify: a head exported earlier (or a system log line `audit head N:HASH`).
        #[arg(long, value_name = "FILE", requires = "verify")]
        head: Option<PathBuf>,
        /// Verify the chain, then write its head (entry and hash) to FILE.
        #[arg(long, value_name = "FILE", conflicts_with = "verify")]
        export_head: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts of studies per state, instances, files and worklist orders.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The RIS worklist cache: list it, or sync, search, import (see subcommands).
    Worklist {
        #[command(subcommand)]
        action: Option<network::WorklistCmd>,
        /// List the cache as JSON.
        #[arg(long)]
        json: bool,
    },
    /// DICOM nodes: add, list, remove, and qcdesk's own AE title.
    Node {
        #[command(subcommand)]
        action: network::NodeCmd,
    },
    /// C-ECHO a node: is it there, does it accept qcdesk, how fast.
    Echo {
        /// The node's name (see `qcdesk node list`).
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Receive studies (C-STORE SCP) and run the send queue until interrupted.
    Listen {
        /// AE title to answer to (default: qcdesk's own, see `qcdesk node local`).
        #[arg(long, value_name = "AET")]
        ae: Option<String>,
        /// TCP port (default: qcdesk's own, 11112 unless set with `qcdesk node local --port`).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// One JSON object per line for each event.
        #[arg(long)]
        json: bool,
        /// Settings file of the receiver service (`[listen]` ae_title and port, and a
        /// `[receiver]` table replacing the workspace's); --ae and --port still win.
        #[arg(long, value_name = "FILE", env = "QCDESK_LISTEN_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Send studies (their current versions) to an archive node, with proof of arrival.
    Send {
        /// Queue ids, Study Instance UIDs or accessions.
        #[arg(required = true, value_name = "STUDY")]
        studies: Vec<String>,
        /// Send a study that is not matched and whole (broken files, conflicting copies, no
        /// order) as it is; its transfer then says what it carried. Without it such a study
        /// is refused, naming what is wrong.
        #[arg(long)]
        force: bool,
        /// The archive node (default: the one node with role archive).
        #[arg(long, value_name = "NAME")]
        node: Option<String>,
        /// Wait through retries until every study is verified or failed; exit 0 only when
        /// every instance is verified.
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// The send queue: every job with its state, counts and failures.
    Transfers {
        /// Cancel this job.
        #[arg(long, value_name = "JOB", conflicts_with = "retry")]
        cancel: Option<i64>,
        /// Queue this failed or cancelled job again.
        #[arg(long, value_name = "JOB")]
        retry: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Ask the archive for copies of a corrected study under identities it no longer has
    /// (an old Patient ID beside the corrected one, a moved series' old study).
    Stale {
        study: String,
        /// The archive node (default: the one node with role archive).
        #[arg(long)]
        node: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check that the database and the file store agree (every blob present, sizes and hashes).
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Render thumbnails (PNG) of DICOM files or folders, or of a study in the workspace.
    Thumbs {
        /// Files or folders (read recursively). No workspace is needed.
        #[arg(
            value_name = "PATH",
            required_unless_present = "study",
            conflicts_with = "study"
        )]
        paths: Vec<PathBuf>,
        /// A study in the workspace (queue id, Study Instance UID or accession) instead of paths.
        #[arg(long, value_name = "STUDY")]
        study: Option<String>,
        /// Folder the PNGs are written to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Longest side of a thumbnail, in pixels.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(8..=4096))]
        size: u32,
        #[arg(long)]
        json: bool,
    },
    /// Build (or reuse) the demo workspace and open the desk on it.
    Demo {
        /// Only create the demo workspace; do not open a window.
        #[arg(long)]
        no_gui: bool,
        /// Open the desk, save a PNG of its window to this file once drawn, and exit.
        #[arg(long, value_name = "OUT.png", conflicts_with = "no_gui")]
        screenshot: Option<PathBuf>,
        /// Open the desk with this study selected (queue id, Study Instance UID or accession).
        #[arg(long, value_name = "STUDY", conflicts_with = "no_gui")]
        select: Option<String>,
        /// Open the desk on this view: queue, worklist, reports or node-map.
        #[arg(long, value_parser = parse_view, conflicts_with = "no_gui")]
        view: Option<DeskView>,
        #[arg(long)]
        json: bool,
    },
    /// The tables of qcdesk's DICOM Conformance Statement, from the code (docs/conformance.md).
    Conformance {
        /// Compare FILE's generated tables with the code's; exit 1 naming those that differ.
        #[arg(long, value_name = "FILE", conflicts_with = "update")]
        check: Option<PathBuf>,
        /// Rewrite FILE's generated tables from the code.
        #[arg(long, value_name = "FILE")]
        update: Option<PathBuf>,
        #[arg(long, conflicts_with_all = ["check", "update"])]
        json: bool,
    },
    /// Write the man pages (qcdesk.1 and one per command) into DIR.
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the completion script of SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// The desk's views, as `demo --view` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeskView {
    Queue,
    Worklist,
    Reports,
    /// The queue with the node map window open over it.
    NodeMap,
}

fn parse_view(s: &str) -> Result<DeskView, String> {
    match s.to_ascii_lowercase().as_str() {
        "queue" => Ok(DeskView::Queue),
        "worklist" => Ok(DeskView::Worklist),
        "reports" => Ok(DeskView::Reports),
        "node-map" | "nodemap" => Ok(DeskView::NodeMap),
        _ => Err(format!(
            "unknown view '{s}' (queue, worklist, reports, node-map)"
        )),
    }
}

/// Opens the desk window (a build with the `desk` feature).
#[cfg(feature = "desk")]
fn run_desk(
    workspace: PathBuf,
    screenshot: Option<PathBuf>,
    select: Option<String>,
    view: Option<DeskView>,
) -> Result<()> {
    crate::ui::run_desk(crate::ui::DeskOptions {
        workspace,
        screenshot,
        select,
        view: view.map(|v| match v {
            DeskView::Queue | DeskView::NodeMap => crate::ui::View::Queue,
            DeskView::Worklist => crate::ui::View::Worklist,
            DeskView::Reports => crate::ui::View::Reports,
        }),
        node_map: view == Some(DeskView::NodeMap),
    })
}

#[cfg(not(feature = "desk"))]
fn run_desk(
    _workspace: PathBuf,
    _screenshot: Option<PathBuf>,
    _select: Option<String>,
    _view: Option<DeskView>,
) -> Result<()> {
    anyhow::bail!(
        "this qcdesk was built without the desk window (no `desk` feature): use its commands \
         (qcdesk --help), e.g. `qcdesk listen`, `qcdesk send`, `qcdesk demo --no-gui`"
    )
}

fn parse_state(s: &str) -> Result<StudyState, String> {
    StudyState::parse(s).ok_or_else(|| {
        format!(
            "unknown state '{s}' (broken, inconsistent, mismatch, nonconformant, unmatched, matched)"
        )
    })
}

/// Runs the command line; returns the process exit code (0 ok, 1 error, 2 usage).
pub fn run() -> ExitCode {
    tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    init_logging();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qcdesk: error: {e:#}");
            // An accession that names several studies is a usage question: which one?
            let ambiguous = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<crate::store::StoreError>(),
                    Some(crate::store::StoreError::AmbiguousStudy { .. })
                )
            });
            ExitCode::from(if ambiguous { 2 } else { 1 })
        }
    }
}

/// Keeps freed buffers of a few megabytes in the heap for reuse. Every received or imported
/// instance passes through buffers of its size; with glibc's defaults each one is a fresh
/// mmap, and faulting its pages in was a sixth of the receiver's time.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QCDESK_LOG").unwrap_or_else(|_| {
        // Codec libraries log their own complaints; qcdesk reports decoding failures itself.
        tracing_subscriber::EnvFilter::new(
            "warn,dicom_parser=error,dicom_encoding=error,jpeg2k=off,dicom_transfer_syntax_registry=error",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Opens the workspace the command names, or the default one, telling the user what opening
/// it noted (permissions tightened...).
fn open_default(cli_dir: &Option<PathBuf>) -> Result<Store> {
    open_at(&workspace_dir(cli_dir, "default")?)
}

fn open_at(dir: &std::path::Path) -> Result<Store> {
    let store = Store::open(dir)?;
    crate::imaging::limits::apply_config(store.imaging_config());
    for note in store.workspace().notes() {
        eprintln!("qcdesk: note: {note}");
    }
    Ok(store)
}

fn workspace_dir(cli_dir: &Option<PathBuf>, default_name: &str) -> Result<PathBuf> {
    match cli_dir {
        Some(d) => Ok(d.clone()),
        None => Ok(Workspace::default_dir(default_name)?),
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        let dir = workspace_dir(&cli.workspace, "default")?;
        open_at(&dir)?; // fail here, with a clear message, rather than in the window
        return run_desk(dir, None, None, None);
    };
    match command {
        Command::Import { paths, json } => {
            let dir = workspace_dir(&cli.workspace, "default")?;
            open_at(&dir)?;
            for p in &paths {
                if !p.exists() {
                    anyhow::bail!("{}: no such file or folder", p.display());
                }
            }
            let (d, p) = (dir.clone(), paths.clone());
            let report: crate::import::ImportReport = run_job("import", move |ctx| {
                crate::import::import_paths(&d, &p, ctx).map_err(|e| e.to_string())
            })?;
            if json {
                output::print_json(&report)?;
            } else {
                output::print_import(&report);
            }
        }
        Command::Queue { state, open, json } => {
            let store = open_default(&cli.workspace)?;
            let rows = store.queue(&QueueFilter { state, open })?;
            if json {
                output::print_json(&rows)?;
            } else {
                output::print_queue(&rows);
            }
        }
        Command::Fix {
            studies,
            order,
            step,
            set,
            take_study_uid,
            opts,
        } => {
            let mut store = open_default(&cli.workspace)?;
            correct::fix(
                &mut store,
                &correct::FixArgs {
                    studies: &studies,
                    order: order.as_deref(),
                    step: step.as_deref(),
                    set: &set,
                    take_study_uid,
                },
                &opts.args(),
            )?;
        }
        Command::Move {
            series, to, opts, ..
        } => {
            let mut store = open_default(&cli.workspace)?;
            correct::move_series(
                &mut store,
                &series,
                to.as_deref(),
                &opts.change.args(),
                opts.confirm_other_patient,
            )?;
        }
        Command::Merge {
            study,
            from_study,
            opts,
        } => {
            let mut store = open_default(&cli.workspace)?;
            correct::merge(
                &mut store,
                &study,
                &from_study,
                &opts.change.args(),
                opts.confirm_other_patient,
            )?;
        }
        Command::Reject { target, code, opts } => {
            let mut store = open_default(&cli.workspace)?;
            correct::reject(&mut store, &target, &code, &opts.args())?;
        }
        Command::Claim {
            study,
            minutes,
            take_over,
            hold,
            operator,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            team::claim(
                &mut store,
                &team::ClaimArgs {
                    study: &study,
                    minutes,
                    take_over: take_over.as_deref(),
                    operator: operator.as_deref(),
                    hold,
                    json,
                },
            )?;
        }
        Command::Release { study, json } => {
            let mut store = open_default(&cli.workspace)?;
            team::release(&mut store, &study, json)?;
        }
        Command::Dismiss {
            study,
            reason,
            note,
            operator,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            let id = store.find_study(&study)?;
            let d = store.dismiss(
                id,
                &reason,
                note.as_deref().unwrap_or_default(),
                &crate::store::os_user(),
                operator.as_deref().unwrap_or_default(),
            )?;
            if json {
                output::print_json(&serde_json::json!({"study": id, "dismissed": d}))?;
            } else {
                println!(
                    "study {id} dismissed: {} (by {} at {})",
                    d.reason, d.by, d.at
                );
            }
        }
        Command::Reopen {
            study,
            operator,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            let id = store.find_study(&study)?;
            store.reopen(
                id,
                &crate::store::os_user(),
                operator.as_deref().unwrap_or_default(),
            )?;
            let state = store.study_row(id)?.state;
            if json {
                output::print_json(
                    &serde_json::json!({"study": id, "state": state.as_str(), "dismissed": null}),
                )?;
            } else {
                println!("study {id} reopened: {}", state.as_str());
            }
        }
        Command::Report {
            from,
            to,
            by,
            json,
            csv,
            html,
        } => {
            let store = open_default(&cli.workspace)?;
            report::report(&store, from.as_deref(), to.as_deref(), &by, json, csv, html)?;
        }
        Command::Nodes { json, dot, svg } => {
            let store = open_default(&cli.workspace)?;
            report::nodes(&store, json, dot, svg)?;
        }
        Command::Undo {
            study,
            reason,
            operator,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            correct::undo(
                &mut store,
                &study,
                reason.as_deref(),
                operator.as_deref(),
                json,
            )?;
        }
        Command::History { study, json } => {
            let store = open_default(&cli.workspace)?;
            correct::history(&store, &study, json)?;
        }
        Command::Audit {
            study,
            verify,
            head,
            export_head,
            json,
        } => {
            let store = open_default(&cli.workspace)?;
            match (verify, export_head) {
                (_, Some(file)) => correct::export_audit_head(&store, &file, json)?,
                (true, None) => correct::verify_audit(&store, head.as_deref(), json)?,
                (false, None) => correct::audit(&store, study.as_deref(), json)?,
            }
        }
        Command::Match {
            study,
            limit,
            explain,
            reset_learning,
            all,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            if reset_learning {
                reconcile::reset_learning(&mut store, json)?;
            } else if explain {
                reconcile::explain(&store, json)?;
            } else if all {
                reconcile::propose_all(&mut store, json)?;
            } else if let Some(study) = study {
                reconcile::match_study(&store, &study, limit, json)?;
            }
        }
        Command::Show { study, json } => {
            let store = open_default(&cli.workspace)?;
            let id = store.find_study(&study)?;
            let detail = store.study_detail(id)?;
            if json {
                output::print_json(&detail)?;
            } else {
                output::print_detail(&detail);
            }
        }
        Command::Status { json } => {
            let store = open_default(&cli.workspace)?;
            let stats = store.stats()?;
            if json {
                output::print_json(&output::StatusJson::from(&stats))?;
            } else {
                output::print_status(&stats, store.workspace().root());
            }
        }
        Command::Worklist { action, json } => {
            let mut store = open_default(&cli.workspace)?;
            network::worklist(&mut store, action, json)?;
        }
        Command::Node { action } => {
            let mut store = open_default(&cli.workspace)?;
            network::node(&mut store, action)?;
        }
        Command::Echo { name, json } => {
            let store = open_default(&cli.workspace)?;
            network::echo(&store, &name, json)?;
        }
        Command::Listen {
            ae,
            port,
            json,
            config,
        } => {
            let service = match config {
                Some(path) => Some(install::service_config(&path)?),
                None => None,
            };
            let mut store = open_default(&cli.workspace)?;
            transfer::listen(&mut store, ae, port, json, service)?;
        }
        Command::Send {
            studies,
            node,
            wait,
            force,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            transfer::send(&mut store, &studies, node, wait, force, json)?;
        }
        Command::Transfers {
            cancel,
            retry,
            json,
        } => {
            let mut store = open_default(&cli.workspace)?;
            transfer::transfers(&mut store, cancel, retry, json)?;
        }
        Command::Stale { study, node, json } => {
            let mut store = open_default(&cli.workspace)?;
            transfer::stale(&mut store, &study, node.as_deref(), json)?;
        }
        Command::Verify { json } => {
            let store = open_default(&cli.workspace)?;
            let report = store.verify(true)?;
            if json {
                output::print_json(&serde_json::json!({
                    "ok": report.ok(),
                    "problems": report.problems,
                    "orphans": report.orphans,
                }))?;
            } else {
                output::print_verify(&report, store.workspace().root());
            }
            if !report.ok() {
                anyhow::bail!("{} problem(s) found", report.problems.len());
            }
        }
        Command::Thumbs {
            paths,
            study,
            out,
            size,
            json,
        } => {
            keep_freed_memory();
            let files: Vec<crate::imaging::ThumbInput> = match study {
                Some(key) => {
                    let store = open_default(&cli.workspace)?;
                    let id = store.find_study(&key)?;
                    store.study_files(id)?
                }
                None => {
                    for p in &paths {
                        if !p.exists() {
                            anyhow::bail!("{}: no such file or folder", p.display());
                        }
                    }
                    crate::import::collect(&paths)
                        .files
                        .into_iter()
                        .map(|c| crate::imaging::ThumbInput::from_path(c.path))
                        .collect()
                }
            };
            crate::fsutil::create_private_dir(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let results = crate::imaging::thumbnails(&files, &out, size);
            if json {
                output::print_json(&results)?;
            } else {
                output::print_thumbs(&results);
            }
        }
        Command::Demo {
            no_gui,
            screenshot,
            select,
            view,
            json,
        } => {
            let dir = workspace_dir(&cli.workspace, "demo")?;
            let d = dir.clone();
            let report: crate::demo::DemoReport = run_job("demo", move |ctx| {
                crate::demo::build_demo(&d, ctx).map_err(|e| e.to_string())
            })?;
            if json {
                output::print_json(&report)?;
            } else {
                eprintln!(
                    "demo workspace {} ({}): {} studies, {} worklist orders",
                    dir.display(),
                    if report.reused { "reused" } else { "created" },
                    report.studies.len(),
                    report.worklist_items
                );
            }
            if !no_gui {
                return run_desk(dir, screenshot, select, view);
            }
        }
        Command::Conformance {
            check,
            update,
            json,
        } => install::conformance(check, update, json)?,
        Command::Manpages { dir } => install::manpages(&Cli::command(), &dir)?,
        Command::Completions { shell } => install::completions(Cli::command(), shell),
    }
    Ok(())
}

/// Runs a job to completion, drawing its progress on stderr when that is a terminal.
fn run_job<T: Send + 'static>(
    title: &str,
    work: impl FnOnce(&crate::jobs::JobCtx) -> Result<T, String> + Send + 'static,
) -> Result<T> {
    let jobs = Jobs::<T>::default();
    let handle = jobs.spawn(title, work);
    let tty = std::io::stderr().is_terminal();
    let mut drew = false;
    let out = jobs.wait(handle.id, |e| {
        if let JobEvent::Progress {
            done, total, note, ..
        } = e
            && tty
        {
            let line = match total {
                Some(t) if *t > 0 => format!("{title}: {done}/{t} ({}%) {note}", done * 100 / t),
                _ => format!("{title}: {note}"),
            };
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            drew = true;
        }
    });
    if drew {
        eprintln!();
    }
    out.map_err(anyhow::Error::msg)
        .with_context(|| format!("{title} failed"))
}

/// A batch of decodes allocates and frees frame-sized buffers (megabytes) over and over; glibc
/// would give each back to the kernel and fault fresh zeroed pages in for the next (a seventh
/// of `thumbs`' time). Keeping freed memory for reuse costs nothing in a short-lived command.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before the decode threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
