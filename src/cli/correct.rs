//! `fix`, `undo`, `history` and `audit`: correcting a study from an order or by hand, taking
//! a correction back, and the record of who changed what.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use super::output;
use crate::model::WorklistItem;
use crate::reconcile::correction::Correction;
use crate::reconcile::fields::parse_assignment;
use crate::reconcile::fix::{self, StudyChange, Who};
use crate::reconcile::relocate::{MovePlan, MoveTo, plan_merge, plan_move};
use crate::store::{AuditHead, Store, os_user};

/// What `fix` was asked to do.
pub struct FixArgs<'a> {
    /// One study, or several of one patient (a bulk edit with --set).
    pub studies: &'a [String],
    pub order: Option<&'a str>,
    pub step: Option<&'a str>,
    pub set: &'a [String],
    /// Give the study the order's Study Instance UID too.
    pub take_study_uid: bool,
}

/// What every command that changes a study takes.
pub struct ChangeArgs<'a> {
    pub dry_run: bool,
    pub reason: Option<&'a str>,
    pub operator: Option<&'a str>,
    pub json: bool,
}

impl ChangeArgs<'_> {
    fn who(&self) -> Who {
        Who {
            os_user: os_user(),
            operator: self.operator.unwrap_or_default().trim().to_string(),
            reason: self.reason.unwrap_or_default().trim().to_string(),
        }
    }
}

#[derive(Serialize)]
struct FixJson<'a> {
    study: i64,
    study_instance_uid: &'a str,
    dry_run: bool,
    changes: &'a [StudyChange],
    /// Instances rewritten (or, on a dry run, that would be).
    instances: u64,
    total_instances: u64,
    /// The correction that made the study's new version (null on a dry run).
    version: Option<i64>,
    /// The study's state afterwards.
    state: Option<String>,
}

