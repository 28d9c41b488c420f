//! Modality Worklist identifiers: the query qcdesk sends (matching keys from the sync scope,
//! every return key reconciliation needs) and the reading of each answer into a
//! [`WorklistItem`]. Text is decoded by the answer's own Specific Character Set, ISO 2022 sets
//! included (`dicom::charset`).

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dicom::dump::{Node, dump_dataset};
use crate::model::WorklistItem;
use crate::store::SyncScope;

fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

/// A DICOM date range for a query: `A-B`, `A-`, `-B`, or empty (any).
fn date_range(scope: &SyncScope) -> String {
    match (&scope.from, &scope.to) {
        (None, None) => String::new(),
        (Some(a), Some(b)) if a == b => a.clone(),
        (a, b) => format!(
            "{}-{}",
            a.as_deref().unwrap_or(""),
            b.as_deref().unwrap_or("")
        ),
    }
}

/// The C-FIND identifier for a sync over `scope`.
pub fn query(scope: &SyncScope) -> InMemDicomObject {
    let step = InMemDicomObject::from_element_iter([
        text(
            tags::MODALITY,
            VR::CS,
            scope.modality.as_deref().unwrap_or(""),
        ),
        text(
            tags::SCHEDULED_STATION_AE_TITLE,
            VR::AE,
            scope.station.as_deref().unwrap_or(""),
        ),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            &date_range(scope),
        ),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, ""),
        text(tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION, VR::LO, ""),
        sequence(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, Vec::new()),
        text(tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME, VR::PN, ""),
    ]);
    InMemDicomObject::from_element_iter([
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, ""),
        text(tags::ACCESSION_NUMBER, VR::SH, ""),
        sequence(tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE, Vec::new()),
        text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
        text(tags::PATIENT_NAME, VR::PN, ""),
        text(tags::PATIENT_ID, VR::LO, ""),
        text(tags::ISSUER_OF_PATIENT_ID, VR::LO, ""),
        sequence(tags::OTHER_PATIENT_I_DS_SEQUENCE, Vec::new()),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
        text(tags::PATIENT_SEX, VR::CS, ""),
        text(tags::ADMISSION_ID, VR::LO, ""),
        text(tags::STUDY_INSTANCE_UID, VR::UI, ""),
        text(tags::REQUESTING_PHYSICIAN, VR::PN, ""),
        text(tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO, ""),
        sequence(tags::REQUESTED_PROCEDURE_CODE_SEQUENCE, Vec::new()),
        text(tags::REQUESTED_PROCEDURE_ID, VR::SH, ""),
        sequence(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![step]),
    ])
}

fn get(nodes: &[Node], tag: Tag) -> Option<&Node> {
    nodes.iter().find(|n| n.tag == tag)
}

fn value(nodes: &[Node], tag: Tag) -> String {
    get(nodes, tag)
        .map(|n| n.value.trim().to_string())
        .unwrap_or_default()
}

