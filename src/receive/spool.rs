//! The receiver's spool: where a C-STORE's data set is written as it arrives (hashed on the
//! way, never held whole in memory), and where an accepted instance stays until its record is
//! written.
//!
//! Names: `<pid>-<n>.part` while arriving (a dead process's are removed on start: they were
//! never acknowledged); `<pid>-<n>.a<association>.t<unix ms>.dcm` once accepted, just before it
//! is answered (the association and the arrival time are its receipt's). An accepted file
//! outlives any failure to record it (a full disk, a locked database, a crash): the writer
//! retries, and the next receiver to start on the workspace records what a dead process left,
//! each as the receipt it would have been.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::dicom::read_header;
use crate::fsutil::TempFile;
use crate::net::scp::{Answer, AssociationInfo, StoreSink, StoreStart};
use crate::store::{Comparison, FileRecord, NetworkOrigin, Store, StoreError};

use super::Durability;
use super::flusher::Flusher;
use super::judge::{Accepted, Judge};

/// What every sink of one receiver shares.
pub(super) struct Spool {
    pub dir: PathBuf,
    pub durability: Durability,
    pub flusher: Flusher,
    /// Takes each accepted instance after Success: hashes, comparison, the writer.
    pub judge: Judge,
}

/// The largest instance accepted (what the disk can hold decides before that).
const MAX_INSTANCE: u64 = 8 << 30;

/// One C-STORE arriving into the spool.
pub(super) struct SpoolSink<'h> {
    spool: &'h Spool,
    info: &'h AssociationInfo,
    start: StoreStart,
    temp: Option<TempFile>,
    size: u64,
    dataset_offset: u64,
    /// Why the instance cannot be kept (the rest of its data set is still read, and dropped).
    failed: Option<Answer>,
}

impl<'h> SpoolSink<'h> {
    pub(super) fn open(spool: &'h Spool, info: &'h AssociationInfo, start: &StoreStart) -> Self {
        let mut sink = SpoolSink {
            spool,
            info,
            start: start.clone(),
            temp: None,
            size: 0,
            dataset_offset: 0,
            failed: None,
        };
        let head = crate::dicom::part10::file_head(
            &start.sop_class,
            &start.sop_instance,
            &start.transfer_syntax,
            &info.calling_ae,
            0,
        );
        match head {
            Ok(head) => match TempFile::create(&spool.dir) {
                Ok(temp) => {
                    sink.temp = Some(temp);
                    sink.dataset_offset = head.len() as u64;
                    sink.append(&head);
                }
                Err(e) => sink.fail(0xA700, format!("not stored: cannot write: {e}")),
            },
            Err(why) => sink.fail(0xA900, format!("not stored: {why}")),
        }
        sink
    }

    fn fail(&mut self, status: u16, comment: String) {
        if self.failed.is_none() {
            self.failed = Some(Answer::status(status, comment));
        }
        // The partial file goes now.
        self.temp = None;
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.size += bytes.len() as u64;
        if self.size > MAX_INSTANCE {
            self.fail(
                0xA700,
                format!("not stored: larger than {} GiB", MAX_INSTANCE >> 30),
            );
            return;
        }
        let written = match &mut self.temp {
            Some(t) => t.write_all(bytes),
            None => return,
        };
        if let Err(e) = written {
            self.fail(0xA700, format!("not stored: cannot write: {e}"));
        }
    }
}

