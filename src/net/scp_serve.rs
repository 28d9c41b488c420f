//! One connection of the SCP, from its first byte to its end: the handshake within its
//! deadline (the first message whole, the TLS handshake, the association request), the caps
//! of its caller, then DIMSE messages at the pace the SCP demands, each dispatched to the
//! handler. A peer that sends garbage, trickles, stalls, nests too deep or aborts loses only its
//! own association.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dicom_ul::association::server::{AccessControl, Negotiation, ServerAssociationOptions};
use dicom_ul::association::{Association as _, CloseSocket, ServerAssociation};
use dicom_ul::pdu::{AssociationRJServiceUserReason, Pdu, RequestorRoles, UserIdentity};

use super::commitment;
use super::deadline::{Pace, Watch};
use super::dimse::{Command, CommandField, ReceiveError};
use super::scp::{
    Answer, AssociationInfo, Handler, MAX_PDU, ScpConfig, StoreRequest, StoreSink, StoreStart,
};
use super::scp_answer::{answer_commit, answer_find, reply, send};
use super::scp_occupancy::{Connection, Full, REJECT_LIMIT, reject};
use super::wire::{Incoming, ReadAhead, read_message};
use super::{EXPLICIT_VR_LE, IMPLICIT_VR_LE, STORAGE_COMMITMENT, VERIFICATION};
use crate::text::printable_short;

/// While the handler works on a message the peer waits for its answer: our time, not the
/// peer's, within reason.
const HANDLING: Duration = Duration::from_secs(600);

/// The largest first message waited for: an A-ASSOCIATE-RQ (even 128 presentation contexts
/// take ~15 KB) or a TLS ClientHello (a handshake message over one or more records).
const FIRST_MESSAGE_MAX: usize = 64 << 10;

/// Peer-supplied text as kept and shown: control characters escaped, AE-title sized.
fn peer_text(s: &str) -> String {
    printable_short(s.trim_matches(|c: char| c == '\0' || c == ' '), 64)
}

/// What an association request says of its caller.
pub(crate) struct Request {
    pub calling_ae: String,
    pub called_ae: String,
    pub implementation_class_uid: String,
    pub implementation_version: String,
}

/// The caller's AE titles and implementation from its A-ASSOCIATE-RQ (dicom-ul does not keep
/// the implementation), escaped for logs; None when the request does not parse.
pub(crate) fn request_of(first: &[u8]) -> Option<Request> {
    match dicom_ul::pdu::read_pdu(first, dicom_ul::pdu::MAXIMUM_PDU_SIZE, false) {
        Ok(Some(Pdu::AssociationRQ(rq))) => {
            let (class, version) = super::assoc::implementation_of(&rq.user_variables);
            Some(Request {
                calling_ae: peer_text(&rq.calling_ae_title),
                called_ae: peer_text(&rq.called_ae_title),
                implementation_class_uid: peer_text(&class),
                implementation_version: peer_text(&version),
            })
        }
        _ => None,
    }
}

/// How much of a TLS handshake message (a ClientHello) `buf` holds: `Some(true)` when whole,
/// `Some(false)` when more must come, `None` when it is no TLS handshake.
fn client_hello_whole(buf: &[u8]) -> Option<bool> {
    if buf.first().is_some_and(|b| *b != 0x16) {
        return None;
    }
    let mut payload: Vec<u8> = Vec::new();
    let mut at = 0usize;
    while at + 5 <= buf.len() {
        // A handshake record: type 16H, version 3.x, 2-byte length.
        if buf[at] != 0x16 || buf[at + 1] != 0x03 {
            return None;
        }
        let len = u16::from_be_bytes([buf[at + 3], buf[at + 4]]) as usize;
        let Some(body) = buf.get(at + 5..at + 5 + len) else {
            return Some(false);
        };
        payload.extend_from_slice(body);
        at += 5 + len;
        if payload.len() >= 4 {
            if payload[0] != 0x01 {
                return None;
            }
            let want = 4 + u32::from_be_bytes([0, payload[1], payload[2], payload[3]]) as usize;
            if want > FIRST_MESSAGE_MAX {
                return None;
            }
            if payload.len() >= want {
                return Some(true);
            }
        }
    }
    Some(false)
}

