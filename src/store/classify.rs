//! Runs the rules over studies as the store holds them and writes state, findings and the
//! study-level summary back. Always inside the transaction that changed the studies.
//!
//! The facts of all studies a batch touched are read with one query per table (through a
//! temporary table of their ids): an import of 10,000 one-file studies would otherwise spend
//! most of its time in per-study query overhead.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Transaction, params};

use super::StoreError;
use super::headers::{header_from_row, select_list};
use crate::rules::{self, ConflictFacts, InstanceFacts, StudyFacts};

/// A study's facts plus what the summary counts need.
#[derive(Default)]
struct Loaded {
    facts: StudyFacts,
    series: BTreeSet<i64>,
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Loads what the rules need about the studies `ids`.
fn load(tx: &Transaction<'_>, ids: &[i64]) -> Result<BTreeMap<i64, Loaded>, StoreError> {
    tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS touched (id INTEGER PRIMARY KEY); DELETE FROM temp.touched;")?;
    {
        let mut ins = tx.prepare_cached("INSERT OR IGNORE INTO temp.touched (id) VALUES (?1)")?;
        for id in ids {
            ins.execute([id])?;
        }
    }
    let mut out: BTreeMap<i64, Loaded> = ids.iter().map(|&id| (id, Loaded::default())).collect();
    let sql = format!(
        "SELECT s.study_id, s.id, f.original_path, b.read_errors, b.read_warnings, b.truncated, b.has_pixel_data, {}
         FROM temp.touched t
         JOIN series s ON s.study_id = t.id
         JOIN instances i ON i.series_id = s.id
         JOIN versions v ON v.id = i.current_version
         JOIN blobs b ON b.hash = v.blob_hash
         JOIN files f ON f.instance_id = i.id AND f.role = 'original'
         ORDER BY s.study_id, i.id",
        select_list("b")
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let mut header = header_from_row(r, 7)?;
        header.has_pixel_data = r.get(6)?;
        let entry = out.entry(r.get(0)?).or_default();
        entry.series.insert(r.get(1)?);
        entry.facts.instances.push(InstanceFacts {
            file: r.get(2)?,
            header,
            errors: json_list(&r.get::<_, String>(3)?),
            warnings: json_list(&r.get::<_, String>(4)?),
            truncated: r.get(5)?,
        });
    }
    let mut stmt = tx.prepare_cached(
        "SELECT s.study_id, f.original_path, b.sop_instance_uid, b.study_uid, b.read_errors, b.truncated
         FROM temp.touched t
         JOIN series s ON s.study_id = t.id
         JOIN instances i ON i.series_id = s.id
         JOIN files f ON f.instance_id = i.id AND f.role = 'conflict'
         JOIN blobs b ON b.hash = f.blob_hash
         ORDER BY f.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?)
            .or_default()
            .facts
            .conflicts
            .push(ConflictFacts {
                file: r.get(1)?,
                sop_uid: r.get(2)?,
                study_uid: r.get(3)?,
                errors: json_list(&r.get::<_, String>(4)?),
                truncated: r.get(5)?,
            });
    }
    Ok(out)
}

/// Recomputes the state, findings and summary of the studies `ids`.
pub(super) fn reclassify(tx: &Transaction<'_>, ids: &[i64]) -> Result<(), StoreError> {
    for (study_id, loaded) in load(tx, ids)? {
        let facts = &loaded.facts;
        let mut accessions: Vec<String> = facts
            .instances
            .iter()
            .map(|i| i.header.accession.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        accessions.sort();
        accessions.dedup();
        let orders = super::worklist::orders_for(tx, &accessions)?;
        let c = rules::classify(facts, &orders);

        tx.prepare_cached("DELETE FROM findings WHERE study_id = ?1")?
            .execute([study_id])?;
        let mut ins = tx.prepare_cached(
            "INSERT INTO findings (study_id, code, message, file) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for f in &c.findings {
            ins.execute(params![study_id, f.code, f.message, f.file])?;
        }
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
            loaded.series.len() as i64,
            facts.instances.len() as i64,
            (facts.instances.len() + facts.conflicts.len()) as i64
        ])?;
    }
    Ok(())
}

/// Reclassifies every study (after the worklist changed).
pub(super) fn reclassify_all(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM studies")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    reclassify(tx, &ids)
}