impl StoreSink for SpoolSink<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.append(bytes);
    }

    fn overflowed(&self) -> bool {
        self.size > MAX_INSTANCE
    }

    fn finish(mut self: Box<Self>) -> Answer {
        if let Some(answer) = self.failed.take() {
            return answer;
        }
        let Some(mut temp) = self.temp.take() else {
            return Answer::status(0xA700, "not stored: nothing was written");
        };
        if let Err(e) = temp.seal() {
            return Answer::status(0xA700, format!("not stored: cannot write: {e}"));
        }
        let size = self.size;
        let outcome = std::fs::File::open(temp.path())
            .map_err(|e| e.to_string())
            .and_then(|f| read_header(&mut BufReader::new(f), size).map_err(|e| e.to_string()));
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return Answer::status(0xC000, format!("cannot read the data set: {e}")),
        };
        if let Some(why) = outcome.refusal() {
            return Answer::status(0xA900, format!("unreadable data set: {why}"));
        }
        // Accepted: renamed to its spool name, which carries its receipt.
        let (now, _) = crate::fsutil::now();
        let accepted = accepted_name(temp.path(), self.info.id, unix_ms());
        let temp = match temp.persist(&accepted) {
            Ok(t) => t,
            Err(e) => return Answer::status(0xA700, format!("not stored: cannot write: {e}")),
        };
        let flushed = self.spool.durability == Durability::Strict;
        if flushed && let Err(why) = self.spool.flusher.flush(temp.path()) {
            // Not answered Success, so not kept: the sender will send it again.
            let _ = temp.discard();
            return Answer::status(0xA700, format!("not stored: cannot flush: {why}"));
        }
        // From here the instance is the spool's: whatever becomes of its record (written
        // soon, retried, or recovered by the next start), it is not lost.
        self.spool.judge.take(Accepted {
            file: temp,
            dataset_offset: self.dataset_offset,
            outcome,
            network: NetworkOrigin {
                calling_ae: self.info.calling_ae.clone(),
                called_ae: self.info.called_ae.clone(),
                peer_address: self.info.peer_address.clone(),
                association_id: self.info.id,
            },
            original_path: format!(
                "dicom://{}@{}/{}",
                self.info.calling_ae,
                self.info.peer_address,
                crate::text::printable_short(&self.start.sop_instance, 128)
            ),
            received_at: now,
            flushed,
        });
        Answer::success()
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `<pid>-<n>.part` → `<pid>-<n>.a<association>.t<unix ms>.dcm`.
fn accepted_name(part: &Path, association: Option<i64>, ms: i64) -> PathBuf {
    let stem = part
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    part.with_file_name(format!("{stem}.a{}.t{ms}.dcm", association.unwrap_or(0)))
}

/// What an accepted spool entry's name says: the writing process, its association, when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntryName {
    pid: u32,
    association: Option<i64>,
    ms: i64,
}

fn parse_name(name: &str) -> Option<EntryName> {
    let stem = name.strip_suffix(".dcm")?;
    let mut parts = stem.split('.');
    let pid = parts.next()?.split('-').next()?.parse().ok()?;
    let association = parts.next()?.strip_prefix('a')?.parse::<i64>().ok()?;
    let ms = parts.next()?.strip_prefix('t')?.parse().ok()?;
    Some(EntryName {
        pid,
        association: (association > 0).then_some(association),
        ms,
    })
}

/// Whether the process that wrote a spool entry is gone. Recovery runs before this receiver
/// writes anything, so an entry under this process's own id is a former run's (a process id
/// is reused across reboots, or the desk started a receiver before).
fn dead(pid: u32) -> bool {
    pid == std::process::id() || crate::workspace::process_alive(pid) == Some(false)
}

/// What a start found in the spool.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Accepted instances recorded now.
    pub recorded: usize,
    /// Partial arrivals removed (never acknowledged).
    pub removed: usize,
}

