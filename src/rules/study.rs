//! Rules about one study's own consistency: one patient, one accession, one content per SOP
//! Instance UID.

use std::collections::BTreeMap;

use super::{CopyFacts, InstanceFacts, distinct, finding, folded, names, normalize_id};
use crate::model::{CopyRole, Finding};

fn describe(values: &[(String, usize)]) -> String {
    values
        .iter()
        .map(|(v, n)| format!("'{v}' ({n} file{})", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `mixed_patient`: one study carrying more than one Patient ID, name or birth date. Names
/// that differ only in case or accents are one name.
pub(super) fn mixed_patient(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut out = Vec::new();
    let ids = distinct(instances, |h| &h.patient_id, normalize_id);
    let names = distinct(instances, |h| &h.patient_name, names::name_key);
    let births = distinct(instances, |h| &h.birth_date, |s| s.to_string());
    for (what, vals) in [
        ("Patient IDs", ids),
        ("patient names", names),
        ("birth dates", births),
    ] {
        if vals.len() > 1 {
            out.push(finding(
                "mixed_patient",
                format!("{} {what} in one study: {}", vals.len(), describe(&vals)),
                None,
            ));
        }
    }
    out
}

/// `multiple_accessions`: one Study Instance UID under two or more accession numbers.
pub(super) fn multiple_accessions(instances: &[InstanceFacts]) -> Vec<Finding> {
    let accs = distinct(instances, |h| &h.accession, |s| s.trim().to_string());
    if accs.len() > 1 {
        vec![finding(
            "multiple_accessions",
            format!(
                "one Study Instance UID under {} accession numbers: {}",
                accs.len(),
                describe(&accs)
            ),
            None,
        )]
    } else {
        Vec::new()
    }
}

/// `duplicate_sop_uid` (a SOP Instance UID received again with other attribute values, naming
/// them) and `format_note` for encoding variants (kept, no exception).
pub(super) fn copies(copies: &[CopyFacts]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut variants: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in copies {
        let uid = if c.sop_uid.is_empty() {
            "(none)"
        } else {
            &c.sop_uid
        };
        match c.role {
            CopyRole::Conflict => {
                let shown: Vec<String> = c
                    .differences
                    .iter()
                    .take(4)
                    .map(|d| d.to_string())
                    .collect();
                let more = c.differences.len().saturating_sub(shown.len());
                let what = if shown.is_empty() {
                    "different content".to_string()
                } else if more > 0 {
                    format!("{} (and {more} more)", shown.join("; "))
                } else {
                    shown.join("; ")
                };
                out.push(finding(
                    "duplicate_sop_uid",
                    format!("SOP Instance UID {uid} received again with other values: {what}"),
                    Some(&c.file),
                ));
            }
            CopyRole::Variant => variants
                .entry(format!(
                    "a copy in another encoding was received and kept ({})",
                    c.note
                ))
                .or_default()
                .push(&c.file),
            CopyRole::Original | CopyRole::Duplicate => {}
        }
    }
    out.extend(folded("format_note", variants));
    out
}

#[cfg(test)]
mod tests {
    use super::super::CopyFacts;
    use super::super::testkit::*;
    use crate::model::{AttrDiff, CopyRole, StudyState};

    #[test]
    fn two_patients_in_one_study_is_inconsistent() {
        let c = run(
            &study(vec![
                inst("a", |_| {}),
                inst("bb", |h| h.patient_id = "P2".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Inconsistent);
        assert!(codes(&c).contains(&"mixed_patient"));
        // Case, trailing carets and accents do not make another name.
        let c = run(
            &study(vec![
                inst("a", |h| h.patient_name = "DOÉ^JANE".into()),
                inst("bb", |h| h.patient_name = "doe^jane^^".into()),
            ]),
            &[],
        );
        assert!(!codes(&c).contains(&"mixed_patient"), "{:?}", c.findings);
    }

    #[test]
    fn two_accessions_is_inconsistent() {
        let c = run(
            &study(vec![
                inst("a", |_| {}),
                inst("bb", |h| h.accession = "A2".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Inconsistent);
        assert!(codes(&c).contains(&"multiple_accessions"));
    }

    #[test]
    fn a_conflicting_copy_names_what_differs() {
        let mut s = study(vec![inst("a", |_| {})]);
        s.copies.push(CopyFacts {
            file: "b".into(),
            sop_uid: "1.2.3.1".into(),
            role: CopyRole::Conflict,
            differences: vec![AttrDiff {
                attribute: "PatientID".into(),
                held: "1004703".into(),
                received: "1004730".into(),
            }],
            note: String::new(),
            faults: vec![],
        });
        let c = run(&s, &[order()]);
        assert_eq!(c.state, StudyState::Inconsistent);
        assert_eq!(codes(&c), ["duplicate_sop_uid"]);
        assert!(
            c.findings[0]
                .message
                .contains("PatientID: 1004703 vs 1004730"),
            "{}",
            c.findings[0].message
        );
        assert_eq!(c.findings[0].file.as_deref(), Some("b"));
    }

    #[test]
    fn an_encoding_variant_is_a_note() {
        let mut s = study(vec![inst("a", |_| {})]);
        s.copies.push(CopyFacts {
            file: "b".into(),
            sop_uid: "1.2.3.1".into(),
            role: CopyRole::Variant,
            differences: vec![],
            note: "JPEG Lossless instead of Explicit VR Little Endian".into(),
            faults: vec![],
        });
        let c = run(&s, &[order()]);
        assert_eq!(c.state, StudyState::Matched);
        assert_eq!(codes(&c), ["format_note"]);
        assert!(c.findings[0].message.contains("JPEG Lossless"));
    }
}
