//! An association qcdesk requests (SCU side): connect, negotiate, exchange whole DIMSE
//! messages, release. dicom-ul does the PDUs; this names every failure after the peer.

use std::net::{TcpStream, ToSocketAddrs};

use dicom_ul::association::client::{ClientAssociationOptions, TlsStream};
use dicom_ul::association::{ClientAssociation, Error as UlError};
use dicom_ul::pdu::{PDataValue, Pdu};

use super::dimse::{self, Message, PduLink, ReceiveError};
use super::{NetError, Peer, UNCOMPRESSED};

/// The largest PDU qcdesk accepts.
pub(crate) const MAX_PDU: u32 = 65_536;

/// The association over plain TCP or TLS.
enum Link {
    Plain(ClientAssociation<TcpStream>),
    Tls(Box<ClientAssociation<TlsStream>>),
}

impl PduLink for Link {
    fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), UlError> {
        match self {
            Link::Plain(a) => a.send(pdu),
            Link::Tls(a) => a.send(pdu),
        }
    }
    fn receive_pdu(&mut self) -> Result<Pdu, UlError> {
        match self {
            Link::Plain(a) => a.receive(),
            Link::Tls(a) => a.receive(),
        }
    }
    fn peer_max_pdu(&self) -> u32 {
        match self {
            Link::Plain(a) => a.acceptor_max_pdu_length(),
            Link::Tls(a) => a.acceptor_max_pdu_length(),
        }
    }
}

impl Link {
    fn presentation_contexts(&self) -> &[dicom_ul::pdu::PresentationContextNegotiated] {
        match self {
            Link::Plain(a) => a.presentation_contexts(),
            Link::Tls(a) => a.presentation_contexts(),
        }
    }

    fn user_variables(&self) -> &[dicom_ul::pdu::UserVariableItem] {
        match self {
            Link::Plain(a) => a.user_variables(),
            Link::Tls(a) => a.user_variables(),
        }
    }

    /// The TCP socket underneath (for timeouts and TCP_NODELAY).
    fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Link::Plain(a) => a.inner_stream(),
            Link::Tls(a) => &mut a.inner_stream().sock,
        }
    }

    fn release(self) {
        let _ = match self {
            Link::Plain(a) => a.release(),
            Link::Tls(a) => a.release(),
        };
    }

    fn abort(self) {
        let _ = match self {
            Link::Plain(a) => a.abort(),
            Link::Tls(a) => a.abort(),
        };
    }
}

/// An open association.
pub struct Association {
    inner: Link,
    peer: Peer,
    pending: Vec<PDataValue>,
    next_id: u16,
    /// The peer released or aborted the association.
    closed: bool,
}

/// The first I/O error in `e`'s chain of causes.
fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = c.source();
    }
    None
}

