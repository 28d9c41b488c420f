//! qcdesk as an SCP: an accept loop on a port of its own, a thread per connection, and the
//! DIMSE services a [`Handler`] chooses to offer: C-ECHO always; C-STORE of any storage SOP
//! class in any transfer syntax the registry knows (the receiver, the demo archive); C-FIND
//! (the demo's RIS and archive); Storage Commitment as the archive (answering N-ACTION with an
//! N-EVENT-REPORT) or as the sender (taking the report an archive sends on a new association).
//!
//! The service is the hospital network's to reach, so no peer may block or exhaust it: the
//! accept loop never stops (a connection over a cap of [`Caps`] is refused politely by a
//! thread of its own); each connection has a handshake deadline and then a pace to keep
//! ([`Pace`]), enforced from outside by a reaper that shuts down a connection whose deadline
//! passed wherever its thread is blocked; commands and in-memory data sets are capped, and a
//! C-STORE's data set streams to the handler's sink. A peer that sends garbage, trickles,
//! stalls, nests too deep or aborts loses only its own association: the handler hears
//! `closed` with why, and nothing half-received reaches it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dicom_object::InMemDicomObject;
use dicom_ul::association::{CloseSocket, Error as UlError, ServerAssociation};
use dicom_ul::pdu::Pdu;

use super::commitment::CommitResult;
use super::deadline::{Pace, Reaper};
use super::dimse::PduLink;
use super::scp_occupancy::{Occupancy, Refuser};
use crate::dicom::dump::Node;

pub use super::scp_occupancy::Caps;

/// The largest PDU qcdesk accepts as an SCP.
pub(crate) const MAX_PDU: u32 = 1 << 20;

impl<S: Read + Write + CloseSocket> PduLink for ServerAssociation<S> {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), UlError> {
        self.send(pdu)
    }
    fn receive_pdu(&mut self) -> Result<Pdu, UlError> {
        self.receive()
    }
    fn peer_max_pdu(&self) -> u32 {
        self.requestor_max_pdu_length()
    }
}

/// Who is on the other side of an association, as its request announced it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssociationInfo {
    /// Set by the handler when it records the association.
    pub id: Option<i64>,
    pub calling_ae: String,
    pub called_ae: String,
    pub peer_address: String,
    pub implementation_class_uid: String,
    pub implementation_version: String,
}

/// One received C-STORE, as a Part 10 file: a file meta group qcdesk wrote (the SOP class and
/// instance of the command, the transfer syntax of its context, the caller's AE title as
/// Source AE Title), then the data set exactly as received.
#[derive(Debug)]
pub struct StoreRequest {
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
    pub file: Vec<u8>,
    /// Where the data set starts in `file`.
    pub dataset_offset: usize,
}

impl StoreRequest {
    /// The data set as received.
    pub fn data(&self) -> &[u8] {
        self.file.get(self.dataset_offset..).unwrap_or_default()
    }
}

/// A C-STORE about to arrive: what its command and presentation context say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStart {
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
}

/// Where a C-STORE's data set goes as it arrives, fragment by fragment, and what becomes of
/// it once whole. A sink remembers its own failure (a full disk) and says so in its answer:
/// the rest of the message is still read, so one instance fails, not the association.
pub trait StoreSink {
    /// The next bytes of the data set.
    fn write(&mut self, bytes: &[u8]);
    /// Whether the data set is past what this sink takes: the association is then aborted
    /// rather than read on for nothing.
    fn overflowed(&self) -> bool {
        false
    }
    /// The data set is whole: keep it as promised and say how that went (the status the
    /// C-STORE is answered with).
    fn finish(self: Box<Self>) -> Answer;
}

/// A status to answer with, and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub comment: String,
}

impl Answer {
    pub fn success() -> Answer {
        Answer {
            status: 0,
            comment: String::new(),
        }
    }
    pub fn status(status: u16, comment: impl Into<String>) -> Answer {
        Answer {
            status,
            comment: comment.into(),
        }
    }
}

/// What an SCP offers, and what it does with each request. Called from association threads.
pub trait Handler: Send + Sync + 'static {
    /// Non-storage SOP classes offered besides Verification (a C-FIND model, Storage
    /// Commitment).
    fn sop_classes(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether C-STORE of any storage SOP class is accepted.
    fn accepts_storage(&self) -> bool {
        false
    }
    /// Whether a calling AE title may associate (an allow-list).
    fn allows(&self, _calling_ae: &str) -> bool {
        true
    }
    /// An association was accepted; the handler may record it and set `info.id`.
    fn opened(&self, _info: &mut AssociationInfo) {}
    /// An association was refused (`info` as far as its request told).
    fn refused(&self, _info: &AssociationInfo, _why: &str) {}
    /// A sink of its own for a C-STORE's data set (the receiver: a spool file); None: the
    /// data set is gathered in memory and given to [`Handler::store`].
    fn open_store<'h>(
        &'h self,
        _info: &'h AssociationInfo,
        _start: &StoreStart,
    ) -> Option<Box<dyn StoreSink + 'h>> {
        None
    }
    /// A C-STORE gathered in memory (see [`Handler::open_store`]).
    fn store(&self, _info: &AssociationInfo, _request: StoreRequest) -> Answer {
        Answer::status(0x0122, "storage is not offered here")
    }
    /// Matches for a C-FIND and the final status.
    fn find(
        &self,
        _info: &AssociationInfo,
        _sop_class: &str,
        _query: &[Node],
    ) -> (Vec<InMemDicomObject>, u16) {
        (Vec::new(), 0x0122)
    }
    /// As the archive: which of the instances named in a commitment request are safely held.
    fn commit(&self, _info: &AssociationInfo, _request: &CommitResult) -> Option<CommitResult> {
        None
    }
    /// As the sender: a commitment report an archive sent us. Returns the status to answer.
    fn commitment_report(&self, _info: &AssociationInfo, _report: CommitResult) -> u16 {
        0x0000
    }
    /// The association ended: `how` is "released", or why it ended otherwise.
    fn closed(&self, _info: &AssociationInfo, _stored: usize, _how: &str) {}
}

