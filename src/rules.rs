//! Classification rules: pure functions from a study's files (and its worklist orders) to
//! findings and a state. No I/O. Each rule is one function with its own unit test.
//!
//! Finding codes are stable (scripts rely on them) and listed in docs/cli.md.

use std::collections::BTreeMap;

use crate::dicom::{Header, uids, values};
use crate::model::{Finding, StudyState, WorklistItem};
use crate::worklist::{names_match, normalize_id};

/// One instance of the study as the rules see it: its current header and how reading went.
#[derive(Debug, Clone, Default)]
pub struct InstanceFacts {
    pub file: String,
    pub header: Header,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub truncated: bool,
}

/// A file that arrived with a SOP Instance UID already held, but other bytes.
#[derive(Debug, Clone, Default)]
pub struct ConflictFacts {
    pub file: String,
    pub sop_uid: String,
    /// Study Instance UID in the conflicting file (may differ from this study's).
    pub study_uid: String,
    /// How reading the conflicting copy went: a damaged copy is damage in the study too.
    pub errors: Vec<String>,
    pub truncated: bool,
}

#[derive(Debug, Clone, Default)]
pub struct StudyFacts {
    pub instances: Vec<InstanceFacts>,
    pub conflicts: Vec<ConflictFacts>,
}

/// The values a study shows in the queue: for each attribute, the one most instances carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudySummary {
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub accession: String,
    /// Distinct modalities, most frequent first, joined with a backslash like ModalitiesInStudy.
    pub modality: String,
    pub study_date: String,
    pub study_time: String,
    pub description: String,
    pub referring_physician: String,
    pub institution: String,
    pub station_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub state: StudyState,
    pub findings: Vec<Finding>,
    pub summary: StudySummary,
}

/// Which state a finding code puts a study in; `None` for notes that need no action.
pub fn category(code: &str) -> Option<StudyState> {
    Some(match code {
        "unreadable" | "truncated" | "missing_uid" | "missing_pixel_data" | "bad_value" => {
            StudyState::Broken
        }
        "mixed_patient" | "multiple_accessions" | "duplicate_sop_uid" => StudyState::Inconsistent,
        "patient_id_mismatch"
        | "patient_name_mismatch"
        | "birth_date_mismatch"
        | "sex_mismatch"
        | "modality_mismatch"
        | "issuer_mismatch" => StudyState::Mismatch,
        "no_accession" | "no_order" => StudyState::Unmatched,
        _ => return None,
    })
}

/// Classifies a study. `orders` are the worklist entries whose accession is one of the study's.
pub fn classify(study: &StudyFacts, orders: &[WorklistItem]) -> Classification {
    let summary = summarize(&study.instances);
    let mut findings = Vec::new();
    findings.extend(read_faults(&study.instances, &study.conflicts));
    findings.extend(missing_uids(&study.instances));
    findings.extend(missing_pixel_data(&study.instances));
    findings.extend(bad_values(&study.instances));
    findings.extend(mixed_patient(&study.instances));
    findings.extend(multiple_accessions(&study.instances));
    findings.extend(duplicate_sop_uids(&study.conflicts));
    findings.extend(order_match(&summary, &study.instances, orders));
    findings.extend(format_notes(&study.instances));

    let state = findings
        .iter()
        .filter_map(|f| category(&f.code))
        .min()
        .unwrap_or(StudyState::Matched);
    // Most severe first, so the queue's one-line summary shows what matters.
    findings.sort_by_key(|f| category(&f.code).map_or(u8::MAX, |s| s as u8));
    Classification {
        state,
        findings,
        summary,
    }
}

fn finding(code: &str, message: String, file: Option<&str>) -> Finding {
    Finding {
        code: code.into(),
        message,
        file: file.map(str::to_string),
    }
}

/// Folds identical problems found in many files into one finding naming the first file.
fn folded(code: &str, hits: BTreeMap<String, Vec<&str>>) -> Vec<Finding> {
    hits.into_iter()
        .map(|(message, files)| {
            let message = match files.len() {
                1 => message,
                n => format!("{message} (in {n} files)"),
            };
            finding(code, message, files.first().copied())
        })
        .collect()
}

