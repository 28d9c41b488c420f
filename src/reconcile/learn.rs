//! The matching as the service and the desk run it on a workspace: a `Matcher` over the
//! worklist cache with weights learnt from the Associate's decisions (each order applied is a
//! true pair, each candidate ranked above it a false one, an applied order undone a false
//! one), and the background pass that proposes the likely order of every open study.

use super::linkage::weights::Label;
use super::linkage::{Field, Level, Levels};
use super::{MatchFacts, Matcher};
use crate::model::{LikelyOrder, WorklistItem};
use crate::store::{NewLabel, Proposal, Store, StoreError, StudyFactsRow};

/// The labelled pairs of the workspace (pairs whose levels no longer parse are skipped).
pub fn labels(store: &Store) -> Result<Vec<(Label, Levels)>, StoreError> {
    Ok(store
        .match_labels()?
        .into_iter()
        .filter_map(|l| {
            let levels: Vec<(Field, Level)> = serde_json::from_str(&l.levels).ok()?;
            let label = if l.applied {
                Label::Applied
            } else if l.undone {
                Label::Undone
            } else {
                Label::Rejected
            };
            Some((label, levels))
        })
        .collect())
}

/// The worklist cache prepared for matching, with the weights the workspace has learnt.
pub fn matcher(store: &Store) -> Result<Matcher, StoreError> {
    let orders = store.worklist()?;
    Ok(Matcher::new(orders, &labels(store)?, store.match_config()))
}

/// The orders a study not matched yet may belong to, ranked (None for a matched study): what
/// the desk's detail shows beside the study.
#[derive(Debug, Clone)]
pub struct StudyCandidates {
    pub study: i64,
    pub ranking: super::Ranking,
    /// The ranked candidates' orders, in the ranking's order.
    pub orders: Vec<WorklistItem>,
}

/// Ranks the cache's orders for the study `detail` shows (its best `limit`).
pub fn candidates_for(
    store: &Store,
    detail: &crate::model::StudyDetail,
    limit: usize,
) -> Result<Option<StudyCandidates>, StoreError> {
    if detail.row.state == crate::model::StudyState::Matched {
        return Ok(None);
    }
    let matcher = matcher(store)?;
    let ranking = matcher.rank(&MatchFacts::of(detail), limit);
    let orders = ranking
        .candidates
        .iter()
        .map(|c| matcher.orders()[c.index].clone())
        .collect();
    Ok(Some(StudyCandidates {
        study: detail.row.id,
        ranking,
        orders,
    }))
}

/// Records that `order` was applied to the study (`facts`: the study as it was before), and
/// that the candidates ranked above it were not its order.
pub fn record_applied(
    store: &mut Store,
    matcher: &Matcher,
    study_id: i64,
    facts: &MatchFacts,
    order: &WorklistItem,
    correction: Option<i64>,
) -> Result<(), StoreError> {
    let json = |levels: Levels| serde_json::to_string(&levels).unwrap_or_else(|_| "[]".into());
    let mut labels = vec![NewLabel {
        accession: order.accession.clone(),
        applied: true,
        levels: json(matcher.levels(facts, order)),
    }];
    let ranking = matcher.rank(facts, 5);
    for c in &ranking.candidates {
        let o = &matcher.orders()[c.index];
        if o.accession == order.accession && o.sps_id == order.sps_id {
            break;
        }
        labels.push(NewLabel {
            accession: o.accession.clone(),
            applied: false,
            levels: json(matcher.levels(facts, o)),
        });
    }
    store.record_match_labels(study_id, correction, &labels)
}

/// The study as the matching compares it.
pub fn facts_of(r: &StudyFactsRow) -> MatchFacts {
    MatchFacts {
        patient_name: r.patient_name.clone(),
        patient_id: r.patient_id.clone(),
        issuer_of_patient_id: r.issuer_of_patient_id.clone(),
        birth_date: r.birth_date.clone(),
        sex: r.sex.clone(),
        accession: r.accession.clone(),
        modalities: r.modality.clone(),
        source_ae: r.source.clone(),
        study_date: r.study_date.clone(),
        study_time: r.study_time.clone(),
        description: r.description.clone(),
    }
}

/// What a pass of [`propose_open`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProposeSummary {
    /// Open studies unmatched or mismatching their order.
    pub studies: usize,
    /// Of them, with a likely order.
    pub proposed: usize,
    /// Of those, clear (one order far above the rest, agreeing on who the patient is).
    pub clear: usize,
}

/// The probability (percent) from which an order is proposed as a study's likely one.
pub const MIN_LIKELY: i32 = 50;

