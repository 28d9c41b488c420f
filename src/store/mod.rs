//! The store: the workspace's SQLite database (one connection owner) and its content-addressed
//! file store. The only module that writes inside the workspace.
//!
//! Instances keep every version: the original (as received, never modified) and, later,
//! corrected copies; `instances.current_version` says which one is sent. Several processes
//! may open one workspace (the desk and a CLI import): SQLite in WAL mode with a busy timeout
//! serialises their writes.

mod audit;
mod blobs;
mod changes;
mod claims;
mod classify;
mod corrections;
mod dismissals;
mod headers;
mod ingest;
mod matching;
mod network;
mod node_map;
mod nodes;
mod orders;
mod peers;
mod queries;
mod reader;
mod rejections;
mod report_facts;
mod schema;
mod transfers;
mod upgrade;
mod worklist;
mod worklist_merge;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use crate::config::{
    DEFAULT_REASONS, DismissConfig, RULE_DOES_NOT_APPLY, WorklistConfig, reason_needs_note,
};
pub use audit::{AuditCheck, AuditEntry, AuditFault, AuditHead};
pub use blobs::{BlobStore, Staged, dataset_hasher, hash_bytes, hash_dataset, hash_file};
pub use changes::ChangeWatch;
pub use claims::{Held, Keeper, Released, host_name, this_process};
pub use corrections::{
    BaseInstance, CorrectionBase, CorrectionEntry, CorrectionRecord, Destination, NewVersion,
    UndoOutcome, os_user,
};
pub use ingest::{Comparison, FileRecord, NetworkOrigin, RecordOutcome};
pub use matching::{NewLabel, Proposal, StoredLabel, StudyFactsRow};
pub(crate) use network::host_of;
pub use network::{AssociationRecord, LastSender, RefusalCount, RemoteAe};
pub use node_map::{PeerCounts, Sender};
pub use nodes::{parse_ae_address, validate_ae_title};
pub use queries::{QueueFilter, Reject, StoreStats};
pub use reader::{ReaderSource, StoreReader};
pub use rejections::{RejectRecord, RejectTarget};
pub use report_facts::{
    CorrectionFact, DismissalFact, RejectionFact, ReportFacts, SendFact, StudyFact,
};
pub use schema::SCHEMA_VERSION;
pub use transfers::{
    ItemFailure, ItemResult, ReportVerdict, SendItem, SendJob, StaleCopy, StudyIdentities,
    Transfer, owner_name,
};
pub use worklist::{SyncCounts, SyncRecord, SyncScope};
pub use worklist_merge::MergePlan;

use crate::rules::RulesConfig;
use crate::workspace::{Workspace, WorkspaceError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("cannot open database {path}: {cause}")]
    Open {
        path: String,
        cause: rusqlite::Error,
    },
    #[error(
        "database schema version {found} is newer than this qcdesk supports ({supported}); \
         use a newer qcdesk. The database was not changed."
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("database error: {0}")]
    Db(rusqlite::Error),
    #[error("file store: {0}")]
    Io(std::io::Error),
    #[error(
        "no study '{0}' in this workspace (give the id shown in the queue, the Study Instance UID or the accession)"
    )]
    StudyNotFound(String),
    /// An accession several studies share, or a number that is one study's queue id and
    /// another's accession: the caller must choose one (the CLI exits 2).
    #[error("'{key}' names {} studies (as an accession, or a queue id and an accession); name one as #ID: {}", studies.len(), studies.join(", "))]
    AmbiguousStudy { key: String, studies: Vec<String> },
    #[error("cannot upgrade the database: {0}. The database was not changed.")]
    Migration(String),
    #[error("{path}: {message}")]
    Config { path: String, message: String },
    /// A node name, address or setting the user gave that cannot be used.
    #[error("{0}")]
    Node(String),
    /// A correction or undo that cannot be made as asked (the message says why).
    #[error("{0}")]
    Correction(String),
    /// Someone else is handling the study.
    #[error("{}", claimed_message(.0))]
    Claimed(Box<crate::model::Claim>),
}

fn claimed_message(c: &crate::model::Claim) -> String {
    format!(
        "study {} is being handled by {} since {} (claimed until {} unless renewed); \
         take it over with a reason to act on it (Take over at the desk, or `qcdesk claim {} --take-over REASON`)",
        c.study,
        c.display(),
        crate::text::local_clock(c.since_unix),
        crate::text::local_clock(c.until_unix),
        c.study,
    )
}