/// The first item of a sequence.
fn first_item(nodes: &[Node], tag: Tag) -> &[Node] {
    get(nodes, tag)
        .and_then(|n| n.items.first())
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `CODE^SCHEME^MEANING` of a code sequence's first item.
fn code(nodes: &[Node], tag: Tag) -> String {
    let item = first_item(nodes, tag);
    let parts = [
        value(item, tags::CODE_VALUE),
        value(item, tags::CODING_SCHEME_DESIGNATOR),
        value(item, tags::CODE_MEANING),
    ];
    if parts.iter().all(String::is_empty) {
        String::new()
    } else {
        parts.join("^")
    }
}

/// Digits of a DICOM time, to the second (`10:30:00.5` → `103000`).
fn time_digits(tm: &str) -> String {
    tm.split('.')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect()
}

/// Reads one C-FIND answer (identifier bytes in transfer syntax `ts_uid`).
pub fn item_from_identifier(
    bytes: &[u8],
    ts_uid: &str,
    source: &str,
) -> Result<WorklistItem, String> {
    let dump = dump_dataset(bytes, ts_uid);
    // A half-read answer would be an order missing its step: refused whole.
    if let Some(e) = &dump.error {
        return Err(e.clone());
    }
    Ok(item_from_nodes(&dump.dataset, source))
}

/// A worklist item from the attributes of an identifier (or a `.wl` file).
pub fn item_from_nodes(ds: &[Node], source: &str) -> WorklistItem {
    let step = first_item(ds, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
    let others: Vec<String> = get(ds, tags::OTHER_PATIENT_I_DS_SEQUENCE)
        .map(|s| {
            s.items
                .iter()
                .map(|i| {
                    let (id, issuer) = (
                        value(i, tags::PATIENT_ID),
                        value(i, tags::ISSUER_OF_PATIENT_ID),
                    );
                    if issuer.is_empty() {
                        id
                    } else {
                        format!("{id}^^^{issuer}")
                    }
                })
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    WorklistItem {
        accession: value(ds, tags::ACCESSION_NUMBER),
        issuer_of_accession: value(
            first_item(ds, tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE),
            tags::LOCAL_NAMESPACE_ENTITY_ID,
        ),
        requested_procedure_id: value(ds, tags::REQUESTED_PROCEDURE_ID),
        sps_id: value(step, tags::SCHEDULED_PROCEDURE_STEP_ID),
        patient_name: value(ds, tags::PATIENT_NAME),
        patient_id: value(ds, tags::PATIENT_ID),
        issuer_of_patient_id: value(ds, tags::ISSUER_OF_PATIENT_ID),
        birth_date: value(ds, tags::PATIENT_BIRTH_DATE),
        sex: value(ds, tags::PATIENT_SEX),
        modality: value(step, tags::MODALITY),
        station_ae: value(step, tags::SCHEDULED_STATION_AE_TITLE),
        scheduled_at: format!(
            "{}{}",
            value(step, tags::SCHEDULED_PROCEDURE_STEP_START_DATE),
            time_digits(&value(step, tags::SCHEDULED_PROCEDURE_STEP_START_TIME))
        ),
        procedure: value(ds, tags::REQUESTED_PROCEDURE_DESCRIPTION),
        study_instance_uid: value(ds, tags::STUDY_INSTANCE_UID),
        source: source.to_string(),
        other_patient_ids: others.join("\\"),
        procedure_code: code(ds, tags::REQUESTED_PROCEDURE_CODE_SEQUENCE),
        referring_physician: value(ds, tags::REFERRING_PHYSICIAN_NAME),
        requesting_physician: value(ds, tags::REQUESTING_PHYSICIAN),
        admission_id: value(ds, tags::ADMISSION_ID),
        step_description: value(step, tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION),
        protocol_code: code(step, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE),
        ..WorklistItem::default()
    }
}

fn code_item(code: &str) -> Vec<InMemDicomObject> {
    let mut parts = code.splitn(3, '^');
    let (v, s, m) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if code.is_empty() {
        return Vec::new();
    }
    vec![InMemDicomObject::from_element_iter([
        text(tags::CODE_VALUE, VR::SH, v),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, s),
        text(tags::CODE_MEANING, VR::LO, m),
    ])]
}

/// The identifier an MWL SCP answers with for `item` (UTF-8 text): what the demo's RIS sends.
pub fn identifier(item: &WorklistItem) -> InMemDicomObject {
    let cut = if item.scheduled_at.is_char_boundary(8) {
        8
    } else {
        item.scheduled_at.len()
    };
    let (date, time) = item.scheduled_at.split_at(cut.min(item.scheduled_at.len()));
    let step = InMemDicomObject::from_element_iter([
        text(tags::MODALITY, VR::CS, &item.modality),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, &item.station_ae),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, date),
        text(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, time),
        text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, &item.sps_id),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
            VR::LO,
            &item.step_description,
        ),
        sequence(
            tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE,
            code_item(&item.protocol_code),
        ),
    ]);
    let issuer = if item.issuer_of_accession.is_empty() {
        Vec::new()
    } else {
        vec![InMemDicomObject::from_element_iter([text(
            tags::LOCAL_NAMESPACE_ENTITY_ID,
            VR::UT,
            &item.issuer_of_accession,
        )])]
    };
    let others: Vec<InMemDicomObject> = item
        .other_patient_ids
        .split('\\')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut p = s.split("^^^");
            InMemDicomObject::from_element_iter([
                text(tags::PATIENT_ID, VR::LO, p.next().unwrap_or("")),
                text(tags::ISSUER_OF_PATIENT_ID, VR::LO, p.next().unwrap_or("")),
            ])
        })
        .collect();
    InMemDicomObject::from_element_iter([
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        text(tags::ACCESSION_NUMBER, VR::SH, &item.accession),
        sequence(tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE, issuer),
        text(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            &item.referring_physician,
        ),
        text(tags::PATIENT_NAME, VR::PN, &item.patient_name),
        text(tags::PATIENT_ID, VR::LO, &item.patient_id),
        text(
            tags::ISSUER_OF_PATIENT_ID,
            VR::LO,
            &item.issuer_of_patient_id,
        ),
        sequence(tags::OTHER_PATIENT_I_DS_SEQUENCE, others),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, &item.birth_date),
        text(tags::PATIENT_SEX, VR::CS, &item.sex),
        text(tags::ADMISSION_ID, VR::LO, &item.admission_id),
        text(tags::STUDY_INSTANCE_UID, VR::UI, &item.study_instance_uid),
        text(
            tags::REQUESTING_PHYSICIAN,
            VR::PN,
            &item.requesting_physician,
        ),
        text(
            tags::REQUESTED_PROCEDURE_DESCRIPTION,
            VR::LO,
            &item.procedure,
        ),
        sequence(
            tags::REQUESTED_PROCEDURE_CODE_SEQUENCE,
            code_item(&item.procedure_code),
        ),
        text(
            tags::REQUESTED_PROCEDURE_ID,
            VR::SH,
            &item.requested_procedure_id,
        ),
        sequence(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![step]),
    ])
}

