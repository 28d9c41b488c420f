//! The workspace: one folder holding the database, the file store and the configuration.
//! Resolution order: `--workspace DIR`, then `QCDESK_WORKSPACE`, then the platform data dir.
//!
//! A workspace holds patient data: its folders are created 0700 and its files 0600 (blobs
//! 0400), and a workspace found readable by others is tightened on open, with a note. A
//! folder with the set-group-ID bit is a workspace shared by its group: 2770, 0660 and 0440. A
//! workspace belongs to one host: SQLite's locking and the temp-file cleanup (by process id)
//! assume every process using it runs on the same machine, so it must not be shared over a
//! network file system by several hosts.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot find a data directory for this user; pass --workspace DIR")]
    NoDataDir,
    #[error("cannot create workspace folder {path}: {cause}")]
    Create { path: String, cause: std::io::Error },
    #[error(
        "workspace {path} is not writable ({cause}); qcdesk needs to write its database and store there"
    )]
    ReadOnly { path: String, cause: std::io::Error },
    #[error(
        "{path} is not a qcdesk workspace: it holds other files ({example}); give a new or empty \
         folder, or an existing workspace"
    )]
    NotAWorkspace { path: String, example: String },
}

/// What qcdesk itself keeps in a workspace folder; nothing else there is touched.
const OWN_ENTRIES: &[&str] = &[
    "qcdesk.sqlite",
    "qcdesk.sqlite-wal",
    "qcdesk.sqlite-shm",
    "qcdesk.sqlite-journal",
    "store",
    "thumbs",
    "tmp",
    "spool",
    "config.toml",
    "demo.json",
    "qcdesk-demo-workspace",
    "demo-inbox",
];

/// A workspace folder with the set-group-ID bit is shared by its group (the package makes
/// `/var/lib/qcdesk` so, mode 2770, for the receiver service and the desk's users).
fn is_group_shared(root: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(root).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o2000 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        false
    }
}

/// Paths inside one workspace folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
    /// Things the user should know about opening it (permissions tightened...).
    notes: Vec<String>,
}

impl Workspace {
    /// The default workspace of this user (platform data dir), or `name` beside it (e.g. "demo").
    pub fn default_dir(name: &str) -> Result<PathBuf, WorkspaceError> {
        let dirs = directories::ProjectDirs::from("org", "qcdesk", "qcdesk")
            .ok_or(WorkspaceError::NoDataDir)?;
        Ok(dirs.data_dir().join(name))
    }

    /// Opens (creating if needed) the workspace at `root` and checks that it is writable.
    pub fn open(root: &Path) -> Result<Workspace, WorkspaceError> {
        let mut ws = Workspace {
            root: root.to_path_buf(),
            notes: Vec::new(),
        };
        let existed = root.exists();
        if existed {
            ws.check_adoptable()?;
        }
        crate::fsutil::set_group_shared(is_group_shared(root));
        for dir in [ws.root.clone(), ws.blob_dir(), ws.tmp_dir()] {
            crate::fsutil::create_private_dir(&dir).map_err(|cause| {
                if cause.kind() == std::io::ErrorKind::PermissionDenied || is_read_only_fs(&cause) {
                    WorkspaceError::ReadOnly {
                        path: root.display().to_string(),
                        cause,
                    }
                } else {
                    WorkspaceError::Create {
                        path: dir.display().to_string(),
                        cause,
                    }
                }
            })?;
        }
        // Probe: a read-only mount lets create_dir_all succeed when the folders exist already.
        // The root too: SQLite creates its WAL files beside the database.
        for dir in [ws.root.clone(), ws.tmp_dir()] {
            let probe = dir.join(format!(".probe-{}", std::process::id()));
            std::fs::write(&probe, b"").map_err(|cause| WorkspaceError::ReadOnly {
                path: root.display().to_string(),
                cause,
            })?;
            let _ = std::fs::remove_file(&probe);
        }
        if existed {
            ws.tighten_permissions();
        }
        ws.clean_tmp();
        Ok(ws)
    }

