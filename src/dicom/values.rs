//! Format checks for the value representations the rules look at (DA, TM, UI, CS sex).
//! Each returns a reason a person can read, or `None` when the value is valid.

/// DA: YYYYMMDD with a real calendar date. Empty is valid (type 2 attributes may be empty).
pub fn check_date(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("'{v}' is not a date in YYYYMMDD form"));
    }
    // The year is not judged: implausible but well-formed dates are data, not format errors.
    let (y, m, d) = (num(&v[0..4]), num(&v[4..6]), num(&v[6..8]));
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Some(format!("'{v}' has month {m}")),
    };
    if d == 0 || d > days {
        return Some(format!("'{v}' has day {d}, month {m} has {days}"));
    }
    None
}

/// TM: HH[MM[SS[.F{1,6}]]]. Old-style "HH:MM:SS" is rejected as it is not valid DICOM 3.
pub fn check_time(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    let (main, frac) = match v.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let ok_main = matches!(main.len(), 2 | 4 | 6) && main.bytes().all(|b| b.is_ascii_digit());
    let ok_frac = frac
        .is_none_or(|f| (1..=6).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
        && (frac.is_none() || main.len() == 6);
    if !ok_main || !ok_frac {
        return Some(format!("'{v}' is not a time in HHMMSS.FFFFFF form"));
    }
    let hh = num(&main[0..2]);
    let mm = if main.len() >= 4 { num(&main[2..4]) } else { 0 };
    let ss = if main.len() >= 6 { num(&main[4..6]) } else { 0 };
    if hh > 23 || mm > 59 || ss > 60 {
        return Some(format!("'{v}' is not a valid time of day"));
    }
    None
}

/// UI: digits and dots, at most 64 characters, no empty component.
pub fn check_uid(v: &str) -> Option<String> {
    if v.len() > 64 {
        return Some(format!("'{v}' is longer than 64 characters"));
    }
    if !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some(format!(
            "'{v}' contains characters other than digits and dots"
        ));
    }
    if v.split('.').any(str::is_empty) {
        return Some(format!("'{v}' has an empty component"));
    }
    if let Some(c) = v.split('.').find(|c| c.len() > 1 && c.starts_with('0')) {
        return Some(format!("'{v}' has a component with a leading zero ('{c}')"));
    }
    None
}

/// CS: upper-case letters, digits, space and underscore, at most 16 characters.
pub fn check_cs(v: &str) -> Option<String> {
    if v.len() > 16 {
        return Some(format!("'{v}' is longer than 16 characters"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == ' ' || *c == '_'))
    {
        return Some(format!(
            "'{v}' contains '{c}' (a code string allows A-Z, 0-9, space, _)"
        ));
    }
    None
}

/// Patient's Sex (0010,0040): M, F, O or empty.
pub fn check_sex(v: &str) -> Option<String> {
    match v {
        "" | "M" | "F" | "O" => None,
        _ => Some(format!("'{v}' is not M, F or O")),
    }
}

fn num(s: &str) -> u32 {
    s.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(check_date("20240229"), None);
        assert_eq!(check_date(""), None);
        assert!(check_date("20230229").is_some());
        assert!(check_date("2024-01-01").is_some());
        assert!(check_date("01.02.2024").is_some());
        assert!(check_date("20241301").is_some());
        assert!(check_date("20240100").is_some());
    }

    #[test]
    fn times() {
        assert_eq!(check_time("1230"), None);
        assert_eq!(check_time("123045.123"), None);
        assert!(check_time("12:30:45").is_some());
        assert!(check_time("256000").is_some());
        assert!(check_time("12.5").is_some());
    }

    #[test]
    fn uids_and_sex() {
        assert_eq!(check_uid("1.2.840.10008.1.2"), None);
        assert!(check_uid("1.2..3").is_some());
        assert!(check_uid("1.2.3a").is_some());
        assert!(check_uid(&"1.".repeat(40)).is_some());
        assert!(check_uid("1.2.03.4").is_some(), "leading zero");
        assert_eq!(check_uid("1.2.0.4"), None, "a lone zero is fine");
        assert_eq!(check_cs("CT"), None);
        assert_eq!(check_cs("ORIG_PRIMARY 1"), None);
        assert!(check_cs("ct").is_some());
        assert!(check_cs("C-T").is_some());
        assert_eq!(check_sex("F"), None);
        assert!(check_sex("female").is_some());
    }
}
