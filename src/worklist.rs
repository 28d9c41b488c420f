//! The RIS worklist cache as a domain: how orders are compared with studies.
//! The cache itself lives in the store (`worklist` table); the demo fills it now and the
//! Modality Worklist sync will fill it later.

/// Normalises a Person Name for comparison: upper case, components trimmed, trailing empty
/// components dropped, only the alphabetic group (before the first '=').
pub fn normalize_name(pn: &str) -> String {
    let alphabetic = pn.split('=').next().unwrap_or("");
    normalize_group(alphabetic)
}

fn normalize_group(group: &str) -> String {
    let mut parts: Vec<String> = group.split('^').map(|p| p.trim().to_uppercase()).collect();
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts.join("^")
}

/// Whether two Person Names denote the same person as far as text can tell. Compares the
/// alphabetic groups; where both names carry an ideographic group, it must agree too.
pub fn names_match(a: &str, b: &str) -> bool {
    if normalize_name(a) != normalize_name(b) {
        return false;
    }
    let ideo = |s: &str| s.split('=').nth(1).map(normalize_group).unwrap_or_default();
    let (ia, ib) = (ideo(a), ideo(b));
    ia.is_empty() || ib.is_empty() || ia == ib
}

/// Normalises a Patient ID: surrounding spaces are padding, not part of the ID.
pub fn normalize_id(id: &str) -> String {
    id.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(names_match("Doe^Jane", "DOE^JANE^^^"));
        assert!(names_match("Yamada^Tarou=山田^太郎", "YAMADA^TAROU"));
        assert!(!names_match(
            "Yamada^Tarou=山田^太郎",
            "Yamada^Tarou=山本^太郎"
        ));
        assert!(!names_match("Doe^Jane", "Doe^John"));
        assert_eq!(normalize_name(" doe ^ jane ^"), "DOE^JANE");
    }
}
