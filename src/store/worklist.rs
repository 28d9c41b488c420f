//! The worklist cache: orders from the RIS (Modality Worklist sync), CSV and HL7 files, and
//! the demo, one row per (source, item key). Items are upserted, never deleted: an item its
//! source stops listing is marked vanished with the time and the reason, so a study matched
//! to an order the RIS later dropped (a performed step leaves the worklist) stays explained.
//!
//! Writes go in short transactions of a few hundred items, each reclassifying only the
//! studies whose accession the changed items carry: a sync never holds the write lock long
//! enough to stall an import or a receive.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{Transaction, params};

use super::orders::{COLUMNS, item_from_row};
use super::{Store, StoreError};
use crate::fsutil;
use crate::model::WorklistItem;

/// Items written per transaction.
const BATCH: usize = 500;

/// Which items a complete answer of a source covers: those it lacks are vanished.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncScope {
    /// Scheduled date range, YYYYMMDD, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub modality: Option<String>,
    pub station: Option<String>,
}

impl SyncScope {
    /// Whether the query this scope describes would have listed `item`.
    pub fn covers(&self, item: &WorklistItem) -> bool {
        let date = item.scheduled_date();
        if let Some(from) = &self.from
            && (date.is_empty() || date < from.as_str())
        {
            return false;
        }
        if let Some(to) = &self.to
            && (date.is_empty() || date > to.as_str())
        {
            return false;
        }
        if let Some(m) = &self.modality
            && !item.modality.eq_ignore_ascii_case(m)
        {
            return false;
        }
        if let Some(s) = &self.station
            && item.station_ae != *s
        {
            return false;
        }
        true
    }
}

/// What a merge changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncCounts {
    pub received: usize,
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub vanished: usize,
    /// Studies classified again because an order with their accession changed.
    pub studies_reclassified: usize,
}

/// One sync of a source, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncRecord {
    pub source: String,
    pub started_at: String,
    pub finished_at: String,
    pub ok: bool,
    pub received: usize,
    pub new: usize,
    pub changed: usize,
    pub vanished: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

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
struct Stored {
    hash: String,
    vanished: bool,
    /// Accession, scheduled time, modality and station (what a sync scope looks at).
    probe: WorklistItem,
}

const WRITE_COLUMNS: &str = "item_key, accession, issuer_of_accession, requested_procedure_id, sps_id, \
     patient_name, patient_id, issuer_of_patient_id, birth_date, sex, modality, station_ae, \
     scheduled_at, procedure, study_uid, source, other_patient_ids, procedure_code, \
     referring_physician, requesting_physician, admission_id, step_description, protocol_code, \
     first_seen, last_seen, content_hash";

fn insert(tx: &Transaction<'_>, source: &str, i: &WorklistItem, now: &str) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO worklist ({WRITE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
           ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?24, ?25)
         ON CONFLICT(source, item_key) DO UPDATE SET
           accession = excluded.accession, issuer_of_accession = excluded.issuer_of_accession,
           requested_procedure_id = excluded.requested_procedure_id, sps_id = excluded.sps_id,
           patient_name = excluded.patient_name, patient_id = excluded.patient_id,
           issuer_of_patient_id = excluded.issuer_of_patient_id, birth_date = excluded.birth_date,
           sex = excluded.sex, modality = excluded.modality, station_ae = excluded.station_ae,
           scheduled_at = excluded.scheduled_at, procedure = excluded.procedure,
           study_uid = excluded.study_uid, other_patient_ids = excluded.other_patient_ids,
           procedure_code = excluded.procedure_code,
           referring_physician = excluded.referring_physician,
           requesting_physician = excluded.requesting_physician,
           admission_id = excluded.admission_id, step_description = excluded.step_description,
           protocol_code = excluded.protocol_code, last_seen = excluded.last_seen,
           content_hash = excluded.content_hash,
           vanished_at = NULL, vanished_why = ''"
    ))?;
    stmt.execute(params![
        i.key(),
        i.accession.trim(),
        i.issuer_of_accession,
        i.requested_procedure_id,
        i.sps_id,
        i.patient_name,
        i.patient_id,
        i.issuer_of_patient_id,
        i.birth_date,
        i.sex,
        i.modality,
        i.station_ae,
        i.scheduled_at,
        i.procedure,
        i.study_instance_uid,
        source,
        i.other_patient_ids,
        i.procedure_code,
        i.referring_physician,
        i.requesting_physician,
        i.admission_id,
        i.step_description,
        i.protocol_code,
        now,
        content_hash(i)
    ])?;
    Ok(())
}

/// Studies whose accession is one of `accessions`.
fn studies_with(tx: &Transaction<'_>, accessions: &BTreeSet<String>) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached("SELECT id FROM studies WHERE accession = ?1")?;
    let mut ids = Vec::new();
    for acc in accessions.iter().filter(|a| !a.is_empty()) {
        let rows = stmt.query_map([acc], |r| r.get(0))?;
        for r in rows {
            ids.push(r?);
        }
    }
    Ok(ids)
}