/// Waits, without consuming anything, until the connection's first message is whole: a TLS
/// ClientHello (`tls`) or an A-ASSOCIATE-RQ PDU. None: the connection closed, sent something
/// else, or did not complete it within `timeout`: it is closed unanswered.
///
/// dicom-ul must never see such a connection: its TLS acceptor reads until the ClientHello is
/// whole and takes end-of-stream for "no data yet", spinning forever on a partial one; and with
/// TLS support built in, a plain association whose first PDU cannot be read is sniffed for TLS
/// the same way.
pub(crate) fn peek_first_message(
    stream: &TcpStream,
    tls: bool,
    timeout: Duration,
) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; FIRST_MESSAGE_MAX];
    let found = loop {
        let _ = stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ));
        let Ok(n) = stream.peek(&mut buf) else {
            break None;
        };
        if n == 0 {
            break None;
        }
        // How many bytes the message needs in all, as far as its start tells.
        let want = if tls {
            match client_hello_whole(&buf[..n]) {
                None => break None,
                Some(true) => {
                    buf.truncate(n);
                    break Some(buf);
                }
                Some(false) if n == buf.len() => break None,
                Some(false) => n + 1,
            }
        } else {
            // A-ASSOCIATE-RQ: type 01H, reserved, 4-byte length.
            if buf[0] != 0x01 {
                break None;
            }
            if n >= 6 {
                let len = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize + 6;
                if len > buf.len() {
                    break None;
                }
                if n >= len {
                    buf.truncate(len);
                    break Some(buf);
                }
                len
            } else {
                6
            }
        };
        if Instant::now() >= deadline || !wait_for(stream, want, deadline) {
            break None;
        }
    };
    set_low_water(stream, 1);
    found
}

/// Sets how many bytes must be waiting before the socket reads as readable (SO_RCVLOWAT).
fn set_low_water(stream: &TcpStream, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: a valid socket and a c_int option value for the duration of the call.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (stream, bytes);
}

/// Waits (without spinning) until `want` bytes are waiting, the peer closes its side, or the
/// deadline passes; false when the peer closed.
fn wait_for(stream: &TcpStream, want: usize, deadline: Instant) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        set_low_water(stream, want);
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .clamp(1, 1000) as libc::c_int;
        let mut pfd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        !(n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (stream, want, deadline);
        std::thread::sleep(Duration::from_millis(10));
        true
    }
}