/// `unreadable` / `truncated`: the file could not be read to its end.
fn read_faults(instances: &[InstanceFacts], conflicts: &[ConflictFacts]) -> Vec<Finding> {
    let of_instances = instances.iter().map(|i| (&i.file, &i.errors, i.truncated));
    let of_conflicts = conflicts.iter().map(|c| (&c.file, &c.errors, c.truncated));
    let mut out = Vec::new();
    for (file, errors, truncated) in of_instances.chain(of_conflicts) {
        for e in errors {
            let code = if truncated && e.contains("truncated") {
                "truncated"
            } else {
                "unreadable"
            };
            out.push(finding(code, e.clone(), Some(file)));
        }
    }
    out
}

/// `missing_uid`: a Study, Series or SOP Instance UID is absent; no archive can file the object.
fn missing_uids(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let h = &i.header;
        for (value, name) in [
            (&h.study_uid, "Study Instance UID (0020,000D)"),
            (&h.series_uid, "Series Instance UID (0020,000E)"),
            (&h.sop_instance_uid, "SOP Instance UID (0008,0018)"),
            (&h.sop_class_uid, "SOP Class UID (0008,0016)"),
        ] {
            if value.is_empty() && !(i.header.is_dicomdir()) {
                hits.entry(format!("{name} is missing"))
                    .or_default()
                    .push(&i.file);
            }
        }
    }
    folded("missing_uid", hits)
}

/// `missing_pixel_data`: an image SOP class without pixel data. Skipped when reading stopped
/// early, since the pixel data may then simply not have been reached.
fn missing_pixel_data(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let class = &i.header.sop_class_uid;
        if i.errors.is_empty() && !i.header.has_pixel_data && uids::needs_pixel_data(class) {
            hits.entry(format!(
                "{} has no Pixel Data (7FE0,0010)",
                uids::sop_class_name(class)
            ))
            .or_default()
            .push(&i.file);
        }
    }
    folded("missing_pixel_data", hits)
}

/// A value-format check: the reason a value is invalid, or `None`.
type Check = fn(&str) -> Option<String>;

/// `bad_value`: a value that breaks its VR's format (dates, times, UIDs, sex).
fn bad_values(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let h = &i.header;
        let checks: [(&str, &str, Check); 10] = [
            ("Study Date (0008,0020)", &h.study_date, values::check_date),
            (
                "Series Date (0008,0021)",
                &h.series_date,
                values::check_date,
            ),
            (
                "Content Date (0008,0023)",
                &h.content_date,
                values::check_date,
            ),
            (
                "Patient's Birth Date (0010,0030)",
                &h.birth_date,
                values::check_date,
            ),
            ("Study Time (0008,0030)", &h.study_time, values::check_time),
            ("Patient's Sex (0010,0040)", &h.sex, values::check_sex),
            (
                "Study Instance UID (0020,000D)",
                &h.study_uid,
                values::check_uid,
            ),
            (
                "Series Instance UID (0020,000E)",
                &h.series_uid,
                values::check_uid,
            ),
            (
                "SOP Instance UID (0008,0018)",
                &h.sop_instance_uid,
                values::check_uid,
            ),
            (
                "SOP Class UID (0008,0016)",
                &h.sop_class_uid,
                values::check_uid,
            ),
        ];
        for (name, value, check) in checks {
            if value.is_empty() {
                continue;
            }
            if let Some(reason) = check(value) {
                hits.entry(format!("{name}: {reason}"))
                    .or_default()
                    .push(&i.file);
            }
        }
    }
    folded("bad_value", hits)
}

/// Counts the distinct non-empty values of one attribute, by a normalising key.
fn distinct<'a>(
    instances: &'a [InstanceFacts],
    get: impl Fn(&'a Header) -> &'a str,
    norm: impl Fn(&str) -> String,
) -> Vec<(String, usize)> {
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for i in instances {
        let v = get(&i.header);
        if v.is_empty() {
            continue;
        }
        let k = norm(v);
        match seen.iter_mut().find(|(key, _, _)| *key == k) {
            Some(e) => e.2 += 1,
            None => seen.push((k, v.to_string(), 1)),
        }
    }
    seen.sort_by_key(|e| std::cmp::Reverse(e.2));
    seen.into_iter().map(|(_, v, n)| (v, n)).collect()
}