    /// A folder that is neither a workspace nor empty is not made one: qcdesk would mix its
    /// patient data with whatever is there, and tighten permissions others rely on.
    fn check_adoptable(&self) -> Result<(), WorkspaceError> {
        if self.db_path().exists() {
            return Ok(());
        }
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(()); // not a folder, or unreadable: the create below says why
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !OWN_ENTRIES.contains(&name.as_str()) && !name.starts_with(".probe-") {
                return Err(WorkspaceError::NotAWorkspace {
                    path: self.root.display().to_string(),
                    example: name,
                });
            }
        }
        Ok(())
    }

    /// What the user should be told about this workspace (shown once by the CLI and the desk).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Workspaces made by older versions (or copied with a loose umask) may be readable by
    /// other local users: make them owner-only, file by file, once.
    #[cfg(unix)]
    fn tighten_permissions(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let forbidden = crate::fsutil::forbidden_bits();
        let loose = |p: &Path| {
            std::fs::symlink_metadata(p)
                .map(|m| m.permissions().mode() & forbidden != 0)
                .unwrap_or(false)
        };
        if !loose(&self.root) && !loose(&self.db_path()) && !loose(&self.blob_dir()) {
            return;
        }
        let mut changed = 0usize;
        // The folder itself and what qcdesk keeps in it; anything else is not ours to change.
        let own = OWN_ENTRIES.iter().map(|n| self.root.join(n));
        let entries = walkdir::WalkDir::new(&self.root)
            .max_depth(0)
            .into_iter()
            .chain(own.flat_map(|p| walkdir::WalkDir::new(p).into_iter()));
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o7777;
            // Owner-only (owner and group when shared); what they may do stays as it was (a
            // read-only blob stays read-only, a folder the owner locked stays locked).
            let wanted = mode & !forbidden;
            if wanted != mode
                && std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(wanted))
                    .is_ok()
            {
                changed += 1;
            }
        }
        if changed > 0 {
            let who = if crate::fsutil::group_shared() {
                "owner- and group-only"
            } else {
                "owner-only"
            };
            self.notes.push(format!(
                "workspace {} was readable by other users; made {changed} files and folders {who} (it holds patient data)",
                self.root.display()
            ));
        }
    }

    #[cfg(not(unix))]
    fn tighten_permissions(&mut self) {}

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("qcdesk.sqlite")
    }
    pub fn blob_dir(&self) -> PathBuf {
        self.root.join("store")
    }
    /// Thumbnails made from the store (a cache: deleting it loses nothing).
    pub fn thumbs_dir(&self) -> PathBuf {
        self.root.join("thumbs")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    /// The receiver's spool: instances arriving, and those acknowledged but not yet recorded.
    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// Removes temp files a killed process left behind; they were never referenced.
    /// Another live process (or this one) may be writing its own right now: those stay, however
    /// old (a long import may keep a temp file waiting for hours). Only where a writer's
    /// liveness cannot be told do files go by age.
    fn clean_tmp(&self) {
        let Ok(entries) = std::fs::read_dir(self.tmp_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".part") else {
                continue;
            };
            let pid = stem.split('-').next().and_then(|p| p.parse::<u32>().ok());
            let stale_by_age = || {
                e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(24 * 3600))
            };
            let dead = match pid {
                Some(p) if p == std::process::id() => false,
                Some(p) => match process_alive(p) {
                    Some(alive) => !alive,
                    None => stale_by_age(),
                },
                None => stale_by_age(),
            };
            if dead {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Whether a process with this id runs, where that can be told.
pub(crate) fn process_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new(&format!("/proc/{pid}")).exists())
    } else {
        None
    }
}

fn is_read_only_fs(e: &std::io::Error) -> bool {
    // EROFS = 30 on Linux and most Unixes.
    e.raw_os_error() == Some(30)
}
