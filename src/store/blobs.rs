//! The content-addressed file store: immutable files named by their BLAKE3 hash.
//! A file under its final name is always complete (temp + fsync + rename), so a blob that
//! exists never needs rewriting, even after a crash.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::fsutil;

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

/// Handle to the blob folder; cheap to clone and share between worker threads.
#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
    /// Fan-out folders that received renames since the last [`BlobStore::sync`].
    touched: Mutex<BTreeSet<PathBuf>>,
}

impl BlobStore {
    pub fn new(dir: PathBuf, tmp: PathBuf) -> BlobStore {
        BlobStore {
            dir,
            tmp,
            touched: Mutex::new(BTreeSet::new()),
        }
    }

    /// Where the blob with this hash lives.
    pub fn path(&self, hash: &str) -> PathBuf {
        let fan = hash.get(0..2).unwrap_or("xx");
        self.dir.join(fan).join(format!("{hash}.dcm"))
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.path(hash).is_file()
    }

    /// Stores `bytes` under `hash` unless already present. Returns whether it wrote.
    pub fn put(&self, hash: &str, bytes: &[u8]) -> std::io::Result<bool> {
        let dest = self.path(hash);
        self.note_folder(&dest);
        if dest.is_file() {
            return Ok(false);
        }
        self.make_folder(&dest)?;
        let mut t = fsutil::TempFile::create(&self.tmp)?;
        t.write_all(bytes)?;
        t.finish(true)?;
        t.install_new(&dest)
    }

    /// Stores a copy of the file at `src`, hashing the bytes as they are copied, so the name
    /// always matches the content even if the file changes while it is read. Returns the
    /// hash and the number of bytes stored.
    pub fn put_file(&self, src: &Path) -> std::io::Result<(String, u64)> {
        let mut input = std::fs::File::open(src)?;
        let mut t = fsutil::TempFile::create(&self.tmp)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            t.write_all(&buf[..n])?;
            size += n as u64;
        }
        t.finish(true)?;
        let hash = hasher.finalize().to_hex().to_string();
        let dest = self.path(&hash);
        self.note_folder(&dest);
        self.make_folder(&dest)?;
        t.install_new(&dest)?;
        Ok((hash, size))
    }

    fn make_folder(&self, dest: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dest.parent().unwrap_or(&self.dir))
    }

    /// Remembers the blob's folder for the next [`BlobStore::sync`], also when the blob was
    /// there already: a killed process may have renamed it in without the entry reaching disk.
    fn note_folder(&self, dest: &Path) {
        if let Ok(mut t) = self.touched.lock() {
            t.insert(dest.parent().unwrap_or(&self.dir).to_path_buf());
        }
    }

    /// Makes the renames since the last call durable. Call before committing rows that
    /// reference the new blobs.
    pub fn sync(&self) -> std::io::Result<()> {
        let dirs = match self.touched.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => BTreeSet::new(),
        };
        if dirs.is_empty() {
            return Ok(());
        }
        // A batch touches up to 256 fan-out folders: one syncfs is far cheaper than 256 fsyncs.
        #[cfg(target_os = "linux")]
        if fsutil::sync_filesystem(&self.dir).is_ok() {
            return Ok(());
        }
        for d in dirs {
            fsutil::sync_dir(&d)?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