/// What a pass of the matching over the open studies reads from the workspace (read under
/// the store's lock; the ranking itself needs no store).
pub struct ProposeInput {
    orders: Vec<WorklistItem>,
    labels: Vec<(Label, Levels)>,
    rows: Vec<StudyFactsRow>,
    config: super::MatchConfig,
}

/// Reads what [`propose`] needs.
pub fn propose_input(store: &Store) -> Result<ProposeInput, StoreError> {
    Ok(ProposeInput {
        orders: store.worklist()?,
        labels: labels(store)?,
        rows: store.unmatched_facts()?,
        config: store.match_config().clone(),
    })
}

/// Ranks the orders of every open study unmatched or mismatching its order and keeps the most likely one of each.
pub fn propose(input: ProposeInput) -> (Vec<Proposal>, ProposeSummary) {
    let matcher = Matcher::new(input.orders, &input.labels, &input.config);
    let facts: Vec<MatchFacts> = input.rows.iter().map(facts_of).collect();
    let rankings = matcher.rank_many(&facts, 5);
    let mut summary = ProposeSummary {
        studies: input.rows.len(),
        ..ProposeSummary::default()
    };
    let mut proposals = Vec::new();
    for (row, ranking) in input.rows.iter().zip(rankings) {
        let Some(best) = ranking.candidates.first() else {
            continue;
        };
        // "Likely": one order at least even odds, or orders as likely as each other (twins,
        // same-day orders) that together are.
        let together: i32 = ranking
            .candidates
            .iter()
            .filter(|c| c.ambiguous)
            .map(|c| c.score)
            .sum();
        if best.score < MIN_LIKELY && !(best.ambiguous && together >= MIN_LIKELY) {
            continue;
        }
        let clear = ranking.auto_match.is_some();
        summary.proposed += 1;
        summary.clear += usize::from(clear);
        proposals.push(Proposal {
            study_id: row.id,
            order: LikelyOrder {
                accession: best.accession.clone(),
                score: best.score,
                clear,
                others: ranking
                    .candidates
                    .iter()
                    .skip(1)
                    .filter(|c| c.ambiguous)
                    .count() as u32,
            },
        });
    }
    (proposals, summary)
}

/// Ranks the orders of every open study unmatched or mismatching its order and keeps the most likely one of each
/// (the queue shows it before the study is opened). Applies nothing.
pub fn propose_open(store: &mut Store) -> Result<ProposeSummary, StoreError> {
    let (proposals, summary) = propose(propose_input(store)?);
    store.replace_proposals(&proposals)?;
    Ok(summary)
}

/// When the receiver service runs the pass: every `every`, and soon (not more often than
/// `settle`) after studies arrived. A decision of the core, run by the service.
#[derive(Debug, Clone)]
pub struct ProposeSchedule {
    every: std::time::Duration,
    settle: std::time::Duration,
    last: Option<std::time::Instant>,
    arrived: bool,
}

impl ProposeSchedule {
    /// `None` when the site turned the pass off (`propose_minutes = 0`).
    pub fn new(config: &super::MatchConfig) -> Option<ProposeSchedule> {
        (config.propose_minutes > 0).then(|| ProposeSchedule {
            every: std::time::Duration::from_secs(config.propose_minutes * 60),
            settle: std::time::Duration::from_secs(30),
            last: None,
            arrived: false,
        })
    }

    /// Studies arrived.
    pub fn arrived(&mut self) {
        self.arrived = true;
    }

    /// Whether a pass is due at `now` (then it counts as started).
    pub fn due(&mut self, now: std::time::Instant) -> bool {
        let due = match self.last {
            None => true,
            Some(t) => {
                let since = now.saturating_duration_since(t);
                since >= self.every || (self.arrived && since >= self.settle)
            }
        };
        if due {
            self.last = Some(now);
            self.arrived = false;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_pass_runs_at_start_every_period_and_soon_after_arrivals() {
        let cfg = super::super::MatchConfig::default();
        let mut s = ProposeSchedule::new(&cfg).unwrap();
        let t = Instant::now();
        assert!(s.due(t), "at start");
        assert!(!s.due(t + Duration::from_secs(10)));
        s.arrived();
        assert!(!s.due(t + Duration::from_secs(20)), "arrivals settle first");
        assert!(s.due(t + Duration::from_secs(31)));
        assert!(!s.due(t + Duration::from_secs(120)));
        assert!(
            s.due(t + Duration::from_secs(31 + 300)),
            "every five minutes"
        );
        let off = super::super::MatchConfig {
            propose_minutes: 0,
            ..cfg
        };
        assert!(ProposeSchedule::new(&off).is_none());
    }
}
