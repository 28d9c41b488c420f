//! The receiver: C-STORE arrivals turned into store records exactly like imported files (same
//! entry point: dedup, conflicts, classification), each a receipt with its association.
//!
//! Each data set streams into the spool as it arrives (`spool`: never held whole in memory),
//! its header is read there, then it is answered; after Success the `judge` hashes it and
//! compares a copy that may conflict with the one held (so neither the sender nor the writer
//! waits on a comparison), and one writer records it in batches.
//!
//! Durability, chosen in `[receiver] durability`; what Success promises:
//! - `strict` (default): the instance is on disk (data and name flushed, one flush of the file
//!   system shared by everything arriving at that moment on every association) before
//!   Success. Its record follows within moments; if the process dies in between, the next
//!   start records it from the spool. A power loss loses nothing answered.
//! - `grouped`: the instance is written whole to the spool (the page cache, not yet flushed)
//!   before Success; the writer flushes and records what arrived within each window
//!   (`group_ms`, default 200 ms). A crash of qcdesk loses nothing answered (the next start
//!   records the spool); a power loss may lose the instances of the last window. DCMTK's
//!   storescp gives less: it never flushes.
//!
//! Either way, an instance accepted but not recorded (a full disk, a database locked past its
//! timeout) stays in the spool: the writer retries with backoff, the failure is logged and
//! reported, and the next start records whatever is left, as the receipt it would have been.
//!
//! Storage Commitment reports an archive sends to qcdesk arrive here too: accepted only for a
//! transaction qcdesk started, only from the node it asked (AE title and address), and never
//! over an earlier verdict.

mod flusher;
mod judge;
mod refusals;
pub mod spool;
mod writer;

use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver as Rx, Sender};

use crate::net::STORAGE_COMMITMENT;
use crate::net::commitment::CommitResult;
use crate::net::deadline::Pace;
use crate::net::scp::{AssociationInfo, Caps, Handler, ScpConfig, Server, StoreSink, StoreStart};
use crate::store::{ReportVerdict, Store, StoreError};

pub use crate::config::{Durability, ReceiverConfig};

pub use writer::Event;

