//! The worklist cache table: orders from the RIS (or the demo), replaced by source.

use rusqlite::params;

use super::orders::{COLUMNS, item_from_row};
use super::{Store, StoreError};
use crate::fsutil;
use crate::model::WorklistItem;

impl Store {
    /// Replaces every order that came from `source` with `items`, then reclassifies all studies
    /// (an order appearing or vanishing changes matches anywhere).
    pub fn replace_worklist(
        &mut self,
        source: &str,
        items: &[WorklistItem],
    ) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        let rules = self.rules.clone();
        self.in_transaction(|tx| {
            tx.execute("DELETE FROM worklist WHERE source = ?1", [source])?;
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO worklist ({COLUMNS}, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?;
            for i in items {
                stmt.execute(params![
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
                    now
                ])?;
            }
            drop(stmt);
            super::classify::reclassify_all(tx, &rules)
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
