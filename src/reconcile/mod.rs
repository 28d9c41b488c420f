//! Reconciliation: which RIS order a study belongs to. A `Matcher` holds the worklist cache
//! indexed for matching and the weights in use (`linkage`: probabilistic record linkage);
//! `rank` gives a study's likely orders with the probability of each and its reasons, field by
//! field, in words (accession, patient ID and issuer, family and given names, birth date,
//! sex, modality, station, time, procedure), says when one candidate is clear enough to match
//! on its own, and flags candidates that could both be right (twins, same-day orders).
//! Knows nothing of the UI.
//!
//! Correcting a study: an order's attributes or values typed by hand (`correction`,
//! `fields`), written into each file with the old values kept (`rewrite`), previewed and
//! applied as new versions with an audit entry (`fix`).

pub mod correction;
pub mod fields;
pub mod fix;
pub mod identity;
pub mod learn;
pub mod linkage;
pub mod order;
pub mod reject;
pub mod relocate;
pub mod rewrite;

use serde::Serialize;

use crate::model::WorklistItem;
use linkage::compare::{Side, compare};
use linkage::index::OrderIndex;
use linkage::weights::{Label, Weights};
use linkage::{Field, Level, Levels, levels_of};

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

/// One field's contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The field (`accession`, `patient_id`, `family_name`, `given_name`, `birth_date`, `sex`,
    /// `modality`, `station`, `time`, `procedure`).
    pub factor: &'static str,
    /// Its agreement level (`exact`, `close`, `phonetic`, `one_digit`, `temporary`...).
    pub level: &'static str,
    pub detail: String,
    /// Evidence for (positive) or against the order, in bits (log2 of the likelihood ratio),
    /// to a tenth.
    pub weight: f64,
}

/// An order as a candidate for the study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Index of the order in the list ranked.
    #[serde(skip)]
    pub index: usize,
    pub accession: String,
    /// The probability, in percent (0 to 100), that this is the study's order, given the
    /// evidence and that the order may not be in the cache at all.
    pub score: i32,
    /// The same, unrounded (0 to 1).
    pub posterior: f64,
    /// The evidence in bits: the sum of the reasons' weights.
    pub weight: f64,
    pub reasons: Vec<Reason>,
    /// Another candidate's evidence is within the ambiguous margin of this one: the user decides.
    pub ambiguous: bool,
    /// The fields that say who the patient is agree well enough for a match without asking.
    #[serde(skip)]
    pub identity_agrees: bool,
}

pub use crate::config::MatchConfig;
pub use crate::model::StudyUidPolicy;

