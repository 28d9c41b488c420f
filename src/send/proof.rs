//! Proof of arrival by query, where the archive offers no Storage Commitment: C-FIND at study
//! level (Patient ID, Accession Number), then series and instance level, compared with what
//! qcdesk sent.

use std::collections::BTreeSet;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::net::{NetError, Next, Peer, STUDY_ROOT_FIND};
use crate::store::{SendItem, SendJob, Store, StoreError};

/// What the archive should hold.
#[derive(Debug, Clone)]
pub struct Expected {
    pub study_uid: String,
    pub patient_id: String,
    pub accession: String,
    pub sop_uids: BTreeSet<String>,
}

impl Expected {
    pub fn of(store: &Store, job: &SendJob, items: &[SendItem]) -> Result<Expected, StoreError> {
        let (patient_id, accession) = match items.first() {
            Some(i) => store.blob_identity(&i.blob_hash)?,
            None => Default::default(),
        };
        Ok(Expected {
            study_uid: job.study_uid.clone(),
            patient_id: patient_id.trim().to_string(),
            accession: accession.trim().to_string(),
            sop_uids: items.iter().map(|i| i.sop_uid.clone()).collect(),
        })
    }
}

#[derive(Debug)]
pub enum QueryError {
    Net(NetError),
    /// The archive answered, and what it holds is not what was sent.
    Mismatch(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Net(e) => write!(f, "{e}"),
            QueryError::Mismatch(m) => write!(f, "{m}"),
        }
    }
}

pub(super) fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

pub(super) fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
        .unwrap_or_default()
}

pub(super) fn find_all(
    peer: &Peer,
    query: &InMemDicomObject,
) -> Result<Vec<InMemDicomObject>, QueryError> {
    let mut out = Vec::new();
    let mut unreadable = 0usize;
    crate::net::find(
        peer,
        STUDY_ROOT_FIND,
        "the arrival query (C-FIND)",
        query,
        &mut |bytes, ts_uid| {
            match crate::dicom::object::read_dataset(bytes, ts_uid).ok() {
                Some(o) => out.push(o),
                None => unreadable += 1,
            }
            Next::Continue
        },
    )
    .map_err(QueryError::Net)?;
    if unreadable > 0 {
        return Err(QueryError::Mismatch(format!(
            "{unreadable} answers of the archive could not be read"
        )));
    }
    Ok(out)
}

/// Asks the archive what it holds of the study and compares.
pub fn query(peer: &Peer, expected: &Expected) -> Result<(), QueryError> {
    let mut q = InMemDicomObject::new_empty();
    put(&mut q, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY");
    put(
        &mut q,
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        &expected.study_uid,
    );
    put(&mut q, tags::PATIENT_ID, VR::LO, "");
    put(&mut q, tags::ACCESSION_NUMBER, VR::SH, "");
    put(&mut q, tags::NUMBER_OF_STUDY_RELATED_INSTANCES, VR::IS, "");
    let studies = find_all(peer, &q)?;
    let Some(study) = studies.first() else {
        return Err(QueryError::Mismatch(
            "the archive does not know the study".into(),
        ));
    };
    let mut problems = Vec::new();
    // Several answers: the archive keys studies by patient too and holds a stale copy beside
    // the one sent (reported by `stale`, not a failure of this send).
    let ids: BTreeSet<String> = studies.iter().map(|s| text(s, tags::PATIENT_ID)).collect();
    let study = studies
        .iter()
        .find(|s| text(s, tags::PATIENT_ID) == expected.patient_id)
        .unwrap_or(study);
    if !ids.contains(&expected.patient_id) {
        problems.push(format!(
            "Patient ID {} where qcdesk sent '{}'",
            ids.iter()
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(" and "),
            expected.patient_id
        ));
    }
    let accession = text(study, tags::ACCESSION_NUMBER);
    if accession != expected.accession {
        problems.push(format!(
            "Accession Number '{accession}' where qcdesk sent '{}'",
            expected.accession
        ));
    }
    let mut q = InMemDicomObject::new_empty();
    put(&mut q, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "SERIES");
    put(
        &mut q,
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        &expected.study_uid,
    );
    put(&mut q, tags::SERIES_INSTANCE_UID, VR::UI, "");
    let series: BTreeSet<String> = find_all(peer, &q)?
        .iter()
        .map(|s| text(s, tags::SERIES_INSTANCE_UID))
        .filter(|s| !s.is_empty())
        .collect();
    let mut held = BTreeSet::new();
    for s in series {
        let mut q = InMemDicomObject::new_empty();
        put(&mut q, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "IMAGE");
        put(
            &mut q,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &expected.study_uid,
        );
        put(&mut q, tags::SERIES_INSTANCE_UID, VR::UI, &s);
        put(&mut q, tags::SOP_INSTANCE_UID, VR::UI, "");
        for i in find_all(peer, &q)? {
            held.insert(text(&i, tags::SOP_INSTANCE_UID));
        }
    }
    let missing = expected.sop_uids.difference(&held).count();
    if missing > 0 {
        problems.push(format!(
            "the archive holds {} of the {} instances sent",
            expected.sop_uids.len() - missing,
            expected.sop_uids.len()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(QueryError::Mismatch(problems.join("; ")))
    }
}
