//! Offline search over the worklist cache, in memory: the Associate types name fragments,
//! IDs, accessions or dates and sees ranked orders as they type.
//!
//! Person names are split into their DICOM PN groups (alphabetic, ideographic, phonetic) and
//! components, folded (case, Latin accents, ß/æ/ø...) so `muller jurgen` finds
//! `Müller^Jürgen`, in any order, by prefix, with one typo tolerated in Latin words of four
//! letters or more; each group's family and given names joined (`山田太郎`) are a word too.
//! IDs (patient, other IDs, accession, procedure and step IDs, admission) match exactly or by
//! prefix. `key:value` words filter: `modality:CT`, `station:CT01`, `date:20261128` or
//! `date:20261101-20261130`, `from:`, `to:`. Every word must match; the best matches come
//! first, then the latest scheduled.

use crate::model::WorklistItem;

/// A sorted dictionary of words, each with the items holding it.
#[derive(Debug, Default)]
struct Dictionary {
    words: Vec<String>,
    postings: Vec<Vec<u32>>,
}

impl Dictionary {
    fn build(mut pairs: Vec<(String, u32)>) -> Dictionary {
        pairs.sort_unstable();
        pairs.dedup();
        let mut d = Dictionary::default();
        for (w, id) in pairs {
            if d.words.last() != Some(&w) {
                d.words.push(w);
                d.postings.push(Vec::new());
            }
            if let Some(p) = d.postings.last_mut() {
                p.push(id);
            }
        }
        d
    }

    /// Indexes of the words starting with `prefix`.
    fn prefix_range(&self, prefix: &str) -> std::ops::Range<usize> {
        let start = self.words.partition_point(|w| w.as_str() < prefix);
        let len = self.words[start..]
            .iter()
            .take_while(|w| w.starts_with(prefix))
            .count();
        start..start + len
    }
}

/// The search index of a cache snapshot.
#[derive(Debug, Default)]
pub struct SearchIndex {
    items: Vec<WorklistItem>,
    names: Dictionary,
    ids: Dictionary,
    /// Name words of ASCII letters only, by length, for typo matching.
    typo_words: Vec<Vec<usize>>,
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub words: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub modality: Option<String>,
    pub station: Option<String>,
}

impl SearchQuery {
    /// Reads what the user typed.
    pub fn parse(text: &str) -> SearchQuery {
        let mut q = SearchQuery::default();
        for raw in text.split(|c: char| c.is_whitespace() || c == ',' || c == '^' || c == '=') {
            if raw.is_empty() {
                continue;
            }
            if let Some((key, value)) = raw.split_once(':')
                && !value.is_empty()
            {
                match key.to_ascii_lowercase().as_str() {
                    "modality" | "mod" => {
                        q.modality = Some(value.to_ascii_uppercase());
                        continue;
                    }
                    "station" | "ae" => {
                        q.station = Some(value.to_string());
                        continue;
                    }
                    "from" => {
                        q.from = super::parse_user_date(value).ok();
                        continue;
                    }
                    "to" => {
                        q.to = super::parse_user_date(value).ok();
                        continue;
                    }
                    "date" => {
                        // FROM..TO, YYYYMMDD-YYYYMMDD or YYYY-MM-DD-YYYY-MM-DD.
                        let at = |i: usize| {
                            (value.len() == 2 * i + 1
                                && value.is_char_boundary(i)
                                && value.as_bytes()[i] == b'-')
                                .then(|| (&value[..i], &value[i + 1..]))
                        };
                        let (a, b) = value
                            .split_once("..")
                            .or_else(|| at(8))
                            .or_else(|| at(10))
                            .unwrap_or((value, value));
                        q.from = super::parse_user_date(a).ok();
                        q.to = super::parse_user_date(b).ok();
                        continue;
                    }
                    _ => {}
                }
            }
            // A date typed with dashes is the same word as its digits.
            q.words
                .push(super::parse_user_date(raw).unwrap_or_else(|_| fold(raw)));
        }
        q
    }

    pub fn is_empty(&self) -> bool {
        *self == SearchQuery::default()
    }
}

/// An order found, with how well it matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub item: WorklistItem,
    pub score: f32,
}

/// Lower case, accents dropped: the rules' folding of names (`É` → `e`, `ß` → `ss`).
pub fn fold(text: &str) -> String {
    crate::rules::names::fold_accents(text).to_lowercase()
}

/// The name words of a PN value.
fn name_words(pn: &str, out: &mut Vec<String>) {
    for group in pn.split('=') {
        let components: Vec<&str> = group.split('^').collect();
        for comp in &components {
            let folded = fold(comp.trim());
            let mut parts = 0;
            for w in folded.split(|c: char| !c.is_alphanumeric()) {
                if !w.is_empty() {
                    out.push(w.to_string());
                    parts += 1;
                }
            }
            // `jean-pierre` as typed, beside `jean` and `pierre`.
            if parts > 1 && !folded.contains(' ') {
                out.push(folded);
            }
        }
        // Family and given joined: `山田太郎`, `yamadatarou`.
        if components.len() >= 2 {
            let joined: String = fold(&format!("{}{}", components[0], components[1]))
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect();
            if !joined.is_empty() {
                out.push(joined);
            }
        }
    }
}

