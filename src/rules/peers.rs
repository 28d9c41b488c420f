//! Rules across studies: one accession over several Study UIDs (a split study), one Patient ID
//! for two people, one SOP Instance UID in two studies. Each finding lands on every study
//! involved, so whichever the Associate opens shows it.

use std::collections::BTreeMap;

use super::{PeerStudy, finding, issuers_compatible, names, normalize_id};
use crate::model::Finding;

fn patient(p: &PeerStudy) -> String {
    let name = if p.patient_name.is_empty() {
        "(no name)"
    } else {
        &p.patient_name
    };
    format!("{name}, ID {}", p.patient_id)
}

/// `split_study`: the study's accession is also on another Study Instance UID.
pub(super) fn split_study(summary: &PeerStudy, peers: &[PeerStudy]) -> Vec<Finding> {
    let acc = summary.accession.trim();
    if acc.is_empty() {
        return Vec::new();
    }
    let others: Vec<&PeerStudy> = peers
        .iter()
        .filter(|p| {
            p.accession.trim() == acc
                && p.study_uid != summary.study_uid
                && issuers_compatible(&p.issuer_of_accession, &summary.issuer_of_accession)
        })
        .collect();
    if others.is_empty() {
        return Vec::new();
    }
    let list = others
        .iter()
        .map(|p| format!("{} ({})", p.study_uid, patient(p)))
        .collect::<Vec<_>>()
        .join(", ");
    vec![finding(
        "split_study",
        format!(
            "accession {acc} is split over {} Study Instance UIDs: also {list}",
            others.len() + 1
        ),
        None,
    )]
}

/// `patient_conflict`: other studies use this Patient ID (same issuer, or none said) for a
/// person with another name or birth date. One finding naming the first few: a phantom's ID
/// may be on hundreds of studies.
pub(super) fn patient_conflict(summary: &PeerStudy, peers: &[PeerStudy]) -> Vec<Finding> {
    let id = normalize_id(&summary.patient_id);
    if id.is_empty() {
        return Vec::new();
    }
    let mut conflicts = Vec::new();
    for p in peers {
        if normalize_id(&p.patient_id) != id
            || p.study_uid == summary.study_uid
            || !issuers_compatible(&p.issuer_of_patient_id, &summary.issuer_of_patient_id)
        {
            continue;
        }
        let mut what = Vec::new();
        if !summary.patient_name.is_empty()
            && !p.patient_name.is_empty()
            && !names::same_person(&summary.patient_name, &p.patient_name)
        {
            what.push(format!(
                "name '{}' vs '{}'",
                summary.patient_name, p.patient_name
            ));
        }
        if !summary.birth_date.is_empty()
            && !p.birth_date.is_empty()
            && summary.birth_date != p.birth_date
        {
            what.push(format!(
                "birth date {} vs {}",
                summary.birth_date, p.birth_date
            ));
        }
        if !what.is_empty() {
            conflicts.push(format!("study {}: {}", p.study_uid, what.join(", ")));
        }
    }
    if conflicts.is_empty() {
        return Vec::new();
    }
    let n = conflicts.len();
    let shown: Vec<&str> = conflicts.iter().take(3).map(String::as_str).collect();
    let more = if n > shown.len() {
        format!(" (and {} more)", n - shown.len())
    } else {
        String::new()
    };
    vec![finding(
        "patient_conflict",
        format!(
            "Patient ID {id} is used for another person in {}: {}{more}",
            if n == 1 {
                "another study".to_string()
            } else {
                format!("{n} other studies")
            },
            shown.join("; ")
        ),
        None,
    )]
}

/// How two studies relate through their summaries: (split study, patient conflict). A study
/// whose relation to another changes makes that other study's peer findings stale.
pub fn related(a: &PeerStudy, b: &PeerStudy) -> (bool, bool) {
    // Cheap checks first: most peers share only an ID with the same person, or nothing.
    let same_acc = !a.accession.trim().is_empty() && a.accession.trim() == b.accession.trim();
    let same_id = !a.patient_id.trim().is_empty() && a.patient_id.trim() == b.patient_id.trim();
    let one = std::slice::from_ref(b);
    (
        same_acc && !split_study(a, one).is_empty(),
        same_id
            && (a.patient_name != b.patient_name || a.birth_date != b.birth_date)
            && !patient_conflict(a, one).is_empty(),
    )
}

