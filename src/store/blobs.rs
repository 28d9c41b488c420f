//! The content-addressed file store: immutable files named by their BLAKE3 hash.
//! A file under its final name is always complete (temp + fsync + rename), so a blob that
//! exists never needs rewriting, even after a crash.

use std::collections::BTreeSet;
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
        self.put_with(hash, |tmp, dest| {
            fsutil::write_atomic_readonly(tmp, dest, bytes)
        })
    }

    /// Stores a copy of the file at `src` (already hashed to `hash`) unless present.
    pub fn put_file(&self, hash: &str, src: &Path) -> std::io::Result<bool> {
        self.put_with(hash, |tmp, dest| {
            fsutil::copy_atomic_readonly(tmp, src, dest)
        })
    }

    fn put_with(
        &self,
        hash: &str,
        write: impl FnOnce(&Path, &Path) -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        let dest = self.path(hash);
        if dest.is_file() {
            return Ok(false);
        }
        let parent = dest.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&parent)?;
        write(&self.tmp, &dest)?;
        if let Ok(mut t) = self.touched.lock() {
            t.insert(parent);
        }
        Ok(true)
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
