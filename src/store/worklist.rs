//! The worklist cache table: orders from the RIS (or the demo), looked up by accession.

use rusqlite::params;

use super::{Store, StoreError};
use crate::fsutil;
use crate::model::WorklistItem;

const COLUMNS: &str = "accession, requested_procedure_id, sps_id, patient_name, patient_id, issuer_of_patient_id, \
     birth_date, sex, modality, station_ae, scheduled_at, procedure, study_uid, source";

fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorklistItem> {
    Ok(WorklistItem {
        accession: r.get(0)?,
        requested_procedure_id: r.get(1)?,
        sps_id: r.get(2)?,
        patient_name: r.get(3)?,
        patient_id: r.get(4)?,
        issuer_of_patient_id: r.get(5)?,
        birth_date: r.get(6)?,
        sex: r.get(7)?,
        modality: r.get(8)?,
        station_ae: r.get(9)?,
        scheduled_at: r.get(10)?,
        procedure: r.get(11)?,
        study_instance_uid: r.get(12)?,
        source: r.get(13)?,
    })
}

/// The orders whose accession number is `accession`.
pub fn orders_for(
    conn: &rusqlite::Connection,
    accessions: &[String],
) -> Result<Vec<WorklistItem>, StoreError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM worklist WHERE accession = ?1"
    ))?;
    for acc in accessions {
        let rows = stmt.query_map([acc.trim()], item_from_row)?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

impl Store {
    /// Replaces every order that came from `source` with `items`, then reclassifies all studies
    /// (an order appearing or vanishing changes matches anywhere).
    pub fn replace_worklist(
        &mut self,
        source: &str,
        items: &[WorklistItem],
    ) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        self.in_transaction(|tx| {
            tx.execute("DELETE FROM worklist WHERE source = ?1", [source])?;
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO worklist ({COLUMNS}, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?;
            for i in items {
                stmt.execute(params![
                    i.accession.trim(),
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
                    now
                ])?;
            }
            drop(stmt);
            super::classify::reclassify_all(tx)
        })
    }

    /// Every order in the cache.
    pub fn worklist(&self) -> Result<Vec<WorklistItem>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM worklist ORDER BY scheduled_at, accession"
        ))?;
        let rows = stmt.query_map([], item_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
