//! Matching benchmark (not a timed test): corrupted demographics against a worklist cache.
//!
//! A generator makes clean orders (names from several cultures, some with ideographic groups;
//! families, twins and namesakes among them) and, from a random subset, studies with the
//! errors registration desks make, at realistic rates: typos, swapped and dropped letters,
//! given and family names swapped or in one field, a part of a double name missing, initials,
//! umlauts written out or accents dropped, a birth date with one digit off, day and month
//! swapped, two digits swapped, the century; an ID one digit off or transposed; a third under
//! a temporary Patient ID; sex unknown; no accession. Some studies' orders are left out of the
//! cache: no order may be matched for them without asking.
//!
//! Measured, for qcdesk's matching and for the standard record-linkage comparison
//! (Jaro-Winkler on each name part, exact birth date, ID and day, summed, best first) in the
//! same run: top-1, top-5, the true order shown (qcdesk: among the candidates it lists), and
//! wrong auto-matches. Then speed: matching one study against 100,000 orders (p50, p95) and
//! proposing orders for every study of a 10,000-study queue.
//!
//! Goals: top-1 >= 99% and >= the standard comparison; shown >= 99.5%; wrong auto-matches 0;
//! p95 <= 20 ms at 100,000 orders; 10,000 studies proposed in <= 10 s.
//!
//! Run with `cargo bench --bench matching` (or scripts/bench). `QCDESK_BENCH_SEED` changes the
//! data; `QCDESK_BENCH_STUDIES` the number of studies (default 1,000).

use std::time::Instant;

use qcdesk::model::WorklistItem;
use qcdesk::reconcile::{MatchConfig, MatchFacts, Matcher};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

/// (family names, given names female, given names male, ideographic pairs?) per culture.
struct Culture {
    family: &'static [&'static str],
    female: &'static [&'static str],
    male: &'static [&'static str],
    /// Ideographic forms of family and given names, parallel to the lists above.
    ideographic: Option<(
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    )>,
}

