//! The decode workers: a pool of threads the desk feeds through a crossbeam channel. The most
//! wanted request goes first (the viewer's current image, then what is on screen, then
//! prefetch), and a request nobody asked for again in the last frame (a tile scrolled away, an
//! image the viewer moved past) is dropped without decoding. Results come back on a channel and
//! `wake` is called (the desk repaints), so the UI thread never decodes.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::cache::{Thumb, ThumbCache, render_thumbnail};
use super::lru::Lru;
use super::{Decoded, ImageError, Picture, Windowing, decode, render_decoded};

/// Memory for decoded frames kept for re-windowing (a 512 x 512 frame takes 1 MB).
const DECODED_BUDGET: usize = 256 << 20;

/// What identifies a request; the caller chooses (e.g. `thumb:<hash>:<size>`).
pub type Key = String;

/// Which request a worker takes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Not on screen yet (the viewer's neighbours).
    Prefetch,
    /// On screen.
    Visible,
    /// What the user is looking at right now (the viewer's image).
    Now,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// The thumbnail of a stored file (through the cache when the pool has one).
    Thumb {
        blob: String,
        path: PathBuf,
        size: u32,
    },
    /// A frame at full size (the representative one when `frame` is `None`).
    Picture {
        path: PathBuf,
        frame: Option<u32>,
        windowing: Windowing,
    },
    /// Every attribute of a file (the viewer's header panel).
    Header { path: PathBuf },
}

#[derive(Debug)]
pub enum Output {
    Thumb(Thumb),
    Picture(Result<Box<Picture>, ImageError>),
    Header(Box<crate::dicom::dump::Dump>),
}

#[derive(Debug)]
pub struct Done {
    pub key: Key,
    pub output: Output,
    /// Time spent decoding (and reading or writing the cache).
    pub took: Duration,
}

struct Pending {
    job: Job,
    priority: Priority,
    /// The frame it was last asked for in.
    epoch: u64,
    seq: u64,
}

/// The requests waiting for a worker. Plain data, so its choices are unit-tested.
#[derive(Default)]
struct Queue {
    pending: HashMap<Key, Pending>,
    in_flight: HashSet<Key>,
    epoch: u64,
    seq: u64,
    dropped: u64,
}

impl Queue {
    /// Asks for `key`; true when it was not waiting or running already.
    fn want(&mut self, key: &str, job: Job, priority: Priority) -> bool {
        if self.in_flight.contains(key) {
            return false;
        }
        if let Some(p) = self.pending.get_mut(key) {
            p.epoch = self.epoch;
            p.priority = p.priority.max(priority);
            p.job = job;
            return false;
        }
        self.seq += 1;
        self.pending.insert(
            key.to_string(),
            Pending {
                job,
                priority,
                epoch: self.epoch,
                seq: self.seq,
            },
        );
        true
    }

    /// The next request to run: stale ones are dropped, then the highest priority, the most
    /// recently asked for, the oldest of those.
    fn take(&mut self) -> Option<(Key, Job)> {
        let epoch = self.epoch;
        let before = self.pending.len();
        self.pending.retain(|_, p| p.epoch + 1 >= epoch);
        self.dropped += (before - self.pending.len()) as u64;
        let key = self
            .pending
            .iter()
            .max_by_key(|(_, p)| (p.priority, p.epoch, std::cmp::Reverse(p.seq)))
            .map(|(k, _)| k.clone())?;
        let p = self.pending.remove(&key)?;
        self.in_flight.insert(key.clone());
        Some((key, p.job))
    }
}

/// Decoded frames by (file, frame).
type Frames = Lru<(PathBuf, Option<u32>), Arc<Decoded>>;

