//! Who holds the SCP's connections: a global cap on connections, a cap on associations per
//! calling address and per calling AE title, and a cap on handshakes in progress per address.
//! One peer, or a flood of half-open connections, can then take only its own share; the accept
//! loop never stops, and a connection over a cap is refused politely (A-ASSOCIATE-RJ, transient,
//! "local limit exceeded") by a refuser thread of its own, so refusing costs the loop nothing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};

use super::scp::{AssociationInfo, Handler};

/// The caps (a `[receiver]` setting each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Connections at once, in any phase.
    pub total: usize,
    /// Established associations from one calling address.
    pub per_address: usize,
    /// Established associations under one calling AE title.
    pub per_ae: usize,
    /// Handshakes in progress from one calling address (each lasts the handshake deadline
    /// at most).
    pub handshakes_per_address: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            total: 64,
            per_address: 16,
            per_ae: 16,
            handshakes_per_address: 16,
        }
    }
}

/// Which cap a connection ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Total(usize),
    Address(usize),
    Handshakes(usize),
    AeTitle(usize),
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Full::Total(n) => write!(f, "local limit exceeded: {n} connections at once"),
            Full::Address(n) => {
                write!(
                    f,
                    "local limit exceeded: {n} associations from this address"
                )
            }
            Full::Handshakes(n) => {
                write!(f, "local limit exceeded: {n} handshakes from this address")
            }
            Full::AeTitle(n) => {
                write!(
                    f,
                    "local limit exceeded: {n} associations under this AE title"
                )
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    handshakes: HashMap<IpAddr, usize>,
    associations: HashMap<IpAddr, usize>,
    ae_titles: HashMap<String, usize>,
}

fn take<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K, cap: usize) -> bool {
    let n = map.entry(key).or_insert(0);
    if *n >= cap {
        return false;
    }
    *n += 1;
    true
}

fn give<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The counts, shared by the accept loop and the association threads.
pub(crate) struct Occupancy {
    caps: Caps,
    counts: Mutex<Counts>,
}

