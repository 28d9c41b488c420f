//! Turning the paths a user gave into the list of files to read: folders recursively,
//! DICOMDIR media by their directory records (CDs name files without extensions).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::dicom::dicomdir::read_dicomdir;

/// A file to import and the label of where it came from (the folder the user chose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub source: String,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    pub files: Vec<Candidate>,
    /// DICOMDIR files read (they are not instances).
    pub dicomdirs: Vec<PathBuf>,
    /// Paths that could not be listed or read: (path, reason).
    pub unreadable: Vec<(String, String)>,
    /// Entries that are neither folders nor regular files (sockets, devices...): (path, why).
    pub skipped: Vec<(String, String)>,
    /// File IDs a DICOMDIR lists that are not on the medium.
    pub missing_from_dicomdir: Vec<String>,
}

/// What makes two paths the same file: device and inode where the platform has them, so a
/// file reached through a DICOMDIR as `IMAGES/IM1` and by the folder walk as `images/im1` (a
/// case-insensitive mount) is read once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileKey {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileKey {
    fn of(path: &Path) -> FileKey {
        #[cfg(unix)]
        if let Ok(m) = std::fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            return FileKey::Inode(m.dev(), m.ino());
        }
        FileKey::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

fn is_dicomdir_name(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"))
}

/// Lists every file under `roots`, in a stable order, each once.
pub fn collect(roots: &[PathBuf]) -> WalkResult {
    let mut out = WalkResult::default();
    let mut seen: HashSet<FileKey> = HashSet::new();
    for root in roots {
        let source = if root.is_dir() {
            root.display().to_string()
        } else {
            root.parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        if !root.exists() {
            out.unreadable
                .push((root.display().to_string(), "no such file or folder".into()));
            continue;
        }
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| root.display().to_string());
                    let reason = e
                        .io_error()
                        .map(|io| io.to_string())
                        .unwrap_or_else(|| e.to_string());
                    out.unreadable.push((path, reason));
                    continue;
                }
            };
            let path = entry.path();
            let ft = entry.file_type();
            if ft.is_dir() {
                continue;
            }
            if !path.is_file() {
                let shown = path.display().to_string();
                if ft.is_symlink() {
                    match std::fs::metadata(path) {
                        Ok(m) if m.is_dir() => {} // a linked folder: not followed, on purpose
                        Ok(_) => out.skipped.push((shown, "not a regular file".into())),
                        Err(e) => out
                            .unreadable
                            .push((shown, format!("broken symbolic link: {e}"))),
                    }
                } else {
                    out.skipped.push((shown, "not a regular file".into()));
                }
                continue;
            }
            if is_dicomdir_name(path) {
                read_medium(path, &source, &mut out, &mut seen);
                continue;
            }
            if seen.insert(FileKey::of(path)) {
                out.files.push(Candidate {
                    path: path.to_path_buf(),
                    source: source.clone(),
                });
            }
        }
    }
    out
}

fn read_medium(dicomdir: &Path, source: &str, out: &mut WalkResult, seen: &mut HashSet<FileKey>) {
    if !seen.insert(FileKey::of(dicomdir)) {
        return;
    }
    match read_dicomdir(dicomdir) {
        Ok(listing) => {
            out.dicomdirs.push(dicomdir.to_path_buf());
            for f in listing.files {
                if seen.insert(FileKey::of(&f)) {
                    out.files.push(Candidate {
                        path: f,
                        source: source.to_string(),
                    });
                }
            }
            out.missing_from_dicomdir
                .extend(listing.missing.into_iter().map(|m| {
                    format!(
                        "{} lists {m}, which is not on the medium",
                        dicomdir.display()
                    )
                }));
        }
        // The folder walk still finds the files; the broken DICOMDIR is reported.
        Err(e) => out
            .unreadable
            .push((dicomdir.display().to_string(), e.to_string())),
    }
}
