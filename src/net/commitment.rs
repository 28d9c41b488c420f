//! Storage Commitment Push Model (PS3.4 J): the N-ACTION request naming the instances sent,
//! and the N-EVENT-REPORT saying which of them the archive now holds safely.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

pub use crate::model::CommitResult;

/// The well-known SOP Instance of the Storage Commitment Push Model.
pub const WELL_KNOWN_INSTANCE: &str = "1.2.840.10008.1.20.1.1";
/// Failed SOP Sequence and its Failure Reason (not every dictionary names them the same).
const FAILED_SOP_SEQUENCE: Tag = Tag(0x0008, 0x1198);
const FAILURE_REASON: Tag = Tag(0x0008, 0x1197);

/// What a failure reason means (PS3.3 C.14.1.1).
pub fn failure_reason(code: u16) -> &'static str {
    match code {
        0x0110 => "processing failure",
        0x0112 => "no such object instance",
        0x0213 => "resource limitation",
        0x0122 => "referenced SOP class not supported",
        0x0119 => "class / instance conflict",
        0x0131 => "duplicate transaction UID",
        _ => "unknown reason",
    }
}

fn text(v: &str) -> PrimitiveValue {
    PrimitiveValue::from(v)
}

fn reference(class: &str, instance: &str, reason: Option<u16>) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    item.put(DataElement::new(
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        text(class),
    ));
    item.put(DataElement::new(
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        text(instance),
    ));
    if let Some(r) = reason {
        item.put(DataElement::new(
            FAILURE_REASON,
            VR::US,
            PrimitiveValue::from(r),
        ));
    }
    item
}

fn encode(obj: &InMemDicomObject, ts_uid: &str) -> Result<Vec<u8>, String> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| format!("unknown transfer syntax {ts_uid}"))?;
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, ts)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// A peer's data set, read without recursion and within limits (a data set nested thousands
/// deep would otherwise take the whole process down).
fn decode(data: &[u8], ts_uid: &str) -> Result<InMemDicomObject, String> {
    crate::dicom::object::read_dataset(data, ts_uid).map_err(|e| e.to_string())
}

fn string(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn items(obj: &InMemDicomObject, tag: Tag) -> Vec<InMemDicomObject> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.items().map(|i| i.to_vec()))
        .unwrap_or_default()
}

/// The data set and its Transaction UID (required).
fn decode_transaction(data: &[u8], ts_uid: &str) -> Result<(InMemDicomObject, String), String> {
    let obj = decode(data, ts_uid)?;
    let transaction_uid = string(&obj, tags::TRANSACTION_UID);
    if transaction_uid.is_empty() {
        return Err("no Transaction UID".into());
    }
    Ok((obj, transaction_uid))
}

/// The (SOP Class UID, SOP Instance UID) items of the Referenced SOP Sequence.
fn references(obj: &InMemDicomObject) -> Vec<(String, String)> {
    items(obj, tags::REFERENCED_SOP_SEQUENCE)
        .iter()
        .map(|i| {
            (
                string(i, tags::REFERENCED_SOP_CLASS_UID),
                string(i, tags::REFERENCED_SOP_INSTANCE_UID),
            )
        })
        .collect()
}

/// The N-ACTION-RQ data set asking the archive to commit `request.committed`: the same
/// attributes as a report that commits them all.
pub fn write_request(request: &CommitResult, ts_uid: &str) -> Result<Vec<u8>, String> {
    let asked = CommitResult {
        failed: Vec::new(),
        ..request.clone()
    };
    write_report(&asked, ts_uid).map(|(_, data)| data)
}

/// Reads an N-ACTION-RQ data set: the instances asked about are in `committed`.
pub fn read_request(data: &[u8], ts_uid: &str) -> Result<CommitResult, String> {
    let (obj, transaction_uid) = decode_transaction(data, ts_uid)?;
    let committed = references(&obj);
    Ok(CommitResult {
        transaction_uid,
        committed,
        failed: Vec::new(),
    })
}

/// The N-EVENT-REPORT: its Event Type ID (1: all committed, 2: some failed) and data set.
pub fn write_report(report: &CommitResult, ts_uid: &str) -> Result<(u16, Vec<u8>), String> {
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(
        tags::TRANSACTION_UID,
        VR::UI,
        text(&report.transaction_uid),
    ));
    if !report.committed.is_empty() {
        let refs: Vec<InMemDicomObject> = report
            .committed
            .iter()
            .map(|(c, i)| reference(c, i, None))
            .collect();
        obj.put(DataElement::new(
            tags::REFERENCED_SOP_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(refs),
        ));
    }
    if !report.failed.is_empty() {
        let refs: Vec<InMemDicomObject> = report
            .failed
            .iter()
            .map(|(c, i, r)| reference(c, i, Some(*r)))
            .collect();
        obj.put(DataElement::new(
            FAILED_SOP_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(refs),
        ));
    }
    let event = if report.failed.is_empty() { 1 } else { 2 };
    Ok((event, encode(&obj, ts_uid)?))
}

/// Reads an N-EVENT-REPORT data set.
pub fn read_report(data: &[u8], ts_uid: &str) -> Result<CommitResult, String> {
    let (obj, transaction_uid) = decode_transaction(data, ts_uid)?;
    let committed = references(&obj);
    let failed = items(&obj, FAILED_SOP_SEQUENCE)
        .iter()
        .map(|i| {
            let reason = i
                .element_opt(FAILURE_REASON)
                .ok()
                .flatten()
                .and_then(|e| e.to_int::<u16>().ok())
                .unwrap_or(0x0110);
            (
                string(i, tags::REFERENCED_SOP_CLASS_UID),
                string(i, tags::REFERENCED_SOP_INSTANCE_UID),
                reason,
            )
        })
        .collect();
    Ok(CommitResult {
        transaction_uid,
        committed,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_reports_round_trip() {
        let rq = CommitResult {
            transaction_uid: "2.25.1".into(),
            committed: vec![("1.2.840.10008.5.1.4.1.1.2".into(), "1.2.3.4".into())],
            failed: vec![],
        };
        for ts in [crate::net::EXPLICIT_VR_LE, crate::net::IMPLICIT_VR_LE] {
            let bytes = write_request(&rq, ts).unwrap();
            assert_eq!(read_request(&bytes, ts).unwrap(), rq);
            let report = CommitResult {
                failed: vec![("1.2".into(), "9.9".into(), 0x0112)],
                ..rq.clone()
            };
            let (event, bytes) = write_report(&report, ts).unwrap();
            assert_eq!(event, 2);
            assert_eq!(read_report(&bytes, ts).unwrap(), report);
        }
        assert!(read_report(&[1, 2, 3], crate::net::EXPLICIT_VR_LE).is_err());
    }
}
