//! What the reports count, read from the store in one pass per table: each study's arrival,
//! state, findings and origin (modality, station, source, implementation), and every
//! correction, dismissal, resend and rejection with its time. The `reports` module computes
//! the figures from these.

use std::collections::HashMap;

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

fn unix(text: &str) -> i64 {
    parse_rfc3339_unix(text).unwrap_or(0)
}

impl Store {
    /// The facts of every study holding instances, and of every event. Only what grouping
    /// `by` needs is read of each study (at 100,000 studies every column and table costs tens
    /// of milliseconds): its modality, station, source or implementation version; the finding
    /// codes always.
    pub fn report_facts(&self, by: crate::reports::GroupBy) -> Result<ReportFacts, StoreError> {
        use crate::reports::GroupBy;
        // Every study's finding codes: the open exceptions are counted per code whatever the
        // grouping (one query of two columns; an aggregate in SQL was slower).
        let mut codes: HashMap<i64, Vec<String>> = HashMap::new();
        let mut stmt = self.conn.prepare("SELECT study_id, code FROM findings")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, code) = row?;
            codes.entry(id).or_default().push(code);
        }
        let dismissed = self.dismissals()?;
        let mut versions: HashMap<i64, String> = HashMap::new();
        if by == GroupBy::Version {
            // The version of each study's first instance as received.
            let mut stmt = self.conn.prepare(
                "SELECT i.study_id, b.implementation_version, MIN(i.id) FROM instances i
                 JOIN files f ON f.instance_id = i.id AND f.role = 'original'
                 JOIN blobs b ON b.hash = f.blob_hash GROUP BY i.study_id",
            )?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (id, v) = row?;
                versions.insert(id, v.trim().to_string());
            }
        }
        let column = match by {
            GroupBy::Modality => "s.modality",
            GroupBy::Station => "s.station_name",
            GroupBy::Source => "s.source",
            GroupBy::Version | GroupBy::Code => "''",
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT s.id, s.first_seen_unix, s.state, {column}
             FROM studies s WHERE s.n_instances > 0 ORDER BY s.id"
        ))?;
        let studies = stmt
            .query_map([], |r| {
                let id: i64 = r.get(0)?;
                let state: String = r.get(2)?;
                let value: String = r.get(3)?;
                let mut fact = StudyFact {
                    id,
                    first_seen_unix: r.get(1)?,
                    state: StudyState::parse(&state).unwrap_or(StudyState::Broken),
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
                    GroupBy::Station => fact.station = value,
                    GroupBy::Source => fact.source = value,
                    GroupBy::Version | GroupBy::Code => {}
                }
                Ok(fact)
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|mut s| {
                s.finding_codes = codes.remove(&s.id).unwrap_or_default();
                s.implementation_version = versions.remove(&s.id).unwrap_or_default();
                s.dismissed = dismissed.contains_key(&s.id);
                s
            })
            .collect();
        let mut stmt = self.conn.prepare(
            "SELECT study_id, at, action, undone_by IS NOT NULL, changes FROM corrections
             WHERE action IN ('order', 'edit', 'move', 'merge') ORDER BY id",
        )?;
        let corrections = stmt
            .query_map([], |r| {
                let changes: String = r.get(4)?;
                Ok(CorrectionFact {
                    study_id: r.get(0)?,
                    at_unix: unix(&r.get::<_, String>(1)?),
                    action: r.get(2)?,
                    undone: r.get(3)?,
                    patient_id_changed: changes.contains("\"(0010,0020)\""),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT study_id, at_unix, reason, reopened_at IS NOT NULL FROM dismissals ORDER BY id",
        )?;
        let dismissals = stmt
            .query_map([], |r| {
                Ok(DismissalFact {
                    study_id: r.get(0)?,
                    at_unix: r.get(1)?,
                    reason: r.get(2)?,
                    reopened: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT study_id, created_at, state, updated_at FROM send_jobs ORDER BY id")?;
        let sends = stmt
            .query_map([], |r| {
                let state: String = r.get(2)?;
                Ok(SendFact {
                    study_id: r.get(0)?,
                    created_unix: unix(&r.get::<_, String>(1)?),
                    verified_unix: (state == "verified")
                        .then(|| unix(&r.get::<_, String>(3).unwrap_or_default())),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT j.study_id, c.at, j.code, j.meaning FROM rejections j
             JOIN corrections c ON c.id = j.correction_id ORDER BY j.id",
        )?;
        let rejections = stmt
            .query_map([], |r| {
                Ok(RejectionFact {
                    study_id: r.get(0)?,
                    at_unix: unix(&r.get::<_, String>(1)?),
                    code: r.get(2)?,
                    meaning: r.get(3)?,
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