impl Occupancy {
    pub(crate) fn new(caps: Caps) -> Arc<Occupancy> {
        Arc::new(Occupancy {
            caps,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection from `ip`: counted in the total and as a handshake of its address.
    pub(crate) fn connect(self: &Arc<Self>, ip: IpAddr) -> Result<Connection, Full> {
        let mut c = self.lock();
        if c.total >= self.caps.total.max(1) {
            return Err(Full::Total(self.caps.total));
        }
        if !take(
            &mut c.handshakes,
            ip,
            self.caps.handshakes_per_address.max(1),
        ) {
            return Err(Full::Handshakes(self.caps.handshakes_per_address));
        }
        c.total += 1;
        Ok(Connection {
            occupancy: Arc::clone(self),
            ip,
            phase: Phase::Handshake,
            ae: None,
        })
    }

    /// Connections now (any phase).
    pub(crate) fn total(&self) -> usize {
        self.lock().total
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    Association,
}

/// One connection's place in the counts; given back when dropped.
pub(crate) struct Connection {
    occupancy: Arc<Occupancy>,
    ip: IpAddr,
    phase: Phase,
    ae: Option<String>,
}

impl Connection {
    /// The handshake is over (the association request read): the connection now counts as an
    /// association of its address and of `calling_ae`.
    pub(crate) fn associate(&mut self, calling_ae: &str) -> Result<(), Full> {
        let occupancy = Arc::clone(&self.occupancy);
        let mut c = occupancy.lock();
        if self.phase == Phase::Handshake {
            if !take(
                &mut c.associations,
                self.ip,
                occupancy.caps.per_address.max(1),
            ) {
                return Err(Full::Address(occupancy.caps.per_address));
            }
            give(&mut c.handshakes, &self.ip);
            self.phase = Phase::Association;
        }
        if self.ae.is_none() {
            if !take(
                &mut c.ae_titles,
                calling_ae.to_string(),
                occupancy.caps.per_ae.max(1),
            ) {
                return Err(Full::AeTitle(occupancy.caps.per_ae));
            }
            self.ae = Some(calling_ae.to_string());
        }
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut c = self.occupancy.lock();
        c.total = c.total.saturating_sub(1);
        match self.phase {
            Phase::Handshake => give(&mut c.handshakes, &self.ip),
            Phase::Association => give(&mut c.associations, &self.ip),
        }
        if let Some(ae) = &self.ae {
            give(&mut c.ae_titles, ae);
        }
    }
}

/// A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected-transient, by the service provider's presentation
/// function, local limit exceeded: "try again later".
pub(crate) const REJECT_LIMIT: [u8; 10] = [0x03, 0x00, 0, 0, 0, 4, 0x00, 0x02, 0x03, 0x02];

/// Writes `rejection` to a connection whose request is in (or on its way), then lets the peer
/// read it: shut our side, drain what it still sends for a moment, close.
pub(crate) fn reject(stream: &mut TcpStream, rejection: &[u8]) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(rejection).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    // Closing with unread bytes would reset the connection and could destroy the rejection
    // before the peer reads it.
    while drained < 1 << 20 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// A connection refused at the door, and why.
struct Refusal {
    stream: TcpStream,
    full: Full,
}

/// A thread refusing connections over a cap, one at a time, each within about 3 s; when it
/// is behind, further connections are closed unanswered.
pub(crate) struct Refuser {
    queue: Option<Sender<Refusal>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Refuser {
    pub(crate) fn start(
        name: &str,
        tls: bool,
        handler: Arc<dyn Handler>,
    ) -> std::io::Result<Refuser> {
        let (tx, rx) = crossbeam_channel::bounded::<Refusal>(32);
        let thread = std::thread::Builder::new()
            .name(format!("refuser-{name}"))
            .spawn(move || {
                for Refusal { mut stream, full } in rx {
                    refuse(&mut stream, full, tls, handler.as_ref());
                }
            })?;
        Ok(Refuser {
            queue: Some(tx),
            thread: Some(thread),
        })
    }

    pub(crate) fn refuse(&self, stream: TcpStream, full: Full) {
        if let Some(q) = &self.queue {
            match q.try_send(Refusal { stream, full }) {
                Ok(()) => {}
                // Behind: the connection closes unanswered (dropped here).
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

impl Drop for Refuser {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn refuse(stream: &mut TcpStream, full: Full, tls: bool, handler: &dyn Handler) {
    let peer_address = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut info = AssociationInfo {
        peer_address,
        ..AssociationInfo::default()
    };
    if !tls {
        // The request names the caller, for the log and the node map.
        if let Some(first) =
            super::scp_serve::peek_first_message(stream, false, Duration::from_secs(1))
            && let Some(rq) = super::scp_serve::request_of(&first)
        {
            info.calling_ae = rq.calling_ae;
            info.called_ae = rq.called_ae;
            info.implementation_class_uid = rq.implementation_class_uid;
            info.implementation_version = rq.implementation_version;
        }
        // Over TLS nothing can be said without a handshake: the connection just closes.
        reject(stream, &REJECT_LIMIT);
    }
    handler.refused(&info, &full.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_each_phase_and_give_back() {
        let o = Occupancy::new(Caps {
            total: 3,
            per_address: 1,
            per_ae: 1,
            handshakes_per_address: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut c1 = o.connect(a).unwrap();
        let c2 = o.connect(a).unwrap();
        assert_eq!(o.connect(a).err(), Some(Full::Handshakes(2)));
        let c3 = o.connect(b).unwrap();
        assert_eq!(o.connect(b).err(), Some(Full::Total(3)));
        c1.associate("CT1").unwrap();
        drop(c3);
        let mut c4 = o.connect(a).unwrap();
        // A second association from a, and one more under CT1 from b.
        assert_eq!(c4.associate("MR1").err(), Some(Full::Address(1)));
        drop(c4);
        let mut c5 = o.connect(b).unwrap();
        assert_eq!(c5.associate("CT1").err(), Some(Full::AeTitle(1)));
        drop((c1, c2, c5));
        assert_eq!(o.total(), 0);
        assert!(o.lock().associations.is_empty() && o.lock().ae_titles.is_empty());
    }
}
