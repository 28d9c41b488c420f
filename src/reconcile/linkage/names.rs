//! Person names as the linkage compares them: one PN group chosen (alphabetic when both sides
//! have one, else ideographic, else phonetic), split into family and given words, each word
//! folded two ways (accents dropped; German umlauts written out, so `MÜLLER` and `MUELLER`
//! are one word) with its Double Metaphone code; and how close two words are.

use rphonetic::DoubleMetaphone;

use crate::rules::names::fold_accents;

/// One word of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// As written, upper case.
    pub text: String,
    /// Umlauts written out (Ä → AE...), then accents folded: the key words are equal by.
    pub key: String,
    /// Accents folded only (`MÜLLER` → `MULLER`).
    pub plain: String,
    /// Double Metaphone primary and alternate codes (empty for non-Latin words).
    pub codes: (String, String),
    /// Written in the given-name part of the PN (the given, middle, prefix or suffix names).
    pub given: bool,
}

/// A name's words, family first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    pub words: Vec<Word>,
}

impl Name {
    pub fn family(&self) -> impl Iterator<Item = &Word> {
        self.words.iter().filter(|w| !w.given)
    }
    pub fn given(&self) -> impl Iterator<Item = &Word> {
        self.words.iter().filter(|w| w.given)
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// Words of a name compared, at most.
const MAX_WORDS: usize = 12;
/// Characters of a word compared, at most.
const MAX_WORD: usize = 64;

/// How close two words are, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WordLevel {
    Exact,
    /// One letter added, dropped, changed or two adjacent swapped (two edits in words of eight
    /// or more);
    /// or Jaro-Winkler 0.92 and over.
    Close,
    /// Sounds the same (Double Metaphone).
    Phonetic,
    /// One side is an initial, the other's first letter.
    Initial,
    Different,
}

/// The groups of a PN value: alphabetic, ideographic, phonetic.
fn groups(pn: &str) -> [&str; 3] {
    let mut out = [""; 3];
    for (i, g) in pn.splitn(3, '=').enumerate() {
        out[i] = g;
    }
    out
}

fn has_letters(group: &str) -> bool {
    group.chars().any(char::is_alphanumeric)
}

/// The names of two PN values in the first group both have, or `None`.
pub fn pair(a: &str, b: &str, metaphone: &DoubleMetaphone) -> Option<(Name, Name)> {
    let (ga, gb) = (groups(a), groups(b));
    (0..3)
        .find(|&i| has_letters(ga[i]) && has_letters(gb[i]))
        .map(|i| (parse(ga[i], metaphone), parse(gb[i], metaphone)))
}

/// Umlauts written out, accents folded, upper case.
pub fn key_of(text: &str) -> String {
    let written: String = text
        .chars()
        .flat_map(|c| match c {
            'Ä' | 'ä' => "AE".chars().collect::<Vec<_>>(),
            'Ö' | 'ö' => "OE".chars().collect(),
            'Ü' | 'ü' => "UE".chars().collect(),
            c => vec![c],
        })
        .collect();
    fold_accents(&written)
}

/// The words of one PN group (components split at `^`; words at spaces, hyphens, commas,
/// apostrophes and dots).
pub fn parse(group: &str, metaphone: &DoubleMetaphone) -> Name {
    let mut words = Vec::new();
    // Family, given and middle names; prefixes (MR, DR) and suffixes say nothing of who.
    for (i, component) in group.split('^').enumerate().take(3) {
        for raw in component.split(|c: char| !c.is_alphanumeric()) {
            if raw.is_empty() || words.len() >= MAX_WORDS {
                continue;
            }
            // A hostile header may hold megabytes in one word: no name is longer.
            let raw: String = raw.chars().take(MAX_WORD).collect();
            let raw = raw.as_str();
            let key = key_of(raw);
            let plain = fold_accents(raw);
            let codes = if key.chars().all(|c| c.is_ascii_alphabetic()) {
                let r = metaphone.double_metaphone(&key);
                (r.primary(), r.alternate())
            } else {
                Default::default()
            };
            words.push(Word {
                text: raw.to_uppercase(),
                key,
                plain,
                codes,
                given: i > 0,
            });
        }
    }
    Name { words }
}

/// How close word `a` is to word `b`.
pub fn word_level(a: &Word, b: &Word) -> WordLevel {
    if a.key == b.key || a.plain == b.plain {
        return WordLevel::Exact;
    }
    let (la, lb) = (a.key.chars().count(), b.key.chars().count());
    if la == 1 || lb == 1 {
        let first = |w: &Word| w.key.chars().next();
        return if first(a) == first(b) {
            WordLevel::Initial
        } else {
            WordLevel::Different
        };
    }
    let allowed = if la.min(lb) >= 8 { 2 } else { 1 };
    // Optimal string alignment: Damerau-Levenshtein without the alphabet table (a swap of
    // two adjacent letters is one edit).
    // Jaro-Winkler only between words of comparable length (it is quadratic, and a word
    // twice as long as another is no typo of it).
    let close = (la.abs_diff(lb) <= allowed && strsim::osa_distance(&a.key, &b.key) <= allowed)
        || (la.min(lb) >= 4
            && la.max(lb) <= 2 * la.min(lb)
            && strsim::jaro_winkler(&a.key, &b.key) >= 0.92);
    if close {
        return WordLevel::Close;
    }
    let (pa, aa) = &a.codes;
    let (pb, ab) = &b.codes;
    if !pa.is_empty() && !pb.is_empty() && (pa == pb || pa == ab || aa == pb) {
        return WordLevel::Phonetic;
    }
    WordLevel::Different
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Word {
        parse(s, &DoubleMetaphone::default()).words.remove(0)
    }

    #[test]
    fn words_compare_as_a_registration_clerk_would_err() {
        assert_eq!(word_level(&w("MÜLLER"), &w("MUELLER")), WordLevel::Exact);
        assert_eq!(word_level(&w("Müller"), &w("MULLER")), WordLevel::Exact);
        assert_eq!(word_level(&w("DOE"), &w("DEO")), WordLevel::Close);
        assert_eq!(word_level(&w("LI"), &w("LU")), WordLevel::Close);
        assert_eq!(
            word_level(&w("SCHMIDT"), &w("SCHMITT")),
            WordLevel::Close,
            "one letter"
        );
        assert_eq!(
            word_level(&w("PHILIPS"), &w("FILIPS")),
            WordLevel::Phonetic,
            "two edits on a short word, but the same sound"
        );
        assert_eq!(
            word_level(&w("CATHERINE"), &w("KATHRYN")),
            WordLevel::Phonetic
        );
        assert_eq!(word_level(&w("J"), &w("JOHN")), WordLevel::Initial);
        assert_eq!(word_level(&w("SMITH"), &w("NGUYEN")), WordLevel::Different);
        assert_eq!(word_level(&w("山田"), &w("山田")), WordLevel::Exact);
    }

    #[test]
    fn the_group_both_names_have_is_compared() {
        let m = DoubleMetaphone::default();
        let (a, b) = pair("Yamada^Tarou=山田^太郎", "=山田^太郎", &m).unwrap();
        assert_eq!(a.words[0].key, "山田");
        assert_eq!(b.words[1].key, "太郎");
        assert!(b.words[1].given);
        assert!(pair("=山田^太郎", "YAMADA^TAROU", &m).is_none());
    }
}
