//! The study against its worklist orders, field by field. The comparisons are returned whole
//! (the desk draws them as they are) and the findings come from the best one.

use super::names::{self, NameVerdict};
use super::{InstanceFacts, RulesConfig, StudySummary, finding, issuers_compatible, normalize_id};
use crate::model::{FieldComparison, Finding, OrderComparison, Verdict, WorklistItem};

/// Orders that may be this study's: its accession, and an Issuer of Accession Number that
/// does not say otherwise.
fn candidates<'a>(summary: &StudySummary, orders: &'a [WorklistItem]) -> Vec<&'a WorklistItem> {
    let acc = summary.accession.trim();
    if acc.is_empty() {
        return Vec::new();
    }
    orders
        .iter()
        .filter(|o| {
            o.accession.trim() == acc
                && issuers_compatible(&o.issuer_of_accession, &summary.issuer_of_accession)
        })
        .collect()
}

/// The study against each candidate order, best (fewest mismatches) first.
pub fn compare_orders(
    summary: &StudySummary,
    instances: &[InstanceFacts],
    orders: &[WorklistItem],
    config: &RulesConfig,
) -> Vec<OrderComparison> {
    let mut out: Vec<OrderComparison> = candidates(summary, orders)
        .into_iter()
        .map(|o| OrderComparison {
            order: o.clone(),
            fields: compare_fields(summary, instances, o, config),
        })
        .collect();
    out.sort_by_key(OrderComparison::mismatches);
    out
}

fn field(
    name: &str,
    study: &str,
    order: &str,
    verdict: Verdict,
    why: impl Into<String>,
    code: &str,
) -> FieldComparison {
    FieldComparison {
        field: name.into(),
        study: study.into(),
        order: order.into(),
        verdict,
        why: why.into(),
        code: (verdict == Verdict::Mismatch).then(|| code.to_string()),
    }
}

/// The usual verdict: not compared when the order has nothing, else equal or not.
fn plain(study: &str, order: &str, same: bool) -> (Verdict, &'static str) {
    if order.trim().is_empty() {
        (Verdict::NotCompared, "the order has no value")
    } else if same {
        (Verdict::Match, "same value")
    } else if study.trim().is_empty() {
        (Verdict::Mismatch, "the study has no value")
    } else {
        (Verdict::Mismatch, "different values")
    }
}

fn compare_fields(
    s: &StudySummary,
    instances: &[InstanceFacts],
    o: &WorklistItem,
    config: &RulesConfig,
) -> Vec<FieldComparison> {
    let mut out = Vec::new();

    let (v, why) = if o.patient_name.trim().is_empty() {
        (Verdict::NotCompared, "the order has no value".to_string())
    } else {
        match names::compare(&s.patient_name, &o.patient_name) {
            NameVerdict::Same => (Verdict::Match, "same name".into()),
            NameVerdict::Equivalent(why) => (Verdict::Equivalent, why),
            NameVerdict::Different(why) => (Verdict::Mismatch, why),
        }
    };
    out.push(field(
        "Patient name",
        &s.patient_name,
        &o.patient_name,
        v,
        why,
        "patient_name_mismatch",
    ));

    let (v, why) = plain(
        &s.patient_id,
        &o.patient_id,
        normalize_id(&s.patient_id) == normalize_id(&o.patient_id),
    );
    out.push(field(
        "Patient ID",
        &s.patient_id,
        &o.patient_id,
        v,
        why,
        "patient_id_mismatch",
    ));

    let (v, why) = if s.issuer_of_patient_id.trim().is_empty() {
        (Verdict::NotCompared, "the study does not say")
    } else {
        plain(
            &s.issuer_of_patient_id,
            &o.issuer_of_patient_id,
            s.issuer_of_patient_id.trim() == o.issuer_of_patient_id.trim(),
        )
    };
    out.push(field(
        "Issuer of Patient ID",
        &s.issuer_of_patient_id,
        &o.issuer_of_patient_id,
        v,
        why,
        "issuer_mismatch",
    ));

    let (v, mut why) = plain(&s.birth_date, &o.birth_date, s.birth_date == o.birth_date);
    if v == Verdict::Mismatch && swapped_day_month(&s.birth_date, &o.birth_date) {
        why = "day and month swapped";
    }
    out.push(field(
        "Birth date",
        &s.birth_date,
        &o.birth_date,
        v,
        why,
        "birth_date_mismatch",
    ));

    let (v, why) = plain(&s.sex, &o.sex, s.sex.trim() == o.sex.trim());
    out.push(field("Sex", &s.sex, &o.sex, v, why, "sex_mismatch"));

    let (v, why) = modality_verdict(instances, &o.modality, config);
    out.push(field(
        "Modality",
        &s.modality,
        &o.modality,
        v,
        why,
        "modality_mismatch",
    ));

    if !o.study_instance_uid.trim().is_empty() {
        let (v, why) = plain(
            &s.study_uid,
            &o.study_instance_uid,
            s.study_uid.trim() == o.study_instance_uid.trim(),
        );
        let keep = config.study_uid == crate::model::StudyUidPolicy::Keep;
        let (why, code) = match (v == Verdict::Mismatch, keep) {
            (true, true) => (
                "the order was scheduled with another Study Instance UID; the study keeps its own ([reconcile] study_uid = \"keep\")",
                "study_uid_differs",
            ),
            (true, false) => (
                "the order was scheduled with another Study Instance UID; applying the order gives the study that UID",
                "study_uid_mismatch",
            ),
            _ => (why, "study_uid_mismatch"),
        };
        out.push(field(
            "Study Instance UID",
            &s.study_uid,
            &o.study_instance_uid,
            v,
            why,
            code,
        ));
    }
    out
}