struct Shared {
    queue: Mutex<Queue>,
    cache: Option<ThumbCache>,
    frames: Mutex<Frames>,
    wake: Box<dyn Fn() + Send + Sync>,
    /// The largest side a picture is rendered at (the GPU's texture limit).
    max_side: std::sync::atomic::AtomicU32,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A worker that panicked while holding the lock left plain data: keep using it.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn frames(&self) -> MutexGuard<'_, Frames> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A frame rendered with `windowing`, decoded once: a new window renders the kept values.
    fn picture(
        &self,
        path: PathBuf,
        frame: Option<u32>,
        windowing: Windowing,
    ) -> Result<Box<Picture>, ImageError> {
        let key = (path, frame);
        let kept = self.frames().get(&key).cloned();
        let decoded = match kept {
            Some(d) => d,
            None => {
                let d = Arc::new(decode(&key.0, frame)?);
                let bytes = d.bytes();
                self.frames().insert(key, Arc::clone(&d), bytes);
                d
            }
        };
        let mut picture = render_decoded(&decoded, windowing)?;
        // A picture larger than the GPU takes as one texture is shown scaled down (egui would
        // refuse it outright).
        let max = self
            .max_side
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(256);
        let (w, h) = picture.rendered.image.dimensions();
        if w > max || h > max {
            let scale = f64::from(max) / f64::from(w.max(h));
            let (tw, th) = (
                ((f64::from(w) * scale) as u32).max(1),
                ((f64::from(h) * scale) as u32).max(1),
            );
            picture.rendered.image = image::imageops::resize(
                &picture.rendered.image,
                tw,
                th,
                image::imageops::FilterType::Triangle,
            );
        }
        Ok(Box::new(picture))
    }
}

/// A pool of decode threads. Dropping it lets the threads finish their current job and end.
pub struct DecodePool {
    shared: Arc<Shared>,
    tickets: Sender<()>,
    results: Receiver<Done>,
}

impl DecodePool {
    /// The largest side a picture may have (the GPU's texture limit): larger ones are scaled
    /// down by the worker.
    pub fn set_max_side(&self, side: u32) {
        self.shared
            .max_side
            .store(side, std::sync::atomic::Ordering::Relaxed);
    }

    /// `workers` threads (at least one); thumbnails go through `cache` when given; `wake` is
    /// called after each result.
    pub fn new(
        workers: usize,
        cache: Option<ThumbCache>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> DecodePool {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            cache,
            frames: Mutex::new(Lru::new(DECODED_BUDGET)),
            wake: Box::new(wake),
            max_side: std::sync::atomic::AtomicU32::new(8192),
        });
        let (tickets, ticket_rx) = unbounded::<()>();
        let (done_tx, results) = unbounded();
        for n in 0..workers.max(1) {
            let shared = Arc::clone(&shared);
            let rx = ticket_rx.clone();
            let tx = done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("qcdesk-decode-{n}"))
                .spawn(move || work(&shared, &rx, &tx));
            if let Err(e) = spawned {
                tracing::error!("cannot start a decode worker: {e}");
            }
        }
        DecodePool {
            shared,
            tickets,
            results,
        }
    }

    /// As many workers as cores.
    pub fn with_cores(
        cache: Option<ThumbCache>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> DecodePool {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        DecodePool::new(n, cache, wake)
    }

    /// Starts a new frame: what is not asked for again during it (or the next) is dropped.
    pub fn next_frame(&self) {
        self.shared.queue().epoch += 1;
    }

    /// Asks for `job` under `key`. Asking again for a waiting key keeps it alive (and may raise
    /// its priority); asking for one being decoded does nothing.
    pub fn request(&self, key: &str, job: Job, priority: Priority) {
        if self.shared.queue().want(key, job, priority) {
            let _ = self.tickets.send(());
        }
    }

    /// Finished requests.
    pub fn results(&self) -> &Receiver<Done> {
        &self.results
    }

    /// (waiting, being decoded, dropped as stale so far).
    pub fn stats(&self) -> (usize, usize, u64) {
        let q = self.shared.queue();
        (q.pending.len(), q.in_flight.len(), q.dropped)
    }
}

