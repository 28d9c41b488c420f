//! Runs the rules over a study as the store holds it and writes state, findings and the
//! study-level summary back. Always inside the transaction that changed the study.

use rusqlite::{Transaction, params};

use super::StoreError;
use super::headers::{header_from_row, select_list};
use crate::rules::{self, ConflictFacts, InstanceFacts, StudyFacts};

/// Loads what the rules need about one study.
pub(super) fn study_facts(tx: &Transaction<'_>, study_id: i64) -> Result<StudyFacts, StoreError> {
    let sql = format!(
        "SELECT f.original_path, b.read_errors, b.read_warnings, b.truncated, b.has_pixel_data, {}
         FROM instances i
         JOIN series s ON s.id = i.series_id
         JOIN versions v ON v.id = i.current_version
         JOIN blobs b ON b.hash = v.blob_hash
         JOIN files f ON f.instance_id = i.id AND f.role = 'original'
         WHERE s.study_id = ?1
         ORDER BY i.id",
        select_list("b")
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let instances = stmt
        .query_map([study_id], |r| {
            let mut header = header_from_row(r, 5)?;
            header.has_pixel_data = r.get(4)?;
            let errors: String = r.get(1)?;
            let warnings: String = r.get(2)?;
            Ok(InstanceFacts {
                file: r.get(0)?,
                header,
                errors: serde_json::from_str(&errors).unwrap_or_default(),
                warnings: serde_json::from_str(&warnings).unwrap_or_default(),
                truncated: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = tx.prepare_cached(
        "SELECT f.original_path, b.sop_instance_uid, b.study_uid, b.read_errors, b.truncated
         FROM files f
         JOIN blobs b ON b.hash = f.blob_hash
         JOIN instances i ON i.id = f.instance_id
         JOIN series s ON s.id = i.series_id
         WHERE s.study_id = ?1 AND f.role = 'conflict'
         ORDER BY f.id",
    )?;
    let conflicts = stmt
        .query_map([study_id], |r| {
            let errors: String = r.get(3)?;
            Ok(ConflictFacts {
                file: r.get(0)?,
                sop_uid: r.get(1)?,
                study_uid: r.get(2)?,
                errors: serde_json::from_str(&errors).unwrap_or_default(),
                truncated: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StudyFacts {
        instances,
        conflicts,
    })
}

/// Recomputes one study's state, findings and summary.
pub(super) fn reclassify(tx: &Transaction<'_>, study_id: i64) -> Result<(), StoreError> {
    let facts = study_facts(tx, study_id)?;
    let mut accessions: Vec<String> = facts
        .instances
        .iter()
        .map(|i| i.header.accession.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    accessions.sort();
    accessions.dedup();
    let orders = super::worklist::orders_for(tx, &accessions)?;
    let c = rules::classify(&facts, &orders);

    tx.execute("DELETE FROM findings WHERE study_id = ?1", [study_id])?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO findings (study_id, code, message, file) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for f in &c.findings {
        ins.execute(params![study_id, f.code, f.message, f.file])?;
    }
    let series: i64 = tx.query_row(
        "SELECT COUNT(*) FROM series WHERE study_id = ?1",
        [study_id],
        |r| r.get(0),
    )?;
    let files: i64 = tx.query_row(
        "SELECT COUNT(*) FROM files f JOIN instances i ON i.id = f.instance_id JOIN series s ON s.id = i.series_id
         WHERE s.study_id = ?1",
        [study_id],
        |r| r.get(0),
    )?;
    let s = &c.summary;
    tx.prepare_cached(
        "UPDATE studies SET state = ?2, patient_name = ?3, patient_id = ?4, issuer_of_patient_id = ?5,
            birth_date = ?6, sex = ?7, accession = ?8, modality = ?9, study_date = ?10, study_time = ?11,
            description = ?12, referring_physician = ?13, institution = ?14, station_name = ?15,
            n_series = ?16, n_instances = ?17, n_files = ?18
         WHERE id = ?1",
    )?
    .execute(params![
        study_id,
        c.state.as_str(),
        s.patient_name,
        s.patient_id,
        s.issuer_of_patient_id,
        s.birth_date,
        s.sex,
        s.accession,
        s.modality,
        s.study_date,
        s.study_time,
        s.description,
        s.referring_physician,
        s.institution,
        s.station_name,
        series,
        facts.instances.len() as i64,
        files
    ])?;
    Ok(())
}

/// Reclassifies every study (after the worklist changed).
pub(super) fn reclassify_all(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM studies")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        reclassify(tx, id)?;
    }
    Ok(())
}
