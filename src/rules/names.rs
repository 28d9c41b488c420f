//! Person Names (PN) compared the way a PACS Associate reads them: component by component,
//! group by group (alphabetic, ideographic, phonetic), case-folded, and with accents folded so
//! that `KOVÁCS^PÉTER` from an ASCII-only modality and `KOVACS^PETER` match, with a note.

use unicode_normalization::UnicodeNormalization;

/// How two names compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameVerdict {
    /// The same name (case, padding and trailing empty components aside).
    Same,
    /// The same letters once accents and case are folded: noted, not a mismatch.
    Equivalent(String),
    /// Different names; why, in words.
    Different(String),
}

const GROUPS: [&str; 3] = ["alphabetic", "ideographic", "phonetic"];

/// The component groups of a name, each normalised: components trimmed, runs of spaces
/// collapsed, trailing empty components dropped, upper case.
fn groups(pn: &str) -> [String; 3] {
    let mut out: [String; 3] = Default::default();
    for (i, g) in pn.splitn(3, '=').enumerate() {
        let mut comps: Vec<String> = g
            .split('^')
            .map(|c| {
                c.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_uppercase()
            })
            .collect();
        while comps.last().is_some_and(String::is_empty) {
            comps.pop();
        }
        out[i] = comps.join("^");
    }
    out
}

/// Letters without their accents ("É" → "E", "Ø" → "O", "ß" → "SS"), upper case.
pub fn fold_accents(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' | 'ẞ' => out.push_str("SS"),
            'Æ' | 'æ' => out.push_str("AE"),
            'Œ' | 'œ' => out.push_str("OE"),
            'Ø' | 'ø' => out.push('O'),
            'Ł' | 'ł' => out.push('L'),
            'Đ' | 'đ' | 'Ð' | 'ð' => out.push('D'),
            'Þ' | 'þ' => out.push_str("TH"),
            'ı' => out.push('I'),
            _ => out.extend(c.to_uppercase()),
        }
    }
    out
}

/// A key under which names of one person group together (for counting distinct names).
pub fn name_key(pn: &str) -> String {
    groups(pn)
        .iter()
        .map(|g| fold_accents(g))
        .collect::<Vec<_>>()
        .join("=")
}

/// Compares two Person Names group by group. Only groups present in both are compared; names
/// with no group in common cannot be said to agree, so they differ.
pub fn compare(a: &str, b: &str) -> NameVerdict {
    let (ga, gb) = (groups(a), groups(b));
    let mut compared = 0;
    let mut folded_only = Vec::new();
    for i in 0..3 {
        if ga[i].is_empty() || gb[i].is_empty() {
            continue;
        }
        compared += 1;
        if ga[i] == gb[i] {
            continue;
        }
        if fold_accents(&ga[i]) == fold_accents(&gb[i]) {
            folded_only.push(GROUPS[i]);
            continue;
        }
        return NameVerdict::Different(format!(
            "the {} names differ beyond accents and case",
            GROUPS[i]
        ));
    }
    if compared == 0 {
        return if ga.iter().all(String::is_empty) && gb.iter().all(String::is_empty) {
            NameVerdict::Same
        } else if ga.iter().all(String::is_empty) || gb.iter().all(String::is_empty) {
            NameVerdict::Different("one side has no name".into())
        } else {
            NameVerdict::Different("no component group in common to compare".into())
        };
    }
    if folded_only.is_empty() {
        NameVerdict::Same
    } else {
        NameVerdict::Equivalent(format!(
            "the {} names differ only in accents",
            folded_only.join(" and ")
        ))
    }
}

/// Whether two names denote the same person as far as text can tell (same or equivalent).
pub fn same_person(a: &str, b: &str) -> bool {
    !matches!(compare(a, b), NameVerdict::Different(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_padding_and_trailing_components_do_not_matter() {
        assert_eq!(compare("Doe^Jane", "DOE^JANE^^^"), NameVerdict::Same);
        assert_eq!(compare(" doe ^ jane ^", "DOE^JANE"), NameVerdict::Same);
        assert_eq!(compare("Doe^Mary  Ann", "DOE^MARY ANN"), NameVerdict::Same);
    }

    #[test]
    fn accents_fold_with_a_note() {
        match compare("KOVACS^PETER", "KOVÁCS^PÉTER") {
            NameVerdict::Equivalent(why) => assert!(why.contains("accents"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(same_person("ODEGARD^ASE", "ØDEGÅRD^ÅSE"));
        assert!(same_person("STRASSE^X", "STRAẞE^X"));
        assert_eq!(name_key("kovács^péter"), name_key("KOVACS^PETER"));
    }

    #[test]
    fn transliterations_and_other_names_differ() {
        assert!(matches!(
            compare("MUELLER^JUERGEN", "MÜLLER^JÜRGEN"),
            NameVerdict::Different(_)
        ));
        assert!(matches!(
            compare("Doe^Jane", "Doe^John"),
            NameVerdict::Different(_)
        ));
    }

    #[test]
    fn groups_are_compared_where_both_have_them() {
        assert_eq!(
            compare("Yamada^Tarou=山田^太郎", "YAMADA^TAROU"),
            NameVerdict::Same
        );
        assert!(matches!(
            compare("Yamada^Tarou=山田^太郎", "Yamada^Tarou=山本^太郎"),
            NameVerdict::Different(why) if why.contains("ideographic")
        ));
        // Ideographic-only names are compared, not both reduced to nothing.
        assert_eq!(compare("=山田^太郎", "=山田^太郎"), NameVerdict::Same);
        assert!(matches!(
            compare("=山田^太郎", "=山本^太郎"),
            NameVerdict::Different(_)
        ));
        // Nothing in common: cannot agree.
        assert!(matches!(
            compare("YAMADA^TAROU", "=山田^太郎"),
            NameVerdict::Different(why) if why.contains("in common")
        ));
    }
}