fn id_words(item: &WorklistItem, out: &mut Vec<String>) {
    let mut push = |s: &str| {
        let f = fold(s.trim());
        if !f.is_empty() {
            out.push(f);
        }
    };
    push(&item.patient_id);
    push(&item.accession);
    push(&item.requested_procedure_id);
    push(&item.sps_id);
    push(&item.admission_id);
    push(&item.birth_date);
    push(item.scheduled_date());
    for other in item.other_patient_ids.split('\\') {
        push(other.split("^^^").next().unwrap_or(""));
    }
}

/// Whether `a` and `b` differ by at most one edit (insert, delete, substitute, swap).
fn within_one(a: &[u8], b: &[u8]) -> bool {
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[p..], &b[p..]);
    if ra.is_empty() || rb.is_empty() {
        return ra.len() + rb.len() <= 1;
    }
    ra[1..] == rb[1..]
        || ra[1..] == *rb
        || *ra == rb[1..]
        || (ra.len() >= 2
            && rb.len() >= 2
            && ra[0] == rb[1]
            && ra[1] == rb[0]
            && ra[2..] == rb[2..])
}

impl SearchIndex {
    pub fn build(items: Vec<WorklistItem>) -> SearchIndex {
        let mut names = Vec::new();
        let mut ids = Vec::new();
        let mut words = Vec::new();
        for (n, item) in items.iter().enumerate() {
            let n = n as u32;
            words.clear();
            name_words(&item.patient_name, &mut words);
            names.extend(words.drain(..).map(|w| (w, n)));
            id_words(item, &mut words);
            ids.extend(words.drain(..).map(|w| (w, n)));
        }
        let names = Dictionary::build(names);
        let ids = Dictionary::build(ids);
        let mut typo_words: Vec<Vec<usize>> = Vec::new();
        for (k, w) in names.words.iter().enumerate() {
            if w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()) {
                if typo_words.len() <= w.len() {
                    typo_words.resize(w.len() + 1, Vec::new());
                }
                typo_words[w.len()].push(k);
            }
        }
        SearchIndex {
            items,
            names,
            ids,
            typo_words,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Each item matching `word`, with its best score for it.
    fn matches(&self, word: &str) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = Vec::new();
        let mut add = |postings: &[u32], score: f32| {
            out.extend(postings.iter().map(|&p| (p, score)));
        };
        for k in self.names.prefix_range(word) {
            let exact = self.names.words[k] == word;
            add(&self.names.postings[k], if exact { 3.0 } else { 2.0 });
        }
        let wb = word.as_bytes();
        if wb.len() >= 4 && wb.iter().all(u8::is_ascii_lowercase) {
            for len in wb.len() - 1..=wb.len() + 1 {
                for &k in self.typo_words.get(len).map(Vec::as_slice).unwrap_or(&[]) {
                    if within_one(wb, self.names.words[k].as_bytes()) {
                        add(&self.names.postings[k], 1.0);
                    }
                }
            }
        }
        let min_prefix = if word.chars().all(|c| c.is_ascii_digit()) {
            3
        } else {
            2
        };
        for k in self.ids.prefix_range(word) {
            let exact = self.ids.words[k] == word;
            if exact || word.len() >= min_prefix {
                add(&self.ids.postings[k], if exact { 4.0 } else { 2.5 });
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        out.dedup_by_key(|m| m.0);
        out
    }

    fn passes(&self, item: &WorklistItem, q: &SearchQuery) -> bool {
        let date = item.scheduled_date();
        q.from
            .as_deref()
            .is_none_or(|f| !date.is_empty() && date >= f)
            && q.to
                .as_deref()
                .is_none_or(|t| !date.is_empty() && date <= t)
            && q.modality
                .as_deref()
                .is_none_or(|m| item.modality.eq_ignore_ascii_case(m))
            && q.station
                .as_deref()
                .is_none_or(|s| item.station_ae.eq_ignore_ascii_case(s))
    }

    /// The best `limit` items for `q`, best first.
    pub fn search(&self, q: &SearchQuery, limit: usize) -> Vec<SearchHit> {
        let mut scored: Vec<(u32, f32)> = if q.words.is_empty() {
            (0..self.items.len() as u32).map(|i| (i, 0.0)).collect()
        } else {
            // Rarest word first would be faster still; the first word narrows enough.
            let mut acc = self.matches(&q.words[0]);
            for w in &q.words[1..] {
                if acc.is_empty() {
                    break;
                }
                let m = self.matches(w);
                let mut j = 0;
                acc.retain_mut(|(id, score)| {
                    while j < m.len() && m[j].0 < *id {
                        j += 1;
                    }
                    if j < m.len() && m[j].0 == *id {
                        *score += m[j].1;
                        true
                    } else {
                        false
                    }
                });
            }
            acc
        };
        scored.retain(|(id, _)| self.passes(&self.items[*id as usize], q));
        let key = |&(id, score): &(u32, f32)| {
            let item = &self.items[id as usize];
            (
                item.vanished_at.is_none(),
                score,
                item.scheduled_at.as_str(),
            )
        };
        let cmp = |a: &(u32, f32), b: &(u32, f32)| {
            let (ka, kb) = (key(a), key(b));
            kb.0.cmp(&ka.0)
                .then(kb.1.total_cmp(&ka.1))
                .then(kb.2.cmp(ka.2))
        };
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit, cmp);
            scored.truncate(limit);
        }
        scored.sort_by(cmp);
        scored
            .into_iter()
            .map(|(id, score)| SearchHit {
                item: self.items[id as usize].clone(),
                score,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, pid: &str, acc: &str, date: &str, modality: &str) -> WorklistItem {
        WorklistItem {
            patient_name: name.into(),
            patient_id: pid.into(),
            accession: acc.into(),
            scheduled_at: format!("{date}0900"),
            modality: modality.into(),
            station_ae: format!("{modality}01"),
            ..WorklistItem::default()
        }
    }

    fn index() -> SearchIndex {
        SearchIndex::build(vec![
            item("Müller^Jürgen", "P100", "A5001", "20261128", "CT"),
            item("Muller^Anna", "P101", "A5002", "20261127", "MR"),
            item("Dubois^Amélie^Claire", "P102", "A5003", "20261128", "CR"),
            item(
                "Yamada^Tarou=山田^太郎=やまだ^たろう",
                "P103",
                "A5004",
                "20261126",
                "CT",
            ),
            item(
                "Hong^Gildong=洪^吉洞=홍^길동",
                "P104",
                "A5005",
                "20261125",
                "MR",
            ),
            item("Schmidt^Peter", "P105", "A5006", "20261124", "CT"),
        ])
    }

    fn names(q: &str) -> Vec<String> {
        index()
            .search(&SearchQuery::parse(q), 10)
            .into_iter()
            .map(|h| h.item.patient_name)
            .collect()
    }

    #[test]
    fn names_match_in_any_order_without_accents_by_prefix_and_with_a_typo() {
        assert_eq!(names("jurgen muller"), ["Müller^Jürgen"]);
        assert_eq!(names("MULLER")[..2], ["Müller^Jürgen", "Muller^Anna"]);
        assert_eq!(names("amelie dub"), ["Dubois^Amélie^Claire"]);
        assert_eq!(names("Schmitd"), ["Schmidt^Peter"]); // swapped letters
        assert_eq!(names("Shmidt"), ["Schmidt^Peter"]); // one letter missing
        assert!(names("Schmadtt").is_empty()); // two edits
        assert_eq!(names("Müller^Jürgen"), ["Müller^Jürgen"]);
    }

    #[test]
    fn ideographic_and_phonetic_groups_are_found() {
        assert_eq!(names("山田"), ["Yamada^Tarou=山田^太郎=やまだ^たろう"]);
        assert_eq!(names("山田太郎"), ["Yamada^Tarou=山田^太郎=やまだ^たろう"]);
        assert_eq!(names("たろう"), ["Yamada^Tarou=山田^太郎=やまだ^たろう"]);
        assert_eq!(names("홍 길동"), ["Hong^Gildong=洪^吉洞=홍^길동"]);
    }

    #[test]
    fn ids_dates_and_filters() {
        assert_eq!(names("A5003"), ["Dubois^Amélie^Claire"]);
        assert_eq!(names("p104"), ["Hong^Gildong=洪^吉洞=홍^길동"]);
        assert_eq!(names("2026-11-24"), ["Schmidt^Peter"]);
        assert_eq!(
            names("modality:CT date:20261126-20261128"),
            ["Müller^Jürgen", "Yamada^Tarou=山田^太郎=やまだ^たろう"]
        );
        assert_eq!(names("muller modality:mr"), ["Muller^Anna"]);
        assert_eq!(names("station:CR01"), ["Dubois^Amélie^Claire"]);
        assert_eq!(names("").len(), 6);
    }

    #[test]
    fn odd_date_filters_do_not_panic() {
        for q in [
            "date:2026–11–01–2026–11–30",
            "date:ééééééééé",
            "date:-",
            "date:..",
            "from:x",
        ] {
            let _ = index().search(&SearchQuery::parse(q), 10);
        }
        let q = SearchQuery::parse("date:2026-11-01-2026-11-30");
        assert_eq!(
            (q.from.as_deref(), q.to.as_deref()),
            (Some("20261101"), Some("20261130"))
        );
    }

    #[test]
    fn one_edit_is_exactly_one() {
        assert!(within_one(b"schmidt", b"schmidt"));
        assert!(within_one(b"schmidt", b"schmitd"));
        assert!(within_one(b"schmidt", b"schmid"));
        assert!(within_one(b"schmidt", b"schmidtt"));
        assert!(within_one(b"schmidt", b"schmixt"));
        assert!(!within_one(b"schmidt", b"schmxxt"));
        assert!(!within_one(b"abcd", b"badc"));
    }
}
