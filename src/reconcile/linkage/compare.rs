//! The agreement level of each field of a (study, order) pair, with the reason in words.

use rphonetic::DoubleMetaphone;

use super::names::{self, Name, Word, WordLevel};
use super::{Field, Level, Outcome};
use crate::model::WorklistItem;
use crate::reconcile::MatchFacts;
use crate::rules::names::fold_accents;

/// One side of a pair (a study or an order), prepared once for many comparisons.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub accession: String,
    pub patient_id: String,
    pub issuer: String,
    /// Other Patient IDs (orders only).
    pub other_ids: Vec<String>,
    /// The PN value as written, for the reasons.
    pub name_text: String,
    /// The name's words in each PN group (alphabetic, ideographic, phonetic).
    pub names: [Name; 3],
    pub birth_date: String,
    /// `M`, `F` or empty (`O`, `U` and anything else: unknown).
    pub sex: String,
    pub modalities: Vec<String>,
    pub station: String,
    pub date: String,
    /// Minutes since a notional epoch, when the date (and time) parse.
    pub minutes: Option<i64>,
    /// Words of the description (studies) or procedure (orders), three letters or more.
    pub words: Vec<String>,
    pub description: String,
}

/// Characters of an ID, accession, date or station compared, at most (a hostile header may
/// hold megabytes in one).
const MAX_VALUE: usize = 64;