fn work(shared: &Shared, tickets: &Receiver<()>, done: &Sender<Done>) {
    for () in tickets.iter() {
        let Some((key, job)) = shared.queue().take() else {
            continue;
        };
        let started = Instant::now();
        let output = match job {
            Job::Thumb { blob, path, size } => Output::Thumb(match &shared.cache {
                Some(cache) => cache.thumbnail(&blob, &path, size),
                None => render_thumbnail(&path, size),
            }),
            Job::Picture {
                path,
                frame,
                windowing,
            } => Output::Picture(
                // The shared state stays sound if a codec panics: the locks are not
                // held while decoding, and a poisoned one is taken over.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    shared.picture(path, frame, windowing)
                }))
                .unwrap_or_else(|_| {
                    Err(ImageError::CannotRender(
                        "internal error in a decoder (please report it)".into(),
                    ))
                }),
            ),
            Job::Header { path } => Output::Header(Box::new(crate::dicom::dump::dump_file(&path))),
        };
        shared.queue().in_flight.remove(&key);
        let sent = done.send(Done {
            key,
            output,
            took: started.elapsed(),
        });
        if sent.is_err() {
            return; // the pool is gone
        }
        (shared.wake)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u32) -> Job {
        Job::Picture {
            path: PathBuf::from(format!("/{n}")),
            frame: None,
            windowing: Windowing::Default,
        }
    }

    #[test]
    fn the_most_wanted_goes_first() {
        let mut q = Queue::default();
        assert!(q.want("prefetch", job(1), Priority::Prefetch));
        assert!(q.want("visible-1", job(2), Priority::Visible));
        assert!(q.want("visible-2", job(3), Priority::Visible));
        assert!(q.want("now", job(4), Priority::Now));
        let order: Vec<Key> = std::iter::from_fn(|| q.take().map(|(k, _)| k)).collect();
        assert_eq!(order, ["now", "visible-1", "visible-2", "prefetch"]);
    }

    #[test]
    fn what_was_not_asked_for_again_is_dropped() {
        let mut q = Queue::default();
        q.want("scrolled-away", job(1), Priority::Visible);
        q.want("still-shown", job(2), Priority::Visible);
        q.epoch += 1;
        q.want("still-shown", job(2), Priority::Visible);
        q.epoch += 1;
        q.want("still-shown", job(2), Priority::Visible);
        assert_eq!(q.take().map(|(k, _)| k).as_deref(), Some("still-shown"));
        assert_eq!(q.take(), None);
        assert_eq!(q.dropped, 1);
    }

    #[test]
    fn a_running_request_is_not_queued_twice() {
        let mut q = Queue::default();
        assert!(q.want("a", job(1), Priority::Visible));
        assert!(q.take().is_some());
        assert!(!q.want("a", job(1), Priority::Visible));
        assert!(q.take().is_none());
        q.in_flight.remove("a");
        assert!(q.want("a", job(1), Priority::Visible));
    }

    #[test]
    fn newer_requests_of_one_priority_go_before_older_ones() {
        let mut q = Queue::default();
        q.want("old", job(1), Priority::Prefetch);
        q.epoch += 1;
        q.want("new", job(2), Priority::Prefetch);
        assert_eq!(q.take().map(|(k, _)| k).as_deref(), Some("new"));
    }

    #[test]
    fn the_pool_decodes_and_wakes_the_caller() {
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = Arc::clone(&woken);
        let pool = DecodePool::new(2, None, move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let files =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pydicom/test_files");
        pool.request(
            "ct",
            Job::Thumb {
                blob: "x".into(),
                path: files.join("CT_small.dcm"),
                size: 32,
            },
            Priority::Visible,
        );
        pool.request(
            "plan",
            Job::Picture {
                path: files.join("rtplan.dcm"),
                frame: None,
                windowing: Windowing::Default,
            },
            Priority::Visible,
        );
        let mut got = HashMap::new();
        for _ in 0..2 {
            let d = pool
                .results()
                .recv_timeout(Duration::from_secs(30))
                .expect("a result");
            got.insert(d.key.clone(), d.output);
        }
        assert!(matches!(got["ct"], Output::Thumb(Thumb::Image { .. })));
        assert!(matches!(
            got["plan"],
            Output::Picture(Err(ImageError::NoPixelData))
        ));
        // Each result wakes the caller (just after it is sent).
        let until = Instant::now() + Duration::from_secs(10);
        while woken.load(std::sync::atomic::Ordering::SeqCst) < 2 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
