//! Rules about single files: how reading went, UIDs, the file meta group against the data
//! set, pixel data, and value formats.

use std::collections::BTreeMap;

use super::{CopyFacts, InstanceFacts, finding, folded};
use crate::dicom::{FaultKind, uids, values};
use crate::model::Finding;

/// `truncated` / `unreadable` (broken), `undeclared_charset` / `bad_charset` (nonconformant):
/// what reading each file met, copies included (a damaged copy is damage in the study too).
pub(super) fn read_faults(instances: &[InstanceFacts], copies: &[CopyFacts]) -> Vec<Finding> {
    let of_instances = instances.iter().map(|i| (&i.file, &i.faults));
    let of_copies = copies.iter().map(|c| (&c.file, &c.faults));
    let mut out = Vec::new();
    let mut charset: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for (file, faults) in of_instances.chain(of_copies) {
        for f in faults {
            match f.kind {
                FaultKind::Truncated => {
                    out.push(finding("truncated", f.message.clone(), Some(file)))
                }
                FaultKind::Unreadable => {
                    out.push(finding("unreadable", f.message.clone(), Some(file)))
                }
                FaultKind::UndeclaredCharset => charset
                    .entry(("undeclared_charset", f.message.clone()))
                    .or_default()
                    .push(file),
                FaultKind::BadCharset => charset
                    .entry(("bad_charset", f.message.clone()))
                    .or_default()
                    .push(file),
                FaultKind::Note => {}
            }
        }
    }
    for ((code, message), files) in charset {
        out.extend(folded(code, BTreeMap::from([(message, files)])));
    }
    out
}

/// `missing_uid`: a Study, Series or SOP Instance UID is absent; no archive can file the object.
pub(super) fn missing_uids(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let h = &i.header;
        for (value, name) in uid_fields(h) {
            if value.is_empty() && !h.is_dicomdir() {
                hits.entry(format!("{name} is missing"))
                    .or_default()
                    .push(&i.file);
            }
        }
    }
    folded("missing_uid", hits)
}

fn uid_fields(h: &crate::dicom::Header) -> [(&str, &str); 4] {
    [
        (&h.study_uid, "Study Instance UID (0020,000D)"),
        (&h.series_uid, "Series Instance UID (0020,000E)"),
        (&h.sop_instance_uid, "SOP Instance UID (0008,0018)"),
        (&h.sop_class_uid, "SOP Class UID (0008,0016)"),
    ]
}

/// `bad_uid`: a UID that breaks the UI format (characters, length, empty or zero-led
/// components). Archives key on UIDs, so the study cannot be filed safely: broken.
pub(super) fn bad_uids(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        for (value, name) in uid_fields(&i.header) {
            if value.is_empty() {
                continue;
            }
            if let Some(reason) = values::check_uid(value) {
                hits.entry(format!("{name}: {reason}"))
                    .or_default()
                    .push(&i.file);
            }
        }
    }
    folded("bad_uid", hits)
}

/// `meta_mismatch`: the file meta group names another SOP Class or Instance than the data set.
/// Senders and archives that trust the meta group file the object under the wrong UID.
pub(super) fn meta_mismatch(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let h = &i.header;
        for (meta, data, name) in [
            (
                &h.media_sop_class_uid,
                &h.sop_class_uid,
                "Media Storage SOP Class UID (0002,0002)",
            ),
            (
                &h.media_sop_instance_uid,
                &h.sop_instance_uid,
                "Media Storage SOP Instance UID (0002,0003)",
            ),
        ] {
            if !meta.is_empty() && !data.is_empty() && meta != data {
                hits.entry(format!("{name} is '{meta}' but the data set says '{data}'"))
                    .or_default()
                    .push(&i.file);
            }
        }
    }
    folded("meta_mismatch", hits)
}