const CULTURES: &[Culture] = &[
    Culture {
        family: &[
            "MÜLLER",
            "SCHMIDT",
            "SCHNEIDER",
            "FISCHER",
            "WEBER",
            "MEYER",
            "WAGNER",
            "BECKER",
            "SCHULZ",
            "HOFFMANN",
            "KÖNIG",
            "GRÜNEWALD",
            "BÖHM",
            "KRÜGER",
            "SCHÄFER",
            "WOLF",
            "NEUMANN",
            "ZIMMERMANN",
            "BRAUN",
            "HARTMANN",
        ],
        female: &[
            "ANNA", "BIRGIT", "SABINE", "MONIKA", "KATRIN", "JULIA", "LENA", "UTE",
        ],
        male: &[
            "JÜRGEN", "KLAUS", "STEFAN", "MICHAEL", "THOMAS", "LUKAS", "JÖRG", "UWE",
        ],
        ideographic: None,
    },
    Culture {
        family: &[
            "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "DAVIS", "MILLER", "WILSON", "MOORE",
            "TAYLOR", "ANDERSON", "THOMAS", "JACKSON", "WHITE", "HARRIS", "MARTIN", "THOMPSON",
            "DOE", "ROE", "O'BRIEN", "KEANE", "MURPHY", "WALSH", "BYRNE",
        ],
        female: &[
            "OLIVIA",
            "EMMA",
            "SOPHIA",
            "ISABELLA",
            "CATHERINE",
            "KATHRYN",
            "MARY",
            "ANN",
            "ELIZABETH",
            "SARAH",
            "ROISIN",
            "SIOBHAN",
        ],
        male: &[
            "JOHN", "JAMES", "ROBERT", "MICHAEL", "WILLIAM", "DAVID", "RICHARD", "JOSEPH", "SEAN",
            "PATRICK", "PHILIP", "STEPHEN",
        ],
        ideographic: None,
    },
    Culture {
        family: &[
            "GARCÍA",
            "FERNÁNDEZ",
            "GONZÁLEZ",
            "RODRÍGUEZ",
            "LÓPEZ",
            "MARTÍNEZ",
            "SÁNCHEZ",
            "PÉREZ",
            "GÓMEZ",
            "DÍAZ",
            "GARCÍA LÓPEZ",
            "PÉREZ MARTÍNEZ",
            "SANTOS",
            "OLIVEIRA",
        ],
        female: &[
            "MARÍA",
            "CARMEN",
            "JOSEFA",
            "ISABEL",
            "LUCÍA",
            "ANA",
            "MARÍA JOSÉ",
        ],
        male: &[
            "JOSÉ",
            "ANTONIO",
            "MANUEL",
            "FRANCISCO",
            "JUAN",
            "JOÃO",
            "LUIS",
        ],
        ideographic: None,
    },
    Culture {
        family: &[
            "DUBOIS",
            "LEFÈVRE",
            "MOREAU",
            "LAURENT",
            "SIMON",
            "MICHEL",
            "GARNIER",
            "FAURE",
            "ROUSSEAU",
            "BLANC",
            "GUÉRIN",
            "MÜLLER-LEFÈVRE",
        ],
        female: &["CÉLINE", "ANAÏS", "MARIE", "CHLOÉ", "ÉLODIE", "SOPHIE"],
        male: &["PIERRE", "JEAN", "LUC", "FRANÇOIS", "JEAN-PIERRE", "ANDRÉ"],
        ideographic: None,
    },
    Culture {
        family: &[
            "NOWAK",
            "KOWALSKI",
            "WIŚNIEWSKI",
            "KOVÁCS",
            "NAGY",
            "NOVÁK",
            "DVOŘÁK",
            "HORVÁTH",
            "PAPADOPOULOS",
            "YILMAZ",
            "KAYA",
            "DEMİR",
            "ØDEGÅRD",
            "JOHANSSON",
            "ANDERSEN",
            "NIELSEN",
            "HANSEN",
            "SØRENSEN",
        ],
        female: &[
            "JANA",
            "ANNA",
            "ÉVA",
            "MAŁGORZATA",
            "AYŞE",
            "METTE",
            "ÅSE",
            "INGRID",
        ],
        male: &[
            "PÉTER", "JAN", "TOMÁŠ", "MEHMET", "ERIK", "OLE", "SØREN", "PIOTR",
        ],
        ideographic: None,
    },
    Culture {
        family: &[
            "NGUYEN", "TRAN", "LE", "PHAM", "PATEL", "SHARMA", "SINGH", "KHAN", "AHMED", "ALI",
            "HASSAN", "LI", "LU", "WANG", "ZHANG", "LIU", "CHEN", "KIM", "LEE", "PARK",
        ],
        female: &[
            "THI LAN", "PRIYA", "FATIMA", "AISHA", "WEI", "FANG", "JI-YEON", "MEI",
        ],
        male: &[
            "VAN MINH", "RAHUL", "OMAR", "MOHAMMED", "WEI", "JUN", "MIN-HO", "HAO",
        ],
        ideographic: None,
    },
    Culture {
        family: &[
            "YAMADA",
            "TANAKA",
            "SUZUKI",
            "SATO",
            "TAKAHASHI",
            "WATANABE",
            "ITO",
            "NAKAMURA",
        ],
        female: &["HANAKO", "YUKI", "SAKURA", "AIKO"],
        male: &["TAROU", "HIROSHI", "KENJI", "TAKESHI"],
        ideographic: Some((
            &[
                "山田", "田中", "鈴木", "佐藤", "高橋", "渡辺", "伊藤", "中村",
            ],
            &["花子", "由紀", "桜", "愛子"],
            &["太郎", "博", "健二", "武"],
        )),
    },
];

#[derive(Clone)]
struct Person {
    family: String,
    given: String,
    ideographic: Option<(String, String)>,
    birth: String,
    sex: &'static str,
    id: String,
}

impl Person {
    fn pn(&self) -> String {
        match &self.ideographic {
            Some((f, g)) => format!("{}^{}={f}^{g}", self.family, self.given),
            None => format!("{}^{}", self.family, self.given),
        }
    }
}

fn person(rng: &mut Rng, id: usize) -> Person {
    let c = &CULTURES[rng.below(CULTURES.len())];
    let female = rng.chance(0.5);
    let fi = rng.below(c.family.len());
    let given_list = if female { c.female } else { c.male };
    let gi = rng.below(given_list.len());
    let ideographic = c.ideographic.map(|(f, gf, gm)| {
        let g = if female { gf } else { gm };
        (f[fi].to_string(), g[gi].to_string())
    });
    Person {
        family: c.family[fi].to_string(),
        given: given_list[gi].to_string(),
        ideographic,
        birth: format!(
            "{}{:02}{:02}",
            1925 + rng.below(98),
            1 + rng.below(12),
            1 + rng.below(28)
        ),
        sex: if female { "F" } else { "M" },
        id: format!("{}", 1_000_000 + id * 7 + rng.below(7)),
    }
}

const STATIONS: &[(&str, &str)] = &[
    ("CT", "CT01"),
    ("CT", "CT02"),
    ("MR", "MR01"),
    ("CR", "CR01"),
    ("US", "US01"),
    ("MG", "MG01"),
];

