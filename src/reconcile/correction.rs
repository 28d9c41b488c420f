//! What a correction sets: the attributes of an order applied to a study (the IHE SWF/IRWF
//! reconciliation set) or values typed by hand, as plain elements the rewrite writes into
//! every instance of the study.

use dicom_core::{Tag, VR};
use serde::Serialize;

use super::fields::Field;
use crate::model::WorklistItem;

/// A value to write: text (one value; empty for a type 2 attribute left empty) or items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Items(Vec<Item>),
}

/// One attribute and its new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    pub tag: Tag,
    pub vr: VR,
    pub value: Value,
}

/// A sequence item: its attributes in tag order.
pub type Item = Vec<Elem>;

/// Where a correction's values came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A worklist order (its accession, requested procedure and step IDs, source).
    Order {
        accession: String,
        requested_procedure_id: String,
        sps_id: String,
        source: String,
    },
    /// Values typed by the user.
    Manual,
    /// A series moved to another study (`to_study`) or to a new one (`None`).
    Move {
        series_uid: String,
        from_study: i64,
        to_study: Option<i64>,
    },
    /// A study's series all moved into another study.
    Merge { from_study: i64, into_study: i64 },
}

/// A change to make to every instance of a study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub origin: Origin,
    pub sets: Vec<Elem>,
}

fn text(tag: Tag, vr: VR, v: &str) -> Elem {
    Elem {
        tag,
        vr,
        value: Value::Text(v.trim_matches(' ').to_string()),
    }
}

fn items(tag: Tag, items: Vec<Item>) -> Elem {
    Elem {
        tag,
        vr: VR::SQ,
        value: Value::Items(items),
    }
}

