//! The receiver: C-STORE arrivals turned into store records exactly like imported files (same
//! entry point: dedup, conflicts, classification), each a receipt with its association.
//!
//! Durability, chosen in `[receiver] durability`:
//! - `strict` (default): Success is answered only once the instance's bytes and its record are
//!   flushed to disk. Instances arriving at once on several associations share the flushes.
//! - `grouped`: Success is answered once the bytes are written (not flushed); a writer flushes
//!   and records whatever arrived within each window (`group_ms`, default 200 ms). A crash
//!   loses at most the instances of one window: DCMTK's storescp gives less (it never flushes).
//!
//! Storage Commitment reports an archive sends to qcdesk arrive here too, and are recorded for
//! the send queue.

mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver as Rx, Sender};

use crate::net::STORAGE_COMMITMENT;
use crate::net::commitment::CommitResult;
use crate::net::scp::{Answer, AssociationInfo, Handler, ScpConfig, Server, StoreRequest};
use crate::store::{BlobStore, FileRecord, NetworkOrigin, Store, StoreError};

pub use writer::Event;

/// How a received instance is made durable before Success is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    Strict,
    Grouped,
}

/// `[receiver]` in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverConfig {
    pub durability: Durability,
    /// Flush window of `grouped`, in milliseconds.
    pub group_ms: u64,
    /// Calling AE titles allowed to send (empty: any).
    pub allow: Vec<String>,
    pub max_associations: usize,
    /// Seconds an association may stay silent before it is aborted.
    pub timeout_seconds: u64,
    /// A second port for DICOM over TLS (with `tls_cert` and `tls_key`; 2762 is the usual).
    pub tls_port: Option<u16>,
    /// PEM certificate and key the receiver presents on its TLS port.
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    /// PEM CA file: callers on the TLS port must present a certificate chaining to it.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            durability: Durability::Strict,
            group_ms: 200,
            allow: Vec::new(),
            max_associations: 8,
            timeout_seconds: 60,
            tls_port: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {bind}: {why}")]
    Listen { bind: String, why: String },
    #[error("the receiver's TLS settings ([receiver] in config.toml): {0}")]
    Tls(String),
}

/// A running receiver; stops when dropped (associations in progress finish first).
pub struct Receiver {
    server: Option<Server>,
    /// The TLS port's server, when configured.
    tls_server: Option<Server>,
    writer: Option<std::thread::JoinHandle<()>>,
    events: Rx<Event>,
    ae_title: String,
}

impl Receiver {
    /// Listens as `ae_title` on `bind` (e.g. `0.0.0.0:11112`), storing into the workspace at
    /// `root` (its own connection, so the desk and the receiver do not wait on each other).
    pub fn start(
        root: &Path,
        ae_title: &str,
        bind: &str,
        config: &ReceiverConfig,
    ) -> Result<Receiver, ReceiveError> {
        let store = Store::open(root)?;
        let blobs = store.blobs();
        let (to_writer, from_handlers) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::unbounded();
        let window = match config.durability {
            Durability::Strict => None,
            Durability::Grouped => Some(Duration::from_millis(config.group_ms.max(1))),
        };
        let writer = std::thread::Builder::new()
            .name("receiver-writer".into())
            .spawn(move || writer::run(store, from_handlers, events_tx, window))
            .map_err(|e| ReceiveError::Listen {
                bind: bind.to_string(),
                why: e.to_string(),
            })?;
        let handler = Arc::new(StoreHandler {
            blobs,
            to_writer,
            allow: config
                .allow
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            durability: config.durability,
        });
        let mut scp = ScpConfig::new(ae_title, bind);
        scp.max_associations = config.max_associations.max(1);
        scp.timeout = Duration::from_secs(config.timeout_seconds.max(1));
        let tls_server = match tls_settings(config)? {
            Some((port, tls)) => {
                // The same host as the plain port, another port.
                let host = bind.rsplit_once(':').map_or("0.0.0.0", |(h, _)| h);
                let tls_bind = format!("{host}:{port}");
                let mut tls_scp = scp.clone();
                tls_scp.bind = tls_bind.clone();
                tls_scp.tls = Some(tls);
                let h: Arc<dyn Handler> = handler.clone();
                Some(Server::serve(tls_scp, h).map_err(|e| ReceiveError::Listen {
                    bind: tls_bind,
                    why: e.to_string(),
                })?)
            }
            None => None,
        };
        let server = Server::serve(scp, handler).map_err(|e| ReceiveError::Listen {
            bind: bind.to_string(),
            why: e.to_string(),
        })?;
        Ok(Receiver {
            server: Some(server),
            tls_server,
            writer: Some(writer),
            events,
            ae_title: ae_title.to_string(),
        })
    }

    pub fn port(&self) -> u16 {
        self.server.as_ref().map(|s| s.port()).unwrap_or(0)
    }