impl Store {
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
        let (now, _) = fsutil::now();
        let existing = self.stored_of(source)?;
        let mut by_key: HashMap<String, &WorklistItem> = HashMap::new();
        for i in items {
            by_key.insert(i.key(), i);
        }
        let mut counts = SyncCounts {
            received: items.len(),
            ..SyncCounts::default()
        };
        // Items to write (new or changed), and the keys merely seen again.
        let mut writes: Vec<&WorklistItem> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut keys: Vec<&String> = by_key.keys().collect();
        keys.sort();
        for key in keys {
            let item = by_key[key];
            match existing.get(key) {
                None => {
                    counts.new += 1;
                    writes.push(item);
                }
                Some(old) if old.vanished || old.hash != content_hash(item) => {
                    counts.changed += 1;
                    writes.push(item);
                }
                Some(_) => {
                    counts.unchanged += 1;
                    seen.push(key.clone());
                }
            }
        }
        let vanished: Vec<(&String, &WorklistItem)> = match complete {
            Some(scope) => existing
                .iter()
                .filter(|(k, old)| {
                    !old.vanished && !by_key.contains_key(*k) && scope.covers(&old.probe)
                })
                .map(|(k, old)| (k, &old.probe))
                .collect(),
            None => Vec::new(),
        };
        counts.vanished = vanished.len();
        let why = format!("no longer listed by {source} (sync of {now})");
        let rules = self.rules.clone();
        let mut reclassified = 0usize;
        for chunk in writes.chunks(BATCH) {
            reclassified += self.in_transaction(|tx| {
                let mut accessions = BTreeSet::new();
                for item in chunk {
                    insert(tx, source, item, &now)?;
                    accessions.insert(item.accession.trim().to_string());
                    // A changed accession untouches the studies of the old one too.
                    if let Some(old) = existing.get(&item.key()) {
                        accessions.insert(old.probe.accession.trim().to_string());
                    }
                }
                let ids = studies_with(tx, &accessions)?;
                super::classify::reclassify(tx, &ids, &rules)?;
                Ok(ids.len())
            })?;
        }
        for chunk in seen.chunks(BATCH * 4) {
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

    /// Marks items of `source` vanished (an HL7 cancel), with the reason; returns how many
    /// were listed until now.
    pub fn vanish_worklist_items(
        &mut self,
        source: &str,
        keys: &[String],
        why: &str,
    ) -> Result<usize, StoreError> {
        let (now, _) = fsutil::now();
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            let mut n = 0;
            let mut accessions = BTreeSet::new();
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE worklist SET vanished_at = ?1, vanished_why = ?2
                     WHERE source = ?3 AND item_key = ?4 AND vanished_at IS NULL
                     RETURNING accession",
                )?;
                for key in keys {
                    let rows = stmt.query_map(params![now, why, source, key], |r| r.get(0))?;
                    for acc in rows {
                        accessions.insert(acc?);
                        n += 1;
                    }
                }
            }
            let ids = studies_with(tx, &accessions)?;
            super::classify::reclassify(tx, &ids, &rules)?;
            Ok(n)
        })
    }

    /// Replaces every order of `source` with `items` and reclassifies every study (the demo's
    /// initial cache).
    pub fn replace_worklist(
        &mut self,
        source: &str,
        items: &[WorklistItem],
    ) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            tx.execute("DELETE FROM worklist WHERE source = ?1", [source])?;
            for i in items {
                insert(tx, source, i, &now)?;
            }
            super::classify::reclassify_all(tx, &rules)
        })
    }

    /// What a merge needs of the items of one source, by key.
    fn stored_of(&self, source: &str) -> Result<HashMap<String, Stored>, StoreError> {
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
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every order in the cache, vanished ones included.
    pub fn worklist(&self) -> Result<Vec<WorklistItem>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM worklist ORDER BY scheduled_at, accession, sps_id"
        ))?;
        let rows = stmt.query_map([], item_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a sync attempt (successful or not).
    pub fn record_sync(&mut self, r: &SyncRecord) -> Result<(), StoreError> {
        self.in_transaction(|tx| {
            tx.execute(
                "INSERT INTO worklist_syncs (source, started_at, finished_at, ok, received, new,
                   changed, vanished, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.source,
                    r.started_at,
                    r.finished_at,
                    r.ok,
                    r.received as i64,
                    r.new as i64,
                    r.changed as i64,
                    r.vanished as i64,
                    r.error
                ],
            )?;
            Ok(())
        })
    }

    /// The latest sync attempt of each source, newest first.
    pub fn last_syncs(&self) -> Result<Vec<SyncRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT source, started_at, finished_at, ok, received, new, changed, vanished, error
             FROM worklist_syncs WHERE id IN (SELECT MAX(id) FROM worklist_syncs GROUP BY source)
             ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SyncRecord {
                source: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                ok: r.get(3)?,
                received: r.get::<_, i64>(4)? as usize,
                new: r.get::<_, i64>(5)? as usize,
                changed: r.get::<_, i64>(6)? as usize,
                vanished: r.get::<_, i64>(7)? as usize,
                error: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When `source` last synced successfully.
    pub fn last_good_sync(&self, source: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT finished_at FROM worklist_syncs WHERE source = ?1 AND ok = 1
                 ORDER BY id DESC LIMIT 1",
                [source],
                |r| r.get(0),
            )
            .optional()?)
    }
}
