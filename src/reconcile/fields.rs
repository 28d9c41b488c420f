//! The attributes a correction may set by hand (`qcdesk fix --set KEYWORD=VALUE`, the desk's
//! edit form), and the check of each value against its value representation, with a message
//! that names the field.

use dicom_core::{Tag, VR};

/// An attribute that may be edited by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub keyword: &'static str,
    pub tag: Tag,
    pub vr: VR,
    /// What the form calls it.
    pub label: &'static str,
}

/// The study- and patient-level attributes of the IHE SWF/IRWF reconciliation set that are
/// single text values.
pub const FIELDS: &[Field] = &[
    field("PatientName", 0x0010, 0x0010, VR::PN, "Patient's Name"),
    field("PatientID", 0x0010, 0x0020, VR::LO, "Patient ID"),
    field(
        "IssuerOfPatientID",
        0x0010,
        0x0021,
        VR::LO,
        "Issuer of Patient ID",
    ),
    field("PatientBirthDate", 0x0010, 0x0030, VR::DA, "Birth Date"),
    field("PatientSex", 0x0010, 0x0040, VR::CS, "Sex"),
    field(
        "AccessionNumber",
        0x0008,
        0x0050,
        VR::SH,
        "Accession Number",
    ),
    field(
        "ReferringPhysicianName",
        0x0008,
        0x0090,
        VR::PN,
        "Referring Physician",
    ),
    field("StudyID", 0x0020, 0x0010, VR::SH, "Study ID"),
    field(
        "StudyDescription",
        0x0008,
        0x1030,
        VR::LO,
        "Study Description",
    ),
];

const fn field(keyword: &'static str, g: u16, e: u16, vr: VR, label: &'static str) -> Field {
    Field {
        keyword,
        tag: Tag(g, e),
        vr,
        label,
    }
}

/// The editable field with this keyword (case as in the DICOM dictionary; case-insensitive).
pub fn field_by_keyword(keyword: &str) -> Option<&'static Field> {
    FIELDS
        .iter()
        .find(|f| f.keyword.eq_ignore_ascii_case(keyword.trim()))
}

/// Why a value given for a field cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{keyword}: {message}")]
pub struct InvalidValue {
    pub keyword: String,
    pub message: String,
}

impl Field {
    /// The value as it will be written (outer spaces trimmed), or why it cannot be.
    pub fn check(&self, value: &str) -> Result<String, InvalidValue> {
        let v = value.trim_matches(' ').to_string();
        let problem = match self.vr {
            VR::PN => check_pn(&v),
            VR::DA => crate::dicom::values::check_date(&v),
            VR::CS => crate::dicom::values::check_sex(&v),
            VR::LO => check_text(&v, 64),
            VR::SH => check_text(&v, 16),
            _ => check_text(&v, 64),
        };
        match problem {
            None => Ok(v),
            Some(message) => Err(InvalidValue {
                keyword: self.keyword.to_string(),
                message,
            }),
        }
    }
}

/// Parses `KEYWORD=VALUE` and checks the value.
pub fn parse_assignment(text: &str) -> Result<(&'static Field, String), InvalidValue> {
    let Some((k, v)) = text.split_once('=') else {
        return Err(InvalidValue {
            keyword: text.to_string(),
            message: "expected KEYWORD=VALUE".into(),
        });
    };
    let f = field_by_keyword(k).ok_or_else(|| InvalidValue {
        keyword: k.trim().to_string(),
        message: format!(
            "not a field qcdesk edits (one of {})",
            FIELDS
                .iter()
                .map(|f| f.keyword)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    Ok((f, f.check(v)?))
}

/// One value: no backslash (the value separator), no control characters.
fn check_single(v: &str) -> Option<String> {
    if v.contains('\\') {
        return Some(format!("'{v}' contains a backslash (it separates values)"));
    }
    v.chars()
        .find(|c| c.is_control())
        .map(|c| format!("'{v}' contains the control character {c:?}"))
}

/// LO/SH: one value of at most `max` characters, no control characters.
fn check_text(v: &str, max: usize) -> Option<String> {
    if let Some(p) = check_single(v) {
        return Some(p);
    }
    let n = v.chars().count();
    if n > max {
        return Some(format!(
            "'{v}' has {n} characters, at most {max} are allowed"
        ));
    }
    None
}

/// PN: up to three component groups (alphabetic=ideographic=phonetic) of up to five
/// components (family^given^middle^prefix^suffix), each group at most 64 characters.
pub fn check_pn(v: &str) -> Option<String> {
    if let Some(p) = check_single(v) {
        return Some(p);
    }
    let groups: Vec<&str> = v.split('=').collect();
    if groups.len() > 3 {
        return Some(format!(
            "'{v}' has {} component groups; a name has at most 3 (alphabetic=ideographic=phonetic)",
            groups.len()
        ));
    }
    for g in &groups {
        let parts = g.split('^').count();
        if parts > 5 {
            return Some(format!(
                "'{g}' has {parts} components; a name has at most 5 (family^given^middle^prefix^suffix)"
            ));
        }
        let n = g.chars().count();
        if n > 64 {
            return Some(format!(
                "'{g}' has {n} characters; a component group has at most 64"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_vr_naming_the_field() {
        let (f, v) = parse_assignment("PatientName= Doe^Jane ").unwrap();
        assert_eq!((f.keyword, v.as_str()), ("PatientName", "Doe^Jane"));
        let (f, _) = parse_assignment("patientid=X1").unwrap();
        assert_eq!(f.keyword, "PatientID");
        let e = parse_assignment("PatientBirthDate=1980-01-02").unwrap_err();
        assert_eq!(e.keyword, "PatientBirthDate");
        assert!(e.to_string().contains("YYYYMMDD"), "{e}");
        let e = parse_assignment("PatientSex=female").unwrap_err();
        assert!(e.to_string().starts_with("PatientSex: "), "{e}");
        assert!(
            parse_assignment("PatientID=").is_ok(),
            "an empty Patient ID is a value (type 2)"
        );
        let long = format!("PatientID={}", "1".repeat(65));
        assert!(
            parse_assignment(&long)
                .unwrap_err()
                .message
                .contains("at most 64")
        );
        let e = parse_assignment("AccessionNumber=12345678901234567").unwrap_err();
        assert!(e.message.contains("at most 16"), "{e}");
        assert!(parse_assignment("PatientName=A^B^C^D^E^F").is_err());
        assert!(parse_assignment("PatientName=A=B=C=D").is_err());
        assert!(parse_assignment("PatientName=Yamada^Tarou=山田^太郎=やまだ^たろう").is_ok());
        assert!(parse_assignment("PatientName=A\\B").is_err());
        assert!(parse_assignment("Modality=CT").is_err());
        assert!(parse_assignment("PatientID").is_err());
    }
}
