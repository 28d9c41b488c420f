//! The factors of a match, each a number of points and a reason in words.

use super::{MatchFacts, Reason};
use crate::model::WorklistItem;
use crate::rules::names::fold_accents;

fn reason(factor: &'static str, weight: i32, detail: String) -> Reason {
    Reason {
        factor,
        detail,
        weight,
    }
}

/// Every factor that says something about `order` for `study`.
pub(super) fn reasons(study: &MatchFacts, order: &WorklistItem) -> Vec<Reason> {
    [
        accession(study, order),
        patient_id(study, order),
        name(study, order),
        birth_date(study, order),
        sex(study, order),
        modality(study, order),
        station(study, order),
        time(study, order),
        procedure(study, order),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn both<'a>(a: &'a str, b: &'a str) -> Option<(&'a str, &'a str)> {
    let (a, b) = (a.trim(), b.trim());
    (!a.is_empty() && !b.is_empty()).then_some((a, b))
}

fn accession(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.accession, &o.accession)?;
    Some(if a == b {
        reason("accession", 40, format!("accession {a} is the order's"))
    } else {
        reason(
            "accession",
            -10,
            format!("accession {a}, the order's is {b}"),
        )
    })
}

fn patient_id(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.patient_id, &o.patient_id)?;
    if a != b {
        let other = o.other_patient_ids.split('\\').any(|x| x.trim() == a);
        return Some(if other {
            reason(
                "patient_id",
                15,
                format!("patient ID {a} is among the order's other IDs"),
            )
        } else {
            reason(
                "patient_id",
                -20,
                format!("patient ID {a}, the order's is {b}"),
            )
        });
    }
    Some(
        match both(&s.issuer_of_patient_id, &o.issuer_of_patient_id) {
            Some((x, y)) if x != y => reason(
                "patient_id",
                8,
                format!("patient ID {a} is the order's, but issued by {x}, the order's by {y}"),
            ),
            _ => reason("patient_id", 25, format!("patient ID {a} is the order's")),
        },
    )
}

/// Words of a person name's alphabetic group, accents and case folded, sorted.
fn name_words(pn: &str) -> Vec<String> {
    let alphabetic = pn.split('=').next().unwrap_or_default();
    let mut words: Vec<String> = fold_accents(alphabetic)
        .split(['^', ' ', '-', ','])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.sort();
    words
}

/// Edit distance of at most one (a letter added, dropped, changed, or two swapped).
fn one_typo(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 || a.len().min(b.len()) < 4 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ra, rb) = (a.len() - prefix - suffix, b.len() - prefix - suffix);
    match (ra, rb) {
        (0, 1) | (1, 0) | (1, 1) => true,
        (2, 2) => a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix],
        _ => false,
    }
}

fn name(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.patient_name, &o.patient_name)?;
    if a == b {
        return Some(reason("name", 15, "the name is the order's".into()));
    }
    let (wa, wb) = (name_words(a), name_words(b));
    if wa.is_empty() || wb.is_empty() {
        // Ideographic or phonetic only: the groups must be equal as they are.
        let same = crate::rules::names::same_person(a, b);
        return Some(if same {
            reason("name", 12, format!("'{a}' and '{b}' name the same person"))
        } else {
            reason("name", -10, format!("'{a}', the order's is '{b}'"))
        });
    }
    if wa == wb {
        let raw = |p: &str| {
            p.split('=')
                .next()
                .unwrap_or_default()
                .to_uppercase()
                .replace(' ', "^")
        };
        let detail = if fold_accents(a) == fold_accents(b) {
            format!("'{a}' and '{b}' differ only in accents or case")
        } else if raw(a) != raw(b) {
            format!("'{a}' and '{b}' have the same parts in another order")
        } else {
            format!("'{a}' and '{b}' differ only in accents, case or spacing")
        };
        return Some(reason("name", 12, detail));
    }
    // German transliteration: Ö written OE, Ü as UE, Ä as AE, ß as SS.
    let german = |p: &str| {
        name_words(
            &p.to_uppercase()
                .replace('Ä', "AE")
                .replace('Ö', "OE")
                .replace('Ü', "UE")
                .replace('ß', "SS"),
        )
    };
    if german(a) == german(b) {
        return Some(reason(
            "name",
            10,
            format!("'{a}' and '{b}' differ only in transliteration (Ö/OE, Ü/UE, Ä/AE)"),
        ));
    }
    // The same words but one with a typo.
    if wa.len() == wb.len() {
        let mut unmatched: Vec<&String> = wb.iter().filter(|w| !wa.contains(w)).collect();
        let missing: Vec<&String> = wa.iter().filter(|w| !wb.contains(w)).collect();
        if missing.len() == 1 && unmatched.len() == 1 && one_typo(missing[0], unmatched[0]) {
            let typo = unmatched.remove(0);
            return Some(reason(
                "name",
                8,
                format!(
                    "'{a}' and '{b}' differ by one letter ({} / {typo})",
                    missing[0]
                ),
            ));
        }
    }
    // Family name alone (a given name missing or changed).
    if name_words(a.split('^').next().unwrap_or_default())
        == name_words(b.split('^').next().unwrap_or_default())
    {
        return Some(reason(
            "name",
            4,
            format!("'{a}' and '{b}' share the family name only"),
        ));
    }
    Some(reason("name", -15, format!("'{a}', the order's is '{b}'")))
}

