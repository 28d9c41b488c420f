//! IHE IOCM rejection: the reason codes, and the Key Object Selection document that says
//! which instances are rejected and why (PS3.16 TID 2010, title from CID 7011). The note is
//! an instance of the study in a series of its own; an archive that honours IOCM hides the
//! instances it lists.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dicom::Header;
use crate::dicom::write::{WriteError, encode_part10};

/// A rejection reason (CID 7011, DCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectCode {
    pub code: &'static str,
    pub meaning: &'static str,
}

/// The reasons IOCM defines.
pub const CODES: &[RejectCode] = &[
    RejectCode {
        code: "113001",
        meaning: "Rejected for Quality Reasons",
    },
    RejectCode {
        code: "113037",
        meaning: "Rejected for Patient Safety Reasons",
    },
    RejectCode {
        code: "113038",
        meaning: "Incorrect Modality Worklist Entry",
    },
    RejectCode {
        code: "113039",
        meaning: "Data Retention Policy Expired",
    },
];

/// The reason with this code value.
pub fn code_by_value(value: &str) -> Option<&'static RejectCode> {
    CODES.iter().find(|c| c.code == value.trim())
}

pub use crate::model::RejectedRef;

/// Key Object Selection Document Storage.
pub const KOS_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.88.59";

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    if v.is_empty() {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    } else {
        DataElement::new(tag, vr, PrimitiveValue::from(v))
    }
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

fn code_item(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        el(tags::CODE_VALUE, VR::SH, value),
        el(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        el(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

fn sop_ref(r: &RejectedRef) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        el(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &r.sop_class_uid),
        el(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            &r.sop_instance_uid,
        ),
    ])
}

/// The rejection note for `refs` of the study `study` (its patient and study attributes),
/// as a Part 10 file. `salt` makes its UIDs unique.
pub fn rejection_note(
    study: &Header,
    refs: &[RejectedRef],
    code: &RejectCode,
    salt: i64,
) -> Result<(Vec<u8>, String), WriteError> {
    let sop_uid = crate::dicom::uids::new_uid(salt);
    let series_uid = crate::dicom::uids::new_uid(salt.wrapping_add(1));
    let t = time::OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day());
    let time = format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second());

    // Evidence: the rejected instances by series.
    let mut by_series: Vec<(&str, Vec<&RejectedRef>)> = Vec::new();
    for r in refs {
        match by_series.iter_mut().find(|(s, _)| *s == r.series_uid) {
            Some((_, list)) => list.push(r),
            None => by_series.push((&r.series_uid, vec![r])),
        }
    }
    let series_items: Vec<InMemDicomObject> = by_series
        .iter()
        .map(|(uid, list)| {
            InMemDicomObject::from_element_iter([
                el(tags::SERIES_INSTANCE_UID, VR::UI, uid),
                seq(
                    tags::REFERENCED_SOP_SEQUENCE,
                    list.iter().map(|r| sop_ref(r)).collect(),
                ),
            ])
        })
        .collect();
    let evidence = InMemDicomObject::from_element_iter([
        seq(tags::REFERENCED_SERIES_SEQUENCE, series_items),
        el(tags::STUDY_INSTANCE_UID, VR::UI, &study.study_uid),
    ]);
    let content: Vec<InMemDicomObject> = refs
        .iter()
        .map(|r| {
            InMemDicomObject::from_element_iter([
                el(tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS"),
                el(
                    tags::VALUE_TYPE,
                    VR::CS,
                    if r.is_image { "IMAGE" } else { "COMPOSITE" },
                ),
                seq(tags::REFERENCED_SOP_SEQUENCE, vec![sop_ref(r)]),
            ])
        })
        .collect();
    let texts = [
        &study.patient_name,
        &study.patient_id,
        &study.referring_physician,
        &study.issuer_of_patient_id,
    ];
    let mut obj = InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, KOS_SOP_CLASS),
        el(tags::SOP_INSTANCE_UID, VR::UI, &sop_uid),
        el(tags::STUDY_DATE, VR::DA, &study.study_date),
        el(tags::CONTENT_DATE, VR::DA, &date),
        el(tags::STUDY_TIME, VR::TM, &study.study_time),
        el(tags::CONTENT_TIME, VR::TM, &time),
        el(tags::ACCESSION_NUMBER, VR::SH, &study.accession),
        el(tags::MODALITY, VR::CS, "KO"),
        el(tags::MANUFACTURER, VR::LO, "qcdesk"),
        el(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            &study.referring_physician,
        ),
        el(tags::SERIES_DESCRIPTION, VR::LO, code.meaning),
        seq(
            tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
            Vec::new(),
        ),
        el(tags::PATIENT_NAME, VR::PN, &study.patient_name),
        el(tags::PATIENT_ID, VR::LO, &study.patient_id),
        el(
            tags::ISSUER_OF_PATIENT_ID,
            VR::LO,
            &study.issuer_of_patient_id,
        ),
        el(tags::PATIENT_BIRTH_DATE, VR::DA, &study.birth_date),
        el(tags::PATIENT_SEX, VR::CS, &study.sex),
        el(tags::STUDY_INSTANCE_UID, VR::UI, &study.study_uid),
        el(tags::SERIES_INSTANCE_UID, VR::UI, &series_uid),
        el(tags::STUDY_ID, VR::SH, &study.study_id),
        el(tags::SERIES_NUMBER, VR::IS, "9901"),
        el(tags::INSTANCE_NUMBER, VR::IS, "1"),
        el(tags::VALUE_TYPE, VR::CS, "CONTAINER"),
        seq(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![code_item(code.code, "DCM", code.meaning)],
        ),
        el(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"),
        seq(
            tags::CONTENT_TEMPLATE_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([
                el(tags::MAPPING_RESOURCE, VR::CS, "DCMR"),
                el(tags::TEMPLATE_IDENTIFIER, VR::CS, "2010"),
            ])],
        ),
        seq(
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![evidence],
        ),
        seq(tags::CONTENT_SEQUENCE, content),
    ]);
    if texts.iter().any(|t| !t.is_ascii()) {
        obj.put(el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"));
    }
    Ok((encode_part10(obj, None)?, sop_uid))
}

