//! File-system helpers: durable writes (temp + fsync + rename) and timestamps.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Mode of files qcdesk writes in a workspace: they hold patient data, so only the owner reads.
#[cfg(unix)]
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of the workspace's folders.
#[cfg(unix)]
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The workspace of this process is shared by a group (its folder has the set-group-ID bit,
/// as the package makes `/var/lib/qcdesk` for the receiver service and the desk's users):
/// files and folders are then made for owner and group, still never for others.
static GROUP_SHARED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set by [`crate::workspace::Workspace::open`].
pub fn set_group_shared(shared: bool) {
    GROUP_SHARED.store(shared, Ordering::Relaxed);
}

pub fn group_shared() -> bool {
    GROUP_SHARED.load(Ordering::Relaxed)
}

/// What a workspace file's mode should be: owner (and group when shared) read-write.
pub fn file_mode() -> u32 {
    if group_shared() { 0o660 } else { 0o600 }
}

/// The permission bits no workspace file or folder may have: others', and the group's unless
/// the workspace is shared.
pub fn forbidden_bits() -> u32 {
    if group_shared() { 0o007 } else { 0o077 }
}

/// Gives a file or folder just made the shared workspace's mode, which the creating process's
/// umask may have narrowed (a desk user's 022 would leave the group unable to write).
#[cfg(unix)]
fn share(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if group_shared() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
}

/// Writes `bytes` to `dest` so that `dest` is either absent or complete, even after a crash:
/// write to a temp file in `tmp_dir` (same file system), fsync it, rename it into place.
/// The parent directory is not synced here; callers sync touched directories in batches.
pub fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut t = TempFile::create(tmp_dir)?;
    t.write_all(bytes)?;
    t.sync()?;
    t.replace(dest)
}

/// Creates `dir` and its missing parents, readable by the owner only (and the group in a
/// shared workspace, set-group-ID so that what is made inside stays the group's).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let existed = dir.is_dir();
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(PRIVATE_DIR_MODE);
    }
    b.create(dir)?;
    #[cfg(unix)]
    if !existed {
        share(dir, 0o2770);
    }
    Ok(())
}

/// A file being written in the workspace's temp folder; removed unless installed (or kept:
/// a file the receiver acknowledged stays in its spool until its record is written).
pub struct TempFile {
    path: std::path::PathBuf,
    file: Option<File>,
    keep: bool,
}

impl TempFile {
    /// Creates a new temp file, exclusively: a name another process (or a dead one) holds is
    /// never opened, so two writers can never clobber each other's bytes. The name carries the
    /// process id, so a later process can tell ours from a dead one's.
    pub fn create(tmp_dir: &Path) -> std::io::Result<TempFile> {
        loop {
            let path = tmp_dir.join(format!(
                "{}-{}.part",
                std::process::id(),
                TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(PRIVATE_FILE_MODE);
            }
            match opts.open(&path) {
                Ok(file) => {
                    #[cfg(unix)]
                    share(&path, 0o660);
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                        keep: false,
                    });
                }
                // A leftover of a dead process with our pid: take the next number.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the (finished) file to `dest` and keeps it there: no longer removed when
    /// dropped, only by [`TempFile::discard`].
    pub fn persist(mut self, dest: &Path) -> std::io::Result<TempFile> {
        self.file.take();
        std::fs::rename(&self.path, dest)?;
        // The old name is gone: nothing for this value to remove.
        self.keep = true;
        Ok(TempFile {
            path: dest.to_path_buf(),
            file: None,
            keep: true,
        })
    }

    /// A finished file already at `path`, kept (a spool entry found on start).
    pub fn adopt(path: &Path) -> TempFile {
        TempFile {
            path: path.to_path_buf(),
            file: None,
            keep: true,
        }
    }

    /// Removes the file, kept or not.
    pub fn discard(mut self) -> std::io::Result<()> {
        self.file.take();
        self.keep = true;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(buf),
            None => Err(std::io::Error::other(
                "temp file written after it was finished",
            )),
        }
    }

    /// Flushes this file's data to disk (one fsync). Batches flush many at once instead, with
    /// [`sync_filesystem`].
    pub fn sync(&mut self) -> std::io::Result<()> {
        match &self.file {
            Some(f) => f.sync_all(),
            None => Ok(()),
        }
    }

    /// Makes the file read-only (owner read only) and closes it for writing.
    pub fn seal(&mut self) -> std::io::Result<()> {
        if let Some(f) = self.file.take() {
            let mut perms = f.metadata()?.permissions();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                perms.set_mode(if group_shared() { 0o440 } else { 0o400 });
            }
            #[cfg(not(unix))]
            perms.set_readonly(true);
            f.set_permissions(perms)?;
        }
        Ok(())
    }

