//! The content-addressed file store: immutable files named by their BLAKE3 hash.
//!
//! Writing is grouped: workers write each new file to a temp file without flushing it
//! ([`BlobStore::stage`]); a batch is then made durable with one flush of the file system,
//! linked under the final names, and the names flushed with a second one
//! ([`BlobStore::install`]), before the database rows that reference them commit. So a file
//! under its final name is always complete. A final-named file that no row references (a crash
//! between install and commit) is hashed before it is trusted ([`BlobStore::verify_blob`]).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, TempFile};

/// Hex BLAKE3 hash of some bytes: the blob's name.
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Hashes a file by streaming it (for files too large to hold in memory).
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Starts the hash that identifies a data set: its transfer syntax, then its bytes (the file
/// minus preamble and file meta group).
pub fn dataset_hasher(transfer_syntax: &str) -> blake3::Hasher {
    let mut h = blake3::Hasher::new();
    h.update(transfer_syntax.as_bytes());
    h.update(&[0]);
    h
}

/// Hash of the data set of a file held in memory.
pub fn hash_dataset(bytes: &[u8], dataset_offset: u64, transfer_syntax: &str) -> String {
    let mut h = dataset_hasher(transfer_syntax);
    h.update(bytes.get(dataset_offset as usize..).unwrap_or(&[]));
    h.finalize().to_hex().to_string()
}

/// From this size on, [`BlobStore::stage`] hashes and writes in parallel.
const PARALLEL_STAGE: usize = 256 << 10;

/// A file's bytes hashed and, unless the store holds them already, written to a temp file
/// that [`BlobStore::install`] puts in place.
#[derive(Debug)]
pub struct Staged {
    pub hash: String,
    pub dataset_hash: String,
    pub size: u64,
    temp: Option<TempFile>,
    /// Where else these bytes are kept until recorded (a spool file), to repair a damaged
    /// store file from.
    kept_at: Option<PathBuf>,
}

impl std::fmt::Debug for TempFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TempFile({})", self.path().display())
    }
}

impl Staged {
    /// A file written elsewhere (the receiver's spool) and hashed as it was written. `temp`
    /// stays where it is; [`BlobStore::install`] links it under its final name unless the store
    /// holds these bytes already.
    pub fn spooled(
        blobs: &BlobStore,
        temp: &TempFile,
        hash: String,
        dataset_hash: String,
        size: u64,
    ) -> Staged {
        let kept_at = Some(temp.path().to_path_buf());
        let temp = (!blobs.contains(&hash)).then(|| TempFile::adopt(temp.path()));
        Staged {
            hash,
            dataset_hash,
            size,
            temp,
            kept_at,
        }
    }

    /// Where a copy of these bytes is kept until they are recorded, if anywhere.
    pub fn kept_at(&self) -> Option<&Path> {
        self.kept_at.as_deref()
    }

    /// Whether the store held these bytes already when they were staged.
    pub fn was_present(&self) -> bool {
        self.temp.is_none()
    }
}

