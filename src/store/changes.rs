//! The change feed: tells a desk that another connection (the service, another desk, a
//! command) committed to the workspace, so it shows others' work within a second without a
//! key pressed. On the embedded workspace a thread of its own polls SQLite's
//! `PRAGMA data_version`, which changes whenever another connection commits, then reads the
//! `changes` generation that triggers count on what a desk shows (studies, dismissals,
//! corrections, sends, likely orders, claims): the renewal of a lease or claim wakes nobody.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError};

/// How often the database is asked whether it changed.
pub const POLL: Duration = Duration::from_millis(250);

/// A running watch; stops when dropped.
pub struct ChangeWatch {
    generation: Arc<AtomicU64>,
    stop: Option<crossbeam_channel::Sender<()>>,
}

impl ChangeWatch {
    /// Counts the changes seen so far; a caller compares it with the count it last acted on.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

impl Drop for ChangeWatch {
    fn drop(&mut self) {
        // The thread sees the channel close within one poll and ends.
        self.stop.take();
    }
}

impl Store {
    /// Starts watching the workspace's database for commits by any connection; `on_change`
    /// runs on the watch's thread after each (the desk's repaint request).
    pub fn watch_changes(
        &self,
        on_change: impl Fn() + Send + 'static,
    ) -> Result<ChangeWatch, StoreError> {
        let path = self.workspace.db_path();
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|cause| StoreError::Open {
            path: path.display().to_string(),
            cause,
        })?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let version = |c: &Connection| -> rusqlite::Result<i64> {
            c.pragma_query_value(None, "data_version", |r| r.get(0))
        };
        let counted = |c: &Connection| -> rusqlite::Result<i64> {
            c.query_row("SELECT generation FROM changes WHERE id = 1", [], |r| {
                r.get(0)
            })
        };
        let mut last = version(&conn)?;
        let mut last_counted = counted(&conn)?;
        let generation = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let g = Arc::clone(&generation);
        std::thread::Builder::new()
            .name("change watch".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(POLL)
                {
                    match version(&conn) {
                        Ok(v) if v != last => match counted(&conn) {
                            Ok(n) if n != last_counted => {
                                (last, last_counted) = (v, n);
                                g.fetch_add(1, Ordering::SeqCst);
                                on_change();
                            }
                            Ok(_) => last = v,
                            Err(e) => tracing::debug!("change watch: {e}"),
                        },
                        Ok(_) => {}
                        // Busy or the file briefly unavailable: ask again next time.
                        Err(e) => tracing::debug!("change watch: {e}"),
                    }
                }
            })
            .map_err(StoreError::Io)?;
        Ok(ChangeWatch {
            generation,
            stop: Some(stop),
        })
    }
}
