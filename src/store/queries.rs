//! Read-side queries: the queue, one study's detail, lookups by id or UID, counts.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError};
use crate::dicom::uids;
use crate::model::{
    CopyRole, CopyRow, Finding, InstanceRow, MovedTo, Receipt, SeriesRow, SourceKind, StudyDetail,
    StudyRow, StudyState,
};

/// A file that could not be taken in at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub path: String,
    pub reason: String,
    /// When it was last tried.
    pub at: String,
    /// How many times it was tried.
    pub times: u64,
}

/// Which studies `queue` returns. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub state: Option<StudyState>,
    /// Only open exceptions: neither matched (fixed) nor dismissed.
    pub open: bool,
}

/// Counts for the status bar and `qcdesk status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreStats {
    pub studies: u64,
    /// Studies by state, the dismissed ones left out (they are counted in `dismissed`).
    pub by_state: Vec<(StudyState, u64)>,
    /// Studies dismissed now (resolved without change, not reopened).
    pub dismissed: u64,
    pub instances: u64,
    pub files: u64,
    pub rejects: u64,
    pub worklist: u64,
}

const STUDY_COLUMNS: &str = "id, study_uid, state, patient_name, patient_id, accession, modality, study_date, \
     description, n_series, n_instances, n_files, source, first_seen, first_seen_unix, station_name";

fn study_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StudyRow> {
    let state: String = r.get(2)?;
    Ok(StudyRow {
        id: r.get(0)?,
        study_instance_uid: r.get(1)?,
        state: StudyState::parse(&state).unwrap_or(StudyState::Broken),
        patient_name: r.get(3)?,
        patient_id: r.get(4)?,
        accession: r.get(5)?,
        modality: r.get(6)?,
        study_date: r.get(7)?,
        study_description: r.get(8)?,
        series: r.get(9)?,
        instances: r.get(10)?,
        files: r.get(11)?,
        source: r.get(12)?,
        first_seen: r.get(13)?,
        first_seen_unix: r.get(14)?,
        station_name: r.get(15)?,
        findings: Vec::new(),
        send_state: None,
        send_caveat: None,
        thumbnail: None,
        dismissed: None,
        likely_order: None,
        claim: Default::default(),
    })
}

impl Store {
    /// The studies in the queue, most severe state first, then oldest first.
    pub fn queue(&self, filter: &QueueFilter) -> Result<Vec<StudyRow>, StoreError> {
        let mut findings: HashMap<i64, Vec<Finding>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT study_id, code, message, file FROM findings ORDER BY severity, id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Finding {
                    code: r.get(1)?,
                    message: r.get(2)?,
                    file: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (id, f) = row?;
            findings.entry(id).or_default().push(f);
        }
        let state = filter.state.map(|s| s.as_str().to_string());
        let mut stmt = self.conn.prepare(&format!(
            // A study whose series all moved away (merged, or a move undone) holds nothing.
            "SELECT {STUDY_COLUMNS} FROM studies WHERE (?1 IS NULL OR state = ?1) AND n_instances > 0
             ORDER BY first_seen_unix, id"
        ))?;
        let mut out: Vec<StudyRow> = stmt
            .query_map(params![state], study_row)?
            .collect::<Result<_, _>>()?;
        let mut thumbnails = self.representative_blobs()?;
        let mut sends = self.send_states()?;
        let mut dismissed = self.dismissals()?;
        let mut proposals = self.proposals()?;
        let mut claims = self.claims()?;
        for row in &mut out {
            if let Some(c) = claims.remove(&row.id) {
                row.claim = c.info();
            }
            if row.state != StudyState::Matched {
                row.likely_order = proposals.remove(&row.id);
            }
            row.findings = findings.remove(&row.id).unwrap_or_default();
            if let Some((state, caveat)) = sends.remove(&row.id) {
                row.send_state = Some(state);
                row.send_caveat = (!caveat.is_empty()).then_some(caveat);
            }
            row.thumbnail = thumbnails.remove(&row.id);
            row.dismissed = dismissed.remove(&row.id);
        }
        if filter.open {
            out.retain(|r| r.state != StudyState::Matched && r.dismissed.is_none());
        }
        out.sort_by_key(|r| r.state);
        Ok(out)
    }