    /// The TLS port, when the receiver has one.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_server.as_ref().map(|s| s.port())
    }

    pub fn ae_title(&self) -> &str {
        &self.ae_title
    }

    /// Associations being served now.
    pub fn active(&self) -> usize {
        self.server.as_ref().map(|s| s.active()).unwrap_or(0)
    }

    /// What happened since the last look (stored studies, associations, reports).
    pub fn events(&self) -> &Rx<Event> {
        &self.events
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // The servers first: their handlers hold the writer's channel.
        self.server.take();
        self.tls_server.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The TLS port and its configuration, when `[receiver]` asks for one.
fn tls_settings(
    config: &ReceiverConfig,
) -> Result<Option<(u16, Arc<rustls::ServerConfig>)>, ReceiveError> {
    let Some(port) = config.tls_port else {
        return Ok(None);
    };
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Err(ReceiveError::Tls(
            "tls_port needs tls_cert and tls_key".into(),
        ));
    };
    let tls = crate::net::tls::server_config(cert, key, config.tls_ca.as_deref())
        .map_err(ReceiveError::Tls)?;
    Ok(Some((port, tls)))
}

/// What the receiver offers besides Verification and storage: Storage Commitment, in the
/// SCU role, for the archives' reports (N-EVENT-REPORT) on associations they open.
pub const OFFERED: &[&str] = &[STORAGE_COMMITMENT];

struct StoreHandler {
    blobs: Arc<BlobStore>,
    to_writer: Sender<writer::Job>,
    allow: Vec<String>,
    durability: Durability,
}

impl Handler for StoreHandler {
    fn sop_classes(&self) -> Vec<String> {
        OFFERED.iter().map(|s| s.to_string()).collect()
    }

    fn accepts_storage(&self) -> bool {
        true
    }

    fn allows(&self, calling_ae: &str) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|a| a == calling_ae)
    }

    fn opened(&self, info: &mut AssociationInfo) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self
            .to_writer
            .send(writer::Job::Opened(info.clone(), tx))
            .is_ok()
        {
            info.id = rx.recv_timeout(Duration::from_secs(30)).ok().flatten();
        }
    }

    fn store(&self, info: &AssociationInfo, request: StoreRequest) -> Answer {
        let record = match record_of(&self.blobs, info, &request) {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        match self.durability {
            Durability::Strict => {
                let (tx, rx) = crossbeam_channel::bounded(1);
                if self
                    .to_writer
                    .send(writer::Job::Record(Box::new(record), Some(tx)))
                    .is_err()
                {
                    return Answer::status(0xA700, "qcdesk is shutting down");
                }
                match rx.recv() {
                    Ok(Ok(())) => Answer::success(),
                    Ok(Err(why)) => Answer::status(0xA700, format!("not stored: {why}")),
                    Err(_) => Answer::status(0xA700, "qcdesk is shutting down"),
                }
            }
            Durability::Grouped => {
                if self
                    .to_writer
                    .send(writer::Job::Record(Box::new(record), None))
                    .is_err()
                {
                    return Answer::status(0xA700, "qcdesk is shutting down");
                }
                Answer::success()
            }
        }
    }

    fn commitment_report(&self, _info: &AssociationInfo, report: CommitResult) -> u16 {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self
            .to_writer
            .send(writer::Job::Report(report, tx))
            .is_err()
        {
            return 0x0110;
        }
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(true) => 0,
            _ => 0x0110,
        }
    }

    /// Recorded like any association, ended "refused: why": the node map counts it among the
    /// peer's failures.
    fn refused(&self, info: &AssociationInfo, why: &str) {
        let mut info = info.clone();
        self.opened(&mut info);
        self.closed(&info, 0, &format!("refused: {why}"));
    }

    fn closed(&self, info: &AssociationInfo, stored: usize, how: &str) {
        let _ = self
            .to_writer
            .send(writer::Job::Closed(info.clone(), stored, how.to_string()));
    }
}

/// The received data set as a Part 10 file, read like an imported one and staged in the
/// store. A data set nothing can be read from is refused (A900H) and stored nowhere.
fn record_of(
    blobs: &BlobStore,
    info: &AssociationInfo,
    request: &StoreRequest,
) -> Result<FileRecord, Answer> {
    let bytes = &request.file;
    let dataset_offset = request.dataset_offset as u64;
    let outcome =
        crate::dicom::read_header(&mut std::io::Cursor::new(&bytes[..]), bytes.len() as u64)
            .map_err(|e| Answer::status(0xC000, format!("cannot read the data set: {e}")))?;
    if let Some(why) = outcome.refusal() {
        return Err(Answer::status(
            0xA900,
            format!("unreadable data set: {why}"),
        ));
    }
    let staged = blobs
        .stage(bytes, dataset_offset, &request.transfer_syntax)
        .map_err(|e| Answer::status(0xA700, format!("cannot write: {e}")))?;
    Ok(FileRecord {
        staged,
        dataset_offset,
        original_path: format!(
            "dicom://{}@{}/{}",
            info.calling_ae, info.peer_address, request.sop_instance
        ),
        source: info.calling_ae.clone(),
        source_kind: crate::model::SourceKind::Network,
        network: Some(NetworkOrigin {
            calling_ae: info.calling_ae.clone(),
            called_ae: info.called_ae.clone(),
            peer_address: info.peer_address.clone(),
            association_id: info.id,
        }),
        header: outcome.header,
        faults: outcome.faults,
    })
}
