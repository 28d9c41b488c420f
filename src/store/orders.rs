//! Reading orders from the worklist cache table: what classification compares studies with.

use crate::model::WorklistItem;

use super::StoreError;

pub(super) const COLUMNS: &str = "accession, issuer_of_accession, requested_procedure_id, sps_id, \
     patient_name, patient_id, issuer_of_patient_id, birth_date, sex, modality, station_ae, \
     scheduled_at, procedure, study_uid, source, other_patient_ids, procedure_code, \
     referring_physician, requesting_physician, admission_id, step_description, protocol_code, \
     first_seen, last_seen, vanished_at, vanished_why";

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
        other_patient_ids: r.get(at + 15)?,
        procedure_code: r.get(at + 16)?,
        referring_physician: r.get(at + 17)?,
        requesting_physician: r.get(at + 18)?,
        admission_id: r.get(at + 19)?,
        step_description: r.get(at + 20)?,
        protocol_code: r.get(at + 21)?,
        first_seen: r.get(at + 22)?,
        last_seen: r.get(at + 23)?,
        vanished_at: r.get(at + 24)?,
        vanished_why: r.get(at + 25)?,
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
