//! Reconciliation: which RIS order a study belongs to. `rank` scores every order of the
//! worklist cache against a study, factor by factor, each with a reason the Associate can read
//! (accession, patient ID and issuer, name, birth date, sex, modality, station, time,
//! procedure), says when one candidate is clear enough to match on its own, and flags two
//! candidates that could both be right (twins, same-day orders). Knows nothing of the UI.
//!
//! Correcting a study: an order's attributes or values typed by hand (`correction`,
//! `fields`), written into each file with the old values kept (`rewrite`), previewed and
//! applied as new versions with an audit entry (`fix`).

pub mod correction;
mod factors;
pub mod fields;
pub mod fix;
pub mod identity;
pub mod reject;
pub mod relocate;
pub mod rewrite;

use serde::Serialize;

use crate::model::WorklistItem;

/// What is known of a study, as the matching compares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchFacts {
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub accession: String,
    /// Modalities of the study, `\`-separated.
    pub modalities: String,
    /// The sending station's AE title.
    pub source_ae: String,
    pub study_date: String,
    pub study_time: String,
    pub description: String,
}

impl MatchFacts {
    /// What the matching knows of a study shown in detail.
    pub fn of(d: &crate::model::StudyDetail) -> MatchFacts {
        let r = &d.row;
        MatchFacts {
            patient_name: r.patient_name.clone(),
            patient_id: r.patient_id.clone(),
            issuer_of_patient_id: d.issuer_of_patient_id.clone(),
            birth_date: d.patient_birth_date.clone(),
            sex: d.patient_sex.clone(),
            accession: r.accession.clone(),
            modalities: r.modality.clone(),
            source_ae: r.source.clone(),
            study_date: r.study_date.clone(),
            study_time: d.study_time.clone(),
            description: r.study_description.clone(),
        }
    }
}

/// One factor's contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub factor: &'static str,
    pub detail: String,
    /// Points added (or taken, when negative).
    pub weight: i32,
}

/// An order as a candidate for the study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Index of the order in the list ranked.
    #[serde(skip)]
    pub index: usize,
    pub accession: String,
    /// 0 to 100.
    pub score: i32,
    pub reasons: Vec<Reason>,
    /// Another candidate scores within the ambiguous margin of this one: the user decides.
    pub ambiguous: bool,
}

/// `[reconcile]` in `config.toml`: the site's thresholds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchConfig {
    /// Candidates at least this good may be matched without asking, when unambiguous.
    pub auto_match_score: i32,
    /// Two candidates closer than this are both shown as possibly right.
    pub ambiguous_margin: i32,
    /// Candidates below this are not shown.
    pub min_score: i32,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            auto_match_score: 80,
            ambiguous_margin: 10,
            min_score: 20,
        }
    }
}

/// The ranking of orders for one study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    pub candidates: Vec<Candidate>,
    /// The accession of the candidate that may be applied without asking: the best, at the
    /// auto-match score or above, and unambiguous.
    pub auto_match: Option<String>,
}

/// Scores every order in `orders` against `study` (vanished orders skipped), best first,
/// those below the minimum score left out, at most `limit`.
pub fn rank(
    study: &MatchFacts,
    orders: &[WorklistItem],
    limit: usize,
    cfg: &MatchConfig,
) -> Ranking {
    let mut candidates: Vec<Candidate> = orders
        .iter()
        .enumerate()
        .filter(|(_, o)| o.vanished_at.is_none())
        .map(|(index, o)| {
            let reasons = factors::reasons(study, o);
            let total: i32 = reasons.iter().map(|r| r.weight).sum();
            Candidate {
                index,
                accession: o.accession.clone(),
                score: total.clamp(0, 100),
                reasons,
                ambiguous: false,
            }
        })
        .filter(|c| c.score >= cfg.min_score)
        .collect();
    candidates.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.accession.cmp(&b.accession))
    });
    candidates.truncate(limit.max(1));
    let best = candidates.first().map(|c| c.score).unwrap_or(0);
    let close = candidates
        .iter()
        .filter(|c| best - c.score < cfg.ambiguous_margin)
        .count();
    if close > 1 {
        for c in candidates
            .iter_mut()
            .filter(|c| best - c.score < cfg.ambiguous_margin)
        {
            c.ambiguous = true;
        }
    }
    let auto_match = candidates
        .first()
        .filter(|c| c.score >= cfg.auto_match_score && !c.ambiguous)
        .map(|c| c.accession.clone());
    Ranking {
        candidates,
        auto_match,
    }
}

#[cfg(test)]
mod tests;
