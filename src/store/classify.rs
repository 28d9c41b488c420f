//! Runs the rules over studies as the store holds them and writes state, findings and the
//! study-level summary back. Always inside the transaction that changed the studies.
//!
//! The facts of all studies a batch touched are read with one query per table (through a
//! temporary table of their ids): an import of 10,000 one-file studies would otherwise spend
//! most of its time in per-study query overhead.
//!
//! Findings that depend on other studies (split study, one Patient ID for two people, shared
//! SOP Instance UIDs) are stored with scope `peer`. When a study changes, the other studies
//! whose relation to it changed get only their peer findings recomputed, from the study
//! summaries: importing the eleventh study of a patient does not reload the other ten.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use super::headers::{faults_from_json, header_from_row, select_list};
use super::peers::{self, Linked};
use crate::model::{AttrDiff, CopyRole};
use crate::rules::{self, CopyFacts, InstanceFacts, PeerFacts, PeerStudy, RulesConfig, StudyFacts};

/// A study's facts plus what the summary counts need.
#[derive(Default)]
pub(super) struct Loaded {
    pub facts: StudyFacts,
    pub series: BTreeSet<i64>,
    pub files: usize,
}

fn fill_touched(conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS touched (id INTEGER PRIMARY KEY); DELETE FROM temp.touched;",
    )?;
    let mut ins = conn.prepare_cached("INSERT OR IGNORE INTO temp.touched (id) VALUES (?1)")?;
    for id in ids {
        ins.execute([id])?;
    }
    Ok(())
}

/// Loads what the rules need about the studies `ids` (their own files; peers apart).
pub(super) fn load(conn: &Connection, ids: &[i64]) -> Result<BTreeMap<i64, Loaded>, StoreError> {
    fill_touched(conn, ids)?;
    load_touched(conn, ids)
}