/// A code item from `CODE^SCHEME^MEANING` (the cache's form of a code sequence's first item).
fn code_item(code: &str) -> Option<Item> {
    let mut parts = code.splitn(3, '^');
    let value = parts.next().unwrap_or("").trim();
    let scheme = parts.next().unwrap_or("").trim();
    let meaning = parts.next().unwrap_or("").trim();
    if value.is_empty() {
        return None;
    }
    Some(vec![
        text(tags::CODE_VALUE, VR::SH, value),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        text(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// The tags a correction writes, named as in the DICOM dictionary.
pub mod tags {
    use dicom_core::Tag;
    pub const SPECIFIC_CHARACTER_SET: Tag = Tag(0x0008, 0x0005);
    pub const ACCESSION_NUMBER: Tag = Tag(0x0008, 0x0050);
    pub const ISSUER_OF_ACCESSION_NUMBER_SEQUENCE: Tag = Tag(0x0008, 0x0051);
    pub const REFERRING_PHYSICIAN_NAME: Tag = Tag(0x0008, 0x0090);
    pub const CODE_VALUE: Tag = Tag(0x0008, 0x0100);
    pub const CODING_SCHEME_DESIGNATOR: Tag = Tag(0x0008, 0x0102);
    pub const CODE_MEANING: Tag = Tag(0x0008, 0x0104);
    pub const STUDY_DESCRIPTION: Tag = Tag(0x0008, 0x1030);
    pub const PROCEDURE_CODE_SEQUENCE: Tag = Tag(0x0008, 0x1032);
    pub const PATIENT_NAME: Tag = Tag(0x0010, 0x0010);
    pub const PATIENT_ID: Tag = Tag(0x0010, 0x0020);
    pub const ISSUER_OF_PATIENT_ID: Tag = Tag(0x0010, 0x0021);
    pub const TYPE_OF_PATIENT_ID: Tag = Tag(0x0010, 0x0022);
    pub const PATIENT_BIRTH_DATE: Tag = Tag(0x0010, 0x0030);
    pub const PATIENT_SEX: Tag = Tag(0x0010, 0x0040);
    pub const OTHER_PATIENT_IDS_SEQUENCE: Tag = Tag(0x0010, 0x1002);
    pub const STUDY_INSTANCE_UID: Tag = Tag(0x0020, 0x000D);
    pub const STUDY_ID: Tag = Tag(0x0020, 0x0010);
    pub const REQUESTED_PROCEDURE_DESCRIPTION: Tag = Tag(0x0032, 0x1060);
    pub const REQUESTED_PROCEDURE_CODE_SEQUENCE: Tag = Tag(0x0032, 0x1064);
    pub const SCHEDULED_PROCEDURE_STEP_DESCRIPTION: Tag = Tag(0x0040, 0x0007);
    pub const SCHEDULED_PROTOCOL_CODE_SEQUENCE: Tag = Tag(0x0040, 0x0008);
    pub const SCHEDULED_PROCEDURE_STEP_ID: Tag = Tag(0x0040, 0x0009);
    pub const LOCAL_NAMESPACE_ENTITY_ID: Tag = Tag(0x0040, 0x0031);
    pub const REQUEST_ATTRIBUTES_SEQUENCE: Tag = Tag(0x0040, 0x0275);
    pub const REQUESTED_PROCEDURE_ID: Tag = Tag(0x0040, 0x1001);
    pub const MODIFIED_ATTRIBUTES_SEQUENCE: Tag = Tag(0x0400, 0x0550);
    pub const ORIGINAL_ATTRIBUTES_SEQUENCE: Tag = Tag(0x0400, 0x0561);
    pub const ATTRIBUTE_MODIFICATION_DATETIME: Tag = Tag(0x0400, 0x0562);
    pub const MODIFYING_SYSTEM: Tag = Tag(0x0400, 0x0563);
    pub const SOURCE_OF_PREVIOUS_VALUES: Tag = Tag(0x0400, 0x0564);
    pub const REASON_FOR_THE_ATTRIBUTE_MODIFICATION: Tag = Tag(0x0400, 0x0565);
    pub const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
}

impl Correction {
    /// The order's demographics and request applied to a study (IHE SWF/IRWF): the patient
    /// (name, ID and issuer, other IDs, birth date, sex), the accession and its issuer, the
    /// referring physician, Study ID and Study Description from the requested procedure, its
    /// codes, and the Request Attributes Sequence. Patient attributes are always set (an empty
    /// order value empties the study's, the old value kept in Original Attributes Sequence);
    /// descriptive ones only when the order has them. The Study Instance UID is kept.
    pub fn from_order(o: &WorklistItem) -> Correction {
        use tags::*;
        let mut sets = vec![
            text(PATIENT_NAME, VR::PN, &o.patient_name),
            text(PATIENT_ID, VR::LO, &o.patient_id),
            text(ISSUER_OF_PATIENT_ID, VR::LO, &o.issuer_of_patient_id),
            text(PATIENT_BIRTH_DATE, VR::DA, &o.birth_date),
            text(PATIENT_SEX, VR::CS, &o.sex),
            items(OTHER_PATIENT_IDS_SEQUENCE, other_ids(&o.other_patient_ids)),
            text(ACCESSION_NUMBER, VR::SH, &o.accession),
            items(
                ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
                issuer_items(&o.issuer_of_accession),
            ),
        ];
        if !o.referring_physician.trim().is_empty() {
            sets.push(text(
                REFERRING_PHYSICIAN_NAME,
                VR::PN,
                &o.referring_physician,
            ));
        }
        if !o.requested_procedure_id.trim().is_empty() {
            sets.push(text(STUDY_ID, VR::SH, &o.requested_procedure_id));
        }
        if !o.procedure.trim().is_empty() {
            sets.push(text(STUDY_DESCRIPTION, VR::LO, &o.procedure));
        }
        if let Some(code) = code_item(&o.procedure_code) {
            sets.push(items(PROCEDURE_CODE_SEQUENCE, vec![code]));
        }
        sets.push(items(REQUEST_ATTRIBUTES_SEQUENCE, vec![request_item(o)]));
        sets.sort_by_key(|e| e.tag);
        Correction {
            origin: Origin::Order {
                accession: o.accession.clone(),
                requested_procedure_id: o.requested_procedure_id.clone(),
                sps_id: o.sps_id.clone(),
                source: o.source.clone(),
            },
            sets,
        }
    }

    /// Values typed by hand, each already checked ([`Field::check`]).
    pub fn manual(values: &[(&Field, String)]) -> Correction {
        let mut sets: Vec<Elem> = values.iter().map(|(f, v)| text(f.tag, f.vr, v)).collect();
        sets.sort_by_key(|e| e.tag);
        sets.dedup_by_key(|e| e.tag);
        Correction {
            origin: Origin::Manual,
            sets,
        }
    }
}

/// Other Patient IDs Sequence items from `ID^^^ISSUER` values joined by `\`.
fn other_ids(list: &str) -> Vec<Item> {
    use tags::*;
    list.split('\\')
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            let mut parts = v.split('^');
            let id = parts.next().unwrap_or("").trim();
            let issuer = parts.nth(2).unwrap_or("").trim();
            vec![
                text(PATIENT_ID, VR::LO, id),
                text(ISSUER_OF_PATIENT_ID, VR::LO, issuer),
                text(TYPE_OF_PATIENT_ID, VR::CS, "TEXT"),
            ]
        })
        .collect()
}

fn issuer_items(issuer: &str) -> Vec<Item> {
    if issuer.trim().is_empty() {
        return Vec::new();
    }
    vec![vec![text(tags::LOCAL_NAMESPACE_ENTITY_ID, VR::UT, issuer)]]
}

/// The Request Attributes Sequence item of an order: what was requested and scheduled.
fn request_item(o: &WorklistItem) -> Item {
    use tags::*;
    let mut item = vec![text(ACCESSION_NUMBER, VR::SH, &o.accession)];
    let issuer = issuer_items(&o.issuer_of_accession);
    if !issuer.is_empty() {
        item.push(items(ISSUER_OF_ACCESSION_NUMBER_SEQUENCE, issuer));
    }
    if !o.study_instance_uid.trim().is_empty() {
        item.push(text(STUDY_INSTANCE_UID, VR::UI, &o.study_instance_uid));
    }
    if !o.procedure.trim().is_empty() {
        item.push(text(REQUESTED_PROCEDURE_DESCRIPTION, VR::LO, &o.procedure));
    }
    if let Some(code) = code_item(&o.procedure_code) {
        item.push(items(REQUESTED_PROCEDURE_CODE_SEQUENCE, vec![code]));
    }
    if !o.step_description.trim().is_empty() {
        item.push(text(
            SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
            VR::LO,
            &o.step_description,
        ));
    }
    if let Some(code) = code_item(&o.protocol_code) {
        item.push(items(SCHEDULED_PROTOCOL_CODE_SEQUENCE, vec![code]));
    }
    if !o.sps_id.trim().is_empty() {
        item.push(text(SCHEDULED_PROCEDURE_STEP_ID, VR::SH, &o.sps_id));
    }
    if !o.requested_procedure_id.trim().is_empty() {
        item.push(text(
            REQUESTED_PROCEDURE_ID,
            VR::SH,
            &o.requested_procedure_id,
        ));
    }
    item.sort_by_key(|e| e.tag);
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_gives_the_ihe_set_in_tag_order() {
        let o = WorklistItem {
            accession: "A1".into(),
            issuer_of_accession: "RIS.EAST".into(),
            requested_procedure_id: "RP7".into(),
            sps_id: "S9".into(),
            patient_name: "Doe^Jane".into(),
            patient_id: "P1".into(),
            issuer_of_patient_id: "HOSP".into(),
            other_patient_ids: "X9^^^OLDHOSP".into(),
            procedure: "CT HEAD".into(),
            procedure_code: "CTHD^LOCAL^CT head".into(),
            study_instance_uid: "1.2.3".into(),
            ..Default::default()
        };
        let c = Correction::from_order(&o);
        let tags: Vec<Tag> = c.sets.iter().map(|e| e.tag).collect();
        let mut sorted = tags.clone();
        sorted.sort();
        assert_eq!(tags, sorted);
        assert!(tags.contains(&tags::STUDY_ID));
        assert!(
            !tags.contains(&tags::REFERRING_PHYSICIAN_NAME),
            "none given"
        );
        assert!(
            !tags.contains(&tags::STUDY_INSTANCE_UID),
            "the study keeps its UID"
        );
        let other = c
            .sets
            .iter()
            .find(|e| e.tag == tags::OTHER_PATIENT_IDS_SEQUENCE)
            .unwrap();
        let Value::Items(items) = &other.value else {
            panic!()
        };
        assert_eq!(items[0][1].value, Value::Text("OLDHOSP".into()));
        let req = c
            .sets
            .iter()
            .find(|e| e.tag == tags::REQUEST_ATTRIBUTES_SEQUENCE)
            .unwrap();
        let Value::Items(items) = &req.value else {
            panic!()
        };
        let inner: Vec<Tag> = items[0].iter().map(|e| e.tag).collect();
        assert!(inner.contains(&tags::STUDY_INSTANCE_UID));
        assert!(inner.contains(&tags::REQUESTED_PROCEDURE_CODE_SEQUENCE));
    }
}
