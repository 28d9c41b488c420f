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
///
/// A replaced Patient ID or issuer, or a changed sex, always counts. A name or birth date
/// counts unless it is a typo (one character of a name of six or more, two of twelve or
/// more; one digit or two swapped digits of a date). Filling an empty Patient ID counts only
/// together with another identity change: two small changes at once are another patient more
/// often than two typos.
pub fn patient_changes(changes: &[StudyChange]) -> Vec<String> {
    let mut out = Vec::new();
    let mut small = Vec::new();
    for c in changes {
        // What the instances hold now: the usual value, else another one some of them hold.
        let old = if c.old.trim().is_empty() {
            c.other_old
                .iter()
                .map(|o| o.trim())
                .find(|o| !o.is_empty())
                .unwrap_or("")
        } else {
            c.old.trim()
        };
        let new = c.new.trim();
        if old == new {
            continue;
        }
        let filled = old.is_empty();
        match c.keyword.as_str() {
            "PatientID" if filled => small.push(format!("Patient ID {new} filled in")),
            "PatientID" => out.push(format!("Patient ID {old} becomes {new}")),
            "IssuerOfPatientID" if !filled => {
                out.push(format!("Issuer of Patient ID {old} becomes {new}"))
            }
            "PatientSex" if !filled => out.push(format!("sex {old} becomes {new}")),
            "PatientName" if !filled => {
                let (a, b) = (name_key(old), name_key(new));
                if a == b {
                    // The same name written another way.
                } else if is_typo(&a, &b, 6, 12) {
                    small.push(format!("name {old} becomes {new}"));
                } else {
                    out.push(format!("name {old} becomes {new}"));
                }
            }
            "PatientBirthDate" if !filled => {
                if is_typo(old, new, 8, usize::MAX) {
                    small.push(format!("birth date {old} becomes {new}"));
                } else {
                    out.push(format!("birth date {old} becomes {new}"));
                }
            }
            _ => {}
        }
    }
    if !out.is_empty() || small.len() >= 2 {
        out.extend(small);
    }
    out
}

/// A name as compared for a typo: case, accents, German transliteration (Ö and OE), component
/// separators and spaces set aside, so that writing the same name another way is no change
/// of patient at all.
fn name_key(s: &str) -> String {
    let german = s
        .to_uppercase()
        .replace('Ä', "AE")
        .replace('Ö', "OE")
        .replace('Ü', "UE")
        .replace('ß', "SS");
    crate::rules::names::fold_accents(&german)
        .chars()
        .filter(|c| !matches!(c, '^' | ' ' | ',' | '-' | '.' | '=' | '\''))
        .collect()
}

/// One character wrong, missing, extra, or two neighbours swapped, in a value of at least
/// `min_len` characters; two in one of at least `two_from`.
fn is_typo(a: &str, b: &str, min_len: usize, two_from: usize) -> bool {
    if a == b {
        return true;
    }
    let shorter = a.chars().count().min(b.chars().count());
    if shorter < min_len {
        return false;
    }
    let allowed = if shorter >= two_from { 2 } else { 1 };
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
            [
                vec![change("PatientName", "DUBOIS^CELINE", "DUBOIS^CÉLINE")],
                vec![change("PatientName", "KOENIG^JOERG", "KÖNIG^JÖRG")],
                vec![change("PatientName", "SMTIH^JOHN", "SMITH^JOHN")],
                vec![change("PatientBirthDate", "19800112", "19800121")],
                vec![change("PatientID", "", "P1")],
                vec![change("ReferringPhysicianName", "A^B", "C^D")],
                vec![change("PatientSex", "", "F")],
            ]
            .iter()
            .all(|c| patient_changes(c).is_empty())
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
    fn short_names_sex_and_two_small_changes_do() {
        assert_eq!(
            patient_changes(&[change("PatientName", "LI^NA", "LI^MA")]).len(),
            1,
            "a short name has no room for a typo"
        );
        assert_eq!(patient_changes(&[change("PatientSex", "F", "M")]).len(), 1);
        let both = patient_changes(&[
            change("PatientName", "SMTIH^JOHN", "SMITH^JOHN"),
            change("PatientBirthDate", "19800112", "19800121"),
        ]);
        assert_eq!(both.len(), 2, "{both:?}");
        let filled = patient_changes(&[
            change("PatientID", "", "P77"),
            change("PatientName", "SMTIH^JOHN", "SMITH^JOHN"),
        ]);
        assert_eq!(filled.len(), 2, "{filled:?}");
        // What some instances hold counts when most hold nothing.
        let mut c = change("PatientID", "", "P2");
        c.other_old = vec!["P1".into()];
        assert_eq!(patient_changes(&[c]), ["Patient ID P1 becomes P2"]);
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
