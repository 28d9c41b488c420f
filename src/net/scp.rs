//! qcdesk as an SCP: an accept loop on a port of its own, a thread per association (bounded),
//! and the DIMSE services a [`Handler`] chooses to offer: C-ECHO always; C-STORE of any storage
//! SOP class in any transfer syntax the registry knows (the receiver, the demo archive); C-FIND
//! (the demo's RIS and archive); Storage Commitment as the archive (answering N-ACTION with an
//! N-EVENT-REPORT) or as the sender (taking the report an archive sends on a new association).
//!
//! A peer that sends garbage, an absurd PDU or aborts loses only its own association: the
//! handler hears `closed` with why, and nothing half-received reaches it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dicom_object::InMemDicomObject;
use dicom_ul::association::server::{AccessControl, Negotiation, ServerAssociationOptions};
use dicom_ul::association::{Association as _, CloseSocket, Error as UlError, ServerAssociation};
use dicom_ul::pdu::{AssociationRJServiceUserReason, Pdu, RequestorRoles, UserIdentity};

use super::commitment::{self, CommitResult};
use super::dimse::{Command, CommandField, PduLink, ReceiveError};
use super::scp_answer::{answer_commit, answer_find, reply, send};
use super::{EXPLICIT_VR_LE, IMPLICIT_VR_LE, STORAGE_COMMITMENT, VERIFICATION};
use crate::dicom::dump::Node;

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
    pub max_associations: usize,
    /// Any one read or write; an idle association is aborted after it.
    pub timeout: Duration,
    /// DICOM over TLS on this port.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl ScpConfig {
    pub fn new(ae_title: &str, bind: &str) -> ScpConfig {
        ScpConfig {
            ae_title: ae_title.to_string(),
            bind: bind.to_string(),
            max_associations: 8,
            timeout: Duration::from_secs(60),
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
    active: Arc<AtomicUsize>,
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
        let listener = TcpListener::bind(&config.bind)?;
        let local = listener.local_addr()?;
        let port = local.port();
        let mut wake = local;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (Arc::clone(&stop), Arc::clone(&active));
        let thread = std::thread::Builder::new()
            .name(format!("scp-{}", config.ae_title))
            .spawn(move || accept_loop(listener, &config, handler, &flag, &count))?;
        Ok(Server {
            port,
            wake,
            stop,
            active,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Associations being served now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
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
    }
}

fn accept_loop(
    listener: TcpListener,
    config: &ScpConfig,
    handler: Arc<dyn Handler>,
    stop: &AtomicBool,
    active: &Arc<AtomicUsize>,
) {
    let max = config.max_associations.max(1);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        while active.load(Ordering::SeqCst) >= max {
            std::thread::sleep(Duration::from_millis(5));
            if stop.load(Ordering::SeqCst) {
                return;
            }
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (config, handler, mine) = (config.clone(), Arc::clone(&handler), Arc::clone(active));
        let spawned = std::thread::Builder::new()
            .name("scp-association".into())
            .spawn(move || {
                // Released however the association ends (a panicking handler too).
                let _slot = Slot(mine);
                serve(stream, &config, handler.as_ref());
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One of the bounded association slots, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts the called AE title and, when the handler keeps an allow-list, the calling one.
struct Access<'a> {
    handler: &'a dyn Handler,
}

impl AccessControl for Access<'_> {
    fn check_access(
        &self,
        this_ae_title: &str,
        calling_ae_title: &str,
        called_ae_title: &str,
        _user_identity: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if this_ae_title.trim() != called_ae_title.trim() {
            return Err(AssociationRJServiceUserReason::CalledAETitleNotRecognized);
        }
        if !self.handler.allows(calling_ae_title.trim()) {
            return Err(AssociationRJServiceUserReason::CallingAETitleNotRecognized);
        }
        Ok(())
    }
}

/// Lets an archive be the SCP of Storage Commitment on an association it opens to us (it
/// sends the N-EVENT-REPORT).
struct Roles;

impl Negotiation for Roles {
    fn negotiate_roles(&self, sop_class: &str, scu: bool, scp: bool) -> Option<RequestorRoles> {
        (sop_class.trim_end_matches('\0') == STORAGE_COMMITMENT)
            .then_some(RequestorRoles { scu, scp })
    }
}

/// The largest first message waited for: an A-ASSOCIATE-RQ (even 128 presentation contexts
/// take ~15 KB) or a TLS ClientHello record (at most 16 KB + 5).
const FIRST_MESSAGE_MAX: usize = 64 << 10;

/// Waits, without consuming anything, until the connection's first message is whole: a TLS
/// record (`tls`) or an A-ASSOCIATE-RQ PDU. None: the connection closed, sent something else, or
/// stayed silent for `timeout`: it is closed unanswered.
///
/// dicom-ul must never see such a connection: with TLS support built in, a plain association
/// whose first PDU cannot be read is sniffed for TLS from a buffer, and the TLS acceptor spins
/// forever on an empty or partial one (a health check's empty connection would take a thread
/// and a core for good).
fn peek_first_message(stream: &TcpStream, tls: bool, timeout: Duration) -> Option<Vec<u8>> {
    let deadline = std::time::Instant::now() + timeout;
    let mut buf = vec![0u8; FIRST_MESSAGE_MAX];
    loop {
        let n = stream.peek(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        // A-ASSOCIATE-RQ: type 01H, reserved, 4-byte length. TLS: a handshake record (16H),
        // version 3.x, 2-byte length.
        let (kind, header) = if tls { (0x16, 5) } else { (0x01, 6) };
        if buf[0] != kind {
            return None;
        }
        if n >= header {
            let len = if tls {
                u16::from_be_bytes([buf[3], buf[4]]) as usize
            } else {
                u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize
            } + header;
            if len > buf.len() {
                return None;
            }
            if n >= len {
                buf.truncate(len);
                return Some(buf);
            }
        }
        if std::time::Instant::now() >= deadline || peer_closed(stream) {
            return None;
        }
    }
}

/// Waits a millisecond for more bytes; true when the peer has closed its side (peek would go
/// on returning the bytes it left behind).
fn peer_closed(stream: &TcpStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, 1) };
        n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        std::thread::sleep(Duration::from_millis(1));
        false
    }
}

/// The peer's implementation class and version from its A-ASSOCIATE-RQ (dicom-ul does not keep
/// them), and whether the request parses at all.
/// The caller's implementation (class UID, version name) and AE titles (calling, called), from
/// its association request.
fn implementation(first: &[u8]) -> Option<((String, String), (String, String))> {
    match dicom_ul::pdu::read_pdu(first, dicom_ul::pdu::MAXIMUM_PDU_SIZE, false) {
        Ok(Some(Pdu::AssociationRQ(rq))) => Some((
            super::assoc::implementation_of(&rq.user_variables),
            (
                rq.calling_ae_title.trim().to_string(),
                rq.called_ae_title.trim().to_string(),
            ),
        )),
        _ => None,
    }
}

fn serve(stream: TcpStream, config: &ScpConfig, handler: &dyn Handler) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(config.timeout));
    let peer_address = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // A caller gets at most 10 s to send its request (DCMTK's ACSE timeout is 30 s).
    let first_wait = config.timeout.min(Duration::from_secs(10));
    let Some(first) = peek_first_message(&stream, config.tls.is_some(), first_wait) else {
        return;
    };
    // Over TLS the request is read inside the tunnel: its implementation is not known here.
    let ((implementation_class_uid, implementation_version), (calling_ae, called_ae)) =
        if config.tls.is_some() {
            Default::default()
        } else {
            match implementation(&first) {
                Some(i) => i,
                None => return,
            }
        };
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(Access { handler })
        .with_negotiation(Roles)
        .ae_title(config.ae_title.as_str())
        .with_abstract_syntax(VERIFICATION)
        .max_pdu_length(MAX_PDU)
        .read_timeout(config.timeout)
        .write_timeout(config.timeout);
    for sop in handler.sop_classes() {
        options = options.with_abstract_syntax(sop);
    }
    if handler.accepts_storage() {
        // Every standard storage class, and private ones too (promiscuous); any transfer
        // syntax the registry can parse is taken as proposed, so what arrives is stored as it
        // was sent.
        for sop in super::storage_classes::STORAGE_SOP_CLASSES {
            options = options.with_abstract_syntax(*sop);
        }
        options = options.promiscuous(true);
    } else {
        options = options
            .with_transfer_syntax(EXPLICIT_VR_LE)
            .with_transfer_syntax(IMPLICIT_VR_LE);
    }
    let info = AssociationInfo {
        id: None,
        calling_ae,
        called_ae,
        peer_address,
        implementation_class_uid,
        implementation_version,
    };
    match &config.tls {
        Some(tls) => match options.tls_config(Arc::clone(tls)).establish_tls(stream) {
            Ok(assoc) => run_association(assoc, info, handler),
            Err(e) => {
                tracing::warn!("TLS association from {} refused: {e}", info.peer_address);
                handler.refused(&info, &e.to_string());
            }
        },
        // A refusal (an AE title not allowed, nothing acceptable proposed) goes to the log, the
        // service's journal (AE titles and addresses, no patient data), and to the handler.
        None => match options.establish(stream) {
            Ok(assoc) => run_association(assoc, info, handler),
            Err(e) => {
                tracing::warn!(
                    "association from {} ({}) refused: {e}",
                    info.peer_address,
                    info.calling_ae
                );
                handler.refused(&info, &e.to_string());
            }
        },
    }
}