    /// Per study, the blob whose picture stands for it: the middle instance (by instance
    /// number) of its series with the most images.
    fn representative_blobs(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "WITH images AS (
                 SELECT i.study_id, i.series_id, i.id, b.hash, b.instance_number
                 FROM instances i
                 JOIN versions v ON v.id = i.current_version
                 JOIN blobs b ON b.hash = v.blob_hash
                 WHERE b.has_pixel_data),
             counts AS (
                 SELECT study_id, series_id, COUNT(*) AS n FROM images GROUP BY series_id),
             best AS (
                 SELECT study_id, series_id, n FROM (
                     SELECT study_id, series_id, n, ROW_NUMBER() OVER (
                         PARTITION BY study_id ORDER BY n DESC, series_id) AS r
                     FROM counts) WHERE r = 1),
             ranked AS (
                 SELECT m.study_id, m.hash, best.n, ROW_NUMBER() OVER (
                     PARTITION BY m.series_id
                     ORDER BY CAST(m.instance_number AS INTEGER), m.id) AS r
                 FROM images m JOIN best ON best.series_id = m.series_id)
             SELECT study_id, hash FROM ranked WHERE r = (n + 1) / 2",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Resolves what a user typed for a study: the queue id or a Study Instance UID.
    pub fn find_study(&self, key: &str) -> Result<i64, StoreError> {
        let key = key.trim();
        // An empty key (an unset variable in a script) names nothing, not the studies
        // without an accession.
        if key.is_empty() {
            return Err(StoreError::StudyNotFound(String::new()));
        }
        let by_uid: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM studies WHERE study_uid = ?1 OR study_key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = by_uid {
            return Ok(id);
        }
        let by_id: Option<i64> = match key.trim_start_matches('#').parse::<i64>() {
            Ok(n) => self
                .conn
                .query_row("SELECT id FROM studies WHERE id = ?1", [n], |r| r.get(0))
                .optional()?,
            Err(_) => None,
        };
        // An accession names a study when it names exactly one (of those holding instances:
        // a study emptied by a merge is not what anyone means by its old accession).
        let mut stmt = self.conn.prepare(
            "SELECT id, patient_name, study_date FROM studies
             WHERE accession = ?1 AND n_instances > 0 ORDER BY id",
        )?;
        let mut hits: Vec<(i64, String, String)> = stmt
            .query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        if let Some(id) = by_id {
            // A number that is both a queue id and another study's accession: ask which.
            if hits.iter().all(|(h, ..)| *h == id) {
                return Ok(id);
            }
            if !hits.iter().any(|(h, ..)| *h == id) {
                let row = self.study_row(id)?;
                hits.insert(0, (id, row.patient_name, row.study_date));
            }
        }
        match hits.as_slice() {
            [] => Err(StoreError::StudyNotFound(key.to_string())),
            [(id, ..)] => Ok(*id),
            many => Err(StoreError::AmbiguousStudy {
                key: key.to_string(),
                studies: many
                    .iter()
                    .map(|(id, name, date)| {
                        format!(
                            "{id} ({}, {})",
                            crate::text::printable(name),
                            crate::text::iso_date(date)
                        )
                    })
                    .collect(),
            }),
        }
    }

    /// One study's queue row (state, demographics, send state, dismissal), without its
    /// findings, series or orders: for callers that need only that.
    pub fn study_row(&self, id: i64) -> Result<StudyRow, StoreError> {
        let mut row = self
            .conn
            .query_row(
                &format!("SELECT {STUDY_COLUMNS} FROM studies WHERE id = ?1"),
                [id],
                study_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::StudyNotFound(id.to_string()))?;
        if let Some((state, caveat)) = self.send_state(id)? {
            row.send_state = Some(state);
            row.send_caveat = (!caveat.is_empty()).then_some(caveat);
        }
        row.dismissed = self.dismissal_of(id)?;
        if let Some(c) = self.claim_of(id)? {
            row.claim = c.info();
        }
        if row.state != StudyState::Matched {
            row.likely_order = self.proposal_of(id)?;
        }
        Ok(row)
    }