/// Two DA values with day and month swapped. Bytes, not characters: a damaged value may hold
/// any text.
fn swapped_day_month(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == 8
        && b.len() == 8
        && a.is_ascii()
        && b.is_ascii()
        && a[0..4] == b[0..4]
        && a[4..6] == b[6..8]
        && a[6..8] == b[4..6]
}

/// Every non-ancillary modality of the study must be the order's or equivalent to it.
fn modality_verdict(
    instances: &[InstanceFacts],
    ordered: &str,
    config: &RulesConfig,
) -> (Verdict, String) {
    let ordered = ordered.trim();
    if ordered.is_empty() {
        return (Verdict::NotCompared, "the order has no value".into());
    }
    let mut acquired: Vec<&str> = instances
        .iter()
        .map(|i| i.header.modality.trim())
        .filter(|m| !m.is_empty() && !config.is_ancillary(m))
        .collect();
    acquired.sort();
    acquired.dedup();
    if acquired.is_empty() {
        return (
            Verdict::NotCompared,
            "the study has only ancillary objects".into(),
        );
    }
    let wrong: Vec<&str> = acquired
        .iter()
        .copied()
        .filter(|m| !config.equivalent(m, ordered))
        .collect();
    if !wrong.is_empty() {
        return (
            Verdict::Mismatch,
            format!("{} acquired for a {ordered} order", wrong.join(", ")),
        );
    }
    let others: Vec<&str> = acquired
        .iter()
        .copied()
        .filter(|m| !m.eq_ignore_ascii_case(ordered))
        .collect();
    if others.is_empty() {
        (Verdict::Match, "same modality".into())
    } else {
        (
            Verdict::Equivalent,
            format!(
                "{} counts as {ordered} (modality equivalence table)",
                others.join(", ")
            ),
        )
    }
}