fn date_of(day: usize) -> String {
    // Days from 1 November 2026, months of 30 days (only the bench reads them).
    let (m, d) = (11 + day / 30, 1 + day % 30);
    let (y, m) = if m > 12 { (2027, m - 12) } else { (2026, m) };
    format!("{y}{m:02}{d:02}")
}

fn orders_for(rng: &mut Rng, n: usize, days: usize) -> (Vec<WorklistItem>, Vec<Person>) {
    let mut people: Vec<Person> = Vec::new();
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        // Some patients have several orders; some relatives share a family name and birth
        // date (twins) or a family name and nearly an ID.
        let p = if !people.is_empty() && rng.chance(0.08) {
            people[rng.below(people.len())].clone()
        } else if !people.is_empty() && rng.chance(0.03) {
            let mut twin = people[rng.below(people.len())].clone();
            let mut other = person(rng, people.len() + 1);
            other.family = twin.family.clone();
            other.ideographic = None;
            other.birth = twin.birth.clone();
            other.id = format!("{}", 1_000_000 + (people.len() + 1) * 7);
            twin = other;
            people.push(twin.clone());
            twin
        } else {
            let p = person(rng, people.len() + 1);
            people.push(p.clone());
            p
        };
        let (modality, station) = STATIONS[rng.below(STATIONS.len())];
        let day = rng.below(days);
        orders.push(WorklistItem {
            accession: format!("A{:07}", i + 1),
            patient_name: p.pn(),
            patient_id: p.id.clone(),
            birth_date: p.birth.clone(),
            sex: p.sex.into(),
            modality: modality.into(),
            station_ae: station.into(),
            scheduled_at: format!(
                "{}{:02}{:02}00",
                date_of(day),
                7 + rng.below(11),
                rng.below(4) * 15
            ),
            procedure: format!("{modality} examination"),
            source: "bench".into(),
            ..WorklistItem::default()
        });
    }
    (orders, people)
}

fn typo(rng: &mut Rng, word: &str) -> String {
    let mut c: Vec<char> = word.chars().collect();
    if c.len() < 2 {
        return word.into();
    }
    let i = rng.below(c.len() - 1);
    match rng.below(4) {
        0 => c.swap(i, i + 1),
        1 => {
            c.remove(i + 1);
        }
        2 => c.insert(i + 1, c[i]),
        _ => c[i + 1] = (b'A' + rng.below(26) as u8) as char,
    }
    c.into_iter().collect()
}

fn umlauts(s: &str, rng: &mut Rng) -> String {
    if rng.chance(0.5) {
        s.replace('Ü', "UE").replace('Ö', "OE").replace('Ä', "AE")
    } else {
        qcdesk::rules::names::fold_accents(s)
    }
}

fn digit_typo(rng: &mut Rng, v: &str) -> String {
    let mut b = v.as_bytes().to_vec();
    let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
    if digits.is_empty() {
        return v.into();
    }
    let i = digits[rng.below(digits.len())];
    let old = b[i];
    while b[i] == old {
        b[i] = b'0' + rng.below(10) as u8;
    }
    String::from_utf8(b).unwrap_or_default()
}