    /// The study of exactly this Study Instance UID, if the workspace holds one.
    pub fn study_with_uid(&self, uid: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM studies WHERE study_uid = ?1 ORDER BY id LIMIT 1",
                [uid],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Everything about one study: demographics, series, instances, findings, orders.
    pub fn study_detail(&self, id: i64) -> Result<StudyDetail, StoreError> {
        let mut row = self.study_row(id)?;
        let mut stmt = self.conn.prepare(
            "SELECT code, message, file FROM findings WHERE study_id = ?1 ORDER BY severity, id",
        )?;
        row.findings = stmt
            .query_map([id], |r| {
                Ok(Finding {
                    code: r.get(0)?,
                    message: r.get(1)?,
                    file: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let extra = self.conn.query_row(
            "SELECT birth_date, sex, issuer_of_patient_id, study_time, referring_physician, institution, station_name
             FROM studies WHERE id = ?1",
            [id],
            |r| {
                Ok([r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?])
            },
        )?;
        let [birth, sex, issuer, time, referring, institution, station] = extra;
        // The comparison with each order is the rules' own, on the facts they classify.
        let facts = super::classify::facts_of(&self.conn, id)?;
        let summary = crate::rules::summarize(&facts.instances);
        let accessions: Vec<String> = Some(summary.accession.clone())
            .filter(|a| !a.trim().is_empty())
            .into_iter()
            .collect();
        let candidates = super::orders::orders_for(&self.conn, &accessions)?;
        let orders =
            crate::rules::compare_orders(&summary, &facts.instances, &candidates, &self.rules);
        let series_list = self.series_of(id)?;
        let mut moved_to = Vec::new();
        if row.instances == 0 {
            let mut stmt = self.conn.prepare(
                "SELECT c.other_study_id, COALESCE(s.study_uid, ''), c.id, c.action, c.at,
                        (SELECT COUNT(*) FROM correction_versions cv WHERE cv.correction_id = c.id)
                 FROM corrections c JOIN studies s ON s.id = c.other_study_id
                 WHERE c.study_id = ?1 AND c.undone_by IS NULL
                   AND c.action IN ('order', 'move', 'merge') ORDER BY c.id",
            )?;
            moved_to = stmt
                .query_map([id], |r| {
                    Ok(MovedTo {
                        study: r.get(0)?,
                        study_instance_uid: r.get(1)?,
                        correction: r.get(2)?,
                        action: r.get(3)?,
                        at: r.get(4)?,
                        instances: r.get::<_, i64>(5)? as u64,
                    })
                })?
                .collect::<Result<_, _>>()?;
            // What the study was found to be before it was emptied no longer holds.
            if let Some(last) = moved_to.last() {
                row.findings = vec![Finding {
                    code: "emptied".into(),
                    message: format!(
                        "the study holds no instances: they went to study {} (Study Instance UID {}) by correction {} ({})",
                        last.study, last.study_instance_uid, last.correction, last.action
                    ),
                    file: None,
                }];
            }
        }
        Ok(StudyDetail {
            moved_to,
            row,
            patient_birth_date: birth,
            patient_sex: sex,
            issuer_of_patient_id: issuer,
            study_time: time,
            referring_physician: referring,
            institution,
            station_name: station,
            series_list,
            orders,
        })
    }

    fn series_of(&self, study_id: i64) -> Result<Vec<SeriesRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.series_uid, i.id, i.sop_uid, b.sop_class_uid, b.instance_number, b.transfer_syntax,
                    b.hash, b.size, f.original_path,
                    (SELECT COUNT(*) FROM versions v2 WHERE v2.instance_id = i.id),
                    COALESCE(b.dataset_hash, ''),
                    b.modality, b.series_number, b.series_description, b.has_pixel_data, b.frames,
                    EXISTS (SELECT 1 FROM rejected_instances r WHERE r.instance_id = i.id)
             FROM series s
             JOIN instances i ON i.series_id = s.id
             JOIN versions v ON v.id = i.current_version
             JOIN blobs b ON b.hash = v.blob_hash
             JOIN files f ON f.instance_id = i.id AND f.role = 'original'
             WHERE s.study_id = ?1
             ORDER BY s.id, CAST(b.instance_number AS INTEGER), i.id",
        )?;
        let mut out: Vec<SeriesRow> = Vec::new();
        let rows = stmt.query_map([study_id], |r| {
            let sop_class: String = r.get(4)?;
            let size: i64 = r.get(8)?;
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                InstanceRow {
                    id: r.get(2)?,
                    sop_instance_uid: r.get(3)?,
                    sop_class_name: uids::sop_class_name(&sop_class),
                    sop_class_uid: sop_class,
                    instance_number: r.get(5)?,
                    transfer_syntax: r.get(6)?,
                    has_pixel_data: r.get(15)?,
                    frames: {
                        let pixels: bool = r.get(15)?;
                        let frames: String = r.get(16)?;
                        // Number of Frames absent: one image.
                        match frames.trim().parse::<u32>() {
                            Ok(n) if pixels => n.max(1),
                            _ => u32::from(pixels),
                        }
                    },
                    blob: r.get(7)?,
                    size: size.max(0) as u64,
                    original_path: r.get(9)?,
                    versions: r.get(10)?,
                    rejected: r.get(17)?,
                    conflicts: 0,
                    variants: 0,
                    dataset_hash: r.get(11)?,
                    copies: Vec::new(),
                    receipts: Vec::new(),
                },
                [r.get::<_, String>(12)?, r.get(13)?, r.get(14)?],
            ))
        })?;
        for row in rows {
            let (series_id, series_uid, mut inst, [modality, number, description]) = row?;
            inst.copies = self.copies_of(inst.id)?;
            inst.conflicts = inst
                .copies
                .iter()
                .filter(|c| c.role == CopyRole::Conflict)
                .count() as u32;
            inst.variants = inst
                .copies
                .iter()
                .filter(|c| c.role == CopyRole::Variant)
                .count() as u32;
            inst.receipts = self.receipts_of(inst.id)?;
            match out.last_mut() {
                Some(s) if s.id == series_id => s.instances.push(inst),
                _ => out.push(SeriesRow {
                    id: series_id,
                    series_instance_uid: series_uid,
                    modality,
                    series_number: number,
                    description,
                    instances: vec![inst],
                }),
            }
        }
        out.sort_by_key(|s| {
            (
                s.series_number.trim().parse::<i64>().unwrap_or(i64::MAX),
                s.id,
            )
        });
        Ok(out)
    }

    /// Every distinct file received for an instance, the original first.
    fn copies_of(&self, instance_id: i64) -> Result<Vec<CopyRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.blob_hash, f.role, b.transfer_syntax, b.size, f.original_path, f.differences, f.note
             FROM files f JOIN blobs b ON b.hash = f.blob_hash
             WHERE f.instance_id = ?1 ORDER BY f.role != 'original', f.id",
        )?;
        let rows = stmt.query_map([instance_id], |r| {
            let role: String = r.get(1)?;
            let size: i64 = r.get(3)?;
            let differences: String = r.get(5)?;
            Ok(CopyRow {
                blob: r.get(0)?,
                role: CopyRole::parse(&role).unwrap_or(CopyRole::Conflict),
                transfer_syntax: r.get(2)?,
                size: size.max(0) as u64,
                original_path: r.get(4)?,
                differences: serde_json::from_str(&differences).unwrap_or_default(),
                note: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every arrival of an instance's files, oldest first.
    fn receipts_of(&self, instance_id: i64) -> Result<Vec<Receipt>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.received_at, r.source_kind, r.source, r.path, r.calling_ae, r.called_ae,
                    r.peer_address, r.blob_hash
             FROM receipts r JOIN files f ON f.id = r.file_id
             WHERE f.instance_id = ?1 ORDER BY r.id",
        )?;
        let rows = stmt.query_map([instance_id], |r| {
            let kind: String = r.get(1)?;
            Ok(Receipt {
                received_at: r.get(0)?,
                source_kind: SourceKind::parse(&kind).unwrap_or(SourceKind::Folder),
                source: r.get(2)?,
                path: r.get(3)?,
                calling_ae: r.get(4)?,
                called_ae: r.get(5)?,
                peer_address: r.get(6)?,
                blob: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored files of a study's instances (their current versions), in series and
    /// instance order, each named `S<series>-I<instance>-<SOP Instance UID>`.
    pub fn study_files(&self, id: i64) -> Result<Vec<crate::model::ThumbInput>, StoreError> {
        Ok(self
            .series_of(id)?
            .iter()
            .flat_map(|s| s.instances.iter().map(move |i| (s, i)))
            .map(|(s, i)| crate::model::ThumbInput {
                path: self.blobs.path(&i.blob),
                name: format!(
                    "S{}-I{}-{}",
                    s.series_number.trim(),
                    i.instance_number.trim(),
                    i.sop_instance_uid.as_deref().unwrap_or("")
                ),
            })
            .collect())
    }

    /// Files that could not be taken in at all, most recently tried first.
    pub fn rejects(&self) -> Result<Vec<Reject>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, reason, at, times FROM rejects ORDER BY at DESC, id DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok(Reject {
                path: r.get(0)?,
                reason: r.get(1)?,
                at: r.get(2)?,
                times: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))?.max(0) as u64)
        };
        let mut by_state = Vec::new();
        for s in StudyState::ALL {
            let n: i64 = self.conn.query_row(
                "SELECT COUNT(*) FROM studies s WHERE state = ?1 AND n_instances > 0
                   AND NOT EXISTS (SELECT 1 FROM dismissals d
                                   WHERE d.study_id = s.id AND d.reopened_at IS NULL)",
                [s.as_str()],
                |r| r.get(0),
            )?;
            by_state.push((s, n.max(0) as u64));
        }
        Ok(StoreStats {
            studies: count("SELECT COUNT(*) FROM studies WHERE n_instances > 0")?,
            by_state,
            dismissed: count(
                "SELECT COUNT(*) FROM studies s WHERE n_instances > 0
                   AND EXISTS (SELECT 1 FROM dismissals d
                               WHERE d.study_id = s.id AND d.reopened_at IS NULL)",
            )?,
            instances: count("SELECT COUNT(*) FROM instances")?,
            files: count("SELECT COUNT(*) FROM files")?,
            rejects: count("SELECT COUNT(*) FROM rejects")?,
            worklist: count("SELECT COUNT(*) FROM worklist")?,
        })
    }
}
