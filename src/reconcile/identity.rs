//! Whether a correction changes who the patient is: a Patient ID replaced, or a name or
//! birth date changed beyond a typo. Such a correction moves images between two people's
//! records, so the desk asks for a reason and a second confirmation and lists these fields
//! first; filling an empty value or fixing a typo does not ask.

use super::fix::StudyChange;

/// The attributes that say who the patient is, in the order a preview lists them.
pub const IDENTITY_KEYWORDS: [&str; 6] = [
    "PatientID",
    "IssuerOfPatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "OtherPatientIDsSequence",
];

/// True for an attribute that says who the patient is.
pub fn is_identity(keyword: &str) -> bool {
    IDENTITY_KEYWORDS.contains(&keyword)
}

/// Where an attribute stands in a preview: identity first (in [`IDENTITY_KEYWORDS`] order),
/// then plain values, then sequences (long, read last).
pub fn preview_rank(keyword: &str) -> (u8, usize) {
    if let Some(i) = IDENTITY_KEYWORDS.iter().position(|k| *k == keyword) {
        (0, i)
    } else if keyword.ends_with("Sequence") {
        (2, 0)
    } else {
        (1, 0)
    }
}

/// Why a correction changes the patient, a sentence per field; empty when it does not.
pub fn patient_changes(changes: &[StudyChange]) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        let (old, new) = (c.old.trim(), c.new.trim());
        if old.is_empty() || old == new {
            // Filling a missing value names no other patient.
            continue;
        }
        match c.keyword.as_str() {
            "PatientID" => out.push(format!("Patient ID {old} becomes {new}")),
            "IssuerOfPatientID" => out.push(format!("Issuer of Patient ID {old} becomes {new}")),
            "PatientName" if !is_typo(&name_key(old), &name_key(new)) => {
                out.push(format!("name {old} becomes {new}"))
            }
            "PatientBirthDate" if !is_typo(old, new) => {
                out.push(format!("birth date {old} becomes {new}"))
            }
            _ => {}
        }
    }
    out
}

/// A name as compared for a typo: case, accents' absence, component separators and spaces
/// ignored.
fn name_key(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '^' | ' ' | ',' | '-' | '.' | '='))
        .flat_map(char::to_uppercase)
        .collect()
}

/// One character wrong, missing, extra, or two neighbours swapped (longer names: two).
fn is_typo(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let allowed = if a.chars().count().min(b.chars().count()) >= 10 {
        2
    } else {
        1
    };
    strsim::osa_distance(a, b) <= allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(keyword: &str, old: &str, new: &str) -> StudyChange {
        StudyChange {
            tag: String::new(),
            keyword: keyword.into(),
            old: old.into(),
            new: new.into(),
            instances: 1,
            other_old: Vec::new(),
        }
    }

    #[test]
    fn a_new_patient_id_changes_the_patient() {
        let said = patient_changes(&[change("PatientID", "P123", "P999")]);
        assert_eq!(said, ["Patient ID P123 becomes P999"]);
    }

    #[test]
    fn typos_and_filled_values_do_not() {
        assert!(
            patient_changes(&[
                change("PatientName", "DUBOIS^CELINE", "DUBOIS^CÉLINE"),
                change("PatientName", "SMTIH^JOHN", "SMITH^JOHN"),
                change("PatientBirthDate", "19800112", "19800121"),
                change("PatientID", "", "P1"),
                change("ReferringPhysicianName", "A^B", "C^D"),
            ])
            .is_empty()
        );
    }

    #[test]
    fn another_name_or_birth_date_does() {
        let said = patient_changes(&[
            change("PatientName", "PATEL^PRIYA", "DUBOIS^CELINE"),
            change("PatientBirthDate", "19800112", "19671230"),
        ]);
        assert_eq!(said.len(), 2, "{said:?}");
    }

    #[test]
    fn identity_first_sequences_last() {
        let mut k = vec![
            "RequestAttributesSequence",
            "ReferringPhysicianName",
            "PatientName",
            "PatientID",
        ];
        k.sort_by_key(|k| preview_rank(k));
        assert_eq!(
            k,
            [
                "PatientID",
                "PatientName",
                "ReferringPhysicianName",
                "RequestAttributesSequence"
            ]
        );
    }
}