/// What a rejection did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rejected {
    pub study: i64,
    pub code: &'static str,
    pub meaning: &'static str,
    /// Instances rejected.
    pub rejected: u64,
    pub note_sop_instance_uid: String,
    pub correction: i64,
}

/// Rejects the instances of `target` for `code`: the rejection note is made, read back,
/// staged, and recorded with the rejection in one transaction.
pub fn reject(
    store: &mut crate::store::Store,
    target: &crate::store::RejectTarget,
    code: &'static RejectCode,
    who: &super::fix::Who,
) -> Result<Rejected, super::fix::FixError> {
    use super::fix::FixError;
    use crate::reconcile::rewrite::RewriteError;
    let header = store.study_header(target.study_id)?;
    let refs: Vec<RejectedRef> = target.instances.iter().map(|(_, r)| r.clone()).collect();
    let (bytes, note_uid) = rejection_note(&header, &refs, code, target.study_id).map_err(|e| {
        FixError::Rewrite(RewriteError::Write {
            file: "the rejection note".into(),
            message: e.to_string(),
        })
    })?;
    let read = crate::dicom::read_header(&mut std::io::Cursor::new(&bytes), bytes.len() as u64)
        .map_err(|e| {
            FixError::Rewrite(RewriteError::Verify {
                file: "the rejection note".into(),
                message: e.to_string(),
            })
        })?;
    let staged = store
        .blobs()
        .stage(&bytes, read.dataset_offset, &read.header.transfer_syntax)?;
    let note = crate::store::FileRecord {
        staged,
        dataset_offset: read.dataset_offset,
        original_path: format!("rejection note {note_uid}"),
        source: "qcdesk".into(),
        source_kind: crate::model::SourceKind::Created,
        network: None,
        header: read.header,
        faults: read.faults,
        received_at: None,
        compare: Default::default(),
    };
    let correction = store.record_rejection(
        target,
        &note,
        &crate::store::RejectRecord {
            code: code.code,
            meaning: code.meaning,
            os_user: &who.os_user,
            operator: &who.operator,
            reason: &who.reason,
        },
    )?;
    Ok(Rejected {
        study: target.study_id,
        code: code.code,
        meaning: code.meaning,
        rejected: target.instances.len() as u64,
        note_sop_instance_uid: note_uid,
        correction,
    })
}