/// A study of `o`, with the registration desk's errors.
fn corrupt(rng: &mut Rng, o: &WorklistItem) -> MatchFacts {
    let alphabetic = o.patient_name.split('=').next().unwrap_or_default();
    let ideographic = o.patient_name.split('=').nth(1).map(str::to_string);
    let mut parts = alphabetic.splitn(2, '^');
    let mut family = parts.next().unwrap_or_default().to_string();
    let mut given = parts.next().unwrap_or_default().to_string();
    if family.contains(' ') && rng.chance(0.5) {
        family = family.split(' ').next().unwrap_or_default().into();
    }
    if !family.is_ascii() && rng.chance(0.4) {
        family = umlauts(&family, rng);
        given = umlauts(&given, rng);
    }
    if rng.chance(0.25) {
        family = typo(rng, &family);
    }
    if rng.chance(0.15) {
        given = typo(rng, &given);
    } else if rng.chance(0.08) {
        given.clear();
    } else if rng.chance(0.05) {
        given = given.chars().take(1).collect();
    }
    let mut name = if rng.chance(0.08) {
        format!("{given}^{family}")
    } else if rng.chance(0.03) {
        format!("{family} {given}^")
    } else {
        format!("{family}^{given}")
    };
    if let Some(i) = ideographic
        && rng.chance(0.5)
    {
        name = if rng.chance(0.3) {
            format!("={i}")
        } else {
            format!("{name}={i}")
        };
    }
    let mut birth = o.birth_date.clone();
    let r = rng.below(100);
    if r < 10 {
        birth = digit_typo(rng, &birth);
    } else if r < 14 && birth[6..8].parse::<u32>().unwrap_or(99) <= 12 {
        birth = format!("{}{}{}", &birth[..4], &birth[6..8], &birth[4..6]);
    } else if r < 17 {
        let mut b = birth.as_bytes().to_vec();
        b.swap(2, 3);
        birth = String::from_utf8(b).unwrap_or_default();
    } else if r < 19 {
        birth = format!("20{}", &birth[2..]);
    } else if r < 21 {
        birth.clear();
    }
    let mut id = o.patient_id.clone();
    let r = rng.below(100);
    if r < 33 {
        id = format!("TMP{}", rng.below(100_000));
    } else if r < 43 {
        id = digit_typo(rng, &id);
    } else if r < 48 {
        let mut b = id.as_bytes().to_vec();
        let i = 1 + rng.below(b.len() - 2);
        b.swap(i, i + 1);
        id = String::from_utf8(b).unwrap_or_default();
    }
    let sex = if rng.chance(0.05) {
        "O".to_string()
    } else if rng.chance(0.01) {
        if o.sex == "F" { "M".into() } else { "F".into() }
    } else {
        o.sex.clone()
    };
    let date = &o.scheduled_at[..8];
    let (study_date, study_time) = if rng.chance(0.1) {
        // Done one to three days late (a delay, a walk-in the next day).
        let day = date.parse::<u32>().unwrap_or(0) + 1 + rng.below(3) as u32;
        (day.to_string(), "120000".to_string())
    } else {
        let hh: u32 = o.scheduled_at[8..10].parse().unwrap_or(8);
        (
            date.to_string(),
            format!("{:02}{:02}00", hh + rng.below(2) as u32, rng.below(60)),
        )
    };
    MatchFacts {
        patient_name: name,
        patient_id: id,
        birth_date: birth,
        sex,
        accession: String::new(),
        modalities: o.modality.clone(),
        source_ae: if rng.chance(0.9) {
            o.station_ae.clone()
        } else {
            "MOBILE1".into()
        },
        study_date,
        study_time,
        description: o.procedure.clone(),
        ..MatchFacts::default()
    }
}