/// The order with this accession (and step, when several share it) in the worklist cache.
fn find_order(store: &Store, accession: &str, step: Option<&str>) -> Result<WorklistItem> {
    let all = store.worklist()?;
    let mut hits: Vec<&WorklistItem> = all
        .iter()
        .filter(|o| o.accession.trim() == accession.trim())
        .filter(|o| step.is_none_or(|s| o.sps_id.trim() == s.trim()))
        .collect();
    if hits.len() > 1 {
        // Orders still listed by the RIS before those it dropped.
        let listed: Vec<&WorklistItem> = hits
            .iter()
            .copied()
            .filter(|o| o.vanished_at.is_none())
            .collect();
        if !listed.is_empty() {
            hits = listed;
        }
    }
    match hits.as_slice() {
        [] => bail!(
            "no order with accession '{accession}'{} in the worklist cache (see `qcdesk match` for candidates)",
            step.map(|s| format!(" and step '{s}'")).unwrap_or_default()
        ),
        [one] => Ok((*one).clone()),
        many => bail!(
            "{} orders have accession '{accession}' (steps {}); choose one with --step",
            many.len(),
            many.iter()
                .map(|o| format!("'{}'", o.sps_id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `qcdesk fix STUDY (--order ACCESSION | --set KEYWORD=VALUE...) [--dry-run] [--reason] [--json]`.
pub fn fix(store: &mut Store, f: &FixArgs<'_>, a: &ChangeArgs<'_>) -> Result<()> {
    let mut ids = Vec::new();
    for s in f.studies {
        ids.push(store.find_study(s)?);
    }
    ids.dedup();
    let [first, rest @ ..] = ids.as_slice() else {
        bail!("give the study to correct");
    };
    if !rest.is_empty() && f.order.is_some() {
        bail!("an order is applied to one study at a time (an accession names one study)");
    }
    if f.take_study_uid && f.order.is_none() {
        bail!("--take-study-uid goes with --order");
    }
    // Held while the files are rewritten: a second change meanwhile is refused naming us.
    let _held = (!a.dry_run)
        .then(|| store.claim_for_change(&ids))
        .transpose()?;
    // An order: its Study UID taken when asked or when the site says so ([reconcile]
    // study_uid = "take"); then the instances move, as `move` does.
    let mut order_plan = None;
    if let (Some(acc), true) = (f.order, f.set.is_empty()) {
        let order = find_order(store, acc, f.step)?;
        let plan = crate::reconcile::order::plan(store, *first, &order, f.take_study_uid)?;
        if plan.takes_uid {
            let moved = crate::reconcile::relocate::MovePlan {
                correction: plan.correction.clone(),
                preview: plan.preview.clone(),
                other_patient: plan.other_patient.clone(),
            };
            if let Some(c) = relocate(store, moved, a, false)? {
                crate::reconcile::order::learn_from(store, &plan, c, None);
            }
            return Ok(());
        }
        order_plan = Some(plan);
    }
    let correction = match (f.order, f.set.is_empty()) {
        (Some(_), true) => match &order_plan {
            Some(p) => p.correction.clone(),
            None => bail!("internal error: no plan for the order"),
        },
        (None, false) => {
            let mut values = Vec::new();
            let mut problems = Vec::new();
            for s in f.set {
                match parse_assignment(s) {
                    Ok(v) => values.push(v),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            if !problems.is_empty() {
                bail!(
                    "invalid values, nothing was changed:\n  {}",
                    problems.join("\n  ")
                );
            }
            Correction::manual(&values)
        }
        _ => bail!("give either --order ACCESSION or --set KEYWORD=VALUE (not both)"),
    };
    // Several studies: one patient's, each previewed before any is written.
    let patients: std::collections::BTreeSet<(String, String)> = ids
        .iter()
        .map(|&id| {
            store.study_detail(id).map(|d| {
                (
                    d.row.patient_id.trim().to_string(),
                    d.issuer_of_patient_id.trim().to_string(),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    if patients.len() > 1 {
        bail!(
            "these studies belong to {} patients; a bulk edit takes the studies of one patient",
            patients.len()
        );
    }
    let mut previews = Vec::new();
    for &id in &ids {
        previews.push(fix::preview(store, id, &correction)?);
    }
    let mut out = Vec::new();
    for (id, preview) in ids.iter().copied().zip(&previews) {
        let applied = if a.dry_run || (ids.len() > 1 && preview.instances == 0) {
            None
        } else {
            let applied = match &order_plan {
                Some(plan) => {
                    crate::reconcile::order::apply(store, plan, &a.who(), |_, _| {}, None)
                }
                None => fix::apply(store, preview, &correction, &a.who(), |_, _| {}),
            };
            let done = applied.map_err(|e| {
                anyhow::anyhow!(
                    "study {id}: {e}{}",
                    if out.is_empty() {
                        String::new()
                    } else {
                        format!(" (studies {} were corrected)", done_list(&out))
                    }
                )
            })?;
            Some((done, store.study_row(id)?.state))
        };
        out.push((id, preview, applied));
    }
    let rows: Vec<FixJson> = out
        .iter()
        .map(|(id, preview, applied)| {
            let (changes, instances) = match applied {
                Some((done, _)) => (&done.changes, done.instances),
                None if a.dry_run => (&preview.changes, preview.instances),
                None => (&preview.changes, 0),
            };
            FixJson {
                study: *id,
                study_instance_uid: &preview.base.study_uid,
                dry_run: a.dry_run,
                changes,
                instances,
                total_instances: preview.base.instances.len() as u64,
                version: applied.as_ref().map(|(done, _)| done.correction),
                state: applied.as_ref().map(|(_, s)| s.as_str().to_string()),
            }
        })
        .collect();
    if a.json {
        return match rows.as_slice() {
            [one] => output::print_json(one),
            many => output::print_json(many),
        };
    }
    for r in &rows {
        match (&r.version, &r.state) {
            (Some(v), Some(state)) => println!(
                "study {}: correction {v} made {} new version(s) of {} instances; state now {state}",
                r.study, r.instances, r.total_instances
            ),
            _ if a.dry_run => println!(
                "dry run: study {} ({} of {} instances would change)",
                r.study, r.instances, r.total_instances
            ),
            _ => println!("study {}: already holds these values", r.study),
        }
        print_changes(r.changes);
    }
    Ok(())
}

fn done_list<T, U>(out: &[(i64, T, Option<U>)]) -> String {
    out.iter()
        .filter(|(_, _, a)| a.is_some())
        .map(|(id, _, _)| id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Serialize)]
struct MoveJson<'a> {
    from_study: i64,
    /// The study the instances go to (null on a dry run to a new study).
    to_study: Option<i64>,
    dry_run: bool,
    /// The patients, when the move puts images on another patient: [from, to].
    other_patient: Option<[&'a str; 2]>,
    changes: &'a [StudyChange],
    instances: u64,
    version: Option<i64>,
}

/// `qcdesk move SERIES_UID (--to STUDY | --new)`.
pub fn move_series(
    store: &mut Store,
    series: &str,
    to: Option<&str>,
    a: &ChangeArgs<'_>,
    confirmed: bool,
) -> Result<()> {
    let to = match to {
        Some(s) => MoveTo::Study(store.find_study(s)?),
        None => MoveTo::New,
    };
    let plan = plan_move(store, series, to)?;
    relocate(store, plan, a, confirmed).map(|_| ())
}

/// `qcdesk merge STUDY FROM_STUDY`: FROM_STUDY's series move into STUDY.
pub fn merge(
    store: &mut Store,
    into: &str,
    from: &str,
    a: &ChangeArgs<'_>,
    confirmed: bool,
) -> Result<()> {
    let (into, from) = (store.find_study(into)?, store.find_study(from)?);
    let plan = plan_merge(store, into, from)?;
    relocate(store, plan, a, confirmed).map(|_| ())
}

/// Moves as planned (or shows it, on a dry run); the correction made, if any.
fn relocate(
    store: &mut Store,
    plan: MovePlan,
    a: &ChangeArgs<'_>,
    confirmed: bool,
) -> Result<Option<i64>> {
    let from = plan.preview.base.study_id;
    let mut studies = vec![from];
    if let Some(crate::store::Destination::Study(t)) = plan.preview.destination {
        studies.push(t);
    }
    let _held = (!a.dry_run)
        .then(|| store.claim_for_change(&studies))
        .transpose()?;
    let who = a.who();
    if let Some((p_from, p_to)) = &plan.other_patient
        && !a.dry_run
        && (who.reason.is_empty() || !confirmed)
    {
        bail!(
            "this puts images of patient {p_from} on patient {p_to}: give the reason (--reason) and \
             confirm (--confirm-other-patient); nothing was moved"
        );
    }
    let applied = if a.dry_run {
        None
    } else {
        Some(fix::apply(
            store,
            &plan.preview,
            &plan.correction,
            &who,
            |_, _| {},
        )?)
    };
    let to_study = match (&applied, plan.preview.destination.as_ref()) {
        (_, Some(crate::store::Destination::Study(t))) => Some(*t),
        (Some(done), _) => store
            .corrections_of(from)?
            .iter()
            .find(|e| e.id == done.correction)
            .and_then(|e| e.other_study),
        _ => None,
    };
    let (changes, instances) = match &applied {
        Some(done) => (&done.changes, done.instances),
        None => (
            &plan.preview.changes,
            plan.preview.base.instances.len() as u64,
        ),
    };
    if a.json {
        output::print_json(&MoveJson {
            from_study: from,
            to_study,
            dry_run: a.dry_run,
            other_patient: plan
                .other_patient
                .as_ref()
                .map(|(f, t)| [f.as_str(), t.as_str()]),
            changes,
            instances,
            version: applied.as_ref().map(|d| d.correction),
        })?;
        return Ok(applied.map(|d| d.correction));
    }
    let target = to_study.map_or("a new study".to_string(), |t| format!("study {t}"));
    match &applied {
        None => println!("dry run: {instances} instance(s) of study {from} would move to {target}"),
        Some(done) => println!(
            "{instances} instance(s) of study {from} moved to {target} (correction {}; `qcdesk undo {from}` takes it back)",
            done.correction
        ),
    }
    if let Some((f, t)) = &plan.other_patient {
        println!("  from patient {f} to patient {t}");
    }
    print_changes(changes);
    Ok(applied.map(|d| d.correction))
}

/// `qcdesk reject (STUDY|SERIES_UID|SOP_UID) --code CODE [--reason] [--json]`.
pub fn reject(store: &mut Store, target: &str, code: &str, a: &ChangeArgs<'_>) -> Result<()> {
    use crate::reconcile::reject::{CODES, code_by_value, reject};
    let Some(code) = code_by_value(code) else {
        bail!(
            "unknown rejection code '{code}'; one of {}",
            CODES
                .iter()
                .map(|c| format!("{} ({})", c.code, c.meaning))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let t = store.reject_target(target)?;
    let _held = (!a.dry_run)
        .then(|| store.claim_for_change(&[t.study_id]))
        .transpose()?;
    if a.dry_run {
        if a.json {
            let sops: Vec<&str> = t
                .instances
                .iter()
                .map(|(_, r)| r.sop_instance_uid.as_str())
                .collect();
            return output::print_json(&serde_json::json!({
                "study": t.study_id, "dry_run": true, "code": code.code,
                "meaning": code.meaning, "instances": sops,
            }));
        }
        println!(
            "dry run: {} instance(s) of study {} would be rejected ({})",
            t.instances.len(),
            t.study_id,
            code.meaning
        );
        return Ok(());
    }
    let done = reject(store, &t, code, &a.who())?;
    if a.json {
        return output::print_json(&done);
    }
    println!(
        "study {}: {} instance(s) rejected ({} {}); rejection note {} added to the study and sent with it",
        done.study, done.rejected, done.code, done.meaning, done.note_sop_instance_uid
    );
    Ok(())
}

fn print_changes(changes: &[StudyChange]) {
    if changes.is_empty() {
        println!("  no change: the study already holds these values");
    }
    for c in changes {
        println!("  {} {}", c.tag, c.keyword);
        println!("      old: {}", c.old);
        for o in &c.other_old {
            println!("           {o} (some instances)");
        }
        println!("      new: {}", c.new);
    }
}

/// `qcdesk undo STUDY [--reason] [--json]`.
pub fn undo(
    store: &mut Store,
    study: &str,
    reason: Option<&str>,
    operator: Option<&str>,
    json: bool,
) -> Result<()> {
    let id = store.find_study(study)?;
    let out = store.undo_correction(
        id,
        &os_user(),
        operator.unwrap_or_default(),
        reason.unwrap_or_default(),
    )?;
    if json {
        return output::print_json(&out);
    }
    let state = store.study_row(id)?.state;
    println!(
        "study {id}: correction {} undone ({} instances back on their previous versions); state now {}",
        out.undid,
        out.instances,
        state.as_str()
    );
    Ok(())
}

/// `qcdesk history STUDY [--json]`.
pub fn history(store: &Store, study: &str, json: bool) -> Result<()> {
    let id = store.find_study(study)?;
    let entries = store.corrections_of(id)?;
    if json {
        return output::print_json(&entries);
    }
    if entries.is_empty() {
        println!("study {id} has not been corrected: every instance is as received");
        return Ok(());
    }
    for e in &entries {
        let who = if e.operator.is_empty() {
            e.os_user.clone()
        } else {
            format!("{} ({})", e.operator, e.os_user)
        };
        let undone = e
            .undone_by
            .map(|u| format!("  [undone by {u}]"))
            .unwrap_or_default();
        let what = e.describe();
        println!(
            "{:>4}  {}  {:<14} {} instance(s)  by {who}{undone}",
            e.id, e.at, what, e.instances
        );
        if !e.reason.is_empty() {
            println!("      reason: {}", e.reason);
        }
        if let Ok(changes) = serde_json::from_value::<Vec<StudyChange>>(e.changes.clone()) {
            for c in changes {
                println!("      {} {}: {} -> {}", c.tag, c.keyword, c.old, c.new);
            }
        }
    }
    Ok(())
}

/// `qcdesk audit [STUDY] [--verify] [--json]`. A broken chain is an error (exit 1).
/// Walks the chain (and checks it reaches the head kept outside the database, when given).
pub fn verify_audit(store: &Store, head: Option<&Path>, json: bool) -> Result<()> {
    let outside = match head {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the audit head {}", file.display()))?;
            let heads = AuditHead::parse_all(&text);
            if heads.is_empty() {
                bail!(
                    "{} holds no audit head (an exported head file, or lines ending `head N:HASH` from the system log)",
                    file.display()
                );
            }
            heads
        }
        None => Vec::new(),
    };
    // Every head kept outside must be in the chain; the first that is not is reported.
    let mut check = store.verify_audit()?;
    for h in &outside {
        if check.first_bad.is_some() {
            break;
        }
        check = store.verify_audit_against(h)?;
    }
    if json {
        output::print_json(&check)?;
    } else if check.first_bad.is_none() {
        match outside.iter().map(|h| h.entry).max() {
            Some(entry) => println!(
                "audit log intact: {} entries, chain verified up to entry {entry} kept outside the database ({} heads checked)",
                check.entries,
                outside.len()
            ),
            None => println!(
                "audit log intact: {} entries, chain verified (against the database's own head: \
                 use --head with a head kept outside it to rule out a rewritten history)",
                check.entries
            ),
        }
    }
    if let Some(bad) = check.first_bad {
        bail!(
            "audit log tampered with: entry {}: {} ({} entries checked)",
            bad.id,
            bad.problem,
            check.entries
        );
    }
    Ok(())
}

/// Verifies the chain, then writes its head to `file` for an auditor to keep.
pub fn export_audit_head(store: &Store, file: &Path, json: bool) -> Result<()> {
    let check = store.verify_audit()?;
    if let Some(bad) = check.first_bad {
        bail!(
            "audit log tampered with: entry {}: {}; no head exported",
            bad.id,
            bad.problem
        );
    }
    let head = store
        .audit_head()?
        .ok_or_else(|| anyhow!("the audit log is empty: there is no head to export"))?;
    let (now, _) = crate::fsutil::now();
    std::fs::write(file, head.to_file_text(store.workspace().root(), &now))
        .with_context(|| format!("cannot write {}", file.display()))?;
    if json {
        output::print_json(&head)?;
    } else {
        println!(
            "audit head exported to {}: entry {} ({})",
            file.display(),
            head.entry,
            head.hash
        );
    }
    Ok(())
}

/// The audit log (of one study when given), oldest first.
pub fn audit(store: &Store, study: Option<&str>, json: bool) -> Result<()> {
    let uid = match study {
        Some(s) => {
            let id = store.find_study(s)?;
            Some(store.correction_base(id)?.study_uid)
        }
        None => None,
    };
    let entries = store.audit(uid.as_deref())?;
    if json {
        return output::print_json(&entries);
    }
    for e in &entries {
        let who = if e.operator.is_empty() {
            e.os_user.clone()
        } else {
            format!("{} ({})", e.operator, e.os_user)
        };
        println!(
            "{:>5}  {}  {:<6} {}  by {who}",
            e.id, e.at, e.action, e.study_uid
        );
        if let Some(changes) = e.detail.get("changes").and_then(|c| c.as_array()) {
            for c in changes {
                let f = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                println!(
                    "       {} {}: {} -> {}",
                    f("tag"),
                    f("keyword"),
                    f("old"),
                    f("new")
                );
            }
        }
        if let Some(r) = e.detail.get("reason").and_then(|r| r.as_str())
            && !r.is_empty()
        {
            println!("       reason: {r}");
        }
    }
    Ok(())
}
