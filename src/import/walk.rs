//! Turning the paths a user gave into the list of files to read: folders recursively, and
//! CD/DVD media through their DICOMDIR (CDs name files without extensions).
//!
//! A DICOMDIR given by itself brings in the files it references. When it cannot be read, it is
//! reported and its medium's folders are walked instead, so nothing on the disc is missed;
//! those files are listed as not in the DICOMDIR. A folder is always walked whole: files a
//! DICOMDIR inside it does not reference are imported too, and listed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::dicom::dicomdir::read_dicomdir;
use crate::model::SourceKind;

/// A file to import and the label of where it came from (the folder the user chose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub source: String,
    pub source_kind: SourceKind,
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
    /// Files on a medium that its (readable) DICOMDIR does not reference; imported all the same.
    pub not_in_dicomdir: Vec<String>,
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

/// A regular file found by the walk, with the label of the root it came from.
struct Found {
    path: PathBuf,
    source: String,
    /// Reached through a symbolic link (so possibly also by its own path).
    linked: bool,
}

/// Lists every file under `roots`, in a stable order, each once.
pub fn collect(roots: &[PathBuf]) -> WalkResult {
    let mut out = WalkResult::default();
    let mut found: Vec<Found> = Vec::new();
    let mut seen: HashSet<FileKey> = HashSet::new();
    // Readable DICOMDIRs: the folder each covers and the files it references.
    let mut media: Vec<(PathBuf, HashSet<FileKey>)> = Vec::new();
    // Folders walked because their DICOMDIR could not be read: everything there is unlisted.
    let mut unlisted: Vec<PathBuf> = Vec::new();
    let mut read_dirs: HashSet<FileKey> = HashSet::new();
    for root in roots {
        if !root.exists() {
            out.unreadable
                .push((root.display().to_string(), "no such file or folder".into()));
            continue;
        }
        if root.is_file() && is_dicomdir_name(root) {
            let source = root
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            read_dirs.insert(FileKey::of(root));
            if let Some(medium) = read_medium(root, &source, &mut out, &mut seen, &mut media) {
                unlisted.push(medium.clone());
                walk(&medium, &source, &mut found, &mut out);
            }
            continue;
        }
        let source = if root.is_dir() {
            root.display().to_string()
        } else {
            root.parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        walk(root, &source, &mut found, &mut out);
    }
    // DICOMDIRs inside walked folders: their references come first, as the burner meant.
    for f in found.iter().filter(|f| is_dicomdir_name(&f.path)) {
        if read_dirs.insert(FileKey::of(&f.path))
            && let Some(medium) = read_medium(&f.path, &f.source, &mut out, &mut seen, &mut media)
        {
            unlisted.push(medium);
        }
    }
    // One folder without media or links names each file once: no need to stat every file
    // for its inode (10,000 system calls on a large import).
    let unique_paths = roots.len() == 1
        && seen.is_empty()
        && unlisted.is_empty()
        && !found.iter().any(|f| f.linked);
    for f in found {
        if is_dicomdir_name(&f.path) {
            continue;
        }
        let key = if unique_paths && !f.linked {
            FileKey::Path(f.path.clone())
        } else {
            FileKey::of(&f.path)
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        let unreferenced = unlisted.iter().any(|m| f.path.starts_with(m))
            || media.iter().any(|(folder, referenced)| {
                f.path.starts_with(folder) && !referenced.contains(&key)
            });
        if unreferenced {
            out.not_in_dicomdir.push(f.path.display().to_string());
        }
        out.files.push(Candidate {
            path: f.path,
            source: f.source,
            source_kind: SourceKind::Folder,
        });
    }
    out
}

/// Reads a DICOMDIR: its referenced files become candidates. When it cannot be read, it is
/// reported and the folder to walk instead (its medium) is returned.
fn read_medium(
    dicomdir: &Path,
    source: &str,
    out: &mut WalkResult,
    seen: &mut HashSet<FileKey>,
    media: &mut Vec<(PathBuf, HashSet<FileKey>)>,
) -> Option<PathBuf> {
    let folder = dicomdir.parent().map(Path::to_path_buf).unwrap_or_default();
    match read_dicomdir(dicomdir) {
        Ok(listing) => {
            out.dicomdirs.push(dicomdir.to_path_buf());
            let mut referenced = HashSet::new();
            for file in listing.files {
                let key = FileKey::of(&file);
                referenced.insert(key.clone());
                if seen.insert(key) {
                    out.files.push(Candidate {
                        path: file,
                        source: source.to_string(),
                        source_kind: SourceKind::Dicomdir,
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
            media.push((folder, referenced));
            None
        }
        Err(e) => {
            out.unreadable.push((
                dicomdir.display().to_string(),
                format!("{e}; the files in its folder were read instead"),
            ));
            Some(folder)
        }
    }
}

/// Walks one root, collecting regular files and reporting what cannot be read.
fn walk(root: &Path, source: &str, found: &mut Vec<Found>, out: &mut WalkResult) {
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
        // Symlinked folders are not followed; a symlinked file is read like any other (and
        // once: files are told apart by inode later).
        found.push(Found {
            path: path.to_path_buf(),
            source: source.to_string(),
            linked: ft.is_symlink(),
        });
    }
}
