//! qcdesk as an SCP: an accept loop on a port of its own, a thread per association (bounded),
//! and the DIMSE services a [`Handler`] chooses to offer: C-ECHO always; C-STORE of any storage
//! SOP class in any transfer syntax the registry knows (the receiver, the demo archive); C-FIND
//! (the demo's RIS and archive); Storage Commitment as the archive (answering N-ACTION with an
//! N-EVENT-REPORT) or as the sender (taking the report an archive sends on a new association).
//!
//! A peer that sends garbage, an absurd PDU or aborts loses only its own association: the
//! handler hears `closed` with why, and nothing half-received reaches it.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::server::{AccessControl, Negotiation, ServerAssociationOptions};
use dicom_ul::association::{Association as _, Error as UlError, ServerAssociation};
use dicom_ul::pdu::{AssociationRJServiceUserReason, Pdu, RequestorRoles, UserIdentity};

use super::commitment::{self, CommitResult};
use super::dimse::{self, Command, CommandField, Message, PduLink, ReceiveError};
use super::{EXPLICIT_VR_LE, IMPLICIT_VR_LE, STORAGE_COMMITMENT, VERIFICATION};
use crate::dicom::dump::{Node, dump_dataset};

/// The largest PDU qcdesk accepts as an SCP.
const MAX_PDU: u32 = 1 << 20;

impl PduLink for ServerAssociation<TcpStream> {
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
}

impl ScpConfig {
    pub fn new(ae_title: &str, bind: &str) -> ScpConfig {
        ScpConfig {
            ae_title: ae_title.to_string(),
            bind: bind.to_string(),
            max_associations: 8,
            timeout: Duration::from_secs(60),
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

/// Reads the A-ASSOCIATE-RQ without consuming it, for what dicom-ul does not keep: the peer's
/// implementation class and version.
fn peek_implementation(stream: &TcpStream) -> (String, String) {
    let mut buf = vec![0u8; 16_384];
    let mut got = 0;
    for _ in 0..20 {
        match stream.peek(&mut buf) {
            Ok(n) if n >= 6 => {
                got = n;
                let len = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize + 6;
                if n >= len || n == buf.len() {
                    break;
                }
            }
            Ok(0) | Err(_) => break,
            Ok(n) => got = n,
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    match dicom_ul::pdu::read_pdu(&buf[..got], dicom_ul::pdu::MAXIMUM_PDU_SIZE, false) {
        Ok(Some(Pdu::AssociationRQ(rq))) => super::assoc::implementation_of(&rq.user_variables),
        _ => Default::default(),
    }
}

fn serve(stream: TcpStream, config: &ScpConfig, handler: &dyn Handler) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(config.timeout));
    let peer_address = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (implementation_class_uid, implementation_version) = peek_implementation(&stream);
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
        // Storage classes include private ones; any transfer syntax the registry knows is
        // taken as proposed, so what arrives is stored as it was sent.
        options = options.promiscuous(true);
    } else {
        options = options
            .with_transfer_syntax(EXPLICIT_VR_LE)
            .with_transfer_syntax(IMPLICIT_VR_LE);
    }
    let Ok(mut assoc) = options.establish(stream) else {
        return;
    };
    let mut info = AssociationInfo {
        id: None,
        calling_ae: assoc.peer_ae_title().trim().to_string(),
        called_ae: assoc.called_ae_title().trim().to_string(),
        peer_address,
        implementation_class_uid,
        implementation_version,
    };
    handler.opened(&mut info);
    let contexts = super::assoc::negotiated(assoc.presentation_contexts());
    let mut pending = Vec::new();
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
        let (msg, head_len) = match dimse::receive_message_into(&mut assoc, &mut pending, &mut head)
        {
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

fn send(
    assoc: &mut ServerAssociation<TcpStream>,
    context_id: u8,
    command: Command,
    data: Option<Vec<u8>>,
) -> bool {
    dimse::send_message(
        assoc,
        &Message {
            context_id,
            command,
            data,
        },
    )
    .is_ok()
}

fn reply(
    assoc: &mut ServerAssociation<TcpStream>,
    request: &Message,
    field: CommandField,
    status: u16,
    data: Option<Vec<u8>>,
) -> bool {
    let command = Command::response(field, &request.command, status, data.is_some());
    send(assoc, request.context_id, command, data)
}

fn answer_find(
    assoc: &mut ServerAssociation<TcpStream>,
    msg: &Message,
    ts_uid: &str,
    abstract_syntax: &str,
    info: &AssociationInfo,
    handler: &dyn Handler,
) -> bool {
    let Some(ts) = TransferSyntaxRegistry.get(ts_uid) else {
        return reply(assoc, msg, CommandField::CFindRsp, 0xC000, None);
    };
    let sop_class = msg
        .command
        .sop_class()
        .unwrap_or_else(|| abstract_syntax.to_string());
    let query = dump_dataset(msg.data.as_deref().unwrap_or_default(), ts_uid);
    if query.error.is_some() {
        return reply(assoc, msg, CommandField::CFindRsp, 0xA900, None);
    }
    let (matches, status) = handler.find(info, &sop_class, &query.dataset);
    for m in matches {
        let mut bytes = Vec::new();
        if m.write_dataset_with_ts(&mut bytes, ts).is_err() {
            return reply(assoc, msg, CommandField::CFindRsp, 0xC001, None);
        }
        if !reply(assoc, msg, CommandField::CFindRsp, 0xFF00, Some(bytes)) {
            return false;
        }
    }
    reply(assoc, msg, CommandField::CFindRsp, status, None)
}

/// N-ACTION (Storage Commitment request): answered, then the report is sent on this same
/// association (the requestor proposed both roles, or is qcdesk, which listens for it).
fn answer_commit(
    assoc: &mut ServerAssociation<TcpStream>,
    msg: &Message,
    ts_uid: &str,
    info: &AssociationInfo,
    handler: &dyn Handler,
) -> bool {
    let request = match commitment::read_request(msg.data.as_deref().unwrap_or_default(), ts_uid) {
        Ok(r) => r,
        Err(_) => return reply(assoc, msg, CommandField::NActionRsp, 0x0110, None),
    };
    let Some(result) = handler.commit(info, &request) else {
        return reply(assoc, msg, CommandField::NActionRsp, 0x0112, None);
    };
    if !reply(assoc, msg, CommandField::NActionRsp, 0, None) {
        return false;
    }
    let Ok((event, data)) = commitment::write_report(&result, ts_uid) else {
        return false;
    };
    let command = Command::n_event_report(
        STORAGE_COMMITMENT,
        commitment::WELL_KNOWN_INSTANCE,
        event,
        msg.command.message_id().unwrap_or(1).wrapping_add(0x4000),
    );
    send(assoc, msg.context_id, command, Some(data))
}
