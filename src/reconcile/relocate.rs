//! Moving series between studies: a series to another study or to a new one (splitting a
//! study), and every series of one study into another (merging the split-study case: one
//! accession over two Study UIDs). Moved instances take the target's Study Instance UID and
//! its patient and study attributes; a move to a new study takes a new Study UID only. A move
//! that puts images on another patient is flagged so the caller asks for a reason and a second
//! confirmation.

use dicom_core::VR;

use super::correction::{Correction, Elem, Origin, Value, tags};
use super::fix::{FixError, Preview, preview_base};
use crate::dicom::Header;
use crate::store::{Destination, Store};

/// Where a move goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveTo {
    Study(i64),
    New,
}

/// A move or merge, previewed.
#[derive(Debug, Clone)]
pub struct MovePlan {
    pub correction: Correction,
    pub preview: Preview,
    /// The move puts instances on another patient: (from, to) as `ID NAME`.
    pub other_patient: Option<(String, String)>,
}

fn text(tag: dicom_core::Tag, vr: VR, v: &str) -> Elem {
    Elem {
        tag,
        vr,
        value: Value::Text(v.to_string()),
    }
}

/// The target study's identity, as moved instances take it on.
fn study_sets(h: &Header) -> Vec<Elem> {
    use tags::*;
    let mut sets = vec![
        text(ACCESSION_NUMBER, VR::SH, &h.accession),
        text(REFERRING_PHYSICIAN_NAME, VR::PN, &h.referring_physician),
        text(STUDY_DESCRIPTION, VR::LO, &h.study_description),
        text(PATIENT_NAME, VR::PN, &h.patient_name),
        text(PATIENT_ID, VR::LO, &h.patient_id),
        text(ISSUER_OF_PATIENT_ID, VR::LO, &h.issuer_of_patient_id),
        text(PATIENT_BIRTH_DATE, VR::DA, &h.birth_date),
        text(PATIENT_SEX, VR::CS, &h.sex),
        text(STUDY_INSTANCE_UID, VR::UI, &h.study_uid),
        text(STUDY_ID, VR::SH, &h.study_id),
        text(dicom_core::Tag(0x0008, 0x0020), VR::DA, &h.study_date),
        text(dicom_core::Tag(0x0008, 0x0030), VR::TM, &h.study_time),
    ];
    sets.sort_by_key(|e| e.tag);
    sets
}

fn who(h: &Header) -> String {
    format!("{} {}", h.patient_id, h.patient_name)
        .trim()
        .to_string()
}

fn other_patient(from: &Header, to: &Header) -> Option<(String, String)> {
    let same = from.patient_id.trim() == to.patient_id.trim()
        && from.issuer_of_patient_id.trim() == to.issuer_of_patient_id.trim();
    (!same).then(|| (who(from), who(to)))
}

/// Moving the series with this Series Instance UID.
pub fn plan_move(store: &Store, series_uid: &str, to: MoveTo) -> Result<MovePlan, FixError> {
    let base = store.series_base(series_uid)?;
    let from = base.study_id;
    let (sets, destination, other, to_study) = match to {
        MoveTo::Study(target) => {
            if target == from {
                return Err(FixError::Nothing(format!(
                    "series {series_uid} is already in study {target}"
                )));
            }
            let (src, dst) = (store.study_header(from)?, store.study_header(target)?);
            (
                study_sets(&dst),
                Destination::Study(target),
                other_patient(&src, &dst),
                Some(target),
            )
        }
        MoveTo::New => {
            let uid = crate::dicom::uids::new_uid(from);
            (
                vec![text(tags::STUDY_INSTANCE_UID, VR::UI, &uid)],
                Destination::NewStudy { uid },
                None,
                None,
            )
        }
    };
    let correction = Correction {
        origin: Origin::Move {
            series_uid: series_uid.trim().to_string(),
            from_study: from,
            to_study,
        },
        sets,
    };
    let preview = preview_base(store, base, &correction, Some(destination))?;
    Ok(MovePlan {
        correction,
        preview,
        other_patient: other,
    })
}

/// Merging study `from` into study `into`: every series of `from` moves.
pub fn plan_merge(store: &Store, into: i64, from: i64) -> Result<MovePlan, FixError> {
    if into == from {
        return Err(FixError::Nothing(
            "a study cannot be merged into itself".into(),
        ));
    }
    let (src, dst) = (store.study_header(from)?, store.study_header(into)?);
    let correction = Correction {
        origin: Origin::Merge {
            from_study: from,
            into_study: into,
        },
        sets: study_sets(&dst),
    };
    let base = store.correction_base(from)?;
    let preview = preview_base(store, base, &correction, Some(Destination::Study(into)))?;
    Ok(MovePlan {
        correction,
        preview,
        other_patient: other_patient(&src, &dst),
    })
}

/// Applying an order that also gives the study the order's Study Instance UID: the study's
/// instances move to the study of that UID (the workspace's, when it holds one, else a new
/// one).
pub fn plan_order_with_uid(
    store: &Store,
    study_id: i64,
    order: &crate::model::WorklistItem,
) -> Result<MovePlan, FixError> {
    let uid = order.study_instance_uid.trim();
    if uid.is_empty() {
        return Err(FixError::Nothing(format!(
            "order {} has no Study Instance UID to take",
            order.accession
        )));
    }
    let mut correction = Correction::from_order(order);
    correction
        .sets
        .push(text(tags::STUDY_INSTANCE_UID, VR::UI, uid));
    correction.sets.sort_by_key(|e| e.tag);
    // The study of exactly this UID (not the user's lookup, which also takes a queue id or
    // an accession).
    let destination = match store.study_with_uid(uid)? {
        Some(id) if id == study_id => None,
        Some(id) => Some(Destination::Study(id)),
        None => Some(Destination::NewStudy {
            uid: uid.to_string(),
        }),
    };
    // Joining a study that holds another patient puts these images on that patient.
    let other = match &destination {
        Some(Destination::Study(t)) => {
            let dst = store.study_header(*t)?;
            let ordered = Header {
                patient_id: order.patient_id.clone(),
                issuer_of_patient_id: order.issuer_of_patient_id.clone(),
                patient_name: order.patient_name.clone(),
                ..Header::default()
            };
            other_patient(&ordered, &dst)
        }
        _ => None,
    };
    let base = store.correction_base(study_id)?;
    let preview = preview_base(store, base, &correction, destination)?;
    Ok(MovePlan {
        correction,
        preview,
        other_patient: other,
    })
}