/// `sop_uid_in_other_study`: SOP Instance UIDs of this study that another study holds too.
pub(super) fn shared_sops(shared: &[(String, PeerStudy)]) -> Vec<Finding> {
    let mut by_study: BTreeMap<&str, (Vec<&str>, &PeerStudy)> = BTreeMap::new();
    for (sop, peer) in shared {
        by_study
            .entry(&peer.study_uid)
            .or_insert_with(|| (Vec::new(), peer))
            .0
            .push(sop);
    }
    by_study
        .into_values()
        .map(|(sops, peer)| {
            let what = match sops.as_slice() {
                [one] => format!("SOP Instance UID {one} is"),
                many => format!("{} SOP Instance UIDs (first {}) are", many.len(), many[0]),
            };
            finding(
                "sop_uid_in_other_study",
                format!(
                    "{what} also in study {} ({}, accession {})",
                    peer.study_uid,
                    patient(peer),
                    if peer.accession.is_empty() {
                        "none"
                    } else {
                        &peer.accession
                    }
                ),
                None,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::PeerStudy;
    use super::super::testkit::*;
    use crate::model::StudyState;

    fn peer(uid: &str, f: impl FnOnce(&mut PeerStudy)) -> PeerStudy {
        let mut p = PeerStudy {
            study_uid: uid.into(),
            patient_name: "DOE^JANE".into(),
            patient_id: "P1".into(),
            birth_date: "19700101".into(),
            accession: "A9".into(),
            ..Default::default()
        };
        f(&mut p);
        p
    }

    #[test]
    fn one_accession_over_two_study_uids_is_a_split_study() {
        let mut s = study(vec![inst("a", |_| {})]);
        s.peers
            .same_accession
            .push(peer("1.2.4", |p| p.accession = "A1".into()));
        let c = run(&s, &[order()]);
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Inconsistent, vec!["split_study"])
        );
        assert!(c.findings[0].message.contains("1.2.4"));
        // Another issuer's accession is another number.
        let mut s = study(vec![inst("a", |h| h.issuer_of_accession = "EAST".into())]);
        s.peers.same_accession.push(peer("1.2.4", |p| {
            p.accession = "A1".into();
            p.issuer_of_accession = "WEST".into();
        }));
        assert!(!codes(&run(&s, &[order()])).contains(&"split_study"));
    }

    #[test]
    fn one_patient_id_for_two_people_is_a_patient_conflict() {
        let mut s = study(vec![inst("a", |_| {})]);
        s.peers
            .same_patient_id
            .push(peer("1.2.4", |p| p.patient_name = "ROE^RICHARD".into()));
        let c = run(&s, &[order()]);
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Inconsistent, vec!["patient_conflict"])
        );
        assert!(c.findings[0].message.contains("ROE^RICHARD"));
        let mut s = study(vec![inst("a", |_| {})]);
        s.peers
            .same_patient_id
            .push(peer("1.2.4", |p| p.birth_date = "19800101".into()));
        assert_eq!(codes(&run(&s, &[order()])), ["patient_conflict"]);
        // The same person spelled with accents, or under another issuer: no conflict.
        let mut s = study(vec![inst("a", |_| {})]);
        s.peers
            .same_patient_id
            .push(peer("1.2.4", |p| p.patient_name = "DOÉ^JANE".into()));
        s.peers.same_patient_id.push(peer("1.2.5", |p| {
            p.patient_name = "ROE^RICHARD".into();
            p.issuer_of_patient_id = "OTHER".into();
        }));
        let mut st = s.clone();
        st.instances[0].header.issuer_of_patient_id = "RGH".into();
        assert_eq!(run(&st, &[order()]).state, StudyState::Matched);
    }

    #[test]
    fn relations_tell_which_peers_go_stale() {
        let a = peer("1.2.3", |p| p.accession = "A1".into());
        assert_eq!(
            super::related(&a, &peer("1.2.4", |p| p.accession = "A1".into())),
            (true, false)
        );
        assert_eq!(
            super::related(&a, &peer("1.2.4", |p| p.patient_name = "X^Y".into())),
            (false, true)
        );
        assert_eq!(super::related(&a, &peer("1.2.4", |_| {})), (false, false));
    }

    #[test]
    fn a_sop_uid_in_another_study_is_inconsistent() {
        let mut s = study(vec![inst("a", |_| {})]);
        s.peers
            .shared_sops
            .push(("1.2.3.1".into(), peer("1.2.4", |_| {})));
        s.peers
            .shared_sops
            .push(("1.2.3.2".into(), peer("1.2.4", |_| {})));
        let c = run(&s, &[order()]);
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Inconsistent, vec!["sop_uid_in_other_study"])
        );
        assert!(
            c.findings[0].message.contains("2 SOP Instance UIDs"),
            "{}",
            c.findings[0].message
        );
    }
}