/// Serves an accepted association until it ends.
fn run_association<S: Read + Write + CloseSocket>(
    mut assoc: ServerAssociation<S>,
    info: AssociationInfo,
    handler: &dyn Handler,
) {
    let mut info = AssociationInfo {
        id: None,
        calling_ae: assoc.peer_ae_title().trim().to_string(),
        called_ae: assoc.called_ae_title().trim().to_string(),
        ..info
    };
    handler.opened(&mut info);
    let contexts = super::assoc::negotiated(assoc.presentation_contexts());
    let mut stored = 0usize;
    let storage = handler.accepts_storage();
    // A C-STORE's data set is received straight after the file head it will be stored with.
    let mut head = |context: u8, command: &Command| -> Vec<u8> {
        if !storage || command.field() != Some(CommandField::CStoreRq) {
            return Vec::new();
        }
        let ts = contexts
            .iter()
            .find(|c| c.0 == context)
            .map(|c| c.2.as_str())
            .unwrap_or_default();
        crate::dicom::part10::file_head(
            &command.sop_class().unwrap_or_default(),
            &command.sop_instance().unwrap_or_default(),
            ts,
            &info.calling_ae,
            1 << 20,
        )
    };
    let how = loop {
        let (msg, head_len) =
            match super::wire::read_message(assoc.inner_stream(), MAX_PDU, &mut head) {
                Ok(m) => m,
                Err(ReceiveError::Released) => {
                    let _ = assoc.send(&Pdu::ReleaseRP);
                    break "released".to_string();
                }
                Err(ReceiveError::Aborted) => break "aborted by the peer".to_string(),
                Err(ReceiveError::Protocol(why)) => {
                    let _ = assoc.abort();
                    break format!("aborted: {why}");
                }
                Err(ReceiveError::Link(e)) => {
                    let _ = assoc.abort();
                    break format!("connection lost: {e}");
                }
                Err(ReceiveError::Io(e)) => {
                    let _ = assoc.abort();
                    break format!("connection lost: {e}");
                }
            };
        let Some((_, abstract_syntax, ts_uid)) = contexts
            .iter()
            .find(|(id, _, _)| *id == msg.context_id)
            .cloned()
        else {
            let _ = assoc.abort();
            break format!(
                "aborted: message on unknown presentation context {}",
                msg.context_id
            );
        };
        let answered = match msg.command.field() {
            Some(CommandField::CEchoRq) => reply(&mut assoc, &msg, CommandField::CEchoRsp, 0, None),
            Some(CommandField::CStoreRq) => {
                let answer = if !storage {
                    Answer::status(0x0122, "storage is not offered here")
                } else {
                    let file = msg.data.unwrap_or_default();
                    let request = StoreRequest {
                        sop_class: msg.command.sop_class().unwrap_or(abstract_syntax),
                        sop_instance: msg.command.sop_instance().unwrap_or_default(),
                        transfer_syntax: ts_uid,
                        dataset_offset: head_len,
                        file,
                    };
                    handler.store(&info, request)
                };
                if answer.status == 0 || answer.status & 0xF000 == 0xB000 {
                    stored += 1;
                }
                let command = Command::response_with_comment(
                    CommandField::CStoreRsp,
                    &msg.command,
                    answer.status,
                    &answer.comment,
                );
                send(&mut assoc, msg.context_id, command, None)
            }
            Some(CommandField::CFindRq) => {
                answer_find(&mut assoc, &msg, &ts_uid, &abstract_syntax, &info, handler)
            }
            Some(CommandField::NActionRq) => {
                answer_commit(&mut assoc, &msg, &ts_uid, &info, handler)
            }
            Some(CommandField::NEventReportRq) => {
                let status =
                    match commitment::read_report(msg.data.as_deref().unwrap_or_default(), &ts_uid)
                    {
                        Ok(report) => handler.commitment_report(&info, report),
                        Err(_) => 0x0110,
                    };
                reply(
                    &mut assoc,
                    &msg,
                    CommandField::NEventReportRsp,
                    status,
                    None,
                )
            }
            // A cancel for a query already answered in full; the answer to our report.
            Some(CommandField::CCancelRq | CommandField::NEventReportRsp) => true,
            // Retrieval is not offered: refused with its status, the association goes on.
            Some(CommandField::CMoveRq) => {
                reply(&mut assoc, &msg, CommandField::CMoveRsp, 0x0122, None)
            }
            Some(CommandField::CGetRq) => {
                reply(&mut assoc, &msg, CommandField::CGetRsp, 0x0122, None)
            }
            _ => {
                let field = msg.command.raw_field().unwrap_or(0);
                let _ = assoc.abort();
                break format!("aborted: command {field:04X}H is not offered");
            }
        };
        if !answered {
            let _ = assoc.abort();
            break "aborted: the peer stopped reading".to_string();
        }
    };
    handler.closed(&info, stored, &how);
}
