//! Classification rules: pure functions from a study's files, the other studies it touches
//! and its worklist orders to findings, a state and a field-by-field comparison with each
//! order. No I/O. Each rule is one function with its own unit test.
//!
//! Finding codes are stable (scripts rely on them) and listed in docs/cli.md. The desk draws
//! the comparisons these rules return; it has no matching logic of its own.

mod config;
mod files;
pub mod names;
mod orders;
mod peers;
mod study;

use std::collections::BTreeMap;

pub use config::RulesConfig;
pub use orders::compare_orders;

use crate::dicom::{Fault, Header};
use crate::model::{AttrDiff, CopyRole, Finding, OrderComparison, StudyState, WorklistItem};

/// One instance of the study as the rules see it: its current header and how reading went.
#[derive(Debug, Clone, Default)]
pub struct InstanceFacts {
    pub file: String,
    pub header: Header,
    pub faults: Vec<Fault>,
}

/// Another copy received for an instance of this study: an encoding variant or a conflict.
#[derive(Debug, Clone)]
pub struct CopyFacts {
    pub file: String,
    pub sop_uid: String,
    pub role: CopyRole,
    /// For conflicts: what differs from the instance held.
    pub differences: Vec<AttrDiff>,
    /// For variants: how the encoding differs.
    pub note: String,
    pub faults: Vec<Fault>,
}

/// Another study that shares an accession, a Patient ID or SOP Instance UIDs with this one,
/// as the store's study summary has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerStudy {
    pub study_uid: String,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub accession: String,
    pub issuer_of_accession: String,
}

/// What other studies share with one study.
#[derive(Debug, Clone, Default)]
pub struct PeerFacts {
    /// Other studies with this study's accession number.
    pub same_accession: Vec<PeerStudy>,
    /// Other studies with this study's Patient ID.
    pub same_patient_id: Vec<PeerStudy>,
    /// SOP Instance UIDs of this study also held in another study.
    pub shared_sops: Vec<(String, PeerStudy)>,
}

#[derive(Debug, Clone, Default)]
pub struct StudyFacts {
    pub instances: Vec<InstanceFacts>,
    pub copies: Vec<CopyFacts>,
    pub peers: PeerFacts,
}

/// The values a study shows in the queue: for each attribute, the one most instances carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudySummary {
    pub study_uid: String,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub accession: String,
    pub issuer_of_accession: String,
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
    /// The study against each candidate order, best first.
    pub comparisons: Vec<OrderComparison>,
}

/// Which state a finding code puts a study in; `None` for notes that need no action.
pub fn category(code: &str) -> Option<StudyState> {
    Some(match code {
        "unreadable" | "truncated" | "missing_uid" | "bad_uid" | "meta_mismatch"
        | "missing_pixel_data" => StudyState::Broken,
        "mixed_patient"
        | "multiple_accessions"
        | "duplicate_sop_uid"
        | "sop_uid_in_other_study"
        | "split_study"
        | "patient_conflict" => StudyState::Inconsistent,
        "patient_id_mismatch"
        | "patient_name_mismatch"
        | "birth_date_mismatch"
        | "sex_mismatch"
        | "modality_mismatch"
        | "issuer_mismatch"
        | "study_uid_mismatch" => StudyState::Mismatch,
        "bad_value" | "undeclared_charset" | "bad_charset" => StudyState::Nonconformant,
        "no_accession" | "no_order" => StudyState::Unmatched,
        _ => return None,
    })
}

/// Classifies a study. `orders` are the worklist entries whose accession is one of the study's.
pub fn classify(
    study: &StudyFacts,
    orders: &[WorklistItem],
    config: &RulesConfig,
) -> Classification {
    let summary = summarize(&study.instances);
    let mut findings = Vec::new();
    findings.extend(files::read_faults(&study.instances, &study.copies));
    findings.extend(files::missing_uids(&study.instances));
    findings.extend(files::bad_uids(&study.instances));
    findings.extend(files::meta_mismatch(&study.instances));
    findings.extend(files::missing_pixel_data(&study.instances));
    findings.extend(files::bad_values(&study.instances));
    findings.extend(study::mixed_patient(&study.instances));
    findings.extend(study::multiple_accessions(&study.instances));
    findings.extend(study::copies(&study.copies));
    findings.extend(peer_findings(&summary.as_peer(), &study.peers));
    let comparisons = compare_orders(&summary, &study.instances, orders, config);
    findings.extend(orders::order_findings(&summary, orders, &comparisons));
    findings.extend(files::format_notes(&study.instances));

    let state = state_of(findings.iter().map(|f| f.code.as_str()));
    // Most severe first, so the queue's one-line summary shows what matters.
    findings.sort_by_key(|f| severity(&f.code));
    Classification {
        state,
        findings,
        summary,
        comparisons,
    }
}

