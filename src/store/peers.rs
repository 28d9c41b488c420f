//! What other studies share with a study (an accession, a Patient ID, SOP Instance UIDs), as
//! the study summaries in the `studies` table have it. The batched forms answer for every
//! study in `temp.touched` with one query each: an import of 10,000 one-file studies would
//! otherwise spend its time in per-study queries.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::StoreError;
use crate::model::WorklistItem;
use crate::rules::{PeerFacts, PeerStudy};

/// At most this many linked studies are read per study: a Patient ID like "PHANTOM" may be
/// on thousands of studies, and a finding names a few of them.
pub(super) const MAX_LINKED: usize = 100;

/// Studies (id and summary) linked to one study.
pub(super) type Linked = Vec<(i64, PeerStudy)>;

/// A SOP Instance UID shared with another study: (SOP UID, that study's id, its summary).
pub(super) type Shared = Vec<(String, i64, PeerStudy)>;

fn peer_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<(i64, PeerStudy)> {
    Ok((
        r.get(at)?,
        PeerStudy {
            study_uid: r.get(at + 1)?,
            patient_name: r.get(at + 2)?,
            patient_id: r.get(at + 3)?,
            issuer_of_patient_id: r.get(at + 4)?,
            birth_date: r.get(at + 5)?,
            accession: r.get(at + 6)?,
            issuer_of_accession: r.get(at + 7)?,
        },
    ))
}

/// The summary columns of `studies` aliased `a`, in the order [`peer_at`] reads them.
fn columns(a: &str) -> String {
    format!(
        "{a}.id, COALESCE({a}.study_uid, {a}.study_key), {a}.patient_name, {a}.patient_id, \
         {a}.issuer_of_patient_id, {a}.birth_date, {a}.accession, {a}.issuer_of_accession"
    )
}

/// The stored summary of study `id`.
pub(super) fn stored(conn: &Connection, id: i64) -> Result<Option<PeerStudy>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {} FROM studies s WHERE s.id = ?1",
            columns("s")
        ))?
        .query_row([id], |r| peer_at(r, 0))
        .optional()?
        .map(|(_, p)| p))
}

/// The stored summaries of every study in `temp.touched`.
pub(super) fn stored_touched(conn: &Connection) -> Result<BTreeMap<i64, PeerStudy>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM temp.touched t JOIN studies s ON s.id = t.id",
        columns("s")
    ))?;
    let rows = stmt.query_map([], |r| peer_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Other studies sharing a non-empty accession or Patient ID with `p` (study `id`).
pub(super) fn linked(
    conn: &Connection,
    id: i64,
    p: &PeerStudy,
) -> Result<(Linked, Linked), StoreError> {
    let by = |column: &str, value: &str| -> Result<Linked, StoreError> {
        if value.trim().is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM studies s WHERE s.{column} = ?1 AND s.id != ?2 ORDER BY s.id LIMIT {MAX_LINKED}",
            columns("s")
        ))?;
        let rows = stmt.query_map(params![value, id], |r| peer_at(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    Ok((
        by("accession", &p.accession)?,
        by("patient_id", &p.patient_id)?,
    ))
}

/// For every study in `temp.touched`: the other studies with its (stored, non-empty) value of
/// `column` (`accession` or `patient_id`).
pub(super) fn linked_touched(
    conn: &Connection,
    column: &str,
) -> Result<BTreeMap<i64, Linked>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT * FROM (
             SELECT t.id, {}, ROW_NUMBER() OVER (PARTITION BY t.id ORDER BY o.id) AS n
             FROM temp.touched t
             JOIN studies me ON me.id = t.id
             JOIN studies o ON o.{column} = me.{column} AND o.id != me.id
             WHERE me.{column} != '')
         WHERE n <= {MAX_LINKED}",
        columns("o")
    ))?;
    let mut out: BTreeMap<i64, Linked> = BTreeMap::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        out.entry(id).or_default().push(peer_at(r, 1)?);
    }
    Ok(out)
}

/// Studies holding one of study `id`'s SOP Instance UIDs.
pub(super) fn shared(conn: &Connection, id: i64) -> Result<Shared, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT i.sop_uid, {}
         FROM instances i
         JOIN instances j ON j.sop_key = i.sop_key AND j.study_id != i.study_id
         JOIN studies s ON s.id = j.study_id
         WHERE i.study_id = ?1 AND i.sop_uid IS NOT NULL
         ORDER BY i.id",
        columns("s")
    ))?;
    let rows = stmt.query_map([id], |r| {
        let (other, p) = peer_at(r, 1)?;
        Ok((r.get(0)?, other, p))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// For every study in `temp.touched`: the SOP Instance UIDs other studies hold too.
pub(super) fn shared_touched(conn: &Connection) -> Result<BTreeMap<i64, Shared>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t.id, i.sop_uid, {}
         FROM temp.touched t
         JOIN instances i ON i.study_id = t.id
         JOIN instances j ON j.sop_key = i.sop_key AND j.study_id != i.study_id
         JOIN studies s ON s.id = j.study_id
         WHERE i.sop_uid IS NOT NULL
         ORDER BY i.id",
        columns("s")
    ))?;
    let mut out: BTreeMap<i64, Shared> = BTreeMap::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (other, p) = peer_at(r, 2)?;
        out.entry(r.get(0)?)
            .or_default()
            .push((r.get(1)?, other, p));
    }
    Ok(out)
}

/// What other studies share with study `id`, whose summary is `p`.
pub(super) fn facts(conn: &Connection, id: i64, p: &PeerStudy) -> Result<PeerFacts, StoreError> {
    let (acc, pid) = linked(conn, id, p)?;
    Ok(PeerFacts {
        same_accession: acc.into_iter().map(|(_, s)| s).collect(),
        same_patient_id: pid.into_iter().map(|(_, s)| s).collect(),
        shared_sops: shared(conn, id)?
            .into_iter()
            .map(|(sop, _, s)| (sop, s))
            .collect(),
    })
}

/// For every study in `temp.touched`: the worklist orders with its (stored) accession.
pub(super) fn orders_touched(
    conn: &Connection,
) -> Result<BTreeMap<i64, Vec<WorklistItem>>, StoreError> {
    let cols = super::orders::COLUMNS
        .split(", ")
        .map(|c| format!("w.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t.id, {cols}
         FROM temp.touched t
         JOIN studies me ON me.id = t.id
         JOIN worklist w ON w.accession = me.accession
         WHERE me.accession != ''"
    ))?;
    let mut out: BTreeMap<i64, Vec<WorklistItem>> = BTreeMap::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?)
            .or_default()
            .push(super::orders::item_at(r, 1)?);
    }
    Ok(out)
}