    /// Puts the file at `dest`, replacing what is there.
    pub fn replace(self, dest: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        std::mem::forget(self);
        Ok(())
    }

    /// Links the file at `dest` unless something is there already. Returns whether it was
    /// installed. Never replaces: a file under a content address that the database may
    /// reference must not change. The temp name stays until this value is dropped.
    pub fn link_new(&self, dest: &Path) -> std::io::Result<bool> {
        match std::fs::hard_link(&self.path, dest) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            // File systems without hard links: a flushed copy renamed into place, so the
            // final name never holds a partial file. Two writers of the same content may both
            // rename: the bytes are the same.
            Err(_) if !dest.exists() => {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                let mut copy = TempFile::create(dir)?;
                let mut src = File::open(&self.path)?;
                if let Some(f) = copy.file.as_mut() {
                    std::io::copy(&mut src, f)?;
                }
                copy.sync()?;
                copy.seal()?;
                copy.replace(dest)?;
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes the directory entries (renames) in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes everything written to the file system holding `path` (data and metadata,
/// renames included), as syncfs(2) does.
#[cfg(target_os = "linux")]
pub fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = File::open(path)?;
    // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Now, UTC, as RFC 3339 with seconds, and as Unix seconds.
pub fn now() -> (String, i64) {
    let t = time::OffsetDateTime::now_utc();
    let text = t
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (text, t.unix_timestamp())
}

/// Unix seconds as RFC 3339 (UTC), as [`now`] writes times.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Seconds since the epoch of an RFC 3339 time (as [`now`] writes them).
pub fn parse_rfc3339_unix(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// "3d 4h", "2h 05m", "12m", "40s": an age for people.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Raises this process's limit on open files to its hard limit: a receiver holds three
/// descriptors per connection (and files being written), and the usual soft limit of 1024
/// would be reached long before its caps.
pub fn raise_open_files_limit() {
    #[cfg(target_os = "linux")]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write one rlimit we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x");
        write_atomic(dir.path(), &dest, b"abc").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn link_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("blob");
        std::fs::write(&dest, b"first").unwrap();
        let mut t = TempFile::create(dir.path()).unwrap();
        t.write_all(b"second").unwrap();
        t.seal().unwrap();
        assert!(!t.link_new(&dest).unwrap());
        drop(t);
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "the temp file is removed");
    }

    #[cfg(unix)]
    #[test]
    fn temp_files_are_private_and_never_clobbered() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = TempFile::create(dir.path()).unwrap();
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A file already holding the next name (another process's) is skipped, not opened.
        let next = TMP_COUNTER.load(Ordering::Relaxed);
        let taken = dir
            .path()
            .join(format!("{}-{next}.part", std::process::id()));
        std::fs::write(&taken, b"theirs").unwrap();
        let mut b = TempFile::create(dir.path()).unwrap();
        b.write_all(b"ours").unwrap();
        assert_ne!(b.path(), taken.as_path());
        assert_eq!(std::fs::read(&taken).unwrap(), b"theirs");
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(125), "2m");
        assert_eq!(human_age(3600 + 5 * 60), "1h 05m");
        assert_eq!(human_age(2 * 86_400 + 3 * 3600), "2d 3h");
    }
}