fn is_timeout(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Association {
    /// Connects to `peer` and proposes each abstract syntax with Explicit and Implicit VR
    /// Little Endian.
    pub fn open(peer: &Peer, abstract_syntaxes: &[&str]) -> Result<Association, NetError> {
        let contexts: Vec<(String, Vec<String>)> = abstract_syntaxes
            .iter()
            .map(|a| (a.to_string(), UNCOMPRESSED.map(String::from).to_vec()))
            .collect();
        Association::open_with(peer, &contexts, &[])
    }

    /// Connects to `peer` proposing each (abstract syntax, transfer syntaxes) as a context of
    /// its own, and both SCU and SCP roles for the SOP classes in `both_roles` (Storage
    /// Commitment, whose report may come back on this association).
    pub fn open_with(
        peer: &Peer,
        contexts: &[(String, Vec<String>)],
        both_roles: &[&str],
    ) -> Result<Association, NetError> {
        let label = peer.label();
        let tls = match &peer.tls {
            Some(files) => Some(
                super::tls::client_config(files).map_err(|why| NetError::Tls {
                    peer: label.clone(),
                    why,
                })?,
            ),
            None => None,
        };
        let addrs: Vec<std::net::SocketAddr> = (peer.host.as_str(), peer.port)
            .to_socket_addrs()
            .map_err(|e| NetError::Address {
                peer: label.clone(),
                why: format!("cannot resolve host '{}': {e}", peer.host),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(NetError::Address {
                peer: label,
                why: format!("host '{}' has no address", peer.host),
            });
        }
        // A name may resolve to IPv6 and IPv4 while the node listens on one: each address is
        // tried until one connects.
        let mut last = None;
        let mut opened = None;
        for addr in addrs {
            let mut options = ClientAssociationOptions::new()
                .calling_ae_title(peer.calling_ae.clone())
                .called_ae_title(peer.ae_title.clone())
                .max_pdu_length(MAX_PDU)
                .connection_timeout(peer.timeouts.connect)
                .read_timeout(peer.timeouts.io)
                .write_timeout(peer.timeouts.io);
            for (sop, ts) in contexts {
                options = options.with_presentation_context(sop.clone(), ts.clone());
            }
            for sop in both_roles {
                options = options.with_role_selection(*sop, true, true);
            }
            let established = match &tls {
                Some(config) => options
                    .tls_config(std::sync::Arc::clone(config))
                    .server_name(&peer.host)
                    .establish_tls(addr)
                    .map(|a| Link::Tls(Box::new(a))),
                None => options.establish(addr).map(Link::Plain),
            };
            match established {
                Ok(a) => {
                    opened = Some(a);
                    break;
                }
                Err(e @ (UlError::Connect { .. } | UlError::ToAddress { .. })) => last = Some(e),
                Err(e) => return Err(Self::open_error(peer, e)),
            }
        }
        let mut inner = match (opened, last) {
            (Some(a), _) => a,
            (None, Some(e)) => return Err(Self::open_error(peer, e)),
            (None, None) => {
                return Err(NetError::Address {
                    peer: label,
                    why: format!("host '{}' has no address", peer.host),
                });
            }
        };
        // Nagle would hold each small response back ~40 ms.
        let _ = inner.tcp().set_nodelay(true);
        Ok(Association {
            inner,
            peer: peer.clone(),
            pending: Vec::new(),
            next_id: 1,
            closed: false,
        })
    }

    fn open_error(peer: &Peer, e: UlError) -> NetError {
        let label = peer.label();
        match &e {
            UlError::Rejected { association_rj, .. } => {
                let permanence = match association_rj.result {
                    dicom_ul::pdu::AssociationRJResult::Permanent => "permanent",
                    dicom_ul::pdu::AssociationRJResult::Transient => "transient",
                };
                let hint = match &association_rj.source {
                    dicom_ul::pdu::AssociationRJSource::ServiceUser(
                        dicom_ul::pdu::AssociationRJServiceUserReason::CalledAETitleNotRecognized,
                    ) => format!("; check the node's AE title '{}'", peer.ae_title),
                    dicom_ul::pdu::AssociationRJSource::ServiceUser(
                        dicom_ul::pdu::AssociationRJServiceUserReason::CallingAETitleNotRecognized,
                    ) => format!(
                        "; the node does not know qcdesk's AE title '{}'",
                        peer.calling_ae
                    ),
                    _ => String::new(),
                };
                return NetError::Rejected {
                    peer: label,
                    why: format!("{}, {permanence}{hint}", association_rj.source),
                };
            }
            UlError::NoAcceptedPresentationContexts { .. } => {
                return NetError::NotSupported {
                    peer: label,
                    service: "every proposed service".into(),
                };
            }
            UlError::TlsConnection { source, .. } => {
                return NetError::Tls {
                    peer: label,
                    why: format!("the connection was refused: {source}"),
                };
            }
            UlError::TlsHandshake { source, .. } => {
                return NetError::Tls {
                    peer: label,
                    why: format!(
                        "the handshake failed ({source}); check the CA file, the node's \
                         certificate, and that the node speaks TLS on this port"
                    ),
                };
            }
            UlError::InvalidServerName { .. } => {
                return NetError::Tls {
                    peer: label,
                    why: format!("'{}' cannot name a TLS server", peer.host),
                };
            }
            UlError::Aborted { .. } => {
                return NetError::Aborted {
                    peer: label,
                    during: " during association negotiation".into(),
                };
            }
            _ => {}
        }
        let connecting = matches!(e, UlError::Connect { .. } | UlError::ToAddress { .. });
        match io_cause(&e) {
            Some(io) if is_timeout(io) => NetError::Timeout {
                peer: label,
                secs: if connecting {
                    peer.timeouts.connect.as_secs()
                } else {
                    peer.timeouts.io.as_secs()
                },
                during: if connecting {
                    " (connecting)".into()
                } else {
                    " to the association request".into()
                },
            },
            Some(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => NetError::Connect {
                peer: label,
                why: format!("connection refused (nothing listens on port {})", peer.port),
            },
            Some(io) if connecting => NetError::Connect {
                peer: label,
                why: io.to_string(),
            },
            Some(io) => NetError::Lost {
                peer: label,
                during: " during association negotiation".into(),
                why: io.to_string(),
            },
            None => NetError::Protocol {
                peer: label,
                why: e.to_string(),
            },
        }
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The accepted presentation context for `abstract_syntax`: its id and transfer syntax.
    pub fn context_for(&self, abstract_syntax: &str) -> Option<(u8, String)> {
        self.inner
            .presentation_contexts()
            .iter()
            .find(|pc| pc.abstract_syntax.trim_end_matches('\0') == abstract_syntax)
            .map(|pc| (pc.id, pc.transfer_syntax.trim_end_matches('\0').to_string()))
    }

    /// Like [`Association::context_for`], an error naming the service when not accepted.
    pub fn require_context(
        &self,
        abstract_syntax: &str,
        service: &str,
    ) -> Result<(u8, String), NetError> {
        self.context_for(abstract_syntax)
            .ok_or_else(|| NetError::NotSupported {
                peer: self.peer.label(),
                service: service.into(),
            })
    }

    /// Every accepted presentation context: id, abstract syntax, transfer syntax.
    pub fn accepted_contexts(&self) -> Vec<(u8, String, String)> {
        negotiated(self.inner.presentation_contexts())
    }

    pub fn next_message_id(&mut self) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    pub fn send(&mut self, message: &Message, during: &str) -> Result<(), NetError> {
        dimse::send_message(&mut self.inner, message).map_err(|e| self.io_error(e, during))
    }

    pub fn receive(&mut self, during: &str) -> Result<Message, NetError> {
        dimse::receive_message(&mut self.inner, &mut self.pending).map_err(|e| match e {
            ReceiveError::Aborted => NetError::Aborted {
                peer: self.peer.label(),
                during: format!(" {during}"),
            },
            ReceiveError::Released => NetError::Protocol {
                peer: self.peer.label(),
                why: format!("the peer released the association {during}"),
            },
            ReceiveError::Protocol(why) => NetError::Protocol {
                peer: self.peer.label(),
                why,
            },
            ReceiveError::Link(e) => self.io_error(e, during),
            ReceiveError::Io(e) => NetError::Lost {
                peer: self.peer.label(),
                during: format!(" {during}"),
                why: e.to_string(),
            },
        })
    }

    fn io_error(&self, e: UlError, during: &str) -> NetError {
        let label = self.peer.label();
        match io_cause(&e) {
            Some(io) if is_timeout(io) => NetError::Timeout {
                peer: label,
                secs: self.peer.timeouts.io.as_secs(),
                during: format!(" {during}"),
            },
            Some(io) => NetError::Lost {
                peer: label,
                during: format!(" {during}"),
                why: io.to_string(),
            },
            None => NetError::Lost {
                peer: label,
                during: format!(" {during}"),
                why: e.to_string(),
            },
        }
    }

    /// Waits at most `wait` for a message. None: nothing came, or the peer released the
    /// association (answered here).
    pub fn receive_within(
        &mut self,
        wait: std::time::Duration,
        during: &str,
    ) -> Result<Option<Message>, NetError> {
        let wait = wait.max(std::time::Duration::from_millis(1));
        let _ = self.inner.tcp().set_read_timeout(Some(wait));
        let got = dimse::receive_message(&mut self.inner, &mut self.pending);
        let _ = self
            .inner
            .tcp()
            .set_read_timeout(Some(self.peer.timeouts.io));
        match got {
            Ok(m) => Ok(Some(m)),
            Err(ReceiveError::Released) => {
                let _ = self.inner.send_pdu(&Pdu::ReleaseRP);
                self.closed = true;
                Ok(None)
            }
            Err(ReceiveError::Link(e)) if io_cause(&e).is_some_and(is_timeout) => Ok(None),
            Err(ReceiveError::Aborted) => {
                self.closed = true;
                Err(NetError::Aborted {
                    peer: self.peer.label(),
                    during: format!(" {during}"),
                })
            }
            Err(ReceiveError::Protocol(why)) => Err(NetError::Protocol {
                peer: self.peer.label(),
                why,
            }),
            Err(ReceiveError::Link(e)) => Err(self.io_error(e, during)),
            Err(ReceiveError::Io(e)) => Err(NetError::Lost {
                peer: self.peer.label(),
                during: format!(" {during}"),
                why: e.to_string(),
            }),
        }
    }

    /// Sets the time any one read or write may take from now on.
    pub fn set_io_timeout(&mut self, io: std::time::Duration) {
        self.peer.timeouts.io = io;
        let stream = self.inner.tcp();
        let _ = stream.set_read_timeout(Some(io));
        let _ = stream.set_write_timeout(Some(io));
    }

    /// Whether the peer released or aborted the association.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Releases the association politely; a peer that vanished meanwhile is not an error
    /// worth reporting once the work is done.
    pub fn release(self) {
        if !self.closed {
            self.inner.release();
        }
    }

    pub fn abort(self) {
        if !self.closed {
            self.inner.abort();
        }
    }
}

impl Association {
    /// The peer's Implementation Class UID and Version Name, as it announced them.
    pub fn peer_implementation(&self) -> (String, String) {
        implementation_of(self.inner.user_variables())
    }
}

/// The Implementation Class UID and Version Name among an association's user items.
pub(super) fn implementation_of(items: &[dicom_ul::pdu::UserVariableItem]) -> (String, String) {
    let mut class = String::new();
    let mut version = String::new();
    for v in items {
        match v {
            dicom_ul::pdu::UserVariableItem::ImplementationClassUID(u) => {
                class = crate::text::printable_short(u.trim_end_matches('\0'), 64)
            }
            dicom_ul::pdu::UserVariableItem::ImplementationVersionName(n) => {
                version = crate::text::printable_short(n.trim(), 64)
            }
            _ => {}
        }
    }
    (class, version)
}

/// Negotiated presentation contexts as (id, abstract syntax, transfer syntax), UIDs trimmed.
pub(super) fn negotiated(
    contexts: &[dicom_ul::pdu::PresentationContextNegotiated],
) -> Vec<(u8, String, String)> {
    contexts
        .iter()
        .map(|pc| {
            (
                pc.id,
                pc.abstract_syntax.trim_end_matches('\0').to_string(),
                pc.transfer_syntax.trim_end_matches('\0').to_string(),
            )
        })
        .collect()
}
