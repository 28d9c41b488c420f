//! The stale copy in the archive. A corrected study is resubmitted with the same SOP Instance
//! UIDs; an archive that keys studies by patient as well (Orthanc: Patient ID + Study UID)
//! keeps the wrong copy beside the corrected one, and a moved series' old study keeps it too.
//! After a corrected study is sent, the archive is asked (C-FIND, study level) for every Study
//! UID the study's instances ever had: an answer under an identity the study no longer has is
//! a stale copy, reported until it is gone.
//!
//! It is not retired by an IOCM rejection note: the note would name the same SOP Instance
//! UIDs as the corrected copy, and an archive keyed by SOP Instance UID would hide both.

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::proof::{QueryError, find_all, put, text};
use crate::net::Peer;
use crate::store::{StaleCopy, StudyIdentities};

/// What `peer` holds under the identities `ids` no longer has.
pub fn find_stale(peer: &Peer, ids: &StudyIdentities) -> Result<Vec<StaleCopy>, QueryError> {
    let mut out = Vec::new();
    for uid in ids.uids.iter().filter(|u| !u.is_empty()) {
        let mut q = InMemDicomObject::new_empty();
        put(&mut q, tags::QUERY_RETRIEVE_LEVEL, VR::CS, "STUDY");
        put(&mut q, tags::STUDY_INSTANCE_UID, VR::UI, uid);
        put(&mut q, tags::PATIENT_ID, VR::LO, "");
        put(&mut q, tags::ACCESSION_NUMBER, VR::SH, "");
        put(&mut q, tags::NUMBER_OF_STUDY_RELATED_INSTANCES, VR::IS, "");
        for answer in find_all(peer, &q)? {
            let pid = text(&answer, tags::PATIENT_ID);
            if ids.current.contains(&(uid.clone(), pid.clone())) {
                continue;
            }
            out.push(StaleCopy {
                study_instance_uid: uid.clone(),
                patient_id: pid,
                accession: text(&answer, tags::ACCESSION_NUMBER),
                instances: text(&answer, tags::NUMBER_OF_STUDY_RELATED_INSTANCES),
            });
        }
    }
    Ok(out)
}

/// How stale copies read in a report.
pub fn describe(stale: &[StaleCopy]) -> String {
    stale
        .iter()
        .map(|s| {
            format!(
                "stale copy remains in archive: study {} under Patient ID '{}' ({} instances)",
                s.study_instance_uid,
                s.patient_id,
                if s.instances.is_empty() {
                    "?"
                } else {
                    &s.instances
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
