//! Who holds the SCP's connections: a global cap on connections, a cap on connections (in
//! their handshake or associated) per calling host (an IPv6 /64 counts as one host), and a cap
//! on associations per calling AE title from one host. One peer, or a flood of half-open
//! connections, can then take only its own share; the accept loop never stops, and a
//! connection over a cap is refused politely (A-ASSOCIATE-RJ, transient, "local limit
//! exceeded") by a refuser thread of its own, within a deadline of its own, so refusing costs
//! the loop nothing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::scp::{AssociationInfo, Handler};

/// The caps (a `[receiver]` setting each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Connections at once, in any phase.
    pub total: usize,
    /// Connections at once from one calling host, in their handshake or associated.
    pub per_address: usize,
    /// Associations at once under one calling AE title from one host (an AE title is not
    /// authenticated: keyed by host too, so nobody can lock a modality out by borrowing its
    /// title from elsewhere).
    pub per_ae: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            total: crate::config::MAX_ASSOCIATIONS,
            per_address: crate::config::MAX_PER_ADDRESS,
            per_ae: crate::config::MAX_PER_AE,
        }
    }
}

/// The host a connection comes from, as the caps count it: an IPv4 address, or the /64 of an
/// IPv6 one (a host is given a whole /64).
pub(crate) fn host_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Which cap a connection ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Total(usize),
    Address(usize),
    AeTitle(usize),
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Full::Total(n) => write!(f, "local limit exceeded: {n} connections at once"),
            Full::Address(n) => {
                write!(f, "local limit exceeded: {n} connections from this address")
            }
            Full::AeTitle(n) => {
                write!(
                    f,
                    "local limit exceeded: {n} associations under this AE title from this address"
                )
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    hosts: HashMap<IpAddr, usize>,
    ae_titles: HashMap<(String, IpAddr), usize>,
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

    /// A new connection from `ip`: counted in the total and for its host.
    pub(crate) fn connect(self: &Arc<Self>, ip: IpAddr) -> Result<Connection, Full> {
        let host = host_key(ip);
        let mut c = self.lock();
        if c.total >= self.caps.total.max(1) {
            return Err(Full::Total(self.caps.total));
        }
        if !take(&mut c.hosts, host, self.caps.per_address.max(1)) {
            return Err(Full::Address(self.caps.per_address));
        }
        c.total += 1;
        Ok(Connection {
            occupancy: Arc::clone(self),
            host,
            ae: None,
        })
    }

    /// Connections now (any phase).
    pub(crate) fn total(&self) -> usize {
        self.lock().total
    }
}

/// One connection's place in the counts; given back when dropped.
pub(crate) struct Connection {
    occupancy: Arc<Occupancy>,
    host: IpAddr,
    ae: Option<(String, IpAddr)>,
}

impl Connection {
    /// The association request is read: the connection now also counts under `calling_ae`.
    pub(crate) fn associate(&mut self, calling_ae: &str) -> Result<(), Full> {
        if self.ae.is_some() {
            return Ok(());
        }
        let occupancy = Arc::clone(&self.occupancy);
        let mut c = occupancy.lock();
        let key = (calling_ae.to_string(), self.host);
        if !take(&mut c.ae_titles, key.clone(), occupancy.caps.per_ae.max(1)) {
            return Err(Full::AeTitle(occupancy.caps.per_ae));
        }
        self.ae = Some(key);
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut c = self.occupancy.lock();
        c.total = c.total.saturating_sub(1);
        give(&mut c.hosts, &self.host);
        if let Some(key) = &self.ae {
            give(&mut c.ae_titles, key);
        }
    }
}

/// A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected-transient, by the service provider's presentation
/// function, local limit exceeded: "try again later".
pub(crate) const REJECT_LIMIT: [u8; 10] = [0x03, 0x00, 0, 0, 0, 4, 0x00, 0x02, 0x03, 0x02];

/// Writes `rejection` to a connection whose request is in (or on its way), then lets the peer
/// read it: shut our side, drain what it still sends for a moment (at most a second in all,
/// however it trickles), close.
pub(crate) fn reject(stream: &mut TcpStream, rejection: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(rejection).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    // Closing with unread bytes would reset the connection and could destroy the rejection
    // before the peer reads it.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
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
    stopping: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Refuser {
    pub(crate) fn start(
        name: &str,
        tls: bool,
        handler: Arc<dyn Handler>,
    ) -> std::io::Result<Refuser> {
        let (tx, rx) = crossbeam_channel::bounded::<Refusal>(32);
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name(format!("refuser-{name}"))
            .spawn(move || {
                for Refusal { mut stream, full } in rx {
                    // Stopping: what waits is closed unanswered.
                    if !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        refuse(&mut stream, full, tls, handler.as_ref());
                    }
                }
            })?;
        Ok(Refuser {
            queue: Some(tx),
            stopping,
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
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
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
    fn caps_count_per_host_and_per_ae_title_from_a_host_and_give_back() {
        let o = Occupancy::new(Caps {
            total: 5,
            per_address: 2,
            per_ae: 1,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut c1 = o.connect(a).unwrap();
        let c2 = o.connect(a).unwrap();
        assert_eq!(o.connect(a).err(), Some(Full::Address(2)));
        let mut c3 = o.connect(b).unwrap();
        let c4 = o.connect(b).unwrap();
        assert_eq!(o.connect(b).err(), Some(Full::Address(2)));
        let c6 = o.connect("10.0.0.3".parse().unwrap()).unwrap();
        assert_eq!(
            o.connect("10.0.0.4".parse().unwrap()).err(),
            Some(Full::Total(5))
        );
        drop(c6);
        c1.associate("CT1").unwrap();
        // The same title from another host has its own place.
        c3.associate("CT1").unwrap();
        drop((c2, c4));
        let mut c5 = o.connect(a).unwrap();
        assert_eq!(c5.associate("CT1").err(), Some(Full::AeTitle(1)));
        drop((c1, c3, c5));
        assert_eq!(o.total(), 0);
        assert!(o.lock().hosts.is_empty() && o.lock().ae_titles.is_empty());
        // Hosts: an IPv6 /64 is one.
        let x: IpAddr = "2001:db8::1".parse().unwrap();
        let y: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert_eq!(host_key(x), host_key(y));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(host_key(mapped), a);
    }
}