fn describe(values: &[(String, usize)]) -> String {
    values
        .iter()
        .map(|(v, n)| format!("'{v}' ({n} file{})", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `mixed_patient`: one study carrying more than one Patient ID, name or birth date.
fn mixed_patient(instances: &[InstanceFacts]) -> Vec<Finding> {
    let name_key = |s: &str| crate::worklist::normalize_name(s);
    let mut out = Vec::new();
    let ids = distinct(instances, |h| &h.patient_id, normalize_id);
    let names = distinct(instances, |h| &h.patient_name, name_key);
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
fn multiple_accessions(instances: &[InstanceFacts]) -> Vec<Finding> {
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

/// `duplicate_sop_uid`: a SOP Instance UID received twice with different content.
fn duplicate_sop_uids(conflicts: &[ConflictFacts]) -> Vec<Finding> {
    conflicts
        .iter()
        .map(|c| {
            let other_study = if c.study_uid.is_empty() {
                String::new()
            } else {
                format!(" (that copy says study {})", c.study_uid)
            };
            finding(
                "duplicate_sop_uid",
                format!(
                    "SOP Instance UID {} received again with different content{other_study}",
                    if c.sop_uid.is_empty() {
                        "(none)"
                    } else {
                        &c.sop_uid
                    }
                ),
                Some(&c.file),
            )
        })
        .collect()
}

/// Modalities that accompany images without being ordered (reports, presentation states...).
const ANCILLARY_MODALITIES: [&str; 6] = ["SR", "PR", "KO", "OT", "DOC", "REG"];

/// `no_accession` / `no_order` / `*_mismatch`: the study against its worklist order.
fn order_match(
    summary: &StudySummary,
    instances: &[InstanceFacts],
    orders: &[WorklistItem],
) -> Vec<Finding> {
    if summary.accession.is_empty() {
        return vec![finding(
            "no_accession",
            "no Accession Number (0008,0050) in the study".into(),
            None,
        )];
    }
    let candidates: Vec<&WorklistItem> = orders
        .iter()
        .filter(|o| o.accession.trim() == summary.accession.trim())
        .collect();
    if candidates.is_empty() {
        return vec![finding(
            "no_order",
            format!("no worklist order for accession {}", summary.accession),
            None,
        )];
    }
    // Several scheduled steps may share an accession: judge against the closest one.
    let mut best: Option<Vec<Finding>> = None;
    for order in candidates {
        let diffs = compare_with_order(summary, instances, order);
        if best.as_ref().is_none_or(|b| diffs.len() < b.len()) {
            best = Some(diffs);
        }
    }
    best.unwrap_or_default()
}

fn compare_with_order(
    summary: &StudySummary,
    instances: &[InstanceFacts],
    order: &WorklistItem,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut check = |code: &str, field: &str, study: &str, ordered: &str, same: bool| {
        if !ordered.is_empty() && !same {
            out.push(finding(
                code,
                format!("{field}: study '{study}', order '{ordered}'"),
                None,
            ));
        }
    };
    let s = summary;
    check(
        "patient_id_mismatch",
        "Patient ID",
        &s.patient_id,
        &order.patient_id,
        normalize_id(&s.patient_id) == normalize_id(&order.patient_id),
    );
    check(
        "issuer_mismatch",
        "Issuer of Patient ID",
        &s.issuer_of_patient_id,
        &order.issuer_of_patient_id,
        s.issuer_of_patient_id.is_empty()
            || s.issuer_of_patient_id.trim() == order.issuer_of_patient_id.trim(),
    );
    check(
        "patient_name_mismatch",
        "Patient name",
        &s.patient_name,
        &order.patient_name,
        names_match(&s.patient_name, &order.patient_name),
    );
    check(
        "birth_date_mismatch",
        "Birth date",
        &s.birth_date,
        &order.birth_date,
        s.birth_date == order.birth_date,
    );
    check(
        "sex_mismatch",
        "Sex",
        &s.sex,
        &order.sex,
        s.sex.trim() == order.sex.trim(),
    );
    let modalities: Vec<&str> = instances
        .iter()
        .map(|i| i.header.modality.trim())
        .filter(|m| !m.is_empty() && !ANCILLARY_MODALITIES.contains(m))
        .collect();
    let ordered = order.modality.trim();
    let same = modalities.is_empty() || modalities.iter().all(|m| *m == ordered);
    check(
        "modality_mismatch",
        "Modality",
        &s.modality,
        &order.modality,
        same,
    );
    out
}

/// `format_note`: deviations that do not stop the study (no file meta, guessed syntax).
fn format_notes(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        for w in &i.warnings {
            hits.entry(w.clone()).or_default().push(&i.file);
        }
    }
    folded("format_note", hits)
}

/// The study-level values: the most common non-empty value of each attribute.
pub fn summarize(instances: &[InstanceFacts]) -> StudySummary {
    // Most frequent exact value; `distinct` keeps the first seen on ties.
    let top = |get: fn(&Header) -> &str| -> String {
        distinct(instances, get, str::to_string)
            .into_iter()
            .next()
            .map(|(v, _)| v)
            .unwrap_or_default()
    };
    let mods = distinct(instances, |h| &h.modality, |s| s.trim().to_string());
    StudySummary {
        patient_name: top(|h| &h.patient_name),
        patient_id: top(|h| &h.patient_id),
        issuer_of_patient_id: top(|h| &h.issuer_of_patient_id),
        birth_date: top(|h| &h.birth_date),
        sex: top(|h| &h.sex),
        accession: top(|h| &h.accession),
        modality: mods
            .into_iter()
            .map(|(m, _)| m)
            .collect::<Vec<_>>()
            .join("\\"),
        study_date: top(|h| &h.study_date),
        study_time: top(|h| &h.study_time),
        description: top(|h| &h.study_description),
        referring_physician: top(|h| &h.referring_physician),
        institution: top(|h| &h.institution),
        station_name: top(|h| &h.station_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(file: &str, f: impl FnOnce(&mut Header)) -> InstanceFacts {
        let mut h = Header {
            sop_class_uid: uids::CT_IMAGE_STORAGE.into(),
            sop_instance_uid: format!("1.2.3.{}", file.len()),
            study_uid: "1.2.3".into(),
            series_uid: "1.2.3.1".into(),
            patient_name: "DOE^JANE".into(),
            patient_id: "P1".into(),
            birth_date: "19700101".into(),
            sex: "F".into(),
            accession: "A1".into(),
            modality: "CT".into(),
            study_date: "20240105".into(),
            has_pixel_data: true,
            ..Header::default()
        };
        f(&mut h);
        InstanceFacts {
            file: file.into(),
            header: h,
            ..Default::default()
        }
    }

    fn order() -> WorklistItem {
        WorklistItem {
            accession: "A1".into(),
            patient_name: "Doe^Jane".into(),
            patient_id: "P1".into(),
            birth_date: "19700101".into(),
            sex: "F".into(),
            modality: "CT".into(),
            ..Default::default()
        }
    }

    fn codes(c: &Classification) -> Vec<&str> {
        c.findings.iter().map(|f| f.code.as_str()).collect()
    }

    fn study(instances: Vec<InstanceFacts>) -> StudyFacts {
        StudyFacts {
            instances,
            conflicts: vec![],
        }
    }

    #[test]
    fn matched_when_order_agrees() {
        let c = classify(&study(vec![inst("a", |_| {})]), &[order()]);
        assert_eq!(c.state, StudyState::Matched, "{:?}", c.findings);
        assert!(c.findings.is_empty());
    }

    #[test]
    fn unmatched_without_order_or_accession() {
        let c = classify(&study(vec![inst("a", |_| {})]), &[]);
        assert_eq!(c.state, StudyState::Unmatched);
        assert_eq!(codes(&c), ["no_order"]);
        let c = classify(&study(vec![inst("a", |h| h.accession.clear())]), &[order()]);
        assert_eq!(codes(&c), ["no_accession"]);
    }

    #[test]
    fn read_errors_are_broken() {
        let mut i = inst("a", |_| {});
        i.errors
            .push("file is truncated: Pixel Data declares 10 bytes, only 2 present".into());
        i.truncated = true;
        let c = classify(&study(vec![i]), &[order()]);
        assert_eq!(c.state, StudyState::Broken);
        assert_eq!(codes(&c), ["truncated"]);
        let mut i = inst("a", |_| {});
        i.errors
            .push("data set unreadable after (0009,0010): bad".into());
        assert_eq!(
            codes(&classify(&study(vec![i]), &[order()])),
            ["unreadable"]
        );
    }

    #[test]
    fn missing_uid_is_broken() {
        let c = classify(
            &study(vec![inst("a", |h| h.series_uid.clear())]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Broken);
        assert_eq!(codes(&c), ["missing_uid"]);
        assert!(c.findings[0].message.contains("Series Instance UID"));
    }

    #[test]
    fn image_without_pixels_is_broken() {
        let c = classify(
            &study(vec![inst("a", |h| h.has_pixel_data = false)]),
            &[order()],
        );
        assert_eq!(codes(&c), ["missing_pixel_data"]);
        // A structured report needs none.
        let c = classify(
            &study(vec![inst("a", |h| {
                h.has_pixel_data = false;
                h.sop_class_uid = "1.2.840.10008.5.1.4.1.1.88.11".into();
            })]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Matched);
    }

    #[test]
    fn bad_date_is_broken_and_folded() {
        let c = classify(
            &study(vec![
                inst("a", |h| h.study_date = "2024-01-05".into()),
                inst("bb", |h| h.study_date = "2024-01-05".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Broken);
        assert_eq!(codes(&c), ["bad_value"]);
        assert!(c.findings[0].message.contains("Study Date (0008,0020)"));
        assert!(c.findings[0].message.contains("in 2 files"));
        assert_eq!(c.findings[0].file.as_deref(), Some("a"));
    }

    #[test]
    fn two_patients_in_one_study_is_inconsistent() {
        let c = classify(
            &study(vec![
                inst("a", |_| {}),
                inst("bb", |h| h.patient_id = "P2".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Inconsistent);
        assert!(codes(&c).contains(&"mixed_patient"));
        // Name spelled with other case and trailing carets is the same name.
        let c = classify(
            &study(vec![
                inst("a", |_| {}),
                inst("bb", |h| h.patient_name = "doe^jane^^".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Matched, "{:?}", c.findings);
    }

    #[test]
    fn two_accessions_is_inconsistent() {
        let c = classify(
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
    fn duplicate_sop_is_inconsistent() {
        let mut s = study(vec![inst("a", |_| {})]);
        s.conflicts.push(ConflictFacts {
            file: "b".into(),
            sop_uid: "1.2.3.1".into(),
            study_uid: "1.2.3".into(),
            ..Default::default()
        });
        let c = classify(&s, &[order()]);
        assert_eq!(c.state, StudyState::Inconsistent);
        assert_eq!(codes(&c), ["duplicate_sop_uid"]);
        assert_eq!(c.findings[0].file.as_deref(), Some("b"));
    }

    #[test]
    fn demographics_differing_from_order_is_mismatch() {
        for (f, code) in [
            (
                Box::new(|h: &mut Header| h.patient_id = "P9".into()) as Box<dyn Fn(&mut Header)>,
                "patient_id_mismatch",
            ),
            (
                Box::new(|h: &mut Header| h.patient_name = "ROE^JANE".into()),
                "patient_name_mismatch",
            ),
            (
                Box::new(|h: &mut Header| h.birth_date = "19700102".into()),
                "birth_date_mismatch",
            ),
            (
                Box::new(|h: &mut Header| h.sex = "M".into()),
                "sex_mismatch",
            ),
            (
                Box::new(|h: &mut Header| h.modality = "MR".into()),
                "modality_mismatch",
            ),
        ] {
            let c = classify(&study(vec![inst("a", |h| f(h))]), &[order()]);
            assert_eq!(c.state, StudyState::Mismatch, "{code}");
            assert_eq!(codes(&c), [code]);
        }
    }

    #[test]
    fn ancillary_series_do_not_break_modality_match() {
        let c = classify(
            &study(vec![
                inst("a", |_| {}),
                inst("bb", |h| h.modality = "SR".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Matched, "{:?}", c.findings);
        assert_eq!(c.summary.modality, "CT\\SR");
    }

    #[test]
    fn most_severe_state_wins_and_comes_first() {
        let c = classify(
            &study(vec![inst("a", |h| {
                h.study_uid.clear();
                h.patient_id = "P9".into();
            })]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Broken);
        assert_eq!(codes(&c), ["missing_uid", "patient_id_mismatch"]);
    }

    #[test]
    fn warnings_are_notes() {
        let mut i = inst("a", |_| {});
        i.warnings.push("no file meta information".into());
        let c = classify(&study(vec![i]), &[order()]);
        assert_eq!(c.state, StudyState::Matched);
        assert_eq!(codes(&c), ["format_note"]);
    }
}
