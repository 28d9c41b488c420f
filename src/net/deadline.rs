//! Deadlines on connections, enforced from outside the thread that serves them.
//!
//! A read timeout bounds one read, not a conversation: a peer that sends one byte just inside
//! each timeout holds its connection (and a thread) forever, and a TLS handshake inside
//! dicom-ul cannot be given a deadline at all. One reaper thread per server keeps every
//! connection's deadline and shuts the socket down when it passes, wherever its thread is
//! blocked: the blocked read or write then fails, and the association ends as "timed out".

use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Entry {
    deadline: Instant,
    stream: TcpStream,
    expired: bool,
}

#[derive(Default)]
struct State {
    next_id: u64,
    entries: std::collections::HashMap<u64, Entry>,
    stop: bool,
    /// Once set (the server is stopping), no deadline moves past it.
    closing: Option<Instant>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data: go on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reaper: a thread shutting down connections whose deadline passed. Stops when dropped.
pub struct Reaper {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reaper {
    pub fn start(name: &str) -> std::io::Result<Reaper> {
        let shared = Arc::new(Shared::default());
        let mine = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("reaper-{name}"))
            .spawn(move || run(&mine))?;
        Ok(Reaper {
            shared,
            thread: Some(thread),
        })
    }

    /// Watches `stream` (a clone of the connection's socket) with a first deadline.
    pub fn watch(&self, stream: TcpStream, deadline: Instant) -> Watch {
        let mut state = self.shared.lock();
        state.next_id += 1;
        let id = state.next_id;
        let deadline = match state.closing {
            Some(cap) => deadline.min(cap),
            None => deadline,
        };
        state.entries.insert(
            id,
            Entry {
                deadline,
                stream,
                expired: false,
            },
        );
        drop(state);
        self.shared.wake.notify_one();
        Watch {
            id,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Connections watched now.
    pub fn watched(&self) -> usize {
        self.shared.lock().entries.len()
    }

    /// The server is stopping: every connection ends by `at` at the latest, and no deadline
    /// moves past it any more.
    pub fn close_by(&self, at: Instant) {
        let mut state = self.shared.lock();
        state.closing = Some(at);
        for e in state.entries.values_mut() {
            e.deadline = e.deadline.min(at);
        }
        drop(state);
        self.shared.wake.notify_one();
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.stop {
            return;
        }
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for entry in state.entries.values_mut() {
            if entry.expired {
                continue;
            }
            if entry.deadline <= now {
                entry.expired = true;
                let _ = entry.stream.shutdown(Shutdown::Both);
            } else {
                next = Some(next.map_or(entry.deadline, |n| n.min(entry.deadline)));
            }
        }
        state = match next {
            Some(at) => {
                let wait = at.saturating_duration_since(Instant::now());
                shared
                    .wake
                    .wait_timeout(state, wait)
                    .map(|(s, _)| s)
                    .unwrap_or_else(|p| p.into_inner().0)
            }
            None => shared.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

/// One watched connection; no longer watched when dropped.
pub struct Watch {
    id: u64,
    shared: Arc<Shared>,
}

impl Watch {
    /// Moves the deadline (earlier or later).
    pub fn set(&self, deadline: Instant) {
        let mut state = self.shared.lock();
        let deadline = match state.closing {
            Some(cap) => deadline.min(cap),
            None => deadline,
        };
        if let Some(e) = state.entries.get_mut(&self.id) {
            e.deadline = deadline;
        }
        drop(state);
        self.shared.wake.notify_one();
    }

    /// The deadline from now.
    pub fn set_in(&self, after: Duration) {
        self.set(Instant::now() + after);
    }

    /// Whether the connection was shut down because its deadline passed.
    pub fn expired(&self) -> bool {
        self.shared
            .lock()
            .entries
            .get(&self.id)
            .is_some_and(|e| e.expired)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.shared.lock().entries.remove(&self.id);
    }
}

/// How fast a peer must keep sending: between messages it may stay silent for `idle`; once a
/// message has begun, it must arrive at `min_rate` bytes per second on average after a
/// `grace` period, so a large data set on a slow link is fine and a trickle is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub idle: Duration,
    pub grace: Duration,
    pub min_rate: u64,
}

impl Pace {
    /// The deadline of a message begun at `start` of which `received` bytes have arrived.
    pub fn message_deadline(&self, start: Instant, received: u64) -> Instant {
        let allowed = received / self.min_rate.max(1);
        start + self.grace + Duration::from_secs(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn a_blocked_read_ends_at_its_deadline_and_a_moved_one_waits() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        let _client2 = TcpStream::connect(addr).unwrap();
        let (mut a, _) = listener.accept().unwrap();
        let (b, _) = listener.accept().unwrap();
        let reaper = Reaper::start("test").unwrap();
        let t = Instant::now();
        let wa = reaper.watch(a.try_clone().unwrap(), t + Duration::from_millis(200));
        let wb = reaper.watch(b.try_clone().unwrap(), t + Duration::from_millis(100));
        // b's deadline moves later; it must not fire at 100 ms.
        wb.set(t + Duration::from_secs(60));
        let mut buf = [0u8; 1];
        // The read blocks (no timeout) until the reaper shuts the socket down.
        let n = a.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0);
        assert!(t.elapsed() >= Duration::from_millis(190));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(wa.expired());
        assert!(!wb.expired());
        drop(wa);
        assert_eq!(reaper.watched(), 1);
    }

    #[test]
    fn a_message_must_keep_its_pace() {
        let pace = Pace {
            idle: Duration::from_secs(60),
            grace: Duration::from_secs(30),
            min_rate: 16 << 10,
        };
        let t = Instant::now();
        assert_eq!(pace.message_deadline(t, 0), t + Duration::from_secs(30));
        assert_eq!(
            pace.message_deadline(t, 160 << 10),
            t + Duration::from_secs(40)
        );
    }
}