/// `no_accession`, `no_order`, the `*_mismatch` codes of the best order, and a `name_variant`
/// note when names agree only once accents are folded.
pub(super) fn order_findings(
    summary: &StudySummary,
    orders: &[WorklistItem],
    comparisons: &[OrderComparison],
) -> Vec<Finding> {
    if summary.accession.trim().is_empty() {
        return vec![finding(
            "no_accession",
            "no Accession Number (0008,0050) in the study".into(),
            None,
        )];
    }
    let Some(best) = comparisons.first() else {
        let other_issuers: Vec<&str> = orders
            .iter()
            .filter(|o| o.accession.trim() == summary.accession.trim())
            .map(|o| o.issuer_of_accession.as_str())
            .collect();
        let message = if other_issuers.is_empty() {
            format!("no worklist order for accession {}", summary.accession)
        } else {
            format!(
                "no worklist order for accession {} of issuer '{}' (orders with this number belong to {})",
                summary.accession,
                summary.issuer_of_accession,
                other_issuers.join(", ")
            )
        };
        return vec![finding("no_order", message, None)];
    };
    let mut out = Vec::new();
    for f in &best.fields {
        match (&f.verdict, &f.code) {
            (Verdict::Mismatch, Some(code)) => {
                let why = if f.why == "different values" {
                    String::new()
                } else {
                    format!(" ({})", f.why)
                };
                out.push(finding(
                    code,
                    format!("{}: study '{}', order '{}'{why}", f.field, f.study, f.order),
                    None,
                ))
            }
            (Verdict::Equivalent, _) if f.field == "Patient name" => out.push(finding(
                "name_variant",
                format!(
                    "Patient name: study '{}', order '{}' ({})",
                    f.study, f.order, f.why
                ),
                None,
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::dicom::Header;
    use crate::model::{StudyState, Verdict};

    #[test]
    fn unmatched_without_order_or_accession() {
        let c = run(&study(vec![inst("a", |_| {})]), &[]);
        assert_eq!(c.state, StudyState::Unmatched);
        assert_eq!(codes(&c), ["no_order"]);
        let c = run(&study(vec![inst("a", |h| h.accession.clear())]), &[order()]);
        assert_eq!(codes(&c), ["no_accession"]);
    }

    #[test]
    fn demographics_differing_from_order_is_mismatch() {
        type Edit = Box<dyn Fn(&mut Header)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|h| h.patient_id = "P9".into()),
                "patient_id_mismatch",
            ),
            (
                Box::new(|h| h.patient_name = "ROE^JANE".into()),
                "patient_name_mismatch",
            ),
            (
                Box::new(|h| h.birth_date = "19700102".into()),
                "birth_date_mismatch",
            ),
            (Box::new(|h| h.sex = "M".into()), "sex_mismatch"),
            (Box::new(|h| h.modality = "MR".into()), "modality_mismatch"),
            (
                Box::new(|h| h.issuer_of_patient_id = "OTHER".into()),
                "issuer_mismatch",
            ),
        ];
        for (edit, code) in cases {
            let mut o = order();
            o.issuer_of_patient_id = "RGH".into();
            let c = run(&study(vec![inst("a", |h| edit(h))]), &[o]);
            assert_eq!(c.state, StudyState::Mismatch, "{code}");
            assert_eq!(codes(&c), [code]);
            // The comparison the desk draws says the same.
            let marked: Vec<&str> = c.comparisons[0]
                .fields
                .iter()
                .filter(|f| f.verdict == Verdict::Mismatch)
                .filter_map(|f| f.code.as_deref())
                .collect();
            assert_eq!(marked, [code]);
        }
    }

    #[test]
    fn issuer_of_patient_id_is_compared_only_when_the_study_has_one() {
        let mut o = order();
        o.issuer_of_patient_id = "RGH".into();
        let c = run(&study(vec![inst("a", |_| {})]), &[o.clone()]);
        assert_eq!(c.state, StudyState::Matched);
        let f = &c.comparisons[0].fields[2];
        assert_eq!(
            (f.field.as_str(), f.verdict),
            ("Issuer of Patient ID", Verdict::NotCompared)
        );
        let c = run(
            &study(vec![inst("a", |h| h.issuer_of_patient_id = "RGH".into())]),
            &[o],
        );
        assert_eq!(c.comparisons[0].fields[2].verdict, Verdict::Match);
    }

    #[test]
    fn empty_order_values_are_not_compared() {
        let mut o = order();
        o.sex.clear();
        o.birth_date.clear();
        let c = run(&study(vec![inst("a", |_| {})]), &[o]);
        assert_eq!(c.state, StudyState::Matched);
        for f in &c.comparisons[0].fields {
            if f.field == "Sex" || f.field == "Birth date" {
                assert_eq!(f.verdict, Verdict::NotCompared, "{f:?}");
            }
        }
    }

    #[test]
    fn accents_match_with_a_note() {
        let mut o = order();
        o.patient_name = "KOVÁCS^PÉTER".into();
        let c = run(
            &study(vec![inst("a", |h| h.patient_name = "KOVACS^PETER".into())]),
            &[o],
        );
        assert_eq!(c.state, StudyState::Matched);
        assert_eq!(codes(&c), ["name_variant"]);
        assert_eq!(c.comparisons[0].fields[0].verdict, Verdict::Equivalent);
    }

    #[test]
    fn swapped_birth_date_is_named() {
        let c = run(
            &study(vec![inst("a", |h| h.birth_date = "19700101".into())]),
            &[{
                let mut o = order();
                o.birth_date = "19701001".into();
                o
            }],
        );
        assert_eq!(codes(&c), ["birth_date_mismatch"]);
        let c2 = run(
            &study(vec![inst("a", |h| h.birth_date = "19701203".into())]),
            &[{
                let mut o = order();
                o.birth_date = "19700312".into();
                o
            }],
        );
        assert!(c2.findings[0].message.contains("day and month swapped"));
    }

    #[test]
    fn damaged_dates_never_panic() {
        // "é" straddles byte 4: slicing by bytes of a str would panic.
        let c = run(
            &study(vec![inst("a", |h| h.birth_date = "197é011".into())]),
            &[order()],
        );
        assert!(codes(&c).contains(&"birth_date_mismatch"));
        assert!(!super::swapped_day_month("197é011", "19700101"));
    }

    #[test]
    fn modality_equivalents_and_ancillary_series() {
        // A CR reader answering a DX order: equivalent.
        let mut o = order();
        o.modality = "DX".into();
        let c = run(&study(vec![inst("a", |h| h.modality = "CR".into())]), &[o]);
        assert_eq!(c.state, StudyState::Matched, "{:?}", c.findings);
        assert_eq!(c.comparisons[0].fields[5].verdict, Verdict::Equivalent);
        // Every acquired modality must fit, not just one of them.
        let c = run(
            &study(vec![
                inst("a", |_| {}),
                inst("bb", |h| h.modality = "MR".into()),
            ]),
            &[order()],
        );
        assert!(codes(&c).contains(&"modality_mismatch"));
        // Ancillary objects never decide.
        for m in ["SR", "SEG", "RTSTRUCT", "KO", "PR"] {
            let c = run(
                &study(vec![
                    inst("a", |_| {}),
                    inst("bb", |h| h.modality = m.into()),
                ]),
                &[order()],
            );
            assert_eq!(c.state, StudyState::Matched, "{m}: {:?}", c.findings);
        }
    }

    #[test]
    fn issuer_of_accession_is_respected() {
        let mut o = order();
        o.issuer_of_accession = "RIS_WEST".into();
        let c = run(
            &study(vec![inst("a", |h| {
                h.issuer_of_accession = "RIS_EAST".into()
            })]),
            &[o.clone()],
        );
        assert_eq!(codes(&c), ["no_order"]);
        assert!(
            c.findings[0].message.contains("RIS_WEST"),
            "{}",
            c.findings[0].message
        );
        // Same issuer, or the study not saying: the order is a candidate.
        let c = run(
            &study(vec![inst("a", |h| {
                h.issuer_of_accession = "RIS_WEST".into()
            })]),
            &[o.clone()],
        );
        assert_eq!(c.state, StudyState::Matched);
        let c = run(&study(vec![inst("a", |_| {})]), &[o]);
        assert_eq!(c.state, StudyState::Matched);
    }

    #[test]
    fn order_study_uid_must_agree_where_the_site_takes_it_and_is_a_note_where_it_keeps_its_own() {
        let mut o = order();
        o.study_instance_uid = "1.2.999".into();
        let take = crate::rules::RulesConfig {
            study_uid: crate::model::StudyUidPolicy::Take,
            ..Default::default()
        };
        let c = crate::rules::classify(&study(vec![inst("a", |_| {})]), &[o.clone()], &take);
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Mismatch, vec!["study_uid_mismatch"])
        );
        let c = run(&study(vec![inst("a", |_| {})]), &[o.clone()]);
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Matched, vec!["study_uid_differs"]),
            "keep (the default): matched, with a note"
        );
        o.study_instance_uid = "1.2.3".into();
        let c = run(&study(vec![inst("a", |_| {})]), &[o]);
        assert_eq!(c.state, StudyState::Matched);
    }

    #[test]
    fn the_closest_of_several_orders_is_judged() {
        let mut far = order();
        far.patient_id = "P8".into();
        far.sex = "M".into();
        let c = run(&study(vec![inst("a", |_| {})]), &[far, order()]);
        assert_eq!(c.state, StudyState::Matched);
        assert_eq!(c.comparisons.len(), 2);
        assert_eq!(c.comparisons[0].mismatches(), 0);
    }
}
