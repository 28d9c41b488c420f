//! A small SCP: C-ECHO and C-FIND answered by a provider, an association per thread (bounded),
//! on a port of its own. It serves the demo's RIS on loopback, so "Sync now" works in the demo
//! without any outside program; the C-STORE receiver of the network issue will grow from here.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::server::ServerAssociationOptions;
use dicom_ul::association::{Error as UlError, ServerAssociation};
use dicom_ul::pdu::Pdu;

use super::dimse::{self, Command, CommandField, Message, PduLink, ReceiveError};
use super::{EXPLICIT_VR_LE, IMPLICIT_VR_LE, VERIFICATION};
use crate::dicom::dump::{Node, dump_dataset};

/// Associations served at once; more wait in the listen backlog.
const MAX_ASSOCIATIONS: usize = 8;

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

/// Answers C-FIND queries of one SOP class.
pub trait FindProvider: Send + Sync + 'static {
    /// The Information Model this provider answers (e.g. Modality Worklist FIND).
    fn sop_class(&self) -> &str;
    /// The matches for a query (its attributes decoded) and the final status to answer
    /// with (0000H success; a provider may end with a cancel, a warning or a failure).
    fn find(&self, query: &[Node]) -> (Vec<InMemDicomObject>, u16);
}

/// A running SCP; stops when dropped.
pub struct Server {
    port: u16,
    /// Where to connect to wake the accept loop (the bound address; loopback for "any").
    wake: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listens on `bind` (e.g. `127.0.0.1:0`) as `ae_title`.
    pub fn start(
        ae_title: &str,
        bind: &str,
        provider: Arc<dyn FindProvider>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(bind)?;
        let local = listener.local_addr()?;
        let port = local.port();
        let mut wake = local;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let ae = ae_title.to_string();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("scp-{ae}"))
            .spawn(move || accept_loop(listener, &ae, provider, &flag))?;
        Ok(Server {
            port,
            wake,
            stop,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
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
    ae: &str,
    provider: Arc<dyn FindProvider>,
    stop: &AtomicBool,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        while active.load(Ordering::SeqCst) >= MAX_ASSOCIATIONS {
            std::thread::sleep(Duration::from_millis(5));
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (ae, provider, mine) = (ae.to_string(), Arc::clone(&provider), Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("scp-association".into())
            .spawn(move || {
                // Released however the association ends (a panicking provider too).
                let _slot = Slot(mine);
                serve(stream, &ae, provider.as_ref());
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

fn serve(stream: TcpStream, ae: &str, provider: &dyn FindProvider) {
    let _ = stream.set_nodelay(true);
    let options = ServerAssociationOptions::new()
        .accept_called_ae_title()
        .ae_title(ae)
        .with_abstract_syntax(VERIFICATION)
        .with_abstract_syntax(provider.sop_class())
        .with_transfer_syntax(EXPLICIT_VR_LE)
        .with_transfer_syntax(IMPLICIT_VR_LE)
        .read_timeout(Duration::from_secs(60))
        .write_timeout(Duration::from_secs(60));
    let Ok(mut assoc) = options.establish(stream) else {
        return;
    };
    let contexts: Vec<(u8, String)> = assoc
        .presentation_contexts()
        .iter()
        .map(|pc| (pc.id, pc.transfer_syntax.trim_end_matches('\0').to_string()))
        .collect();
    let mut pending = Vec::new();
    loop {
        let msg = match dimse::receive_message(&mut assoc, &mut pending) {
            Ok(m) => m,
            Err(ReceiveError::Released) => {
                let _ = assoc.send(&Pdu::ReleaseRP);
                return;
            }
            Err(_) => {
                let _ = assoc.abort();
                return;
            }
        };
        let ts_uid = contexts
            .iter()
            .find(|(id, _)| *id == msg.context_id)
            .map(|(_, ts)| ts.clone())
            .unwrap_or_else(|| IMPLICIT_VR_LE.to_string());
        let answered = match msg.command.field() {
            Some(CommandField::CEchoRq) => reply(&mut assoc, &msg, CommandField::CEchoRsp, 0, None),
            Some(CommandField::CFindRq) => answer_find(&mut assoc, &msg, &ts_uid, provider),
            // A cancel for a query already answered in full.
            Some(CommandField::CCancelRq) => true,
            _ => false,
        };
        if !answered {
            let _ = assoc.abort();
            return;
        }
    }
}

fn reply(
    assoc: &mut ServerAssociation<TcpStream>,
    request: &Message,
    field: CommandField,
    status: u16,
    data: Option<Vec<u8>>,
) -> bool {
    let message = Message {
        context_id: request.context_id,
        command: Command::response(field, &request.command, status, data.is_some()),
        data,
    };
    dimse::send_message(assoc, &message).is_ok()
}

fn answer_find(
    assoc: &mut ServerAssociation<TcpStream>,
    msg: &Message,
    ts_uid: &str,
    provider: &dyn FindProvider,
) -> bool {
    let Some(ts) = TransferSyntaxRegistry.get(ts_uid) else {
        return reply(assoc, msg, CommandField::CFindRsp, 0xC000, None);
    };
    if msg.command.sop_class().as_deref() != Some(provider.sop_class()) {
        return reply(assoc, msg, CommandField::CFindRsp, 0x0122, None);
    }
    let query = dump_dataset(msg.data.as_deref().unwrap_or_default(), ts_uid);
    if query.error.is_some() {
        return reply(assoc, msg, CommandField::CFindRsp, 0xA900, None);
    }
    let (matches, status) = provider.find(&query.dataset);
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
