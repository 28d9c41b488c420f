//! Blocking: which of the cache's orders are worth comparing with a study. Orders are indexed
//! by accession, Patient ID (and other IDs), birth date, name word, the name word's sound and
//! scheduled day; a study looks up its own values and their likely typos (each digit of an
//! ID or birth date changed, two swapped, day and month swapped, the century). Orders found
//! under two keys, or under one that nearly identifies a patient, are compared. Also the
//! frequency of each name, birth date and ID among the orders (the u of exact agreement).

use std::collections::HashMap;

use rphonetic::DoubleMetaphone;

use super::compare::{Frequencies, Side, TemporaryIds, compare};
use super::{Levels, levels_of};
use crate::model::WorklistItem;

type Postings = HashMap<String, Vec<u32>>;

/// The cache, prepared for matching.
pub struct OrderIndex {
    orders: Vec<WorklistItem>,
    sides: Vec<Side>,
    active: Vec<bool>,
    accession: Postings,
    patient_id: Postings,
    birth: Postings,
    word: Postings,
    sound: Postings,
    day: Postings,
    family_count: HashMap<String, u32>,
    given_count: HashMap<String, u32>,
    birth_count: HashMap<String, u32>,
    id_count: HashMap<String, u32>,
    active_count: usize,
    metaphone: DoubleMetaphone,
}

fn post(map: &mut Postings, key: &str, i: u32) {
    if key.is_empty() {
        return;
    }
    let list = map.entry(key.to_string()).or_default();
    if list.last() != Some(&i) {
        list.push(i);
    }
}

/// Values one typo away from an ID or birth date: each digit changed, two adjacent swapped.
fn digit_variants(value: &str, out: &mut Vec<String>) {
    let b = value.as_bytes();
    if b.len() > 20 || !value.is_ascii() {
        return;
    }
    for i in 0..b.len() {
        if b[i].is_ascii_digit() {
            for d in b'0'..=b'9' {
                if d != b[i] {
                    let mut v = b.to_vec();
                    v[i] = d;
                    out.push(String::from_utf8_lossy(&v).into_owned());
                }
            }
        }
        if i + 1 < b.len() && b[i] != b[i + 1] {
            let mut v = b.to_vec();
            v.swap(i, i + 1);
            out.push(String::from_utf8_lossy(&v).into_owned());
        }
    }
}

impl OrderIndex {
    pub fn build(orders: Vec<WorklistItem>) -> OrderIndex {
        let metaphone = DoubleMetaphone::default();
        let mut ix = OrderIndex {
            sides: Vec::with_capacity(orders.len()),
            active: Vec::with_capacity(orders.len()),
            accession: Postings::new(),
            patient_id: Postings::new(),
            birth: Postings::new(),
            word: Postings::new(),
            sound: Postings::new(),
            day: Postings::new(),
            family_count: HashMap::new(),
            given_count: HashMap::new(),
            birth_count: HashMap::new(),
            id_count: HashMap::new(),
            active_count: 0,
            orders: Vec::new(),
            metaphone,
        };
        for (i, o) in orders.iter().enumerate() {
            let side = Side::of_order(o, &ix.metaphone);
            let active = o.vanished_at.is_none();
            ix.active.push(active);
            if active {
                ix.active_count += 1;
                let i = i as u32;
                post(&mut ix.accession, &side.accession, i);
                post(&mut ix.patient_id, &side.patient_id, i);
                for other in &side.other_ids {
                    post(&mut ix.patient_id, other, i);
                }
                post(&mut ix.birth, &side.birth_date, i);
                post(&mut ix.day, &side.date, i);
                for name in &side.names {
                    for w in &name.words {
                        post(&mut ix.word, &w.key, i);
                        post(&mut ix.sound, &w.codes.0, i);
                    }
                }
                // Every group counts (an ideographic family name is as common as it is).
                for w in side.names.iter().flat_map(|n| n.words.iter()) {
                    let counts = if w.given {
                        &mut ix.given_count
                    } else {
                        &mut ix.family_count
                    };
                    *counts.entry(w.key.clone()).or_default() += 1;
                }
                *ix.birth_count.entry(side.birth_date.clone()).or_default() += 1;
                *ix.id_count.entry(side.patient_id.clone()).or_default() += 1;
            }
            ix.sides.push(side);
        }
        ix.orders = orders;
        ix
    }

    pub fn orders(&self) -> &[WorklistItem] {
        &self.orders
    }

    pub fn side(&self, i: usize) -> &Side {
        &self.sides[i]
    }

    /// Orders not vanished from their source.
    pub fn active(&self) -> usize {
        self.active_count
    }