impl MatchConfig {
    /// The temporary-ID patterns compiled; an invalid one is named.
    pub fn temporary(&self) -> Result<linkage::compare::TemporaryIds, String> {
        self.temporary_ids
            .iter()
            .map(|p| {
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("[reconcile] temporary_ids: '{p}': {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(linkage::compare::TemporaryIds)
    }
}

/// The ranking of orders for one study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    pub candidates: Vec<Candidate>,
    /// The accession of the candidate that may be applied without asking: the best, at the
    /// auto-match score or above, unambiguous, and agreeing on who the patient is.
    pub auto_match: Option<String>,
    /// Orders compared (the others shared no value with the study worth comparing).
    pub compared: usize,
}

/// The prior probability that a study's order is in the cache at all.
const IN_CACHE: f64 = 0.9;

/// The worklist cache prepared for matching, with the weights in use.
pub struct Matcher {
    index: OrderIndex,
    weights: Weights,
    temporary: linkage::compare::TemporaryIds,
    config: MatchConfig,
}

impl Matcher {
    /// Indexes `orders`; the weights are estimated from the cache and the `labels`.
    pub fn new(
        orders: Vec<WorklistItem>,
        labels: &[(Label, Levels)],
        config: &MatchConfig,
    ) -> Matcher {
        let index = OrderIndex::build(orders);
        // An invalid pattern was named when the configuration was read; here it is skipped.
        let temporary = config.temporary().unwrap_or_default();
        let sampled = index.sample(4000, &temporary);
        let weights = Weights::estimate(&sampled, labels);
        Matcher {
            index,
            weights,
            temporary,
            config: config.clone(),
        }
    }

    /// Indexes `orders` with the default weights (no estimation).
    pub fn with_defaults(orders: Vec<WorklistItem>, config: &MatchConfig) -> Matcher {
        Matcher {
            index: OrderIndex::build(orders),
            weights: Weights::default(),
            temporary: config.temporary().unwrap_or_default(),
            config: config.clone(),
        }
    }

    pub fn orders(&self) -> &[WorklistItem] {
        self.index.orders()
    }

    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    fn side(&self, study: &MatchFacts) -> Side {
        Side::of_study(study, self.index.metaphone())
    }

    /// The levels of `study` against `order` (for learning).
    pub fn levels(&self, study: &MatchFacts, order: &WorklistItem) -> Levels {
        let o = Side::of_order(order, self.index.metaphone());
        levels_of(&compare(
            &self.side(study),
            &o,
            &self.index,
            &self.temporary,
            false,
        ))
    }

    /// Orders for `study`, most likely first, at most `limit`.
    pub fn rank(&self, study: &MatchFacts, limit: usize) -> Ranking {
        let s = self.side(study);
        let found = self.index.candidates(&s);
        let compared = found.len();
        let mut candidates: Vec<Candidate> = found
            .into_iter()
            .map(|i| self.candidate(&s, i as usize, false))
            .collect();
        // Bayes: each order equally likely a priori, and the order possibly not in the cache.
        let n = self.index.active().max(1) as f64;
        let best_w = candidates.iter().map(|c| c.weight).fold(f64::MIN, f64::max);
        let scale = |w: f64| (w - best_w).exp2();
        let none = (1.0 - IN_CACHE) * n / IN_CACHE;
        // Everything relative to the best (2^best may overflow): sum of 2^(w-best), and the
        // "not in the cache" mass as 2^(log2(none)-best).
        let total: f64 = candidates.iter().map(|c| scale(c.weight)).sum::<f64>()
            + if best_w > f64::MIN {
                scale(none.log2())
            } else {
                0.0
            };
        for c in &mut candidates {
            c.posterior = scale(c.weight) / total;
            c.score = (c.posterior * 100.0).round() as i32;
        }
        candidates.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.accession.cmp(&b.accession))
        });
        // Ambiguity over every order compared, before any is left out of the list: a
        // runner-up below the display floor still makes the best one doubtful.
        let margin = self.config.ambiguous_margin as f64;
        if let Some(best) = candidates.first().map(|c| c.weight) {
            let close = candidates
                .iter()
                .filter(|c| best - c.weight < margin)
                .count();
            if close > 1 {
                for c in candidates.iter_mut().filter(|c| best - c.weight < margin) {
                    c.ambiguous = true;
                }
            }
        }
        candidates.retain(|c| {
            c.weight >= self.config.min_evidence as f64 && c.score >= self.config.min_score
        });
        candidates.truncate(limit.max(1));
        // The reasons in words, for the candidates shown only.
        for c in &mut candidates {
            c.reasons = self.candidate(&s, c.index, true).reasons;
        }
        let auto_match = candidates
            .first()
            .filter(|c| {
                c.score >= self.config.auto_match_score && !c.ambiguous && c.identity_agrees
            })
            .map(|c| c.accession.clone());
        Ranking {
            candidates,
            auto_match,
            compared,
        }
    }

    /// Rankings of many studies, on every core.
    pub fn rank_many(&self, studies: &[MatchFacts], limit: usize) -> Vec<Ranking> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = studies.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let parts: Vec<_> = studies
                .chunks(chunk)
                .map(|part| {
                    scope
                        .spawn(move || part.iter().map(|s| self.rank(s, limit)).collect::<Vec<_>>())
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// Order `i` as a candidate for study `s`; `words`: with its reasons (else none).
    fn candidate(&self, s: &Side, i: usize, words: bool) -> Candidate {
        let outcomes = compare(s, self.index.side(i), &self.index, &self.temporary, words);
        let level = |f: Field| {
            outcomes
                .iter()
                .find(|o| o.field == f)
                .map_or(Level::Missing, |o| o.level)
        };
        let mut reasons = Vec::new();
        let mut weight = 0.0;
        for o in &outcomes {
            let w = self.weights.weight(o.field, o.level, o.frequency) + o.adjust;
            weight += w;
            if words && o.level != Level::Missing {
                reasons.push(Reason {
                    factor: o.field.as_str(),
                    level: o.level.as_str(),
                    detail: o.detail.clone(),
                    weight: (w * 10.0).round() / 10.0,
                });
            }
        }
        let (id, family, given, birth) = (
            level(Field::PatientId),
            level(Field::FamilyName),
            level(Field::GivenName),
            level(Field::BirthDate),
        );
        // No field saying who the patient is may disagree, whatever else agrees.
        let conflict = outcomes.iter().any(|o| {
            o.field.is_identity() && matches!(o.level, Level::Different | Level::OtherIssuer)
        });
        let identity_agrees = !conflict
            && (level(Field::Accession) == Level::Exact
                || (matches!(id, Level::Exact | Level::OtherId)
                    && matches!(family, Level::Exact | Level::Close)
                    && birth == Level::Exact)
                || (family == Level::Exact
                    && given == Level::Exact
                    && birth == Level::Exact
                    && !matches!(id, Level::Different | Level::Close | Level::OtherIssuer)));
        // Who the patient is says nothing of which of the patient's orders this is: the
        // exam must fit too (its modality, done the day it was scheduled).
        let exam_fits = level(Field::Accession) == Level::Exact
            || (matches!(level(Field::Time), Level::Within2h | Level::SameDay)
                && level(Field::Modality) != Level::Different);
        Candidate {
            index: i,
            accession: self.index.orders()[i].accession.clone(),
            score: 0,
            posterior: 0.0,
            weight,
            reasons,
            ambiguous: false,
            identity_agrees: identity_agrees && exam_fits && level(Field::Sex) != Level::Different,
        }
    }
}

/// Ranks `orders` for `study` with the default weights (vanished orders skipped), most likely
/// first, at most `limit`.
pub fn rank(
    study: &MatchFacts,
    orders: &[WorklistItem],
    limit: usize,
    cfg: &MatchConfig,
) -> Ranking {
    Matcher::with_defaults(orders.to_vec(), cfg).rank(study, limit)
}

#[cfg(test)]
mod hard_cases;
#[cfg(test)]
mod tests;
