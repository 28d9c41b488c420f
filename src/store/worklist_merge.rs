//! Merging a source's listing into the worklist cache, in two steps: a [`MergePlan`] sorts
//! each item received into new, changed or unchanged by its key and content digest (a sync
//! builds it while the answers still arrive), then [`Store::apply_merge`] writes it in short
//! transactions, reclassifying only the studies whose accession a written item carries.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::params;

use super::worklist::{BATCH, SyncCounts, SyncScope, insert, studies_with};

/// Items inserted or updated per transaction: each commit is a flush; 2,000 rows hold the
/// write lock some tens of milliseconds.
const WRITE_BATCH: usize = 2000;
use super::{Store, StoreError};
use crate::fsutil;
use crate::model::WorklistItem;

/// A digest of what an item says (times, source and vanishing aside): a sync compares every
/// item it received with the cache by this, without reading the cached items whole.
pub(super) fn content_hash(i: &WorklistItem) -> String {
    let mut h = blake3::Hasher::new();
    for f in [
        &i.accession,
        &i.issuer_of_accession,
        &i.requested_procedure_id,
        &i.sps_id,
        &i.patient_name,
        &i.patient_id,
        &i.issuer_of_patient_id,
        &i.birth_date,
        &i.sex,
        &i.modality,
        &i.station_ae,
        &i.scheduled_at,
        &i.procedure,
        &i.study_instance_uid,
        &i.other_patient_ids,
        &i.procedure_code,
        &i.referring_physician,
        &i.requesting_physician,
        &i.admission_id,
        &i.step_description,
        &i.protocol_code,
    ] {
        h.update(f.as_bytes());
        h.update(&[0x1f]);
    }
    h.finalize().to_hex()[..32].to_string()
}

/// What a merge needs of a cached item.
pub(super) struct Stored {
    hash: String,
    vanished: bool,
    /// Accession, scheduled time, modality and station (what a sync scope looks at).
    probe: WorklistItem,
}

/// What a listing changes in the cache.
pub struct MergePlan {
    source: String,
    existing: HashMap<String, Stored>,
    received: HashSet<String>,
    /// New or changed items, with their digest and the accession they had.
    writes: Vec<(WorklistItem, String, Option<String>)>,
    seen: Vec<String>,
    counts: SyncCounts,
}

impl MergePlan {
    /// Sorts one received item in (a key received twice: the later one is written).
    pub fn add(&mut self, item: WorklistItem) {
        self.counts.received += 1;
        let key = item.key();
        let hash = content_hash(&item);
        let again = !self.received.insert(key.clone());
        let old = self.existing.get(&key);
        match old {
            _ if again => {}
            None => self.counts.new += 1,
            Some(o) if o.vanished || o.hash != hash => self.counts.changed += 1,
            Some(_) => {
                self.counts.unchanged += 1;
                self.seen.push(key);
                return;
            }
        }
        let old_accession = old.map(|o| o.probe.accession.trim().to_string());
        self.writes.push((item, hash, old_accession));
    }

    /// The counts so far.
    pub fn counts(&self) -> SyncCounts {
        self.counts
    }
}

