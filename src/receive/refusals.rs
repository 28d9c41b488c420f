//! Refused associations, counted instead of written one by one: a caller refused 500 times a
//! minute (a misconfigured modality retrying, or a flood) gets one log line when it starts,
//! one summary line, and one database row per minute, not 500 of each. Counted by host and
//! calling AE title, at most a few titles per host and minute: a flood calling with a new
//! title each time lands in one bucket of its host's.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::net::scp::AssociationInfo;
use crate::store::RefusalCount;

/// Calling AE titles counted apart per host and minute; the rest share one bucket.
const TITLES_PER_HOST: usize = 8;

/// What the rest of a host's titles are counted under.
const OTHER_TITLES: &str = "(other AE titles)";

/// One caller in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    minute: i64,
    peer_host: String,
    calling_ae: String,
}

#[derive(Debug, Clone)]
struct Count {
    called_ae: String,
    reason: String,
    /// Not yet written.
    pending: i64,
    /// In all, this minute.
    total: i64,
}

/// The counts, shared by the association threads (which note) and the writer (which takes).
#[derive(Default)]
pub(super) struct Tally {
    counts: Mutex<HashMap<Key, Count>>,
}

fn minute_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 60) as i64)
        .unwrap_or(0)
}

impl Tally {
    /// Notes a refusal. The caller's first this minute is returned, to be logged and written
    /// at once; the rest are counted and written by [`Tally::take`].
    pub(super) fn note(&self, info: &AssociationInfo, why: &str) -> Option<RefusalCount> {
        self.note_at(minute_now(), info, why)
    }

    fn note_at(&self, minute: i64, info: &AssociationInfo, why: &str) -> Option<RefusalCount> {
        let peer_host = crate::store::host_of(&info.peer_address).to_string();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = Key {
            minute,
            peer_host,
            calling_ae: info.calling_ae.clone(),
        };
        if !counts.contains_key(&key) {
            let titles = counts
                .keys()
                .filter(|k| k.minute == minute && k.peer_host == key.peer_host)
                .count();
            if titles >= TITLES_PER_HOST {
                key.calling_ae = OTHER_TITLES.into();
            }
        }
        let count = counts.entry(key.clone()).or_insert_with(|| Count {
            called_ae: info.called_ae.clone(),
            reason: why.to_string(),
            pending: 0,
            total: 0,
        });
        count.total += 1;
        if count.total > 1 {
            count.pending += 1;
            return None;
        }
        Some(RefusalCount {
            minute,
            calling_ae: key.calling_ae,
            called_ae: count.called_ae.clone(),
            peer_host: key.peer_host,
            reason: count.reason.clone(),
            count: 1,
        })
    }

    /// The counts not yet written; a finished minute of a caller refused more than once is
    /// summed up in the log.
    pub(super) fn take(&self) -> Vec<RefusalCount> {
        self.take_at(minute_now())
    }

    fn take_at(&self, now: i64) -> Vec<RefusalCount> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (key, count) in counts.iter_mut() {
            if count.pending > 0 {
                out.push(RefusalCount {
                    minute: key.minute,
                    calling_ae: key.calling_ae.clone(),
                    called_ae: count.called_ae.clone(),
                    peer_host: key.peer_host.clone(),
                    reason: count.reason.clone(),
                    count: count.pending,
                });
                count.pending = 0;
            }
        }
        counts.retain(|key, count| {
            let done = key.minute < now;
            if done && count.total > 1 {
                tracing::warn!(
                    "{} associations from {} ({}) refused in that minute: {}",
                    count.total,
                    key.peer_host,
                    key.calling_ae,
                    count.reason
                );
            }
            !done
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_one_row_a_minute() {
        let tally = Tally::default();
        let info = AssociationInfo {
            calling_ae: "FLOOD".into(),
            peer_address: "10.1.2.3:4000".into(),
            ..AssociationInfo::default()
        };
        let first = tally.note_at(100, &info, "calling AE title not recognised");
        assert_eq!(
            first.map(|f| (f.count, f.peer_host)),
            Some((1, "10.1.2.3".to_string()))
        );
        for _ in 0..499 {
            assert!(
                tally
                    .note_at(100, &info, "calling AE title not recognised")
                    .is_none()
            );
        }
        let rows = tally.take_at(100);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].calling_ae.as_str(), rows[0].count), ("FLOOD", 499));
        // A new title each time: seven more counted apart (each first one written at once),
        // the rest in one bucket of the host's.
        for i in 0..100 {
            let other = AssociationInfo {
                calling_ae: format!("FLOOD{i}"),
                ..info.clone()
            };
            let _ = tally.note_at(100, &other, "calling AE title not recognised");
        }
        let rows = tally.take_at(100);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].calling_ae, OTHER_TITLES);
        assert_eq!(rows[0].count, 100 - (TITLES_PER_HOST as i64 - 1) - 1);
        // Nothing new: nothing to write; a new minute starts over.
        assert!(tally.take_at(100).is_empty());
        assert!(tally.note_at(101, &info, "again").is_some());
        assert!(tally.take_at(102).is_empty());
        assert!(tally.counts.lock().unwrap().is_empty());
    }
}