/// The sync scope a received query asks for (what the demo's SCP matches on).
pub fn scope_of_query(query: &[Node]) -> SyncScope {
    let step = first_item(query, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
    let nonempty = |s: String| (!s.is_empty() && s != "*").then_some(s);
    let range = value(step, tags::SCHEDULED_PROCEDURE_STEP_START_DATE);
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (nonempty(a.to_string()), nonempty(b.to_string())),
        None => (nonempty(range.clone()), nonempty(range)),
    };
    SyncScope {
        from,
        to,
        modality: nonempty(value(step, tags::MODALITY)),
        station: nonempty(value(step, tags::SCHEDULED_STATION_AE_TITLE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

    fn encode(obj: &InMemDicomObject, ts_uid: &str) -> Vec<u8> {
        let ts = TransferSyntaxRegistry.get(ts_uid).unwrap();
        let mut out = Vec::new();
        obj.write_dataset_with_ts_cs(
            &mut out,
            ts,
            dicom_encoding::text::SpecificCharacterSet::ISO_IR_192,
        )
        .unwrap();
        out
    }

    #[test]
    fn an_item_survives_the_wire_in_both_encodings() {
        let item = WorklistItem {
            accession: "ACC1".into(),
            issuer_of_accession: "RGH".into(),
            requested_procedure_id: "RP1".into(),
            sps_id: "SPS1".into(),
            patient_name: "Müller^Jürgen=山田^太郎".into(),
            patient_id: "P1".into(),
            issuer_of_patient_id: "HOSP".into(),
            birth_date: "19700101".into(),
            sex: "M".into(),
            modality: "CT".into(),
            station_ae: "CT01".into(),
            scheduled_at: "20261128103000".into(),
            procedure: "CT Thorax".into(),
            study_instance_uid: "1.2.3".into(),
            source: "ris".into(),
            other_patient_ids: "X9^^^OTHER".into(),
            procedure_code: "CTTHX^99RGH^CT Thorax".into(),
            referring_physician: "Brandt^Helga".into(),
            requesting_physician: "Ober^Anna".into(),
            admission_id: "V123".into(),
            step_description: "Thorax nativ".into(),
            protocol_code: "P1^99RGH^Low dose".into(),
            ..WorklistItem::default()
        };
        for ts in [crate::net::EXPLICIT_VR_LE, crate::net::IMPLICIT_VR_LE] {
            let back = item_from_identifier(&encode(&identifier(&item), ts), ts, "ris").unwrap();
            assert_eq!(back, item, "{ts}");
        }
    }

    #[test]
    fn queries_carry_the_scope_and_read_back() {
        let scope = SyncScope {
            from: Some("20261101".into()),
            to: Some("20261130".into()),
            modality: Some("MR".into()),
            station: None,
        };
        let bytes = encode(&query(&scope), crate::net::EXPLICIT_VR_LE);
        let dump = dump_dataset(&bytes, crate::net::EXPLICIT_VR_LE);
        assert_eq!(scope_of_query(&dump.dataset), scope);
        assert_eq!(time_digits("10:30:00.5"), "103000");
    }
}