/// The standard comparison: Jaro-Winkler of each name part, exact birth date, ID and day.
fn standard(s: &MatchFacts, orders: &[WorklistItem]) -> Vec<usize> {
    let split = |pn: &str| {
        let a = qcdesk::rules::names::fold_accents(pn.split('=').next().unwrap_or_default());
        let mut p = a.splitn(2, '^');
        (
            p.next().unwrap_or_default().to_string(),
            p.next().unwrap_or_default().to_string(),
        )
    };
    let (sf, sg) = split(&s.patient_name);
    let mut scored: Vec<(f64, usize)> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let (of, og) = split(&o.patient_name);
            let score = strsim::jaro_winkler(&sf, &of)
                + strsim::jaro_winkler(&sg, &og)
                + f64::from(u8::from(s.birth_date == o.birth_date))
                + f64::from(u8::from(s.patient_id == o.patient_id))
                + f64::from(u8::from(s.study_date == o.scheduled_at[..8]));
            (score, i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(5).map(|(_, i)| i).collect()
}

fn pct(n: usize, of: usize) -> String {
    format!("{n}/{of} ({:.1}%)", 100.0 * n as f64 / of.max(1) as f64)
}

fn quality(seed: u64, n_orders: usize, n_studies: usize) {
    let mut rng = Rng(seed);
    let (orders, _) = orders_for(&mut rng, n_orders, 30);
    // Studies of random orders; one in twenty of those orders is then left out of the cache.
    let mut studies = Vec::new();
    let mut absent = Vec::new();
    let mut gone = std::collections::HashSet::new();
    let mut used = std::collections::HashSet::new();
    while studies.len() + absent.len() < n_studies {
        let i = rng.below(orders.len());
        if !used.insert(i) {
            continue;
        }
        let s = corrupt(&mut rng, &orders[i]);
        if rng.chance(0.05) {
            gone.insert(i);
            absent.push((i, s));
        } else {
            studies.push((i, s));
        }
    }
    let cache: Vec<WorklistItem> = orders
        .iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, o)| o.clone())
        .collect();
    let cfg = MatchConfig {
        temporary_ids: vec!["^TMP".into()],
        ..MatchConfig::default()
    };
    let t = Instant::now();
    let m = Matcher::new(cache.clone(), &[], &cfg);
    let built = t.elapsed();
    let (mut top1, mut top5, mut shown, mut auto, mut wrong_auto) = (0, 0, 0, 0, 0);
    let (mut std1, mut std5) = (0, 0);
    let mut misses = Vec::new();
    for (i, s) in &studies {
        let truth = &orders[*i].accession;
        let r = m.rank(s, 5);
        let pos = r.candidates.iter().position(|c| &c.accession == truth);
        top1 += usize::from(pos == Some(0));
        top5 += usize::from(pos.is_some());
        shown += usize::from(pos.is_some());
        if let Some(a) = &r.auto_match {
            auto += 1;
            if a != truth {
                wrong_auto += 1;
                println!(
                    "  WRONG AUTO: study {} {} {} -> {a}, true {truth}",
                    s.patient_name, s.patient_id, s.birth_date
                );
            }
        }
        if pos != Some(0) && misses.len() < 12 {
            let o = &orders[*i];
            let got = r.candidates.first().map(|c| {
                let b = &m.orders()[c.index];
                format!(
                    "{} {} {} ({}%)",
                    b.patient_name, b.patient_id, b.birth_date, c.score
                )
            });
            misses.push(format!(
                "  study {} {} {} | true {} {} {} | first {:?}",
                s.patient_name,
                s.patient_id,
                s.birth_date,
                o.patient_name,
                o.patient_id,
                o.birth_date,
                got
            ));
        }
        let st = standard(s, &cache);
        let st_pos = st.iter().position(|&k| &cache[k].accession == truth);
        std1 += usize::from(st_pos == Some(0));
        std5 += usize::from(st_pos.is_some());
    }
    let mut absent_auto = 0;
    for (_, s) in &absent {
        if let Some(a) = m.rank(s, 5).auto_match {
            absent_auto += 1;
            println!(
                "  WRONG AUTO (order not in cache): study {} {} {} -> {a}",
                s.patient_name, s.patient_id, s.birth_date
            );
        }
    }
    let n = studies.len();
    println!(
        "quality (seed {seed}): {} orders in the cache, {n} studies with their order, {} without; index and weights built in {:.0?}",
        cache.len(),
        absent.len(),
        built
    );
    println!(
        "  qcdesk   top-1 {}  top-5 {}  shown {}",
        pct(top1, n),
        pct(top5, n),
        pct(shown, n)
    );
    println!("  standard top-1 {}  top-5 {}", pct(std1, n), pct(std5, n));
    println!(
        "  auto-matched {}; wrong auto-matches {wrong_auto} (+ {absent_auto} of {} studies whose order is not in the cache)",
        pct(auto, n),
        absent.len()
    );
    for miss in misses {
        println!("{miss}");
    }
}

fn speed(seed: u64) {
    let mut rng = Rng(seed ^ 0xABCDEF);
    let (orders, _) = orders_for(&mut rng, 100_000, 60);
    let cfg = MatchConfig::default();
    let t = Instant::now();
    let m = Matcher::new(orders.clone(), &[], &cfg);
    let built = t.elapsed();
    let studies: Vec<MatchFacts> = (0..10_000)
        .map(|_| {
            let i = rng.below(orders.len());
            corrupt(&mut rng, &orders[i])
        })
        .collect();
    let mut times: Vec<f64> = studies
        .iter()
        .take(1000)
        .map(|s| {
            let t = Instant::now();
            std::hint::black_box(m.rank(s, 5));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "speed: 100,000 orders indexed and weighed in {:.0?}; one study: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms (goal p95 <= 20 ms)",
        built,
        p(0.5),
        p(0.95),
        times[times.len() - 1]
    );
    let t = Instant::now();
    let rankings = m.rank_many(&studies, 5);
    let proposed = rankings.iter().filter(|r| !r.candidates.is_empty()).count();
    let mut compared: Vec<usize> = rankings.iter().map(|r| r.compared).collect();
    compared.sort_unstable();
    println!(
        "  orders compared per study: median {}, p95 {}, max {}",
        compared[compared.len() / 2],
        compared[compared.len() * 95 / 100],
        compared[compared.len() - 1]
    );
    println!(
        "  10,000 studies proposed in {:.2} s ({proposed} with a candidate; goal <= 10 s)",
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "matching benchmark skipped: run it with `cargo bench --bench matching` (scripts/bench)"
        );
        return;
    }
    let seed: u64 = std::env::var("QCDESK_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261203);
    let n_studies: usize = std::env::var("QCDESK_BENCH_STUDIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    quality(seed, 5000, n_studies);
    quality(seed + 1, 20_000, n_studies);
    speed(seed);
}
