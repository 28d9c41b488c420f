//! What the reports count, read from the store in one pass per table: each study's arrival,
//! state, findings and origin (modality, station, source, implementation), and every
//! correction, dismissal, resend and rejection with its time. The `reports` module computes
//! the figures from these.

use super::{Store, StoreError};
use crate::fsutil::parse_rfc3339_unix;
use crate::model::StudyState;

/// One study as the reports see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyFact {
    pub id: i64,
    pub first_seen_unix: i64,
    pub state: StudyState,
    pub modality: String,
    pub station: String,
    pub source: String,
    /// Implementation Version Name of its first file as received (read for that grouping
    /// only; the other group fields likewise).
    pub implementation_version: String,
    pub finding_codes: Vec<String>,
    /// Dismissed now.
    pub dismissed: bool,
}

/// A correction (not a dismissal) with its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionFact {
    pub study_id: i64,
    pub at_unix: i64,
    pub action: String,
    pub undone: bool,
    /// It changed Patient ID (a wrong-patient correction).
    pub patient_id_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DismissalFact {
    pub study_id: i64,
    pub at_unix: i64,
    pub reason: String,
    pub reopened: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFact {
    pub study_id: i64,
    pub created_unix: i64,
    /// When it ended verified.
    pub verified_unix: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionFact {
    pub study_id: i64,
    pub at_unix: i64,
    pub code: String,
    pub meaning: String,
}

/// Everything the reports need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFacts {
    pub studies: Vec<StudyFact>,
    pub corrections: Vec<CorrectionFact>,
    pub dismissals: Vec<DismissalFact>,
    pub sends: Vec<SendFact>,
    pub rejections: Vec<RejectionFact>,
}

/// Column `i` holds `unixepoch()` of the RFC 3339 time in column `i + 1`: SQLite parses it
/// far faster than row by row here; the text is parsed only where SQLite could not.
fn unix_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<i64> {
    match r.get::<_, Option<i64>>(i)? {
        Some(t) => Ok(t),
        None => Ok(r
            .get_ref(i + 1)?
            .as_str()
            .ok()
            .and_then(parse_rfc3339_unix)
            .unwrap_or(0)),
    }
}

impl Store {
    /// The facts of every study holding instances (sorted by id), and of every event. Only
    /// what grouping `by` needs is read of each study (its modality, station, source or
    /// implementation version), from the narrow `studies_report` index; the finding codes
    /// always. At 100,000 studies every column, allocation and hash costs milliseconds.
    pub fn report_facts(&self, by: crate::model::GroupBy) -> Result<ReportFacts, StoreError> {
        use crate::model::GroupBy;
        let column = match by {
            GroupBy::Modality => "modality",
            GroupBy::Station => "station_name",
            GroupBy::Source => "source",
            GroupBy::Version => "implementation_version",
            GroupBy::Code => "''",
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, first_seen_unix, state, {column} FROM studies INDEXED BY studies_report
             WHERE n_instances > 0 ORDER BY id"
        ))?;
        let mut studies: Vec<StudyFact> = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let state = r.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
            let value = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
            let mut fact = StudyFact {
                id: r.get(0)?,
                first_seen_unix: r.get(1)?,
                state: StudyState::parse(state).unwrap_or(StudyState::Broken),
                modality: String::new(),
                station: String::new(),
                source: String::new(),
                implementation_version: String::new(),
                finding_codes: Vec::new(),
                dismissed: false,
            };
            match by {
                GroupBy::Modality => {
                    fact.modality = value.split('\\').next().unwrap_or("").to_string()
                }
                GroupBy::Station => fact.station = value.to_string(),
                GroupBy::Source => fact.source = value.to_string(),
                GroupBy::Version => fact.implementation_version = value.trim().to_string(),
                GroupBy::Code => {}
            }
            studies.push(fact);
        }
        // Each study's finding codes, found by binary search (ids are sorted): the open
        // exceptions are counted per code whatever the grouping.
        let position =
            |studies: &[StudyFact], id: i64| studies.binary_search_by_key(&id, |s| s.id).ok();
        let mut stmt = self.conn.prepare("SELECT study_id, code FROM findings")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let Some(i) = position(&studies, r.get(0)?) {
                let code = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                studies[i].finding_codes.push(code.to_string());
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT study_id, unixepoch(at), at, action, undone_by IS NOT NULL,
                    instr(changes, '\"(0010,0020)\"') > 0
             FROM corrections WHERE action IN ('order', 'edit', 'move', 'merge') ORDER BY id",
        )?;
        let corrections = stmt
            .query_map([], |r| {
                Ok(CorrectionFact {
                    study_id: r.get(0)?,
                    at_unix: unix_at(r, 1)?,
                    action: r.get(3)?,
                    undone: r.get(4)?,
                    patient_id_changed: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT study_id, at_unix, reason, reopened_at IS NOT NULL FROM dismissals ORDER BY id",
        )?;
        let dismissals: Vec<DismissalFact> = stmt
            .query_map([], |r| {
                Ok(DismissalFact {
                    study_id: r.get(0)?,
                    at_unix: r.get(1)?,
                    reason: r.get(2)?,
                    reopened: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        // Dismissed now: the study's last dismissal stands (not reopened).
        for d in &dismissals {
            if let Some(i) = position(&studies, d.study_id) {
                studies[i].dismissed = !d.reopened;
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT study_id, unixepoch(created_at), created_at, state = 'verified',
                        unixepoch(updated_at), updated_at FROM send_jobs ORDER BY id",
        )?;
        let sends = stmt
            .query_map([], |r| {
                let verified: bool = r.get(3)?;
                Ok(SendFact {
                    study_id: r.get(0)?,
                    created_unix: unix_at(r, 1)?,
                    verified_unix: if verified { Some(unix_at(r, 4)?) } else { None },
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT j.study_id, unixepoch(c.at), c.at, j.code, j.meaning FROM rejections j
             JOIN corrections c ON c.id = j.correction_id ORDER BY j.id",
        )?;
        let rejections = stmt
            .query_map([], |r| {
                Ok(RejectionFact {
                    study_id: r.get(0)?,
                    at_unix: unix_at(r, 1)?,
                    code: r.get(3)?,
                    meaning: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(ReportFacts {
            studies,
            corrections,
            dismissals,
            sends,
            rejections,
        })
    }
}