/// Handle to the blob folder; shared by worker threads.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    pub fn new(dir: PathBuf, tmp: PathBuf) -> BlobStore {
        BlobStore { dir, tmp }
    }

    /// Where the blob with this hash lives.
    pub fn path(&self, hash: &str) -> PathBuf {
        let fan = hash.get(0..2).unwrap_or("xx");
        self.dir.join(fan).join(format!("{hash}.dcm"))
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.path(hash).is_file()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hashes `bytes` (whole file and data set) and writes them to a temp file unless the
    /// store holds them. Nothing is flushed here.
    pub fn stage(
        &self,
        bytes: &[u8],
        dataset_offset: u64,
        transfer_syntax: &str,
    ) -> std::io::Result<Staged> {
        let write = || -> std::io::Result<TempFile> {
            let mut t = TempFile::create(&self.tmp)?;
            t.write_all(bytes)?;
            t.seal()?;
            Ok(t)
        };
        let dataset = || hash_dataset(bytes, dataset_offset, transfer_syntax);
        if bytes.len() < PARALLEL_STAGE {
            let hash = hash_bytes(bytes);
            let temp = if self.contains(&hash) {
                None
            } else {
                Some(write()?)
            };
            return Ok(Staged {
                hash,
                dataset_hash: dataset(),
                size: bytes.len() as u64,
                temp,
                kept_at: None,
            });
        }
        // A larger file (a received CT slice) is hashed twice and written at once, on three
        // threads: each pass reads every byte, and done one after the other they were most of
        // the receiver's time per instance. A copy the store already holds is written for
        // nothing, and dropped.
        let (hash, dataset_hash, temp) = std::thread::scope(|s| {
            let file_hash = s.spawn(|| hash_bytes(bytes));
            let dataset_hash = s.spawn(dataset);
            let temp = write();
            let hash = file_hash.join().unwrap_or_else(|_| hash_bytes(bytes));
            let dataset_hash = dataset_hash.join().unwrap_or_else(|_| dataset());
            (hash, dataset_hash, temp)
        });
        let temp = if self.contains(&hash) {
            None
        } else {
            Some(temp?)
        };
        Ok(Staged {
            hash,
            dataset_hash,
            size: bytes.len() as u64,
            temp,
            kept_at: None,
        })
    }

    /// Stages a copy of the file at `src` (too large to hold in memory), hashing the bytes as
    /// they are copied so the name always matches the content, even if the file changes
    /// while it is read.
    pub fn stage_file(
        &self,
        src: &Path,
        dataset_offset: u64,
        transfer_syntax: &str,
    ) -> std::io::Result<Staged> {
        self.stage_reader(std::fs::File::open(src)?, dataset_offset, transfer_syntax)
    }

    /// [`BlobStore::stage_file`] from an open reader (positioned at the file's start): the
    /// importer copies through the handle it read the header from, so a file replaced on
    /// disk meanwhile cannot pair one file's header with another's bytes.
    pub fn stage_reader(
        &self,
        mut input: impl Read,
        dataset_offset: u64,
        transfer_syntax: &str,
    ) -> std::io::Result<Staged> {
        let mut t = TempFile::create(&self.tmp)?;
        let mut hasher = blake3::Hasher::new();
        let mut ds = dataset_hasher(transfer_syntax);
        let size = copy_into(&mut input, &mut t, |at, chunk| {
            hasher.update(chunk);
            // The part of this chunk at or after the data set's start.
            let skip = dataset_offset.saturating_sub(at).min(chunk.len() as u64) as usize;
            ds.update(&chunk[skip..]);
        })?;
        t.seal()?;
        let hash = hasher.finalize().to_hex().to_string();
        let present = self.contains(&hash);
        Ok(Staged {
            hash,
            dataset_hash: ds.finalize().to_hex().to_string(),
            size,
            temp: (!present).then_some(t),
            kept_at: None,
        })
    }

    /// Stages a file that stays where it is (a spool entry): hashed in place, linked under its
    /// final name by [`BlobStore::install`].
    pub fn adopt_file(
        &self,
        path: &Path,
        dataset_offset: u64,
        transfer_syntax: &str,
    ) -> std::io::Result<Staged> {
        let mut hasher = blake3::Hasher::new();
        let mut ds = dataset_hasher(transfer_syntax);
        let size = copy_into(
            std::fs::File::open(path)?,
            &mut std::io::sink(),
            |at, chunk| {
                hasher.update(chunk);
                let skip = dataset_offset.saturating_sub(at).min(chunk.len() as u64) as usize;
                ds.update(&chunk[skip..]);
            },
        )?;
        Ok(Staged::spooled(
            self,
            &TempFile::adopt(path),
            hasher.finalize().to_hex().to_string(),
            ds.finalize().to_hex().to_string(),
            size,
        ))
    }

    /// Makes staged files durable under their final names: one flush of every temp file's
    /// data, then the links, then one flush of the new names. Call before committing rows
    /// that reference them. The temp names are removed when the `Staged` values drop.
    pub fn install<'a>(&self, staged: impl IntoIterator<Item = &'a Staged>) -> std::io::Result<()> {
        self.install_with(staged, false)
    }

    /// [`BlobStore::install`]; `data_flushed`: every staged file's data was flushed already
    /// (the receiver's strict durability), so only the new names are.
    pub fn install_with<'a>(
        &self,
        staged: impl IntoIterator<Item = &'a Staged>,
        data_flushed: bool,
    ) -> std::io::Result<()> {
        let temps: Vec<(&TempFile, &str)> = staged
            .into_iter()
            .filter_map(|s| s.temp.as_ref().map(|t| (t, s.hash.as_str())))
            .collect();
        if temps.is_empty() {
            return Ok(());
        }
        if !data_flushed {
            self.flush(temps.iter().map(|(t, _)| t.path()), &[])?;
        }
        let mut folders = BTreeSet::new();
        for (t, hash) in &temps {
            let dest = self.path(hash);
            let folder = dest.parent().unwrap_or(&self.dir).to_path_buf();
            fsutil::create_private_dir(&folder)?;
            t.link_new(&dest)?;
            folders.insert(folder);
        }
        let folders: Vec<PathBuf> = folders.into_iter().collect();
        self.flush(std::iter::empty(), &folders)
    }

    /// Flushes the data of `files` and the entries of `folders`: one syncfs on Linux, one
    /// fsync each elsewhere.
    fn flush<'a>(
        &self,
        files: impl Iterator<Item = &'a Path>,
        folders: &[PathBuf],
    ) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if fsutil::sync_filesystem(&self.dir).is_ok() {
            return Ok(());
        }
        for f in files {
            std::fs::File::open(f)?.sync_all()?;
        }
        for d in folders {
            fsutil::sync_dir(d)?;
        }
        Ok(())
    }

    /// Whether the blob under `hash` holds exactly the bytes its name says.
    pub fn verify_blob(&self, hash: &str) -> std::io::Result<bool> {
        Ok(hash_file(&self.path(hash))? == hash)
    }

    /// Replaces a damaged blob (one that failed [`BlobStore::verify_blob`]) with a fresh copy
    /// staged from its source; the copy must hash to the same name.
    pub fn repair(&self, hash: &str, src: &Path) -> std::io::Result<()> {
        // A fresh copy of the source (not staged: the damaged file holds the name), checked,
        // flushed, then renamed over the damaged one: the name never goes missing, so another
        // process that trusts it meanwhile never finds it gone.
        let mut t = TempFile::create(&self.tmp)?;
        let mut hasher = blake3::Hasher::new();
        copy_into(std::fs::File::open(src)?, &mut t, |_, chunk| {
            hasher.update(chunk);
        })?;
        if hasher.finalize().to_hex().as_str() != hash {
            return Err(std::io::Error::other(format!(
                "{} changed since it was read",
                src.display()
            )));
        }
        t.sync()?;
        t.seal()?;
        let dest = self.path(hash);
        fsutil::create_private_dir(dest.parent().unwrap_or(&self.dir))?;
        t.replace(&dest)?;
        fsutil::sync_dir(dest.parent().unwrap_or(&self.dir))
    }

    /// Makes a blob found under its final name durable (its data and its name): one a crash
    /// left linked but perhaps not flushed, about to be referenced.
    pub fn flush_blob(&self, hash: &str) -> std::io::Result<()> {
        let path = self.path(hash);
        std::fs::File::open(&path)?.sync_all()?;
        fsutil::sync_dir(path.parent().unwrap_or(&self.dir))
    }

    /// Files under the store that are not named by any of `known` hashes (crash leftovers, or
    /// files put there by hand).
    pub fn orphans(
        &self,
        known: &std::collections::HashSet<String>,
    ) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        if !self.dir.exists() {
            return Ok(out);
        }
        for fan in std::fs::read_dir(&self.dir)? {
            let fan = fan?;
            if !fan.file_type()?.is_dir() {
                out.push(fan.path());
                continue;
            }
            for f in std::fs::read_dir(fan.path())? {
                let f = f?;
                let name = f.file_name().to_string_lossy().to_string();
                let hash = name.strip_suffix(".dcm").unwrap_or(&name);
                if !known.contains(hash) {
                    out.push(f.path());
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Copies `input` into `t`, showing each chunk (and its offset) to `seen` on the way.
/// Returns the number of bytes copied.
fn copy_into(
    mut input: impl Read,
    t: &mut impl CopyTarget,
    mut seen: impl FnMut(u64, &[u8]),
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        seen(size, &buf[..n]);
        t.write_all(&buf[..n])?;
        size += n as u64;
    }
}

/// Where [`copy_into`] writes: a temp file, or nowhere (hashing a file in place).
trait CopyTarget {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()>;
}

impl CopyTarget for TempFile {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        TempFile::write_all(self, buf)
    }
}

impl CopyTarget for std::io::Sink {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, buf)
    }
}

