//! The worklist cache: orders from the RIS (Modality Worklist sync), CSV and HL7 files, and
//! the demo, one row per (source, item key). Items are upserted, never deleted: an item its
//! source stops listing is marked vanished with the time and the reason, so a study matched
//! to an order the RIS later dropped (a performed step leaves the worklist) stays explained.
//!
//! Writes go in short transactions of a few hundred items, each reclassifying only the
//! studies whose accession the changed items carry: a sync never holds the write lock long
//! enough to stall an import or a receive.

use std::collections::BTreeSet;

use rusqlite::{Transaction, params};

use super::orders::{COLUMNS, item_from_row};
use super::{Store, StoreError};
use crate::fsutil;
use crate::model::WorklistItem;

/// Items written per transaction.
pub(super) const BATCH: usize = 500;

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
        // As the RIS matches: exactly (DICOM matching is case-sensitive).
        if let Some(m) = &self.modality
            && item.modality != *m
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

impl SyncCounts {
    /// Adds the counts of another merge (a file merged in parts).
    pub fn add(&mut self, o: SyncCounts) {
        self.received += o.received;
        self.new += o.new;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.vanished += o.vanished;
        self.studies_reclassified += o.studies_reclassified;
    }
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

const WRITE_COLUMNS: &str = "item_key, accession, issuer_of_accession, requested_procedure_id, sps_id, \
     patient_name, patient_id, issuer_of_patient_id, birth_date, sex, modality, station_ae, \
     scheduled_at, procedure, study_uid, source, other_patient_ids, procedure_code, \
     referring_physician, requesting_physician, admission_id, step_description, protocol_code, \
     first_seen, last_seen, content_hash";

pub(super) fn insert(
    tx: &Transaction<'_>,
    source: &str,
    i: &WorklistItem,
    hash: &str,
    now: &str,
) -> rusqlite::Result<()> {
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
        hash
    ])?;
    Ok(())
}

/// Studies whose accession is one of `accessions`.
pub(super) fn studies_with(
    tx: &Transaction<'_>,
    accessions: &BTreeSet<String>,
) -> rusqlite::Result<Vec<i64>> {
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
    /// Marks the orders of `source` with this accession (and requested procedure, when not
    /// empty) vanished: an HL7 cancel. Returns how many were listed until now.
    pub fn vanish_worklist_orders(
        &mut self,
        source: &str,
        accession: &str,
        requested_procedure_id: &str,
        why: &str,
    ) -> Result<usize, StoreError> {
        let (now, _) = fsutil::now();
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            let n = tx.execute(
                "UPDATE worklist SET vanished_at = ?1, vanished_why = ?2
                 WHERE source = ?3 AND accession = ?4 AND vanished_at IS NULL
                   AND (?5 = '' OR requested_procedure_id = ?5)",
                params![
                    now,
                    why,
                    source,
                    accession.trim(),
                    requested_procedure_id.trim()
                ],
            )?;
            if n > 0 {
                let ids = studies_with(tx, &BTreeSet::from([accession.trim().to_string()]))?;
                super::classify::reclassify(tx, &ids, &rules)?;
            }
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
                insert(tx, source, i, &super::worklist_merge::content_hash(i), &now)?;
            }
            super::classify::reclassify_all(tx, &rules)
        })
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