/// `missing_pixel_data`: an image SOP class without pixel data. Skipped when reading stopped
/// early, since the pixel data may then simply not have been reached.
pub(super) fn missing_pixel_data(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let class = &i.header.sop_class_uid;
        let read_through = !i.faults.iter().any(|f| f.kind.is_error());
        if read_through && !i.header.has_pixel_data && uids::needs_pixel_data(class) {
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

/// `bad_value` (nonconformant): a date, time or code string that breaks its VR's format.
pub(super) fn bad_values(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        let h = &i.header;
        let checks: [(&str, &str, Check); 7] = [
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
            ("Modality (0008,0060)", &h.modality, values::check_cs),
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

/// `format_note`: deviations that do not stop the study (no file meta, guessed syntax).
pub(super) fn format_notes(instances: &[InstanceFacts]) -> Vec<Finding> {
    let mut hits: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for i in instances {
        for f in i.faults.iter().filter(|f| f.kind == FaultKind::Note) {
            hits.entry(f.message.clone()).or_default().push(&i.file);
        }
    }
    folded("format_note", hits)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::dicom::Fault;
    use crate::model::StudyState;

    fn with_fault(kind: crate::dicom::FaultKind, message: &str) -> super::InstanceFacts {
        let mut i = inst("a", |_| {});
        i.faults.push(Fault::new(kind, message));
        i
    }

    #[test]
    fn read_faults_by_kind_not_by_text() {
        use crate::dicom::FaultKind::*;
        // The message says nothing of truncation: the kind decides.
        let c = run(
            &study(vec![with_fault(Truncated, "ends early")]),
            &[order()],
        );
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Broken, vec!["truncated"])
        );
        let c = run(
            &study(vec![with_fault(
                Unreadable,
                "file is truncated? no: bad tag",
            )]),
            &[order()],
        );
        assert_eq!(codes(&c), ["unreadable"]);
    }

    #[test]
    fn charset_faults_are_nonconformant() {
        use crate::dicom::FaultKind::*;
        let c = run(
            &study(vec![
                with_fault(UndeclaredCharset, "PatientName holds non-ASCII text"),
                {
                    let mut i = with_fault(UndeclaredCharset, "PatientName holds non-ASCII text");
                    i.file = "bb".into();
                    i
                },
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Nonconformant);
        assert_eq!(codes(&c), ["undeclared_charset"]);
        assert!(c.findings[0].message.contains("in 2 files"));
        let c = run(
            &study(vec![with_fault(BadCharset, "not valid")]),
            &[order()],
        );
        assert_eq!(codes(&c), ["bad_charset"]);
        let c = run(&study(vec![with_fault(Note, "no file meta")]), &[order()]);
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Matched, vec!["format_note"])
        );
    }

    #[test]
    fn missing_uid_is_broken() {
        let c = run(
            &study(vec![inst("a", |h| h.series_uid.clear())]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Broken);
        assert_eq!(codes(&c), ["missing_uid"]);
        assert!(c.findings[0].message.contains("Series Instance UID"));
    }

    #[test]
    fn bad_uid_is_broken() {
        let c = run(
            &study(vec![inst("a", |h| h.sop_instance_uid = "1.2.03.4".into())]),
            &[order()],
        );
        assert_eq!((c.state, codes(&c)), (StudyState::Broken, vec!["bad_uid"]));
        assert!(c.findings[0].message.contains("leading zero"));
    }

    #[test]
    fn meta_group_must_agree_with_the_data_set() {
        let c = run(
            &study(vec![inst("a", |h| {
                h.media_sop_instance_uid = "1.2.3.999".into();
                h.media_sop_class_uid = h.sop_class_uid.clone();
            })]),
            &[order()],
        );
        assert_eq!(
            (c.state, codes(&c)),
            (StudyState::Broken, vec!["meta_mismatch"])
        );
        assert!(c.findings[0].message.contains("(0002,0003)"));
        let c = run(
            &study(vec![inst("a", |h| {
                h.media_sop_instance_uid = h.sop_instance_uid.clone();
            })]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Matched);
    }

    #[test]
    fn image_without_pixels_is_broken() {
        let c = run(
            &study(vec![inst("a", |h| h.has_pixel_data = false)]),
            &[order()],
        );
        assert_eq!(codes(&c), ["missing_pixel_data"]);
        // A structured report needs none.
        let c = run(
            &study(vec![inst("a", |h| {
                h.has_pixel_data = false;
                h.sop_class_uid = "1.2.840.10008.5.1.4.1.1.88.11".into();
            })]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Matched);
    }

    #[test]
    fn bad_date_is_nonconformant_and_folded() {
        let c = run(
            &study(vec![
                inst("a", |h| h.study_date = "2024-01-05".into()),
                inst("bb", |h| h.study_date = "2024-01-05".into()),
            ]),
            &[order()],
        );
        assert_eq!(c.state, StudyState::Nonconformant);
        assert_eq!(codes(&c), ["bad_value"]);
        assert!(c.findings[0].message.contains("Study Date (0008,0020)"));
        assert!(c.findings[0].message.contains("in 2 files"));
        assert_eq!(c.findings[0].file.as_deref(), Some("a"));
        let c = run(&study(vec![inst("a", |h| h.modality = "ct".into())]), &[]);
        assert!(codes(&c).contains(&"bad_value"));
    }
}