/// Accepts the called AE title and, when the handler keeps an allow-list, the calling one;
/// over TLS (where the request is read inside the tunnel) it also takes the caller's place
/// under its AE title.
struct Access<'a> {
    handler: &'a dyn Handler,
    /// The connection, to count the AE title on (TLS only: a plain request was counted
    /// before dicom-ul saw it).
    connection: Option<&'a Mutex<Connection>>,
    /// Why a cap refused the caller, for the log.
    full: &'a Mutex<Option<Full>>,
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
        if let Some(c) = self.connection {
            let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(full) = c.associate(&peer_text(calling_ae_title)) {
                *self.full.lock().unwrap_or_else(|p| p.into_inner()) = Some(full);
                return Err(AssociationRJServiceUserReason::NoReasonGiven);
            }
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

/// Serves one accepted connection to its end. `control` is a clone of its socket, for
/// timeouts; `watch` its deadline.
pub(crate) fn serve(
    stream: TcpStream,
    config: &ScpConfig,
    handler: &dyn Handler,
    connection: Connection,
    watch: Watch,
) {
    let _ = stream.set_nodelay(true);
    let Ok(control) = stream.try_clone() else {
        return;
    };
    let handshake = config.handshake;
    let _ = control.set_write_timeout(Some(handshake));
    let peer_address = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let tls = config.tls.is_some();
    let Some(first) = peek_first_message(&stream, tls, handshake) else {
        return;
    };
    let _ = control.set_read_timeout(Some(handshake));
    let mut info = AssociationInfo {
        peer_address,
        ..AssociationInfo::default()
    };
    let connection = Mutex::new(connection);
    if !tls {
        let Some(rq) = request_of(&first) else {
            return;
        };
        info.calling_ae = rq.calling_ae;
        info.called_ae = rq.called_ae;
        info.implementation_class_uid = rq.implementation_class_uid;
        info.implementation_version = rq.implementation_version;
        let taken = connection
            .lock()
            .map_err(|_| Full::Total(0))
            .and_then(|mut c| c.associate(&info.calling_ae));
        if let Err(full) = taken {
            // Its place is held while the peer reads the rejection (a second at most): a
            // flood of refused connections cannot pile up uncounted.
            let mut stream = stream;
            reject(&mut stream, &REJECT_LIMIT);
            handler.refused(&info, &full.to_string());
            return;
        }
    }
    let full = Mutex::new(None);
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(Access {
            handler,
            connection: tls.then_some(&connection),
            full: &full,
        })
        .with_negotiation(Roles)
        .ae_title(config.ae_title.as_str())
        .with_abstract_syntax(VERIFICATION)
        .max_pdu_length(MAX_PDU)
        .read_timeout(handshake)
        .write_timeout(handshake);
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
    let established = match &config.tls {
        Some(tls) => options
            .tls_config(Arc::clone(tls))
            .establish_tls(stream)
            .map(|assoc| {
                let (class, version) = super::assoc::implementation_of(assoc.user_variables());
                info.implementation_class_uid = peer_text(&class);
                info.implementation_version = peer_text(&version);
                run(assoc, info.clone(), handler, &control, &watch, config.pace)
            }),
        None => options
            .establish(stream)
            .map(|assoc| run(assoc, info.clone(), handler, &control, &watch, config.pace)),
    };
    if let Err(e) = established {
        let why = match full.lock().ok().and_then(|f| *f) {
            Some(full) => full.to_string(),
            None if watch.expired() => format!(
                "no association within the {} s handshake deadline",
                handshake.as_secs()
            ),
            None => e.to_string(),
        };
        handler.refused(&info, &printable_short(&why, 300));
    }
}

/// Runs an established association (its connection now counted as one).
fn run<S: Read + Write + CloseSocket>(
    assoc: ServerAssociation<S>,
    info: AssociationInfo,
    handler: &dyn Handler,
    control: &TcpStream,
    watch: &Watch,
    pace: Pace,
) {
    let info = AssociationInfo {
        calling_ae: peer_text(assoc.peer_ae_title()),
        called_ae: peer_text(assoc.called_ae_title()),
        ..info
    };
    let _ = control.set_read_timeout(Some(pace.idle));
    let _ = control.set_write_timeout(Some(pace.idle));
    run_association(assoc, info, handler, watch, pace);
}

/// Serves an accepted association until it ends.
fn run_association<S: Read + Write + CloseSocket>(
    mut assoc: ServerAssociation<S>,
    info: AssociationInfo,
    handler: &dyn Handler,
    watch: &Watch,
    pace: Pace,
) {
    let mut info = info;
    // Recording the association is our time, not the peer's.
    watch.set_in(HANDLING);
    handler.opened(&mut info);
    let info = info;
    let contexts = super::assoc::negotiated(assoc.presentation_contexts());
    let mut stored = 0usize;
    let storage = handler.accepts_storage();
    let mut ahead = ReadAhead::default();
    let how = loop {
        watch.set_in(pace.idle);
        let mut pacer = Pacer::new(pace);
        let mut progress = |n: u64| {
            if let Some(deadline) = pacer.arrived(n) {
                watch.set(deadline);
            }
        };
        // A C-STORE's data set goes to a sink as it arrives (the receiver's spool file).
        let mut open_sink = |context: u8, command: &Command| -> Option<Box<dyn StoreSink + '_>> {
            if !storage || command.field() != Some(CommandField::CStoreRq) {
                return None;
            }
            let (_, abstract_syntax, ts) = contexts.iter().find(|c| c.0 == context)?;
            let start = StoreStart {
                sop_class: command
                    .sop_class()
                    .unwrap_or_else(|| abstract_syntax.clone()),
                sop_instance: command.sop_instance().unwrap_or_default(),
                transfer_syntax: ts.clone(),
            };
            Some(
                handler
                    .open_store(&info, &start)
                    .unwrap_or_else(|| Box::new(MemorySink::new(handler, &info, start))),
            )
        };
        let incoming = match read_message(
            assoc.inner_stream(),
            &mut ahead,
            MAX_PDU,
            &mut open_sink,
            &mut progress,
        ) {
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
                break if watch.expired() {
                    pacer.why_cut()
                } else {
                    format!("connection lost: {e}")
                };
            }
        };
        watch.set_in(HANDLING);
        let answered = match incoming {
            Incoming::Stored {
                context_id,
                command,
                sink,
            } => {
                let answer = sink.finish();
                if answer.status == 0 || answer.status & 0xF000 == 0xB000 {
                    stored += 1;
                }
                let response = Command::response_with_comment(
                    CommandField::CStoreRsp,
                    &command,
                    answer.status,
                    &answer.comment,
                );
                send(&mut assoc, context_id, response, None)
            }
            Incoming::Message(msg) => {
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
                match msg.command.field() {
                    Some(CommandField::CEchoRq) => {
                        reply(&mut assoc, &msg, CommandField::CEchoRsp, 0, None)
                    }
                    // Storage not offered here (the data set, held in memory, is dropped).
                    Some(CommandField::CStoreRq) => {
                        let response = Command::response_with_comment(
                            CommandField::CStoreRsp,
                            &msg.command,
                            0x0122,
                            "storage is not offered here",
                        );
                        send(&mut assoc, msg.context_id, response, None)
                    }
                    Some(CommandField::CFindRq) => {
                        answer_find(&mut assoc, &msg, &ts_uid, &abstract_syntax, &info, handler)
                    }
                    Some(CommandField::NActionRq) => {
                        answer_commit(&mut assoc, &msg, &ts_uid, &info, handler)
                    }
                    Some(CommandField::NEventReportRq) => {
                        let status = match commitment::read_report(
                            msg.data.as_deref().unwrap_or_default(),
                            &ts_uid,
                        ) {
                            Ok(report) => handler.commitment_report(&info, report),
                            Err(why) => {
                                tracing::warn!(
                                    "a Storage Commitment report from {} ({}) was refused: {why}",
                                    info.calling_ae,
                                    info.peer_address
                                );
                                0x0110
                            }
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
                }
            }
        };
        if !answered {
            let _ = assoc.abort();
            break "aborted: the peer stopped reading".to_string();
        }
    };
    handler.closed(&info, stored, &how);
}

/// The deadline of a message as its bytes arrive: within the idle timeout of the last bytes,
/// within the message's allowance (`Pace::message_deadline`), and, past the grace period,
/// at `min_rate` over each window: a peer cannot bank time by sending fast and then trickle.
struct Pacer {
    pace: Pace,
    start: Option<Instant>,
    received: u64,
    window_start: Option<Instant>,
    window_bytes: u64,
    /// The last deadline set, to move it only when it moves by a second or more (each move
    /// wakes the reaper).
    last_set: Option<Instant>,
    too_slow: bool,
}

impl Pacer {
    fn new(pace: Pace) -> Pacer {
        Pacer {
            pace,
            start: None,
            received: 0,
            window_start: None,
            window_bytes: 0,
            last_set: None,
            too_slow: false,
        }
    }

    /// `n` more bytes arrived: the deadline to set, if it moved.
    fn arrived(&mut self, n: u64) -> Option<Instant> {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        self.received += n;
        let window = self.pace.grace.max(Duration::from_secs(1));
        let window_start = *self.window_start.get_or_insert(now);
        self.window_bytes += n;
        if now.duration_since(window_start) >= window {
            if self.window_bytes < self.pace.min_rate.saturating_mul(window.as_secs()) {
                // Too slow over the last window: the deadline is now.
                self.too_slow = true;
                self.last_set = Some(now);
                return Some(now);
            }
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
        let deadline = self
            .pace
            .message_deadline(start, self.received)
            .min(now + self.pace.idle);
        let moved = self.last_set.is_none_or(|last| {
            deadline.saturating_duration_since(last) >= Duration::from_secs(1)
                || last.saturating_duration_since(deadline) >= Duration::from_secs(1)
        });
        moved.then(|| {
            self.last_set = Some(deadline);
            deadline
        })
    }

    /// Why the deadline passed: silent between messages, or too slow within one.
    fn why_cut(&self) -> String {
        match self.start {
            None => format!("timed out: silent for {} s", self.pace.idle.as_secs()),
            Some(at) if self.too_slow => format!(
                "timed out: {} bytes of a message in {} s, slower than {} bytes/s",
                self.received,
                at.elapsed().as_secs(),
                self.pace.min_rate
            ),
            Some(at) => format!(
                "timed out: {} bytes of a message in {} s, then silent or too slow",
                self.received,
                at.elapsed().as_secs()
            ),
        }
    }
}

/// The largest C-STORE data set a handler without a sink of its own is given in memory.
const MAX_STORE_IN_MEMORY: u64 = 256 << 20;

/// A C-STORE's data set gathered in memory after its file head, then given to
/// [`Handler::store`] (the demo archive; the receiver streams to its spool instead).
struct MemorySink<'h> {
    handler: &'h dyn Handler,
    info: &'h AssociationInfo,
    start: StoreStart,
    file: Result<Vec<u8>, String>,
    head_len: usize,
}

impl<'h> MemorySink<'h> {
    fn new(handler: &'h dyn Handler, info: &'h AssociationInfo, start: StoreStart) -> Self {
        let file = crate::dicom::part10::file_head(
            &start.sop_class,
            &start.sop_instance,
            &start.transfer_syntax,
            &info.calling_ae,
            1 << 20,
        );
        let head_len = file.as_ref().map(Vec::len).unwrap_or(0);
        MemorySink {
            handler,
            info,
            start,
            file,
            head_len,
        }
    }
}

impl StoreSink for MemorySink<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if let Ok(file) = &mut self.file {
            if (file.len() + bytes.len()) as u64 > MAX_STORE_IN_MEMORY {
                self.file = Err(format!(
                    "a data set of more than {} MiB",
                    MAX_STORE_IN_MEMORY >> 20
                ));
            } else {
                file.extend_from_slice(bytes);
            }
        }
    }

    fn finish(self: Box<Self>) -> Answer {
        let MemorySink {
            handler,
            info,
            start,
            file,
            head_len,
        } = *self;
        match file {
            Ok(file) => handler.store(
                info,
                StoreRequest {
                    sop_class: start.sop_class,
                    sop_instance: start.sop_instance,
                    transfer_syntax: start.transfer_syntax,
                    file,
                    dataset_offset: head_len,
                },
            ),
            Err(why) => Answer::status(0xA700, format!("not stored: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_is_whole_only_when_its_handshake_message_is() {
        // Record header + handshake header announcing 10 bytes, 6 of them present.
        let mut hello = vec![0x16, 0x03, 0x01, 0x00, 10, 0x01, 0, 0, 10];
        hello.extend_from_slice(&[0; 6]);
        assert_eq!(client_hello_whole(&hello[..7]), Some(false));
        assert_eq!(client_hello_whole(&hello), Some(false));
        // The rest in a second record.
        hello.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 4, 0, 0, 0, 0]);
        assert_eq!(client_hello_whole(&hello), Some(true));
        assert_eq!(client_hello_whole(b"\x01\x00\x00\x00"), None);
    }
}
