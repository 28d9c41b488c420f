//! DICOM networking: associations (on dicom-ul) and the small DIMSE service layer qcdesk needs
//! on top of them (dicom-rs has none, its issue #140): C-ECHO, C-STORE, C-FIND with C-CANCEL,
//! Storage Commitment (N-ACTION, N-EVENT-REPORT), and an SCP serving a handler. Knows nothing
//! of the store or the UI.
//!
//! Every failure is a [`NetError`] whose message names the peer (`RIS@10.0.0.5:104`) and says
//! what happened in the Associate's words: refused connection, unknown host, association
//! rejected with its reason, aborted, timed out, a status with its meaning.

mod assoc;
pub mod commitment;
pub mod deadline;
mod dimse;
mod echo;
mod find;
pub mod scp;
mod scp_answer;
mod scp_occupancy;
mod scp_serve;
mod status;
pub mod storage_classes;
mod store_scu;
pub mod tls;
mod wire;

use std::time::Duration;

pub use assoc::Association;
pub(crate) use assoc::MAX_PDU as REQUESTER_MAX_PDU;
pub use dimse::{Command, CommandField, Message};
pub use echo::{EchoReport, echo};
pub use find::{FindOutcome, Next, find};
pub(crate) use scp::MAX_PDU as RECEIVER_MAX_PDU;
pub use status::{Status, StatusKind};
pub use store_scu::StoreAssociation;
pub use tls::TlsFiles;
pub(crate) use wire::{MAX_COMMAND, MAX_DATA_IN_MEMORY};

/// Verification SOP Class.
pub const VERIFICATION: &str = "1.2.840.10008.1.1";
/// Modality Worklist Information Model - FIND.
pub const MWL_FIND: &str = "1.2.840.10008.5.1.4.31";
/// Storage Commitment Push Model SOP Class.
pub const STORAGE_COMMITMENT: &str = "1.2.840.10008.1.20.1";
/// Study Root Query/Retrieve Information Model - FIND.
pub const STUDY_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// What qcdesk proposes for every abstract syntax besides a file's own transfer syntax.
pub const UNCOMPRESSED: [&str; 2] = [EXPLICIT_VR_LE, IMPLICIT_VR_LE];

/// The AE title qcdesk calls with when neither the node nor the workspace names one.
pub use crate::config::DEFAULT_AE_TITLE;

/// A remote application entity: where to connect and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The node's name in qcdesk's configuration (for messages).
    pub name: String,
    pub ae_title: String,
    pub host: String,
    pub port: u16,
    /// The AE title qcdesk presents to this node.
    pub calling_ae: String,
    /// DICOM over TLS, with these files.
    pub tls: Option<TlsFiles>,
    pub timeouts: Timeouts,
}

impl Peer {
    /// `AET@HOST:PORT`, as the Associate would type it.
    pub fn address(&self) -> String {
        format!("{}@{}:{}", self.ae_title, self.host, self.port)
    }

    /// How the peer is named in messages: `RIS (MWL@10.0.0.5:104)`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.address()
        } else {
            format!("{} ({})", self.name, self.address())
        }
    }
}

/// How long to wait for the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect.
    pub connect: Duration,
    /// Any one read or write (association negotiation, each DIMSE message).
    pub io: Duration,
}

impl Peer {
    /// The peer a configured node is, called as `local_ae` (qcdesk's own AE title) unless
    /// the node names another calling AE title.
    pub fn for_node(node: &crate::model::DicomNode, local_ae: &str) -> Peer {
        let calling_ae = if node.calling_ae.trim().is_empty() {
            local_ae.to_string()
        } else {
            node.calling_ae.clone()
        };
        Peer {
            name: node.name.clone(),
            ae_title: node.ae_title.clone(),
            host: node.host.clone(),
            port: node.port,
            calling_ae,
            tls: node.tls.then(|| {
                let file = |f: &str| (!f.trim().is_empty()).then(|| f.trim().into());
                TlsFiles {
                    ca: node.tls_ca.trim().into(),
                    cert: file(&node.tls_cert),
                    key: file(&node.tls_key),
                }
            }),
            timeouts: Timeouts::default(),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            io: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{peer}: {why}")]
    Address { peer: String, why: String },
    #[error("{peer}: cannot connect: {why}")]
    Connect { peer: String, why: String },
    #[error("{peer}: association rejected ({why})")]
    Rejected { peer: String, why: String },
    #[error("{peer}: {service} was not accepted (no presentation context for it)")]
    NotSupported { peer: String, service: String },
    #[error("{peer}: the association was aborted by the peer{during}")]
    Aborted { peer: String, during: String },
    #[error("{peer}: no answer within {secs} s{during}")]
    Timeout {
        peer: String,
        secs: u64,
        during: String,
    },
    #[error("{peer}: connection lost{during}: {why}")]
    Lost {
        peer: String,
        during: String,
        why: String,
    },
    #[error("{peer}: protocol error: {why}")]
    Protocol { peer: String, why: String },
    #[error("{peer}: {service} failed with status {status}")]
    Failed {
        peer: String,
        service: String,
        status: Status,
    },
    #[error("{peer}: TLS: {why}")]
    Tls { peer: String, why: String },
}

/// For the fuzz targets: an association request as the SCP reads it.
#[doc(hidden)]
pub fn fuzz_request(first: &[u8]) -> bool {
    scp_serve::request_of(first).is_some()
}

/// For the fuzz targets: reads messages from `data` as the SCP does (C-STORE data sets to the
/// sinks `open` gives), until one fails or `max` were read; how many were read.
#[doc(hidden)]
pub fn fuzz_read_messages(
    data: &[u8],
    max: usize,
    open: &mut wire::OpenSink<'_, 'static>,
) -> usize {
    let mut r = data;
    let mut ahead = wire::ReadAhead::default();
    for n in 0..max {
        match wire::read_message(&mut r, &mut ahead, scp::MAX_PDU, open, &mut |_| {}) {
            Ok(wire::Incoming::Stored { sink, .. }) => {
                let _ = sink.finish();
            }
            Ok(wire::Incoming::Message(_)) => {}
            Err(_) => return n,
        }
    }
    max
}
