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
        let v = crate::text::printable;
        println!(
            "{:>3}/100  {:<12} {} {} {} {}{mark}",
            c.score,
            v(&c.accession),
            v(&o.patient_name),
            v(&o.patient_id),
            o.scheduled_at,
            v(&o.procedure)
        );
        for r in &c.reasons {
            println!(
                "           {:+4}  {:<10} {}",
                r.weight,
                r.factor,
                v(&r.detail)
            );
        }
    }
    // The next step, ready to copy: apply the best candidate (naming its step when the
    // accession has several).
    let best = &orders[ranking.candidates[0].index];
    let shared = orders
        .iter()
        .filter(|o| o.accession == best.accession)
        .count()
        > 1;
    println!();
    println!(
        "Apply the best candidate: qcdesk fix {id} --order {}{}",
        shell_word(&best.accession),
        if shared && !best.sps_id.is_empty() {
            format!(" --step {}", shell_word(&best.sps_id))
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `s` as one shell word: as it is when plain, else in single quotes.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