/// Settings of a listening SCP.
#[derive(Debug, Clone)]
pub struct ScpConfig {
    pub ae_title: String,
    /// e.g. `0.0.0.0:11112`, `127.0.0.1:0`.
    pub bind: String,
    /// How many connections, from whom.
    pub caps: Caps,
    /// From the first byte to an established association (TLS handshake included).
    pub handshake: Duration,
    /// How fast an established association must go.
    pub pace: Pace,
    /// DICOM over TLS on this port.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl ScpConfig {
    pub fn new(ae_title: &str, bind: &str) -> ScpConfig {
        ScpConfig {
            ae_title: ae_title.to_string(),
            bind: bind.to_string(),
            caps: Caps::default(),
            handshake: Duration::from_secs(10),
            pace: Pace {
                idle: Duration::from_secs(60),
                grace: Duration::from_secs(30),
                min_rate: 16 << 10,
            },
            tls: None,
        }
    }
}

/// Answers C-FIND queries of one SOP class.
pub trait FindProvider: Send + Sync + 'static {
    /// The Information Model this provider answers (e.g. Modality Worklist FIND).
    fn sop_class(&self) -> &str;
    /// The matches for a query (its attributes decoded) and the final status to answer
    /// with (0000H success; a provider may end with a cancel, a warning or a failure).
    fn find(&self, query: &[Node]) -> (Vec<InMemDicomObject>, u16);
}

struct FindOnly(Arc<dyn FindProvider>);

impl Handler for FindOnly {
    fn sop_classes(&self) -> Vec<String> {
        vec![self.0.sop_class().to_string()]
    }
    fn find(
        &self,
        _info: &AssociationInfo,
        sop_class: &str,
        query: &[Node],
    ) -> (Vec<InMemDicomObject>, u16) {
        if sop_class != self.0.sop_class() {
            return (Vec::new(), 0x0122);
        }
        self.0.find(query)
    }
}

/// A running SCP; stops when dropped.
pub struct Server {
    port: u16,
    /// Where to connect to wake the accept loop (the bound address; loopback for "any").
    wake: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    door: Arc<Door>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// A C-FIND SCP for one provider on `bind` (e.g. `127.0.0.1:0`) as `ae_title`.
    pub fn start(
        ae_title: &str,
        bind: &str,
        provider: Arc<dyn FindProvider>,
    ) -> std::io::Result<Server> {
        Server::serve(ScpConfig::new(ae_title, bind), Arc::new(FindOnly(provider)))
    }

    /// Listens as `config` says, serving `handler`.
    pub fn serve(config: ScpConfig, handler: Arc<dyn Handler>) -> std::io::Result<Server> {
        crate::fsutil::raise_open_files_limit();
        let listener = TcpListener::bind(&config.bind)?;
        let local = listener.local_addr()?;
        let port = local.port();
        let mut wake = local;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let occupancy = Occupancy::new(config.caps);
        let reaper = Reaper::start(&config.ae_title)?;
        let refuser = Refuser::start(&config.ae_title, config.tls.is_some(), Arc::clone(&handler))?;
        let door = Arc::new(Door {
            config,
            handler,
            occupancy,
            reaper,
            refuser,
        });
        let (flag, mine) = (Arc::clone(&stop), Arc::clone(&door));
        let thread = std::thread::Builder::new()
            .name(format!("scp-{}", door.config.ae_title))
            .spawn(move || accept_loop(listener, &mine, &flag))?;
        Ok(Server {
            port,
            wake,
            stop,
            door,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections being served now (in their handshake or associated).
    pub fn active(&self) -> usize {
        self.door.occupancy.total()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Associations in progress get a moment to finish what they are sending; a stuck or
        // idle one cannot hold the stop up.
        self.door.reaper.close_by(Instant::now() + STOP_GRACE);
    }
}

/// How long associations in progress may go on once the server stops.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the accept loop hands each connection.
struct Door {
    config: ScpConfig,
    handler: Arc<dyn Handler>,
    occupancy: Arc<Occupancy>,
    reaper: Reaper,
    refuser: Refuser,
}

/// Accepts until stopped, never waiting for a slot: a connection over a cap goes to the
/// refuser. Connections still being served when the loop stops end at their own deadlines
/// (the reaper's); threads are not joined, so a stuck peer cannot hold up a shutdown.
fn accept_loop(listener: TcpListener, door: &Arc<Door>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            // Out of file descriptors (or another resource): wait a moment instead of
            // spinning on the error; connections already served go on.
            Err(e) => {
                tracing::warn!("cannot accept a connection: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let connection = match door.occupancy.connect(peer.ip()) {
            Ok(c) => c,
            Err(full) => {
                door.refuser.refuse(stream, full);
                continue;
            }
        };
        let Ok(control) = stream.try_clone() else {
            continue;
        };
        let watch = door
            .reaper
            .watch(control, Instant::now() + door.config.handshake);
        let mine = Arc::clone(door);
        let spawned = std::thread::Builder::new()
            .name("scp-association".into())
            .spawn(move || {
                super::scp_serve::serve(
                    stream,
                    &mine.config,
                    mine.handler.as_ref(),
                    connection,
                    watch,
                );
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a thread for a connection from {peer}: {e}");
        }
    }
}