    pub fn metaphone(&self) -> &DoubleMetaphone {
        &self.metaphone
    }

    /// The orders worth comparing with `s`, by index: those sharing a value that nearly
    /// identifies a patient (accession, Patient ID, birth date), and those agreeing on two
    /// fields by their likely typos (an ID or birth date one digit off, a name word or its
    /// sound, the day; two different name words count as two).
    pub fn candidates(&self, s: &Side) -> Vec<u32> {
        const STRONG: u8 = 1;
        const ID: u8 = 2;
        const BIRTH: u8 = 4;
        const NAME: u8 = 8;
        const NAME2: u8 = 16;
        const DAY: u8 = 32;
        let mut marks = vec![0u8; self.sides.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut hit = |list: Option<&Vec<u32>>, bit: u8| {
            for &i in list.into_iter().flatten() {
                let m = &mut marks[i as usize];
                if *m == 0 {
                    touched.push(i);
                }
                *m |= bit;
            }
        };
        hit(self.accession.get(&s.accession), STRONG);
        hit(self.patient_id.get(&s.patient_id), STRONG);
        hit(self.birth.get(&s.birth_date), STRONG);
        let mut variants = Vec::new();
        digit_variants(&s.patient_id, &mut variants);
        for v in &variants {
            hit(self.patient_id.get(v), ID);
        }
        variants.clear();
        if s.birth_date.len() == 8 && s.birth_date.is_ascii() {
            digit_variants(&s.birth_date, &mut variants);
            let b = &s.birth_date;
            variants.push(format!("{}{}{}", &b[..4], &b[6..8], &b[4..6]));
            if let Some(rest) = b.strip_prefix("19") {
                variants.push(format!("20{rest}"));
            } else if let Some(rest) = b.strip_prefix("20") {
                variants.push(format!("19{rest}"));
            }
        }
        for v in &variants {
            hit(self.birth.get(v), BIRTH);
        }
        // Name words mark the orders holding them (or their sound): family words with one
        // bit, given words with another (in every group: `SATO` and `佐藤` are one family
        // name), so agreeing on the family and a given name counts twice, on one name once.
        let mut seen: Vec<&str> = Vec::new();
        for name in &s.names {
            for w in &name.words {
                if seen.contains(&w.key.as_str()) {
                    continue;
                }
                let bit = if w.given { NAME2 } else { NAME };
                seen.push(&w.key);
                hit(self.word.get(&w.key), bit);
                // A one-letter sound (`L` of LI, LEE, LU...) narrows nothing.
                if w.codes.0.len() >= 2 {
                    hit(self.sound.get(&w.codes.0), bit);
                    if w.codes.1 != w.codes.0 {
                        hit(self.sound.get(&w.codes.1), bit);
                    }
                }
            }
        }
        hit(self.day.get(&s.date), DAY);
        let mut out: Vec<u32> = touched
            .into_iter()
            .filter(|&i| {
                let m = marks[i as usize];
                m & STRONG != 0 || (m & !STRONG).count_ones() >= 2
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// The levels of up to `n` random pairs of orders of different patients (a fixed seed:
    /// the same cache gives the same weights).
    pub fn sample(&self, n: usize, temporary: &TemporaryIds) -> Vec<Levels> {
        let live: Vec<usize> = (0..self.sides.len()).filter(|&i| self.active[i]).collect();
        if live.len() < 2 {
            return Vec::new();
        }
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |k: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % k as u64) as usize
        };
        let mut out = Vec::with_capacity(n);
        let mut tries = 0;
        while out.len() < n && tries < n * 4 {
            tries += 1;
            let (a, b) = (
                &self.sides[live[next(live.len())]],
                &self.sides[live[next(live.len())]],
            );
            if a.patient_id == b.patient_id || a.name_text == b.name_text {
                continue;
            }
            out.push(levels_of(&compare(a, b, self, temporary, false)));
        }
        out
    }

    fn share(&self, map: &HashMap<String, u32>, key: &str) -> (u32, u32) {
        (
            map.get(key).copied().unwrap_or(0).max(1),
            self.active_count.max(1) as u32,
        )
    }
}

impl Frequencies for OrderIndex {
    fn family(&self, key: &str) -> (u32, u32) {
        self.share(&self.family_count, key)
    }
    fn given(&self, key: &str) -> (u32, u32) {
        self.share(&self.given_count, key)
    }
    fn birth_date(&self, date: &str) -> (u32, u32) {
        self.share(&self.birth_count, date)
    }
    fn patient_id(&self, id: &str) -> (u32, u32) {
        self.share(&self.id_count, id)
    }
}
