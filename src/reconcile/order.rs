//! Applying a worklist order to a study, as the CLI and the desk do: the IHE reconciliation
//! set, and the order's Study Instance UID as the site decides (`[reconcile] study_uid`:
//! `keep`, the default, leaves the study its own UID and the difference is a note; `take`
//! moves its instances to the order's study). After the correction, the pair is kept as a
//! labelled match (and the candidates ranked above it as rejected) for the weights to learn.

use super::correction::Correction;
use super::fix::{self, Applied, FixError, Preview, Who};
use super::{MatchFacts, StudyUidPolicy, learn, relocate};
use crate::model::WorklistItem;
use crate::store::Store;

/// An order about to be applied: what it sets, its dry run, and the study as it was.
#[derive(Debug, Clone)]
pub struct OrderPlan {
    pub order: WorklistItem,
    pub correction: Correction,
    pub preview: Preview,
    /// The study before the correction, as the matching compared it.
    pub before: MatchFacts,
    /// The study takes the order's Study Instance UID (its instances move).
    pub takes_uid: bool,
    /// The instances join a study of another patient: (from, to) as `ID NAME`.
    pub other_patient: Option<(String, String)>,
}

impl OrderPlan {
    /// How the order changes who the patient is, a line per field (empty: it does not).
    pub fn patient_changes(&self) -> Vec<String> {
        let mut out = super::identity::patient_changes(&self.preview.changes);
        if let Some((from, to)) = &self.other_patient {
            out.push(format!(
                "its images join the order's study, which holds patient {to} (they are {from})"
            ));
        }
        out
    }
}

/// Plans applying `order` to `study`; `take_uid` forces taking the order's Study UID.
pub fn plan(
    store: &Store,
    study: i64,
    order: &WorklistItem,
    take_uid: bool,
) -> Result<OrderPlan, FixError> {
    let detail = store.study_detail(study)?;
    let before = MatchFacts::of(&detail);
    let uid = order.study_instance_uid.trim();
    let differs =
        !uid.is_empty() && detail.row.study_instance_uid.as_deref().map(str::trim) != Some(uid);
    let takes_uid = take_uid || (store.match_config().study_uid == StudyUidPolicy::Take && differs);
    let (correction, preview, other_patient) = if takes_uid {
        let p = relocate::plan_order_with_uid(store, study, order)?;
        (p.correction, p.preview, p.other_patient)
    } else {
        let c = Correction::from_order(order);
        let p = fix::preview(store, study, &c)?;
        (c, p, None)
    };
    Ok(OrderPlan {
        order: order.clone(),
        correction,
        preview,
        before,
        takes_uid,
        other_patient,
    })
}

/// Applies a planned order and records what the matching learns from it (a failure to record
/// is logged: the correction stands).
pub fn apply(
    store: &mut Store,
    plan: &OrderPlan,
    who: &Who,
    progress: impl FnMut(u64, u64),
    matcher: Option<&super::Matcher>,
) -> Result<Applied, FixError> {
    let done = fix::apply(store, &plan.preview, &plan.correction, who, progress)?;
    learn_from(store, plan, done.correction, matcher);
    Ok(done)
}

/// Records the applied order as a labelled pair (`matcher`: the cache as matched, when the
/// caller has it, else built here).
pub fn learn_from(
    store: &mut Store,
    plan: &OrderPlan,
    correction: i64,
    matcher: Option<&super::Matcher>,
) {
    let built;
    let m = match matcher {
        Some(m) => Ok(m),
        None => {
            built = learn::matcher(store);
            built.as_ref().map_err(|e| e.to_string())
        }
    };
    let recorded = m.map_err(|e| e.to_string()).and_then(|m| {
        learn::record_applied(
            store,
            m,
            plan.preview.base.study_id,
            &plan.before,
            &plan.order,
            Some(correction),
        )
        .map_err(|e| e.to_string())
    });
    if let Err(e) = recorded {
        tracing::warn!(
            "order {} was applied, but the match could not be kept for learning: {e}",
            plan.order.accession
        );
    }
}