impl ReceiverConfig {
    /// The SCP settings these make.
    fn scp(&self, ae_title: &str, bind: &str) -> ScpConfig {
        let mut scp = ScpConfig::new(ae_title, bind);
        scp.caps = Caps {
            total: self.max_associations.max(1),
            per_address: self.max_per_address.max(1),
            per_ae: self.max_per_ae.max(1),
        };
        scp.handshake = Duration::from_secs(self.handshake_seconds.max(1));
        let idle = Duration::from_secs(self.timeout_seconds.max(1));
        scp.pace = Pace {
            idle,
            grace: idle,
            min_rate: self.min_bytes_per_second.max(1),
        };
        scp
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
        let listen_err = |why: String| ReceiveError::Listen {
            bind: bind.to_string(),
            why,
        };
        let mut store = Store::open(root)?;
        let dir = store.workspace().spool_dir();
        crate::fsutil::create_private_dir(&dir).map_err(|e| listen_err(e.to_string()))?;
        // What a dead receiver accepted but did not record is recorded first.
        spool::recover(&mut store, &dir)?;
        let blobs = store.blobs();
        let readers = store.reader_source();
        let (to_writer, from_handlers) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::unbounded();
        let window = match config.durability {
            Durability::Strict => None,
            Durability::Grouped => Some(Duration::from_millis(config.group_ms.max(1))),
        };
        let tally = Arc::new(refusals::Tally::default());
        let writer_tally = Arc::clone(&tally);
        let writer_events = events_tx.clone();
        let writer = std::thread::Builder::new()
            .name("receiver-writer".into())
            .spawn(move || writer::run(store, from_handlers, writer_events, window, writer_tally))
            .map_err(|e| listen_err(e.to_string()))?;
        let flusher = flusher::Flusher::start(&dir).map_err(|e| listen_err(e.to_string()))?;
        let judge = judge::Judge::start(blobs, readers.clone(), to_writer.clone())
            .map_err(|e| listen_err(e.to_string()))?;
        let handler = Arc::new(StoreHandler {
            readers,
            spool: spool::Spool {
                dir,
                durability: config.durability,
                flusher,
                judge,
            },
            to_writer,
            allow: config
                .allow
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            tally,
            events: events_tx,
        });
        let scp = config.scp(ae_title, bind);
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
        let server = Server::serve(scp, handler).map_err(|e| listen_err(e.to_string()))?;
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
    /// Read connections to the store (checking a commitment report's sender).
    readers: crate::store::ReaderSource,
    spool: spool::Spool,
    to_writer: Sender<writer::Job>,
    allow: Vec<String>,
    tally: Arc<refusals::Tally>,
    events: Sender<Event>,
}

/// How long an association waits for its row (the writer may be busy, the database locked by
/// another process): past it, the association goes on unrecorded rather than stall its sender.
const OPEN_WAIT: Duration = Duration::from_secs(5);

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
            info.id = rx.recv_timeout(OPEN_WAIT).ok().flatten();
        }
    }

    fn open_store<'h>(
        &'h self,
        info: &'h AssociationInfo,
        start: &StoreStart,
    ) -> Option<Box<dyn StoreSink + 'h>> {
        Some(Box::new(spool::SpoolSink::open(&self.spool, info, start)))
    }

    fn commitment_report(&self, info: &AssociationInfo, report: CommitResult) -> u16 {
        let refuse = |why: &str| {
            tracing::warn!(
                "Storage Commitment report {} from {} ({}) refused: {why}",
                crate::text::printable_short(&report.transaction_uid, 80),
                info.calling_ae,
                info.peer_address
            );
        };
        // Only for a transaction qcdesk started, only from the node it asked.
        let asked = self
            .readers
            .open()
            .and_then(|r| r.commitment_requested_of(&report.transaction_uid));
        let (node, ae_title, host) = match asked {
            Ok(Some(n)) => n,
            Ok(None) => {
                refuse("no transaction of qcdesk's has this UID");
                return 0x0115;
            }
            Err(e) => {
                tracing::warn!("cannot check a commitment report: {e}");
                return 0x0110;
            }
        };
        if ae_title.trim() != info.calling_ae.trim() {
            refuse(&format!(
                "the transaction was asked of {node} ({ae_title}), not of this AE title"
            ));
            return 0x0110;
        }
        if !same_host(&host, &info.peer_address) {
            refuse(&format!(
                "the transaction was asked of {node} at {host}, not at this address"
            ));
            return 0x0110;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job = writer::Job::Report {
            calling_ae: info.calling_ae.clone(),
            peer_address: info.peer_address.clone(),
            report,
            reply: tx,
        };
        if self.to_writer.send(job).is_err() {
            return 0x0110;
        }
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(ReportVerdict::Recorded | ReportVerdict::Repeated)) => 0,
            Ok(Some(ReportVerdict::Conflicting)) => {
                tracing::warn!(
                    "a second, different Storage Commitment report from {} ({}) was refused: the first verdict stands",
                    info.calling_ae,
                    info.peer_address
                );
                0x0110
            }
            _ => 0x0110,
        }
    }

    /// Counted per caller and minute (one row a minute, one log line when it starts): the
    /// node map counts them among the caller's failures.
    fn refused(&self, info: &AssociationInfo, why: &str) {
        if let Some(first) = self.tally.note(info, why) {
            let _ = self.to_writer.send(writer::Job::Refused(first));
            tracing::warn!(
                "association from {} ({}) refused: {why}",
                info.peer_address,
                info.calling_ae
            );
            let _ = self.events.send(Event::Association {
                calling_ae: info.calling_ae.clone(),
                peer_address: info.peer_address.clone(),
                stored: 0,
                how: format!("refused: {why}"),
            });
        }
    }

    fn closed(&self, info: &AssociationInfo, stored: usize, how: &str) {
        let _ = self
            .to_writer
            .send(writer::Job::Closed(info.clone(), stored, how.to_string()));
    }
}

/// Whether `peer_address` (`ip:port`) is the node's `host` (a name or an address).
fn same_host(host: &str, peer_address: &str) -> bool {
    let Ok(peer) = peer_address.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let peer = peer.ip().to_canonical();
    (host, 0)
        .to_socket_addrs()
        .map(|mut addrs| addrs.any(|a| a.ip().to_canonical() == peer))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_must_come_from_the_host_asked() {
        assert!(same_host("127.0.0.1", "127.0.0.1:40000"));
        assert!(same_host("localhost", "127.0.0.1:40000"));
        assert!(!same_host("127.0.0.2", "127.0.0.1:40000"));
        assert!(!same_host("127.0.0.1", "garbage"));
    }
}
