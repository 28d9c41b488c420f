//! `match`: the worklist orders a study may belong to, most likely first, with the evidence
//! field by field; the weights in use and what they were learnt from (`--explain`); a pass
//! over every open study (`--all`).

use anyhow::Result;

use super::output;
use crate::model::WorklistItem;
use crate::reconcile::{Candidate, MatchFacts, learn};
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
    let matcher = learn::matcher(store)?;
    let orders = matcher.orders();
    let ranking = matcher.rank(&MatchFacts::of(&detail), limit);
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
        println!(
            "no order in the worklist cache fits study {id} ({} compared; the others share no \
             name, ID, birth date or day with it)",
            ranking.compared
        );
        return Ok(());
    }
    for c in &ranking.candidates {
        let o = &orders[c.index];
        let mark = if ranking.auto_match.as_deref() == Some(c.accession.as_str()) {
            "  (clear: far above the rest, and who the patient is agrees)"
        } else if c.ambiguous {
            "  (as likely as another: decide)"
        } else {
            ""
        };
        let v = crate::text::printable;
        println!(
            "{:>3}%  {:+6.1} bits  {:<12} {} {} {} {}{mark}",
            c.score,
            c.weight,
            v(&c.accession),
            v(&o.patient_name),
            v(&o.patient_id),
            o.scheduled_at,
            v(&o.procedure)
        );
        for r in &c.reasons {
            println!(
                "       {:+6.1}  {:<12} {}",
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

/// `qcdesk match --explain [--json]`: every agreement level's m, u and weight, and what they
/// were learnt from.
pub fn explain(store: &Store, json: bool) -> Result<()> {
    let matcher = learn::matcher(store)?;
    let w = matcher.weights();
    if json {
        return output::print_json(w);
    }
    println!(
        "Weights in use: log2(m/u) bits per agreement level. m: how often the study and its true \
         order show the level; u: how often a random pair does."
    );
    println!(
        "Learnt from {} random pairs of the cache's {} orders (u) and {} confirmed matches, {} \
         rejected candidates and {} undone (m; defaults count as {} confirmed).",
        w.sampled,
        matcher.orders().len(),
        w.labels.applied,
        w.labels.rejected,
        w.labels.undone,
        40
    );
    println!(
        "Exact names, birth dates and IDs weigh by the value's frequency in the cache (shown at \
         the average)."
    );
    println!();
    println!(
        "{:<12} {:<14} {:>8} {:>9} {:>7}  {:>8} {:>8}  learnt",
        "field", "level", "m", "u", "bits", "default", "(labels)"
    );
    for r in &w.rows {
        let default = (r.default_m / r.default_u).log2();
        let learnt = if (r.weight - default).abs() > 0.1 {
            "*"
        } else {
            ""
        };
        println!(
            "{:<12} {:<14} {:>8.4} {:>9.6} {:>+7.1}  {:>+8.1} {:>8}  {learnt}",
            r.field.as_str(),
            r.level.as_str(),
            r.m,
            r.u,
            r.weight,
            default,
            r.m_count
        );
    }
    println!();
    println!("Forget what was learnt from the Associate: qcdesk match --reset-learning");
    Ok(())
}

/// `qcdesk match --reset-learning`.
pub fn reset_learning(store: &mut Store, json: bool) -> Result<()> {
    let n = store.forget_match_labels()?;
    if json {
        return output::print_json(&serde_json::json!({ "forgotten": n }));
    }
    println!("forgot {n} labelled pair(s); the weights are the defaults refined by the cache");
    Ok(())
}

/// `qcdesk match --all [--json]`: the background pass, once.
pub fn propose_all(store: &mut Store, json: bool) -> Result<()> {
    let s = learn::propose_open(store)?;
    if json {
        return output::print_json(&s);
    }
    println!(
        "{} open studies unmatched or mismatching their order: {} with a likely order ({} clear); see `qcdesk queue`",
        s.studies, s.proposed, s.clear
    );
    Ok(())
}