/// Records what dead processes left accepted in the spool and removes their partial
/// arrivals. Entries of live processes (another receiver on this workspace) are theirs. A
/// batch that cannot be recorded is tried one entry at a time; an entry that still fails
/// stays where it is, said loudly, and the receiver starts anyway.
pub fn recover(store: &mut Store, dir: &Path) -> Result<Recovered, StoreError> {
    let mut found = Recovered::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(found);
    };
    let mut accepted: Vec<(PathBuf, EntryName)> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".part") {
            let pid = stem.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(dead) && std::fs::remove_file(e.path()).is_ok() {
                found.removed += 1;
            }
        } else if let Some(n) = parse_name(&name)
            && dead(n.pid)
        {
            accepted.push((e.path(), n));
        }
    }
    accepted.sort_by_key(|(_, n)| n.ms);
    for chunk in accepted.chunks(256) {
        let mut records = Vec::new();
        let mut files = Vec::new();
        for (path, name) in chunk {
            match recovered_record(store, path, name) {
                Ok(record) => {
                    records.push(record);
                    files.push(TempFile::adopt(path));
                }
                // Kept where it is, for someone to look at; said loudly.
                Err(why) => {
                    tracing::error!("cannot recover {} from the spool: {why}", path.display())
                }
            }
        }
        match store.record_batch(&records, &[]) {
            Ok(_) => {
                found.recorded += records.len();
                drop(records);
                for f in files {
                    let _ = f.discard();
                }
            }
            Err(e) => {
                tracing::warn!("cannot record a batch from the spool ({e}); one at a time");
                drop(records);
                for (f, (path, name)) in files.into_iter().zip(chunk) {
                    let one = recovered_record(store, path, name)
                        .map_err(|e| StoreError::Io(std::io::Error::other(e)));
                    match one.and_then(|r| store.record_batch(std::slice::from_ref(&r), &[])) {
                        Ok(_) => {
                            found.recorded += 1;
                            let _ = f.discard();
                        }
                        Err(e) => tracing::error!(
                            "cannot record {} from the spool: {e}; it stays there",
                            path.display()
                        ),
                    }
                }
            }
        }
    }
    if found.recorded > 0 {
        tracing::warn!(
            "{} received instances left unrecorded by an earlier receiver were recorded from the spool",
            found.recorded
        );
    }
    Ok(found)
}

/// A spool entry left by a dead process, read again as the record it would have been.
fn recovered_record(store: &Store, path: &Path, name: &EntryName) -> Result<FileRecord, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    let outcome = std::fs::File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| read_header(&mut BufReader::new(f), size).map_err(|e| e.to_string()))?;
    let staged = store
        .blobs()
        .adopt_file(
            path,
            outcome.dataset_offset,
            &outcome.header.transfer_syntax,
        )
        .map_err(|e| e.to_string())?;
    let origin = match name.association {
        Some(id) => store.association_origin(id).map_err(|e| e.to_string())?,
        None => None,
    };
    let (calling_ae, called_ae, peer_address) = origin.unwrap_or_else(|| {
        (
            outcome.header.source_ae.clone(),
            String::new(),
            String::new(),
        )
    });
    let received_at =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(name.ms) * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
    Ok(FileRecord {
        staged,
        dataset_offset: outcome.dataset_offset,
        original_path: format!(
            "dicom://{calling_ae}@{peer_address}/{}",
            outcome.header.sop_instance_uid
        ),
        source: calling_ae.clone(),
        source_kind: crate::model::SourceKind::Network,
        network: Some(NetworkOrigin {
            calling_ae,
            called_ae,
            peer_address,
            association_id: name.association,
        }),
        header: outcome.header,
        faults: outcome.faults,
        received_at,
        compare: Comparison::Inline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_names_carry_the_receipt() {
        let part = Path::new("/w/spool/4242-7.part");
        let accepted = accepted_name(part, Some(31), 1_700_000_000_123);
        assert_eq!(
            accepted,
            Path::new("/w/spool/4242-7.a31.t1700000000123.dcm")
        );
        let name = accepted.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(
            parse_name(&name),
            Some(EntryName {
                pid: 4242,
                association: Some(31),
                ms: 1_700_000_000_123
            })
        );
        let none = accepted_name(part, None, 5);
        let name = none.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(parse_name(&name).unwrap().association, None);
        assert_eq!(parse_name("4242-7.part"), None);
    }
}