/// [`load`] for the studies already in `temp.touched`.
fn load_touched(conn: &Connection, ids: &[i64]) -> Result<BTreeMap<i64, Loaded>, StoreError> {
    let mut out: BTreeMap<i64, Loaded> = ids.iter().map(|&id| (id, Loaded::default())).collect();
    let sql = format!(
        "SELECT i.study_id, i.series_id, f.original_path, b.read_errors, b.read_warnings, b.has_pixel_data, {}
         FROM temp.touched t
         JOIN instances i ON i.study_id = t.id
         JOIN versions v ON v.id = i.current_version
         JOIN blobs b ON b.hash = v.blob_hash
         JOIN files f ON f.instance_id = i.id AND f.role = 'original'
         -- Rejected instances (IOCM) no longer count.
         WHERE NOT EXISTS (SELECT 1 FROM rejected_instances r WHERE r.instance_id = i.id)
         ORDER BY i.study_id, i.id",
        select_list("b")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let mut header = header_from_row(r, 6)?;
        header.has_pixel_data = r.get(5)?;
        let entry = out.entry(r.get(0)?).or_default();
        entry.series.insert(r.get(1)?);
        entry.files += 1;
        entry.facts.instances.push(InstanceFacts {
            file: r.get(2)?,
            header,
            faults: faults_from_json(&r.get::<_, String>(3)?, &r.get::<_, String>(4)?),
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT i.study_id, f.original_path, COALESCE(i.sop_uid, ''), f.role, f.differences, f.note,
                b.read_errors, b.read_warnings
         FROM temp.touched t
         JOIN instances i ON i.study_id = t.id
         JOIN files f ON f.instance_id = i.id AND f.role != 'original'
         JOIN blobs b ON b.hash = f.blob_hash
         WHERE NOT EXISTS (SELECT 1 FROM rejected_instances r WHERE r.instance_id = i.id)
         ORDER BY f.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let entry = out.entry(r.get(0)?).or_default();
        entry.files += 1;
        let role = CopyRole::parse(&r.get::<_, String>(3)?).unwrap_or(CopyRole::Conflict);
        if role == CopyRole::Duplicate {
            continue;
        }
        let differences: Vec<AttrDiff> =
            serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default();
        entry.facts.copies.push(CopyFacts {
            file: r.get(1)?,
            sop_uid: r.get(2)?,
            role,
            differences,
            note: r.get(5)?,
            faults: faults_from_json(&r.get::<_, String>(6)?, &r.get::<_, String>(7)?),
        });
    }
    Ok(out)
}

/// Recomputes the state, findings and summary of the studies `ids`, and the peer findings of
/// the other studies whose relation to them changed.
pub(super) fn reclassify(
    tx: &Transaction<'_>,
    ids: &[i64],
    config: &RulesConfig,
) -> Result<(), StoreError> {
    fill_touched(tx, ids)?;
    // How each study stood before, to find the peers whose relation to it changes.
    let before = peers::stored_touched(tx)?;
    let loaded = load_touched(tx, ids)?;
    let mut summaries = BTreeMap::new();
    for (&id, l) in &loaded {
        let summary = rules::summarize(&l.facts.instances);
        write_summary(tx, id, &summary, l)?;
        summaries.insert(id, summary);
    }
    // Everything the studies share with others, and their orders: one query each.
    let mut same_acc = peers::linked_touched(tx, "accession")?;
    let mut same_pid = peers::linked_touched(tx, "patient_id")?;
    let mut shared = peers::shared_touched(tx)?;
    let mut orders = peers::orders_touched(tx)?;

    // Peers whose relation to a touched study changed get their peer findings redone.
    let touched: BTreeSet<i64> = ids.iter().copied().collect();
    let mut stale: BTreeSet<i64> = BTreeSet::new();
    for (&id, summary) in &summaries {
        let now = summary.as_peer();
        let old = before.get(&id).cloned().unwrap_or_default();
        let mut candidates: Vec<&(i64, PeerStudy)> = Vec::new();
        candidates.extend(same_acc.get(&id).into_iter().flatten());
        candidates.extend(same_pid.get(&id).into_iter().flatten());
        // Studies linked through the values it had before (only when those changed).
        let old_links;
        if old.accession != now.accession || old.patient_id != now.patient_id {
            old_links = peers::linked(tx, id, &old)?;
            candidates.extend(old_links.0.iter().chain(&old_links.1));
        }
        // A peer's findings quote this study's values: when they changed, every peer related
        // to it before or now is redone; otherwise only those whose relation changed.
        let changed = old != now;
        for (other, peer) in candidates {
            if touched.contains(other) {
                continue;
            }
            let (was, is) = (rules::related(&old, peer), rules::related(&now, peer));
            if was != is || (changed && (was != (false, false) || is != (false, false))) {
                stale.insert(*other);
            }
        }
        for (_, other, _) in shared.get(&id).into_iter().flatten() {
            if !touched.contains(other) {
                stale.insert(*other);
            }
        }
    }
    for (id, l) in loaded {
        let mut facts = l.facts;
        facts.peers = PeerFacts {
            same_accession: strip(same_acc.remove(&id)),
            same_patient_id: strip(same_pid.remove(&id)),
            shared_sops: shared
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|(sop, _, s)| (sop, s))
                .collect(),
        };
        let orders = orders.remove(&id).unwrap_or_default();
        let c = rules::classify(&facts, &orders, config);
        tx.prepare_cached("DELETE FROM findings WHERE study_id = ?1")?
            .execute([id])?;
        insert_findings(tx, id, &c.findings)?;
        tx.prepare_cached("UPDATE studies SET state = ?2 WHERE id = ?1")?
            .execute(params![id, c.state.as_str()])?;
        // What the matching proposed was for the study as it was.
        tx.prepare_cached("DELETE FROM proposals WHERE study_id = ?1")?
            .execute([id])?;
    }
    for id in stale {
        refresh_peer_findings(tx, id)?;
    }
    Ok(())
}

fn strip(linked: Option<Linked>) -> Vec<PeerStudy> {
    linked
        .unwrap_or_default()
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

fn insert_findings(
    tx: &Transaction<'_>,
    study_id: i64,
    findings: &[crate::model::Finding],
) -> Result<(), StoreError> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO findings (study_id, code, message, file, scope, severity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for f in findings {
        let scope = if rules::is_peer_code(&f.code) {
            "peer"
        } else {
            "study"
        };
        ins.execute(params![
            study_id,
            f.code,
            f.message,
            f.file,
            scope,
            rules::severity(&f.code)
        ])?;
    }
    Ok(())
}

/// Redoes the peer findings of study `id` from the stored summaries, and its state.
fn refresh_peer_findings(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    let Some(me) = peers::stored(tx, id)? else {
        return Ok(());
    };
    let findings = rules::peer_findings(&me, &peers::facts(tx, id, &me)?);
    tx.prepare_cached("DELETE FROM findings WHERE study_id = ?1 AND scope = 'peer'")?
        .execute([id])?;
    insert_findings(tx, id, &findings)?;
    let codes: Vec<String> = tx
        .prepare_cached("SELECT code FROM findings WHERE study_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let state = rules::state_of(codes.iter().map(String::as_str));
    tx.prepare_cached("UPDATE studies SET state = ?2 WHERE id = ?1")?
        .execute(params![id, state.as_str()])?;
    Ok(())
}

fn write_summary(
    tx: &Transaction<'_>,
    study_id: i64,
    s: &rules::StudySummary,
    l: &Loaded,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE studies SET patient_name = ?2, patient_id = ?3, issuer_of_patient_id = ?4,
            birth_date = ?5, sex = ?6, accession = ?7, issuer_of_accession = ?8, modality = ?9,
            study_date = ?10, study_time = ?11, description = ?12, referring_physician = ?13,
            institution = ?14, station_name = ?15, n_series = ?16, n_instances = ?17, n_files = ?18
         WHERE id = ?1",
    )?
    .execute(params![
        study_id,
        s.patient_name,
        s.patient_id,
        s.issuer_of_patient_id,
        s.birth_date,
        s.sex,
        s.accession,
        s.issuer_of_accession,
        s.modality,
        s.study_date,
        s.study_time,
        s.description,
        s.referring_physician,
        s.institution,
        s.station_name,
        l.series.len() as i64,
        l.facts.instances.len() as i64,
        l.files as i64
    ])?;
    tx.prepare_cached(
        "UPDATE studies SET implementation_version = COALESCE((
             SELECT TRIM(b.implementation_version) FROM instances i
             JOIN files f ON f.instance_id = i.id AND f.role = 'original'
             JOIN blobs b ON b.hash = f.blob_hash
             WHERE i.study_id = ?1 ORDER BY i.id, f.id LIMIT 1), '')
         WHERE id = ?1",
    )?
    .execute([study_id])?;
    Ok(())
}

/// Reclassifies every study (after the worklist or the rule settings changed).
pub(super) fn reclassify_all(tx: &Transaction<'_>, config: &RulesConfig) -> Result<(), StoreError> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM studies")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // In slices: the temp table and the loaded facts stay small.
    for chunk in ids.chunks(2000) {
        reclassify(tx, chunk, config)?;
    }
    Ok(())
}

/// The facts of one study for the detail view (its own files and its peers), read outside
/// any write transaction.
pub(super) fn facts_of(conn: &Connection, id: i64) -> Result<StudyFacts, StoreError> {
    let mut facts = load(conn, &[id])?
        .remove(&id)
        .map(|l| l.facts)
        .unwrap_or_default();
    if let Some(me) = peers::stored(conn, id)? {
        facts.peers = peers::facts(conn, id, &me)?;
    }
    Ok(facts)
}
