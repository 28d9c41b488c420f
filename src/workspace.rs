//! The workspace: one folder holding the database, the file store and the configuration.
//! Resolution order: `--workspace DIR`, then `QCDESK_WORKSPACE`, then the platform data dir.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot find a data directory for this user; pass --workspace DIR")]
    NoDataDir,
    #[error("cannot create workspace folder {path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("workspace {path} is not writable ({source}); qcdesk needs to write its database and store there")]
    ReadOnly { path: String, source: std::io::Error },
}

/// Paths inside one workspace folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// The default workspace of this user (platform data dir), or `name` beside it (e.g. "demo").
    pub fn default_dir(name: &str) -> Result<PathBuf, WorkspaceError> {
        let dirs = directories::ProjectDirs::from("org", "qcdesk", "qcdesk").ok_or(WorkspaceError::NoDataDir)?;
        Ok(dirs.data_dir().join(name))
    }

    /// Opens (creating if needed) the workspace at `root` and checks that it is writable.
    pub fn open(root: &Path) -> Result<Workspace, WorkspaceError> {
        let ws = Workspace { root: root.to_path_buf() };
        for dir in [ws.root.clone(), ws.blob_dir(), ws.tmp_dir()] {
            std::fs::create_dir_all(&dir).map_err(|source| {
                if source.kind() == std::io::ErrorKind::PermissionDenied || is_read_only_fs(&source) {
                    WorkspaceError::ReadOnly { path: root.display().to_string(), source }
                } else {
                    WorkspaceError::Create { path: dir.display().to_string(), source }
                }
            })?;
        }
        // Probe: a read-only mount lets create_dir_all succeed when the folders exist already.
        let probe = ws.tmp_dir().join(format!(".probe-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .map_err(|source| WorkspaceError::ReadOnly { path: root.display().to_string(), source })?;
        let _ = std::fs::remove_file(&probe);
        ws.clean_tmp();
        Ok(ws)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("qcdesk.sqlite")
    }
    pub fn blob_dir(&self) -> PathBuf {
        self.root.join("store")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// Removes temp files a killed process left behind; they were never referenced.
    fn clean_tmp(&self) {
        if let Ok(entries) = std::fs::read_dir(self.tmp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name();
                if name.to_string_lossy().ends_with(".part") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

fn is_read_only_fs(e: &std::io::Error) -> bool {
    // EROFS = 30 on Linux and most Unixes.
    e.raw_os_error() == Some(30)
}
