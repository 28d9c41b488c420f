//! `match`: the worklist orders a study may belong to, best first, with the reason for each
//! point of their score.

use anyhow::Result;

use super::output;
use crate::model::WorklistItem;
use crate::reconcile::{Candidate, MatchFacts, rank};
use crate::store::Store;

/// One candidate of `match --json`.
#[derive(serde::Serialize)]
struct CandidateJson<'a> {
    #[serde(flatten)]
    candidate: &'a Candidate,
    /// May be applied without asking.
    auto: bool,
    order: &'a WorklistItem,
}

/// `qcdesk match STUDY [--limit N] [--json]`.
pub fn match_study(store: &Store, study: &str, limit: usize, json: bool) -> Result<()> {
    let id = store.find_study(study)?;
    let detail = store.study_detail(id)?;
    let orders = store.worklist()?;
    let ranking = rank(
        &MatchFacts::of(&detail),
        &orders,
        limit,
        store.match_config(),
    );
    if json {
        let rows: Vec<CandidateJson> = ranking
            .candidates
            .iter()
            .map(|c| CandidateJson {
                candidate: c,
                auto: ranking.auto_match.as_deref() == Some(c.accession.as_str())
                    && c.index == ranking.candidates[0].index,
                order: &orders[c.index],
            })
            .collect();
        return output::print_json(&rows);
    }
    if ranking.candidates.is_empty() {
        println!("no order in the worklist cache fits study {id}");
        return Ok(());
    }
    for c in &ranking.candidates {
        let o = &orders[c.index];
        let mark = if ranking.auto_match.as_deref() == Some(c.accession.as_str()) {
            "  (clear match)"
        } else if c.ambiguous {
            "  (as likely as another: decide)"
        } else {
            ""
        };
        println!(
            "{:>3}  {:<12} {} {} {} {}{mark}",
            c.score, c.accession, o.patient_name, o.patient_id, o.scheduled_at, o.procedure
        );
        for r in &c.reasons {
            println!("       {:+4}  {:<10} {}", r.weight, r.factor, r.detail);
        }
    }
    Ok(())
}
