//! What the matching keeps: labelled pairs (each order the Associate applied and the candidates
//! ranked above it, as agreement levels in JSON; an applied order whose correction was undone
//! counts as rejected), and the orders the background pass proposed for open studies.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::fsutil;
use crate::model::LikelyOrder;

/// A labelled pair as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLabel {
    /// Applied and not undone.
    pub applied: bool,
    /// Applied, then its correction undone.
    pub undone: bool,
    /// The pair's agreement levels (JSON).
    pub levels: String,
}

/// A label to record.
#[derive(Debug, Clone)]
pub struct NewLabel {
    pub accession: String,
    pub applied: bool,
    pub levels: String,
}

/// A proposal of the background pass.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub study_id: i64,
    pub order: LikelyOrder,
}

impl Store {
    /// Records the labelled pairs of one applied order (`correction`).
    pub fn record_match_labels(
        &mut self,
        study_id: i64,
        correction: Option<i64>,
        labels: &[NewLabel],
    ) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        self.in_transaction(|tx| {
            for l in labels {
                tx.execute(
                    "INSERT INTO match_labels (at, study_id, correction_id, accession, label, levels)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        now,
                        study_id,
                        correction,
                        l.accession,
                        if l.applied { "applied" } else { "rejected" },
                        l.levels
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Every labelled pair, oldest first.
    pub fn match_labels(&self) -> Result<Vec<StoredLabel>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT l.label, c.undone_by IS NOT NULL, l.levels FROM match_labels l
             LEFT JOIN corrections c ON c.id = l.correction_id ORDER BY l.id",
        )?;
        let rows = stmt.query_map([], |r| {
            let label: String = r.get(0)?;
            let undone: bool = r.get(1)?;
            Ok((
                label == "rejected" && undone,
                StoredLabel {
                    applied: label == "applied" && !undone,
                    undone: label == "applied" && undone,
                    levels: r.get(2)?,
                },
            ))
        })?;
        // The candidates ranked above an order whose correction was undone are no longer
        // known to be wrong: one of them may be the study's.
        Ok(rows
            .filter(|r| !matches!(r, Ok((true, _))))
            .map(|r| r.map(|(_, l)| l))
            .collect::<Result<_, _>>()?)
    }

    /// Forgets every labelled pair (the weights return to what the cache alone says).
    pub fn forget_match_labels(&mut self) -> Result<u64, StoreError> {
        self.in_transaction(|tx| Ok(tx.execute("DELETE FROM match_labels", [])? as u64))
    }

    /// Replaces the proposals with `proposals` (studies without one have none).
    pub fn replace_proposals(&mut self, proposals: &[Proposal]) -> Result<(), StoreError> {
        let (now, _) = fsutil::now();
        self.in_transaction(|tx| {
            tx.execute("DELETE FROM proposals", [])?;
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO proposals (study_id, accession, score, clear, others, computed_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                 WHERE EXISTS (SELECT 1 FROM studies s WHERE s.id = ?1 AND s.state <> 'matched'
                     AND NOT EXISTS (SELECT 1 FROM dismissals d WHERE d.study_id = s.id AND d.reopened_at IS NULL))",
            )?;
            for p in proposals {
                stmt.execute(params![
                    p.study_id,
                    p.order.accession,
                    p.order.score,
                    p.order.clear,
                    p.order.others,
                    now
                ])?;
            }
            Ok(())
        })
    }

    /// The proposals, by study.
    pub(super) fn proposals(&self) -> Result<HashMap<i64, LikelyOrder>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT study_id, accession, score, clear, others FROM proposals")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                LikelyOrder {
                    accession: r.get(1)?,
                    score: r.get(2)?,
                    clear: r.get(3)?,
                    others: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The proposal for one study.
    pub(super) fn proposal_of(&self, id: i64) -> Result<Option<LikelyOrder>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT accession, score, clear, others FROM proposals WHERE study_id = ?1",
                [id],
                |r| {
                    Ok(LikelyOrder {
                        accession: r.get(0)?,
                        score: r.get(1)?,
                        clear: r.get(2)?,
                        others: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }
}

/// Findings an order resolves (a study holding one is proposed an order even when a worse
/// state, such as a bad date, names it).
const ORDER_CODES: &str = "'no_order', 'no_accession', 'patient_id_mismatch', 'issuer_mismatch', \
     'patient_name_mismatch', 'birth_date_mismatch', 'sex_mismatch', 'study_uid_mismatch'";

/// What the matching compares of a study, read from its row.
#[derive(Debug, Clone, Default)]
pub struct StudyFactsRow {
    pub id: i64,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub accession: String,
    pub modality: String,
    pub source: String,
    pub study_date: String,
    pub study_time: String,
    pub description: String,
}

impl Store {
    /// The open studies an order would resolve (unmatched, or mismatching their order;
    /// holding instances, not dismissed), as the matching compares them: one query. Broken or
    /// inconsistent studies are left out: their exception is not which order they belong to.
    pub fn unmatched_facts(&self) -> Result<Vec<StudyFactsRow>, StoreError> {
        let sql = "SELECT id, patient_name, patient_id, issuer_of_patient_id, birth_date, sex, accession,
                    modality, source, study_date, study_time, description
             FROM studies s WHERE n_instances > 0 AND (state IN ('unmatched', 'mismatch') OR EXISTS (
                 SELECT 1 FROM findings f WHERE f.study_id = s.id AND f.code IN (ORDER_CODES)))
             AND NOT EXISTS (SELECT 1 FROM dismissals d WHERE d.study_id = s.id AND d.reopened_at IS NULL)
             ORDER BY id"
            .replace("ORDER_CODES", ORDER_CODES);
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            let text = |i: usize| -> rusqlite::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
            };
            Ok(StudyFactsRow {
                id: r.get(0)?,
                patient_name: text(1)?,
                patient_id: text(2)?,
                issuer_of_patient_id: text(3)?,
                birth_date: text(4)?,
                sex: text(5)?,
                accession: text(6)?,
                modality: text(7)?,
                source: text(8)?,
                study_date: text(9)?,
                study_time: text(10)?,
                description: text(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