// Hand-written rather than #[from]: the message already carries the cause, and a `source`
// would make anyhow print it twice.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}

/// An open workspace: database connection plus blob store.
pub struct Store {
    conn: Connection,
    blobs: Arc<BlobStore>,
    workspace: Workspace,
    rules: RulesConfig,
    worklist_config: WorklistConfig,
    receiver_config: crate::config::ReceiverConfig,
    send_config: crate::config::SendConfig,
    match_config: crate::config::MatchConfig,
    dismiss_config: DismissConfig,
    imaging_config: crate::config::ImagingConfig,
    queue_config: crate::model::QueueConfig,
    claim_config: crate::config::ClaimConfig,
    /// Who this process's changes and claims are by.
    actor: crate::model::Actor,
}

/// The parts of the workspace's `config.toml` the store uses.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ConfigFile {
    rules: RulesConfig,
    worklist: WorklistConfig,
    receiver: crate::config::ReceiverConfig,
    send: crate::config::SendConfig,
    reconcile: crate::config::MatchConfig,
    dismiss: DismissConfig,
    imaging: crate::config::ImagingConfig,
    queue: crate::model::QueueConfig,
    claims: crate::config::ClaimConfig,
}

fn load_config(workspace: &Workspace) -> Result<ConfigFile, StoreError> {
    let path = workspace.config_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => {
            return Err(StoreError::Config {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    toml::from_str::<ConfigFile>(&text).map_err(|e| StoreError::Config {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl Store {
    /// Opens the workspace at `root`, creating and migrating it as needed.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let workspace = Workspace::open(root)?;
        let path = workspace.db_path();
        let open_err = |cause| StoreError::Open {
            path: path.display().to_string(),
            cause,
        };
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        // Check the version before anything writes to the file: a newer database stays untouched.
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open_err)?;
        if version > schema::SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: version,
                supported: schema::SCHEMA_VERSION,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        // A large workspace's indexes outgrow SQLite's default 2 MB page cache; imports then
        // spend their time re-reading pages. The temp table of touched studies stays in memory.
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(open_err)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // Plans must not depend on bound values: otherwise SQLite re-prepares statements
        // whose parameters feed certain optimisations at every run (a third of an import).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(open_err)?;
        make_private(&path);
        let config = load_config(&workspace)?;
        let mut rules = config.rules;
        rules.study_uid = config.reconcile.study_uid;
        let worklist_config = config.worklist;
        let (receiver_config, send_config) = (config.receiver, config.send);
        let match_config = config.reconcile;
        let dismiss_config = config.dismiss;
        let imaging_config = config.imaging;
        let queue_config = config.queue;
        let claim_config = config.claims;
        let blobs = Arc::new(BlobStore::new(workspace.blob_dir(), workspace.tmp_dir()));
        schema::migrate(&mut conn, |version, tx| {
            upgrade::after_script(version, tx, &blobs, &rules)
        })?;
        // Import and classification cycle through ~40 statements; the default cache holds 16.
        conn.set_prepared_statement_cache_capacity(96);
        let mut store = Store {
            conn,
            blobs,
            workspace,
            rules,
            worklist_config,
            receiver_config,
            send_config,
            match_config,
            dismiss_config,
            imaging_config,
            queue_config,
            claim_config,
            actor: claims::this_process(crate::model::ActorKind::CommandLine, ""),
        };
        store.apply_rule_settings()?;
        Ok(store)
    }

    /// Classifies every study again when the rule settings differ from those the studies
    /// were classified with.
    fn apply_rule_settings(&mut self) -> Result<(), StoreError> {
        let wanted = toml::to_string(&self.rules).unwrap_or_default();
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'rules'", [], |r| {
                r.get(0)
            })
            .optional()?;
        if stored.as_deref() == Some(wanted.as_str()) {
            return Ok(());
        }
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            // A new workspace has nothing to classify; an old one is classified again.
            if stored.is_some() {
                classify::reclassify_all(tx, &rules)?;
            }
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('rules', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [&wanted],
            )?;
            Ok(())
        })
    }

    /// The site's rule settings (from `config.toml`).
    pub fn rules(&self) -> &RulesConfig {
        &self.rules
    }

    /// The site's worklist settings (from `config.toml`).
    pub fn worklist_config(&self) -> &WorklistConfig {
        &self.worklist_config
    }

    /// The receiver's settings (`[receiver]` in `config.toml`).
    pub fn receiver_config(&self) -> &crate::config::ReceiverConfig {
        &self.receiver_config
    }

    /// The matching thresholds (`[reconcile]` in `config.toml`).
    pub fn match_config(&self) -> &crate::config::MatchConfig {
        &self.match_config
    }

    /// The send queue's settings (`[send]` in `config.toml`).
    pub fn send_config(&self) -> &crate::config::SendConfig {
        &self.send_config
    }

    /// `[imaging]`: the site's limits on decoding (applied to the process by the desk and the
    /// CLI with `imaging::limits::apply_config`).
    pub fn imaging_config(&self) -> &crate::config::ImagingConfig {
        &self.imaging_config
    }

    /// `[queue]`: when an open exception is marked old.
    pub fn queue_config(&self) -> crate::model::QueueConfig {
        self.queue_config
    }

    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// The blob store, shareable with worker threads.
    pub fn blobs(&self) -> Arc<BlobStore> {
        Arc::clone(&self.blobs)
    }

    /// Runs `f` in one transaction: all of its changes land, or none.
    pub fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // IMMEDIATE: take the write lock up front. A deferred transaction that reads first gets
        // SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry, when another process
        // (the desk and a CLI import) committed in between.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = match f(&tx).and_then(|out| tx.commit().map(|()| out).map_err(Into::into)) {
            Ok(out) => out,
            Err(e) => {
                audit::forget_appended();
                return Err(e);
            }
        };
        // The audit chain's new head leaves the database once it is committed.
        if let Some(head) = audit::take_appended() {
            audit::publish(self.workspace.root(), head);
        }
        Ok(out)
    }

    /// Checks the database and the file store agree: every referenced blob exists with the
    /// right size (and hash). Also lists files in the store the database does not know
    /// (orphans: what an import killed between writing and committing leaves; harmless, and
    /// reused after a hash check when the same file is imported again).
    pub fn verify(&self, check_hashes: bool) -> Result<VerifyReport, StoreError> {
        let mut problems = Vec::new();
        let integrity: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            problems.push(format!("SQLite integrity check: {integrity}"));
        }
        let mut stmt = self.conn.prepare(
            "SELECT hash, size FROM blobs WHERE hash IN (SELECT blob_hash FROM files UNION SELECT blob_hash FROM versions)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (hash, size) = row?;
            let path = self.blobs.path(&hash);
            match std::fs::metadata(&path) {
                Err(e) => problems.push(format!("blob {} missing: {e}", path.display())),
                Ok(m) if m.len() as i64 != size => problems.push(format!(
                    "blob {} has {} bytes, database says {size}",
                    path.display(),
                    m.len()
                )),
                Ok(_) if check_hashes => match hash_file(&path) {
                    Ok(h) if h == hash => {}
                    Ok(h) => problems.push(format!("blob {} hashes to {h}", path.display())),
                    Err(e) => problems.push(format!("blob {} unreadable: {e}", path.display())),
                },
                Ok(_) => {}
            }
        }
        let known: std::collections::HashSet<String> = self
            .conn
            .prepare("SELECT hash FROM blobs")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let orphans = self
            .blobs
            .orphans(&known)?
            .into_iter()
            .map(|p| p.display().to_string())
            .collect();
        Ok(VerifyReport { problems, orphans })
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Disagreements between the database and the store: the workspace is damaged.
    pub problems: Vec<String>,
    /// Files in the store no database row names (crash leftovers or files put there by hand).
    pub orphans: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The database and its WAL files hold patient data: owner-only (owner and group in a shared
/// workspace).
fn make_private(db: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut names = db.as_os_str().to_owned();
        for suffix in ["", "-wal", "-shm"] {
            let mut p = names.clone();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            let wanted = crate::fsutil::file_mode();
            if let Ok(m) = std::fs::metadata(&p)
                && m.permissions().mode() & 0o777 != wanted
                && (m.permissions().mode() & crate::fsutil::forbidden_bits() != 0
                    || crate::fsutil::group_shared())
            {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(wanted));
            }
        }
        names.clear();
    }
    #[cfg(not(unix))]
    let _ = db;
}
