//! Reading orders from the worklist cache table: what classification compares studies with.

use crate::model::WorklistItem;

use super::StoreError;

pub(super) const COLUMNS: &str = "accession, issuer_of_accession, requested_procedure_id, sps_id, \
     patient_name, patient_id, issuer_of_patient_id, birth_date, sex, modality, station_ae, \
     scheduled_at, procedure, study_uid, source";

pub(super) fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorklistItem> {
    item_at(r, 0)
}

/// An order read from `r`, whose columns from `at` on are [`COLUMNS`].
pub(super) fn item_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<WorklistItem> {
    Ok(WorklistItem {
        accession: r.get(at)?,
        issuer_of_accession: r.get(at + 1)?,
        requested_procedure_id: r.get(at + 2)?,
        sps_id: r.get(at + 3)?,
        patient_name: r.get(at + 4)?,
        patient_id: r.get(at + 5)?,
        issuer_of_patient_id: r.get(at + 6)?,
        birth_date: r.get(at + 7)?,
        sex: r.get(at + 8)?,
        modality: r.get(at + 9)?,
        station_ae: r.get(at + 10)?,
        scheduled_at: r.get(at + 11)?,
        procedure: r.get(at + 12)?,
        study_instance_uid: r.get(at + 13)?,
        source: r.get(at + 14)?,
    })
}

/// The orders whose accession number is one of `accessions`.
pub(super) fn orders_for(
    conn: &rusqlite::Connection,
    accessions: &[String],
) -> Result<Vec<WorklistItem>, StoreError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM worklist WHERE accession = ?1"
    ))?;
    for acc in accessions {
        if acc.trim().is_empty() {
            continue;
        }
        let rows = stmt.query_map([acc.trim()], item_from_row)?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}