/// `s` trimmed and cut to `max` characters.
fn cut(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

fn upper_trim(s: &str) -> String {
    cut(s, MAX_VALUE).to_uppercase()
}

fn sex_of(s: &str) -> String {
    match s.trim().to_ascii_uppercase().as_str() {
        "M" => "M".into(),
        "F" => "F".into(),
        _ => String::new(),
    }
}

fn name_groups(pn: &str, m: &DoubleMetaphone) -> [Name; 3] {
    let mut out: [Name; 3] = Default::default();
    // 3 groups of 5 components of 64 characters, with separators, at most.
    let pn = cut(pn, 1024);
    for (i, g) in pn.splitn(3, '=').enumerate() {
        out[i] = names::parse(g, m);
    }
    out
}

fn description_words(t: &str) -> Vec<String> {
    let mut w: Vec<String> = fold_accents(&cut(t, 256))
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .take(16)
        .map(str::to_string)
        .collect();
    w.sort();
    w.dedup();
    w
}

/// Minutes since a notional epoch of `YYYYMMDD` and `HHMM[SS]` (months of 31 days: only
/// differences of a few days matter here).
pub fn minutes(date: &str, time: &str) -> Option<i64> {
    let d: i64 = date.get(..8)?.parse().ok()?;
    let (y, m, day) = (d / 10000, d / 100 % 100, d % 100);
    let hh: i64 = time.get(..2).and_then(|t| t.parse().ok()).unwrap_or(0);
    let mm: i64 = time.get(2..4).and_then(|t| t.parse().ok()).unwrap_or(0);
    Some((((y * 12 + m) * 31 + day) * 24 + hh) * 60 + mm)
}

impl Side {
    pub fn of_study(s: &MatchFacts, m: &DoubleMetaphone) -> Side {
        let date = cut(&s.study_date, MAX_VALUE);
        Side {
            accession: cut(&s.accession, MAX_VALUE),
            patient_id: upper_trim(&s.patient_id),
            issuer: cut(&s.issuer_of_patient_id, MAX_VALUE),
            other_ids: Vec::new(),
            name_text: cut(&s.patient_name, 1024),
            names: name_groups(&s.patient_name, m),
            birth_date: cut(&s.birth_date, MAX_VALUE),
            sex: sex_of(&cut(&s.sex, 4)),
            modalities: s
                .modalities
                .split('\\')
                .take(8)
                .map(upper_trim)
                .filter(|m| !m.is_empty())
                .collect(),
            station: cut(&s.source_ae, MAX_VALUE),
            minutes: minutes(&date, &cut(&s.study_time, MAX_VALUE)),
            date,
            words: description_words(&s.description),
            description: cut(&s.description, 256),
        }
    }

    pub fn of_order(o: &WorklistItem, m: &DoubleMetaphone) -> Side {
        let at = o.scheduled_at.trim();
        let date = at.get(..8).unwrap_or_default().to_string();
        // The RIS is an outside source too: its values are cut like a study's.
        Side {
            accession: cut(&o.accession, MAX_VALUE),
            patient_id: upper_trim(&o.patient_id),
            issuer: cut(&o.issuer_of_patient_id, MAX_VALUE),
            other_ids: o
                .other_patient_ids
                .split('\\')
                .take(8)
                .map(|x| upper_trim(x.split("^^^").next().unwrap_or_default()))
                .filter(|x| !x.is_empty())
                .collect(),
            name_text: cut(&o.patient_name, 1024),
            names: name_groups(&o.patient_name, m),
            birth_date: cut(&o.birth_date, MAX_VALUE),
            sex: sex_of(&cut(&o.sex, 4)),
            modalities: [upper_trim(&o.modality)]
                .into_iter()
                .filter(|m| !m.is_empty())
                .collect(),
            station: cut(&o.station_ae, MAX_VALUE),
            minutes: minutes(&date, &cut(at.get(8..).unwrap_or_default(), MAX_VALUE)),
            date,
            words: description_words(&o.procedure),
            description: cut(&o.procedure, 256),
        }
    }
}

/// How many of the cache's orders hold a value, and of how many (what a random order agrees
/// on by chance).
pub trait Frequencies {
    fn family(&self, key: &str) -> (u32, u32);
    fn given(&self, key: &str) -> (u32, u32);
    fn birth_date(&self, date: &str) -> (u32, u32);
    fn patient_id(&self, id: &str) -> (u32, u32);
}

/// Site patterns of temporary Patient IDs.
#[derive(Debug, Clone, Default)]
pub struct TemporaryIds(pub Vec<regex::Regex>);

impl TemporaryIds {
    pub fn matches(&self, id: &str) -> bool {
        self.0.iter().any(|r| r.is_match(id))
    }
}

/// A reason's words, only when they are wanted (most orders compared are never shown:
/// their reasons are not written).
macro_rules! detail {
    ($d:expr, $($t:tt)*) => {
        if $d { format!($($t)*) } else { String::new() }
    };
}

fn out(field: Field, level: Level, detail: String) -> Outcome {
    Outcome {
        field,
        level,
        detail,
        frequency: None,
        adjust: 0.0,
    }
}

/// Every field of the pair.
/// Every field of the pair; `d`: with the reasons in words.
pub fn compare(
    s: &Side,
    o: &Side,
    freq: &dyn Frequencies,
    temporary: &TemporaryIds,
    d: bool,
) -> Vec<Outcome> {
    let mut v = Vec::with_capacity(10);
    v.push(accession(s, o, d));
    v.push(patient_id(s, o, freq, temporary, d));
    let (family, given) = name(s, o, freq, d);
    v.push(family);
    v.push(given);
    v.push(birth_date(s, o, freq, d));
    v.push(sex(s, o, d));
    v.push(modality(s, o, d));
    v.push(station(s, o, d));
    v.push(time(s, o, d));
    v.push(procedure(s, o, d));
    v
}

fn accession(s: &Side, o: &Side, d: bool) -> Outcome {
    let f = Field::Accession;
    let (a, b) = (&s.accession, &o.accession);
    if a.is_empty() || b.is_empty() {
        let why = if a.is_empty() {
            "the study has no accession"
        } else {
            "the order has no accession"
        };
        return out(f, Level::Missing, why.into());
    }
    if a == b {
        out(f, Level::Exact, detail!(d, "accession {a} is the order's"))
    } else {
        out(
            f,
            Level::Different,
            detail!(d, "accession {a}, the order's is {b}"),
        )
    }
}

/// At most one character added, dropped, changed, or two adjacent swapped, in IDs of four
/// characters or more.
fn one_off(a: &str, b: &str) -> bool {
    a.chars().count().min(b.chars().count()) >= 4
        && a.len().abs_diff(b.len()) <= 1
        && strsim::osa_distance(a, b) <= 1
}

fn patient_id(
    s: &Side,
    o: &Side,
    freq: &dyn Frequencies,
    temporary: &TemporaryIds,
    d: bool,
) -> Outcome {
    let f = Field::PatientId;
    let (a, b) = (&s.patient_id, &o.patient_id);
    if a.is_empty() || b.is_empty() {
        return out(f, Level::Missing, detail!(d, "no patient ID to compare"));
    }
    if a == b {
        if !s.issuer.is_empty() && !o.issuer.is_empty() && s.issuer != o.issuer {
            return out(
                f,
                Level::OtherIssuer,
                detail!(
                    d,
                    "patient ID {a} is the order's, but issued by {}, the order's by {}",
                    s.issuer,
                    o.issuer
                ),
            );
        }
        let mut r = out(f, Level::Exact, detail!(d, "patient ID {a} is the order's"));
        r.frequency = Some(freq.patient_id(b));
        return r;
    }
    if o.other_ids.iter().any(|x| x == a) {
        return out(
            f,
            Level::OtherId,
            detail!(d, "patient ID {a} is among the order's other IDs"),
        );
    }
    if temporary.matches(a) {
        return out(
            f,
            Level::Temporary,
            detail!(
                d,
                "patient ID {a} is a temporary ID (counted as missing); the order's is {b}"
            ),
        );
    }
    if temporary.matches(b) {
        return out(
            f,
            Level::Temporary,
            detail!(
                d,
                "the order's patient ID {b} is a temporary ID (counted as missing)"
            ),
        );
    }
    if one_off(a, b) {
        return out(
            f,
            Level::Close,
            detail!(d, "patient ID {a}, the order's is {b}: one character off"),
        );
    }
    out(
        f,
        Level::Different,
        detail!(d, "patient ID {a}, the order's is {b}"),
    )
}

fn rank(l: WordLevel) -> u8 {
    l as u8
}

/// Word levels of one pair of names, each computed once (a name is looked at from several
/// sides: its family part, a swap, its given part).
#[derive(Default)]
struct Memo(std::cell::RefCell<Vec<((usize, usize), WordLevel)>>);

impl Memo {
    fn level(&self, study: &Word, order: &Word) -> WordLevel {
        let key = (study as *const Word as usize, order as *const Word as usize);
        if let Some((_, l)) = self.0.borrow().iter().find(|(k, _)| *k == key) {
            return *l;
        }
        let l = names::word_level(study, order);
        self.0.borrow_mut().push((key, l));
        l
    }
}

/// The best match of `theirs` (an order's family or given words) among the study's `words`
/// not yet `used`: its level, the study word's index, and the order word.
fn best<'a>(
    memo: &Memo,
    theirs: &[&'a Word],
    words: &[Word],
    used: Option<usize>,
    want_given: bool,
    allow: impl Fn(&Word) -> bool,
) -> Option<(WordLevel, usize, &'a Word)> {
    let mut found: Option<(WordLevel, usize, &Word, bool)> = None;
    for o in theirs {
        for (i, w) in words.iter().enumerate() {
            if Some(i) == used || !allow(w) {
                continue;
            }
            let l = memo.level(w, o);
            let same_part = w.given == want_given;
            let better = match found {
                None => true,
                Some((fl, _, _, fs)) => (rank(l), !same_part) < (rank(fl), !fs),
            };
            if better {
                found = Some((l, i, o, same_part));
            }
        }
    }
    found.map(|(l, i, o, _)| (l, i, o))
}

fn name_level(l: WordLevel, family: bool) -> Level {
    match l {
        WordLevel::Exact => Level::Exact,
        WordLevel::Close => Level::Close,
        WordLevel::Phonetic => Level::Phonetic,
        WordLevel::Initial if !family => Level::Initial,
        _ => Level::Different,
    }
}

fn describe(l: Level, study: &str, order: &str, family: bool) -> String {
    let what = if family { "family name" } else { "given name" };
    match l {
        Level::Exact if study == order => format!("{what} {order} as ordered"),
        Level::Exact => {
            format!("{what} {study} is the order's {order} (accents, case or umlauts aside)")
        }
        Level::Close => format!("{what} {study}, the order's {order}: one letter off"),
        Level::Phonetic => format!("{what} {study} sounds like the order's {order}"),
        Level::Initial => format!("given name {study} is the initial of the order's {order}"),
        _ => format!("{what} {study}, the order's is {order}"),
    }
}

/// The family and given names. Each of the order's name parts is looked for among all the
/// study's words, so swapped parts, a family name typed in the given-name field, a part of a
/// multi-part name missing or added, and initials are each seen for what they are.
fn name(s: &Side, o: &Side, freq: &dyn Frequencies, d: bool) -> (Outcome, Outcome) {
    let missing = |f: Field, why: &str| out(f, Level::Missing, detail!(d, "{why}"));
    let Some(g) = (0..3).find(|&i| !s.names[i].is_empty() && !o.names[i].is_empty()) else {
        let why = if s.names.iter().all(Name::is_empty) {
            "the study has no name"
        } else {
            "no name group (alphabetic, ideographic, phonetic) on both sides"
        };
        return (
            missing(Field::FamilyName, why),
            missing(Field::GivenName, why),
        );
    };
    let (sn, on) = (&s.names[g], &o.names[g]);
    let of: Vec<&Word> = on.family().collect();
    let og: Vec<&Word> = on.given().collect();
    let mut swapped = false;
    let memo = Memo::default();
    // The order's family name among the study's family words; among its given words only
    // when it is not there and the parts are truly swapped (the order's given name is among
    // the study's family words) or the study has no family word.
    let agrees = |r: &Option<(WordLevel, usize, &Word)>| {
        r.as_ref().is_some_and(|(l, ..)| *l < WordLevel::Initial)
    };
    let in_family = best(&memo, &of, &sn.words, None, false, |w| !w.given);
    let found = if agrees(&in_family) {
        in_family
    } else {
        let no_family = sn.family().next().is_none();
        let swap = best(&memo, &og, &sn.words, None, false, |w| !w.given);
        if no_family || agrees(&swap) {
            best(&memo, &of, &sn.words, None, false, |_| true)
        } else {
            in_family
        }
    };
    let family = match found {
        None => (
            missing(Field::FamilyName, "no family name to compare"),
            None,
        ),
        Some((l, i, ow)) => {
            let level = name_level(l, true);
            let sw = &sn.words[i];
            let mut r = out(
                Field::FamilyName,
                level,
                if d {
                    describe(level, &sw.text, &ow.text, true)
                } else {
                    String::new()
                },
            );
            if level != Level::Different && sw.given {
                swapped = true;
                if d {
                    r.detail.push_str(" (written in the given-name field)");
                }
                r.adjust = -1.0;
            }
            if level == Level::Exact {
                r.frequency = Some(freq.family(&ow.key));
            }
            (r, (level != Level::Different).then_some(i))
        }
    };
    let given = match best(&memo, &og, &sn.words, family.1, true, |_| true) {
        None if og.is_empty() => missing(Field::GivenName, "the order has no given name"),
        None => missing(Field::GivenName, "the study has no given name"),
        Some((l, i, ow)) => {
            let level = name_level(l, false);
            let sw = &sn.words[i];
            let mut r = out(
                Field::GivenName,
                level,
                if d {
                    describe(level, &sw.text, &ow.text, false)
                } else {
                    String::new()
                },
            );
            if level != Level::Different && !sw.given && !swapped {
                if d {
                    r.detail.push_str(" (written in the family-name field)");
                }
                r.adjust = -1.0;
            }
            if level == Level::Exact {
                r.frequency = Some(freq.given(&ow.key));
            }
            // A given name the study does not have (only the family name was typed) says
            // nothing; one the study has and the order does not share does.
            if level == Level::Different && sn.given().next().is_none() && !swapped {
                r = missing(Field::GivenName, "the study has no given name");
            }
            r
        }
    };
    (family.0, given)
}

fn digits(d: &str) -> Option<&[u8]> {
    let b = d.as_bytes();
    (b.len() == 8 && b.iter().all(u8::is_ascii_digit)).then_some(b)
}

fn birth_date(s: &Side, o: &Side, freq: &dyn Frequencies, d: bool) -> Outcome {
    let f = Field::BirthDate;
    let (a, b) = (&s.birth_date, &o.birth_date);
    if a.is_empty() || b.is_empty() {
        return out(f, Level::Missing, detail!(d, "no birth date to compare"));
    }
    if a == b {
        let mut r = out(f, Level::Exact, detail!(d, "born {a}, as ordered"));
        r.frequency = Some(freq.birth_date(b));
        return r;
    }
    let said = |why: &str| detail!(d, "born {a}, the order says {b}: {why}");
    let (Some(x), Some(y)) = (digits(a), digits(b)) else {
        return out(
            f,
            Level::Different,
            detail!(d, "born {a}, the order says {b}"),
        );
    };
    if x[..4] == y[..4] && x[4..6] == y[6..8] && x[6..8] == y[4..6] {
        return out(f, Level::DayMonth, said("day and month swapped"));
    }
    let diff: Vec<usize> = (0..8).filter(|&i| x[i] != y[i]).collect();
    if diff.len() == 2
        && diff[1] == diff[0] + 1
        && x[diff[0]] == y[diff[1]]
        && x[diff[1]] == y[diff[0]]
    {
        return out(f, Level::Transposed, said("two digits swapped"));
    }
    if diff.len() == 1 {
        return out(f, Level::OneDigit, said("one digit off"));
    }
    if x[4..] == y[4..] {
        if x[2..4] == y[2..4] {
            return out(f, Level::Century, said("the century off"));
        }
        return out(f, Level::Year, said("same day and month, another year"));
    }
    out(
        f,
        Level::Different,
        detail!(d, "born {a}, the order says {b}"),
    )
}

fn sex(s: &Side, o: &Side, d: bool) -> Outcome {
    let f = Field::Sex;
    if s.sex.is_empty() || o.sex.is_empty() {
        return out(f, Level::Missing, detail!(d, "sex unknown on one side"));
    }
    if s.sex == o.sex {
        out(f, Level::Exact, detail!(d, "sex {}, as ordered", s.sex))
    } else {
        out(
            f,
            Level::Different,
            detail!(d, "sex {}, the order says {}", s.sex, o.sex),
        )
    }
}

fn modality(s: &Side, o: &Side, d: bool) -> Outcome {
    let f = Field::Modality;
    let Some(b) = o.modalities.first() else {
        return out(f, Level::Missing, detail!(d, "the order has no modality"));
    };
    if s.modalities.is_empty() {
        return out(f, Level::Missing, detail!(d, "the study has no modality"));
    }
    if s.modalities.contains(b) {
        out(f, Level::Exact, detail!(d, "{b} as ordered"))
    } else {
        out(
            f,
            Level::Different,
            detail!(d, "a {} study for a {b} order", s.modalities.join("\\")),
        )
    }
}

fn station(s: &Side, o: &Side, d: bool) -> Outcome {
    let f = Field::Station;
    if s.station.is_empty() || o.station.is_empty() {
        return out(f, Level::Missing, detail!(d, "no station to compare"));
    }
    if s.station == o.station {
        out(
            f,
            Level::Exact,
            detail!(d, "sent by {}, the scheduled station", s.station),
        )
    } else {
        out(
            f,
            Level::Different,
            detail!(d, "sent by {}, scheduled on {}", s.station, o.station),
        )
    }
}

fn time(s: &Side, o: &Side, d: bool) -> Outcome {
    let f = Field::Time;
    let (Some(a), Some(b)) = (s.minutes, o.minutes) else {
        return out(f, Level::Missing, detail!(d, "no date to compare"));
    };
    let gap = (a - b).abs();
    if gap <= 120 {
        out(
            f,
            Level::Within2h,
            detail!(d, "done within {gap} minutes of the scheduled time"),
        )
    } else if s.date == o.date {
        out(
            f,
            Level::SameDay,
            detail!(d, "done the day it was scheduled"),
        )
    } else if gap <= 3 * 24 * 60 {
        out(
            f,
            Level::Within3Days,
            detail!(
                d,
                "done {} day(s) from the scheduled date",
                (gap + 24 * 60 - 1) / (24 * 60)
            ),
        )
    } else {
        out(
            f,
            Level::Far,
            detail!(d, "done {} days from the scheduled date", gap / (24 * 60)),
        )
    }
}

fn procedure(s: &Side, o: &Side, d: bool) -> Outcome {
    let f = Field::Procedure;
    if s.words.is_empty() || o.words.is_empty() {
        return out(f, Level::Missing, detail!(d, "no description to compare"));
    }
    let shared = s.words.iter().filter(|w| o.words.contains(w)).count();
    if shared > 0 {
        out(
            f,
            Level::SharedWord,
            detail!(
                d,
                "'{}' and the ordered '{}' share {shared} word(s)",
                s.description,
                o.description
            ),
        )
    } else {
        // Descriptions are free text: sharing no word weighs nothing (there is no weight for
        // it), but the pair counts among those that had descriptions to compare.
        out(
            f,
            Level::Different,
            detail!(d, "no word of the description in common"),
        )
    }
}