/// Store blobs are read-only files; makes one writable (tests damage blobs on purpose).
#[cfg(test)]
fn make_writable(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mut perms = meta.permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            perms.set_mode(0o600);
        }
        #[cfg(not(unix))]
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        let _ = std::fs::set_permissions(path, perms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let s = BlobStore::new(dir.path().join("store"), dir.path().join("tmp"));
        (dir, s)
    }

    #[test]
    fn staged_files_appear_only_when_installed() {
        let (dir, s) = store();
        let a = s.stage(b"abcdef", 2, "1.2").unwrap();
        assert_eq!(a.hash, hash_bytes(b"abcdef"));
        assert_eq!(a.dataset_hash, hash_dataset(b"abcdef", 2, "1.2"));
        assert!(!s.contains(&a.hash));
        s.install([&a]).unwrap();
        assert!(s.contains(&a.hash));
        drop(a);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        // Present already: nothing staged.
        let again = s.stage(b"abcdef", 2, "1.2").unwrap();
        assert!(again.was_present());
    }

    #[test]
    fn streamed_and_in_memory_hashes_agree() {
        let (dir, s) = store();
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let src = dir.path().join("big");
        std::fs::write(&src, &bytes).unwrap();
        let streamed = s.stage_file(&src, 1_500_000, "1.2.840").unwrap();
        assert_eq!(streamed.hash, hash_bytes(&bytes));
        assert_eq!(
            streamed.dataset_hash,
            hash_dataset(&bytes, 1_500_000, "1.2.840")
        );
    }

    #[test]
    fn a_damaged_blob_is_found_and_repaired() {
        let (dir, s) = store();
        let src = dir.path().join("src");
        std::fs::write(&src, b"the real bytes").unwrap();
        let a = s.stage(b"the real bytes", 0, "").unwrap();
        s.install([&a]).unwrap();
        assert!(s.verify_blob(&a.hash).unwrap());
        let dest = s.path(&a.hash);
        make_writable(&dest);
        std::fs::write(&dest, b"the real by").unwrap();
        assert!(!s.verify_blob(&a.hash).unwrap());
        s.repair(&a.hash, &src).unwrap();
        assert!(s.verify_blob(&a.hash).unwrap());
        let known = std::iter::once(a.hash.clone()).collect();
        assert!(s.orphans(&known).unwrap().is_empty());
        assert_eq!(s.orphans(&Default::default()).unwrap().len(), 1);
    }
}