/// Findings that depend on other studies: recomputed for a study when a peer changes.
pub fn peer_findings(study: &PeerStudy, peers: &PeerFacts) -> Vec<Finding> {
    let mut out = peers::shared_sops(&peers.shared_sops);
    out.extend(peers::split_study(study, &peers.same_accession));
    out.extend(peers::patient_conflict(study, &peers.same_patient_id));
    out
}

pub use peers::related;

/// Whether a code is one of [`peer_findings`]'.
pub fn is_peer_code(code: &str) -> bool {
    matches!(
        code,
        "split_study" | "patient_conflict" | "sop_uid_in_other_study"
    )
}

/// The state findings with these codes put a study in: the most severe.
pub fn state_of<'a>(codes: impl Iterator<Item = &'a str>) -> StudyState {
    codes
        .filter_map(category)
        .min()
        .unwrap_or(StudyState::Matched)
}

/// Sort rank of a finding code: its state's, notes last.
pub fn severity(code: &str) -> u8 {
    category(code).map_or(u8::MAX, |s| s as u8)
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

/// Patient IDs and other identifiers: surrounding spaces are padding, not part of the value.
pub fn normalize_id(id: &str) -> String {
    id.trim().to_string()
}

/// Whether two issuers (of Patient ID or of accession) allow the values to be the same: equal,
/// or one side does not say.
pub fn issuers_compatible(a: &str, b: &str) -> bool {
    a.trim().is_empty() || b.trim().is_empty() || a.trim() == b.trim()
}

impl StudySummary {
    /// The values other studies are compared on.
    pub fn as_peer(&self) -> PeerStudy {
        PeerStudy {
            study_uid: self.study_uid.clone(),
            patient_name: self.patient_name.clone(),
            patient_id: self.patient_id.clone(),
            issuer_of_patient_id: self.issuer_of_patient_id.clone(),
            birth_date: self.birth_date.clone(),
            accession: self.accession.clone(),
            issuer_of_accession: self.issuer_of_accession.clone(),
        }
    }
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
        study_uid: top(|h| &h.study_uid),
        patient_name: top(|h| &h.patient_name),
        patient_id: top(|h| &h.patient_id),
        issuer_of_patient_id: top(|h| &h.issuer_of_patient_id),
        birth_date: top(|h| &h.birth_date),
        sex: top(|h| &h.sex),
        accession: top(|h| &h.accession),
        issuer_of_accession: top(|h| &h.issuer_of_accession),
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
pub(crate) mod testkit {
    //! Builders shared by the rules' unit tests.
    use super::*;
    use crate::dicom::uids;

    pub fn inst(file: &str, f: impl FnOnce(&mut Header)) -> InstanceFacts {
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

    pub fn order() -> WorklistItem {
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

    pub fn study(instances: Vec<InstanceFacts>) -> StudyFacts {
        StudyFacts {
            instances,
            ..Default::default()
        }
    }

    pub fn run(s: &StudyFacts, orders: &[WorklistItem]) -> Classification {
        classify(s, orders, &RulesConfig::default())
    }

    pub fn codes(c: &Classification) -> Vec<&str> {
        c.findings.iter().map(|f| f.code.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;

    #[test]
    fn matched_when_order_agrees() {
        let c = run(&study(vec![inst("a", |_| {})]), &[order()]);
        assert_eq!(c.state, StudyState::Matched, "{:?}", c.findings);
        assert!(c.findings.is_empty());
    }

    #[test]
    fn most_severe_state_wins_and_comes_first() {
        let c = run(
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
    fn every_code_has_its_state() {
        let states = [
            ("truncated", StudyState::Broken),
            ("bad_uid", StudyState::Broken),
            ("meta_mismatch", StudyState::Broken),
            ("split_study", StudyState::Inconsistent),
            ("patient_conflict", StudyState::Inconsistent),
            ("sop_uid_in_other_study", StudyState::Inconsistent),
            ("study_uid_mismatch", StudyState::Mismatch),
            ("bad_value", StudyState::Nonconformant),
            ("undeclared_charset", StudyState::Nonconformant),
            ("bad_charset", StudyState::Nonconformant),
            ("no_order", StudyState::Unmatched),
        ];
        for (code, state) in states {
            assert_eq!(category(code), Some(state), "{code}");
        }
        assert_eq!(category("format_note"), None);
        assert_eq!(category("name_variant"), None);
        assert!(StudyState::Mismatch < StudyState::Nonconformant);
        assert!(StudyState::Nonconformant < StudyState::Unmatched);
    }

    #[test]
    fn summary_takes_the_most_common_values() {
        let s = summarize(&[
            inst("a", |_| {}),
            inst("bb", |_| {}),
            inst("ccc", |h| {
                h.patient_id = "P2".into();
                h.modality = "SR".into();
            }),
        ]);
        assert_eq!(s.patient_id, "P1");
        assert_eq!(s.modality, "CT\\SR");
    }
}