fn birth_date(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.birth_date, &o.birth_date)?;
    if a == b {
        return Some(reason("birth_date", 10, format!("born {a}, as ordered")));
    }
    let swapped = a.len() == 8
        && b.len() == 8
        && a[..4] == b[..4]
        && a[4..6] == b[6..8]
        && a[6..8] == b[4..6];
    Some(if swapped {
        reason(
            "birth_date",
            5,
            format!("born {a}, the order says {b}: day and month swapped"),
        )
    } else {
        reason("birth_date", -15, format!("born {a}, the order says {b}"))
    })
}

fn sex(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.sex, &o.sex)?;
    Some(if a.eq_ignore_ascii_case(b) {
        reason("sex", 3, format!("sex {a}, as ordered"))
    } else {
        reason("sex", -8, format!("sex {a}, the order says {b}"))
    })
}

fn modality(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.modalities, &o.modality)?;
    Some(if a.split('\\').any(|m| m.trim() == b) {
        reason("modality", 4, format!("{b} as ordered"))
    } else {
        reason("modality", -5, format!("a {a} study for a {b} order"))
    })
}

fn station(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.source_ae, &o.station_ae)?;
    (a == b).then(|| reason("station", 3, format!("sent by {a}, the scheduled station")))
}

/// Minutes since a notional epoch of `YYYYMMDD` and `HHMM[SS]` (days of 1440 minutes, months
/// of 31 days: only differences of a few days matter here).
fn minutes(date: &str, time: &str) -> Option<i64> {
    let d: i64 = date.get(..8)?.parse().ok()?;
    let (y, m, day) = (d / 10000, d / 100 % 100, d % 100);
    let hh: i64 = time.get(..2).and_then(|t| t.parse().ok()).unwrap_or(0);
    let mm: i64 = time.get(2..4).and_then(|t| t.parse().ok()).unwrap_or(0);
    Some((((y * 12 + m) * 31 + day) * 24 + hh) * 60 + mm)
}

fn time(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let at = o.scheduled_at.trim();
    let study = minutes(s.study_date.trim(), s.study_time.trim())?;
    let order = minutes(at.get(..8)?, at.get(8..).unwrap_or_default())?;
    let gap = (study - order).abs();
    Some(if gap <= 120 {
        reason(
            "time",
            6,
            format!("done within {gap} minutes of the scheduled time"),
        )
    } else if s.study_date.trim() == at.get(..8)? {
        reason("time", 3, "done the day it was scheduled".into())
    } else if gap > 3 * 24 * 60 {
        reason(
            "time",
            -5,
            format!("done {} days from the scheduled date", gap / (24 * 60)),
        )
    } else {
        return None;
    })
}

fn procedure(s: &MatchFacts, o: &WorklistItem) -> Option<Reason> {
    let (a, b) = both(&s.description, &o.procedure)?;
    let words = |t: &str| -> Vec<String> {
        fold_accents(t)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(str::to_string)
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    let shared = wa.iter().filter(|w| wb.contains(w)).count();
    (shared > 0).then(|| {
        reason(
            "procedure",
            3,
            format!("'{a}' and the ordered '{b}' share {shared} word(s)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_typo_means_one_edit_of_a_real_word() {
        assert!(one_typo("MUELLER", "MUELER"));
        assert!(one_typo("SCHMIDT", "SCHMITD"));
        assert!(one_typo("HANSEN", "HANSON"));
        assert!(!one_typo("HANSEN", "HANSSON1"));
        assert!(!one_typo("LI", "LU"), "short words are not typos");
    }
}
