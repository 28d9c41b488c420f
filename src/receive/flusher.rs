//! Group flushes for `strict` durability: an association thread whose instance must be on disk
//! before Success asks here and waits; the flusher takes every instance waiting at that moment,
//! whichever association brought it, flushes each file's data and then the spool folder once.
//! While a flush runs, the next requests gather for the following one. Each file is flushed on
//! its own (not the whole file system): another peer's gigabytes being written elsewhere do not
//! hold up this Success.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};

type Request = (PathBuf, Sender<Result<(), String>>);

/// The flushing thread; stops when dropped (after the flushes asked for).
pub(super) struct Flusher {
    queue: Option<Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    /// Flushes the file system holding `dir` (the spool).
    pub(super) fn start(dir: &Path) -> std::io::Result<Flusher> {
        let (tx, rx) = crossbeam_channel::unbounded::<Request>();
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("receiver-flusher".into())
            .spawn(move || run(&dir, &rx))?;
        Ok(Flusher {
            queue: Some(tx),
            thread: Some(thread),
        })
    }

    /// Returns once `file` (a spool entry, renamed into place) is on disk, name included.
    pub(super) fn flush(&self, file: &Path) -> Result<(), String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let Some(q) = &self.queue else {
            return Err("qcdesk is shutting down".into());
        };
        q.send((file.to_path_buf(), tx))
            .map_err(|_| "qcdesk is shutting down".to_string())?;
        rx.recv()
            .unwrap_or_else(|_| Err("qcdesk is shutting down".into()))
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(dir: &Path, rx: &Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let outcome = flush(dir, waiting.iter().map(|(p, _)| p.as_path()));
        if let Err(e) = &outcome {
            tracing::error!("cannot flush received instances to disk: {e}");
        }
        for (_, reply) in waiting {
            let _ = reply.send(outcome.clone());
        }
    }
}

/// The data of each file, then the folder's entries (their names).
fn flush<'a>(dir: &Path, files: impl Iterator<Item = &'a Path>) -> Result<(), String> {
    for f in files {
        std::fs::File::open(f)
            .and_then(|f| f.sync_data())
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    crate::fsutil::sync_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))
}