impl Store {
    /// A plan for merging a listing of `source`: what the cache holds of it now.
    pub fn merge_plan(&self, source: &str) -> Result<MergePlan, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT item_key, content_hash, vanished_at IS NOT NULL, accession, scheduled_at,
                    modality, station_ae
             FROM worklist WHERE source = ?1",
        )?;
        let rows = stmt.query_map([source], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Stored {
                    hash: r.get(1)?,
                    vanished: r.get(2)?,
                    probe: WorklistItem {
                        accession: r.get(3)?,
                        scheduled_at: r.get(4)?,
                        modality: r.get(5)?,
                        station_ae: r.get(6)?,
                        ..WorklistItem::default()
                    },
                },
            ))
        })?;
        Ok(MergePlan {
            source: source.to_string(),
            existing: rows.collect::<Result<_, _>>()?,
            received: HashSet::new(),
            writes: Vec::new(),
            seen: Vec::new(),
            counts: SyncCounts::default(),
        })
    }

    /// Merges what `source` listed into the cache: new items inserted, changed ones updated,
    /// all marked seen now. With `complete` (a full answer for that scope), items of the
    /// source in scope that the answer lacks are marked vanished. Only the studies whose
    /// accession a new, changed or vanished item carries are classified again.
    pub fn merge_worklist(
        &mut self,
        source: &str,
        items: &[WorklistItem],
        complete: Option<&SyncScope>,
    ) -> Result<SyncCounts, StoreError> {
        let mut plan = self.merge_plan(source)?;
        for i in items {
            plan.add(i.clone());
        }
        self.apply_merge(plan, complete)
    }

    /// Writes a plan (see [`Store::merge_worklist`]).
    pub fn apply_merge(
        &mut self,
        plan: MergePlan,
        complete: Option<&SyncScope>,
    ) -> Result<SyncCounts, StoreError> {
        let (now, _) = fsutil::now();
        let MergePlan {
            source,
            existing,
            received,
            writes,
            seen,
            mut counts,
        } = plan;
        let vanished: Vec<(&String, &WorklistItem)> = match complete {
            Some(scope) => existing
                .iter()
                .filter(|(k, old)| {
                    !old.vanished && !received.contains(*k) && scope.covers(&old.probe)
                })
                .map(|(k, old)| (k, &old.probe))
                .collect(),
            None => Vec::new(),
        };
        counts.vanished = vanished.len();
        let why = format!("no longer listed by {source} (sync of {now})");
        let rules = self.rules.clone();
        let mut reclassified = 0usize;
        for chunk in writes.chunks(WRITE_BATCH) {
            reclassified += self.in_transaction(|tx| {
                let mut accessions = BTreeSet::new();
                for (item, hash, old_accession) in chunk {
                    insert(tx, &source, item, hash, &now)?;
                    accessions.insert(item.accession.trim().to_string());
                    // A changed accession concerns the studies of the old one too.
                    if let Some(old) = old_accession {
                        accessions.insert(old.clone());
                    }
                }
                let ids = studies_with(tx, &accessions)?;
                super::classify::reclassify(tx, &ids, &rules)?;
                Ok(ids.len())
            })?;
        }
        for chunk in seen.chunks(WRITE_BATCH * 5) {
            // One statement over a temp table of keys: a per-row UPDATE costs most of an
            // unchanged sync's merge.
            self.in_transaction(|tx| {
                tx.execute_batch(
                    "CREATE TEMP TABLE IF NOT EXISTS seen_keys (k TEXT PRIMARY KEY);
                     DELETE FROM temp.seen_keys;",
                )?;
                let mut ins =
                    tx.prepare_cached("INSERT OR IGNORE INTO temp.seen_keys (k) VALUES (?1)")?;
                for key in chunk {
                    ins.execute([key])?;
                }
                tx.execute(
                    "UPDATE worklist SET last_seen = ?1
                     WHERE source = ?2 AND item_key IN (SELECT k FROM temp.seen_keys)",
                    params![now, source],
                )?;
                Ok(())
            })?;
        }
        for chunk in vanished.chunks(BATCH) {
            reclassified += self.in_transaction(|tx| {
                let mut stmt = tx.prepare_cached(
                    "UPDATE worklist SET vanished_at = ?1, vanished_why = ?2
                     WHERE source = ?3 AND item_key = ?4",
                )?;
                let mut accessions = BTreeSet::new();
                for (key, old) in chunk {
                    stmt.execute(params![now, why, source, key])?;
                    accessions.insert(old.accession.trim().to_string());
                }
                drop(stmt);
                let ids = studies_with(tx, &accessions)?;
                super::classify::reclassify(tx, &ids, &rules)?;
                Ok(ids.len())
            })?;
        }
        counts.studies_reclassified = reclassified;
        Ok(counts)
    }
}
