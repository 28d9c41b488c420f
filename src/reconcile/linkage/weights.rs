//! The m and u probability of every agreement level, and the weight log2(m/u) it gives.
//!
//! Defaults are what registration errors look like in the literature on patient record
//! linkage and in the benchmark's rates (a new site starts with them). The cache refines u:
//! random pairs of its orders (of different patients) show how often each level happens by
//! chance. The Associate refines m: every order applied (and not undone) is a labelled true
//! pair, every candidate ranked above the one applied, or undone, a labelled false one. Both
//! are blended with the defaults as pseudo-counts, so a few labels move a weight a little and
//! no weight leaves its bounds.

use serde::Serialize;

use super::{Field, Level, Levels};

/// m, u (defaults) of each level a field can take. `Missing`/`Temporary` weigh nothing.
const DEFAULTS: &[(Field, Level, f64, f64)] = &[
    (Field::Accession, Level::Exact, 0.90, 0.0002),
    (Field::Accession, Level::Different, 0.10, 0.9998),
    (Field::PatientId, Level::Exact, 0.80, 0.0005),
    (Field::PatientId, Level::OtherId, 0.02, 0.00002),
    (Field::PatientId, Level::OtherIssuer, 0.01, 0.0002),
    (Field::PatientId, Level::Close, 0.05, 0.002),
    (Field::PatientId, Level::Different, 0.12, 0.9973),
    (Field::FamilyName, Level::Exact, 0.86, 0.004),
    (Field::FamilyName, Level::Close, 0.08, 0.004),
    (Field::FamilyName, Level::Phonetic, 0.02, 0.008),
    (Field::FamilyName, Level::Different, 0.04, 0.984),
    (Field::GivenName, Level::Exact, 0.84, 0.01),
    (Field::GivenName, Level::Close, 0.07, 0.005),
    (Field::GivenName, Level::Phonetic, 0.02, 0.01),
    (Field::GivenName, Level::Initial, 0.03, 0.04),
    (Field::GivenName, Level::Different, 0.04, 0.935),
    (Field::BirthDate, Level::Exact, 0.90, 0.0005),
    (Field::BirthDate, Level::DayMonth, 0.015, 0.0002),
    (Field::BirthDate, Level::Transposed, 0.015, 0.001),
    (Field::BirthDate, Level::OneDigit, 0.045, 0.004),
    (Field::BirthDate, Level::Century, 0.005, 0.0001),
    (Field::BirthDate, Level::Year, 0.01, 0.003),
    (Field::BirthDate, Level::Different, 0.01, 0.9912),
    (Field::Sex, Level::Exact, 0.97, 0.5),
    (Field::Sex, Level::Different, 0.03, 0.5),
    (Field::Modality, Level::Exact, 0.93, 0.3),
    (Field::Modality, Level::Different, 0.07, 0.7),
    (Field::Station, Level::Exact, 0.80, 0.2),
    (Field::Station, Level::Different, 0.20, 0.8),
    (Field::Time, Level::Within2h, 0.65, 0.01),
    (Field::Time, Level::SameDay, 0.25, 0.03),
    (Field::Time, Level::Within3Days, 0.07, 0.12),
    (Field::Time, Level::Far, 0.03, 0.84),
    (Field::Procedure, Level::SharedWord, 0.6, 0.15),
];

/// Pseudo-counts the defaults weigh as against labels (m) and sampled pairs (u).
const M_PRIOR: f64 = 40.0;
const U_PRIOR: f64 = 200.0;
/// Orders the level's u counts as, beside a value's own frequency in the cache.
pub const FREQUENCY_PRIOR: f64 = 200.0;
/// No probability leaves these bounds, no weight these.
const P_MIN: f64 = 1e-6;
const P_MAX: f64 = 0.9999;
const W_MIN: f64 = -12.0;
const W_MAX: f64 = 22.0;

/// One level's probabilities, and where they came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub field: Field,
    pub level: Level,
    pub m: f64,
    pub u: f64,
    /// log2(m/u), in bits; for a level weighed by value frequency, at the average frequency.
    pub weight: f64,
    pub default_m: f64,
    pub default_u: f64,
    /// Labelled true pairs showing this level (of `Weights::labels.applied`).
    pub m_count: u32,
    /// Sampled random pairs showing this level (of `Weights::sampled`), plus rejected labels.
    pub u_count: u32,
    /// Exact agreement weighed by the value's frequency in the cache.
    pub by_frequency: bool,
}

/// What the labels counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LabelCounts {
    pub applied: u32,
    pub rejected: u32,
    pub undone: u32,
}

/// The weights in use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weights {
    pub rows: Vec<Row>,
    /// Random pairs of the cache's orders compared to estimate u.
    pub sampled: u32,
    pub labels: LabelCounts,
}

/// A labelled pair: the levels of a study and an order the Associate judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Applied and not undone: a true pair.
    Applied,
    /// Ranked above the order applied, or applied and undone: a false pair.
    Rejected,
    Undone,
}

fn by_frequency(f: Field, l: Level) -> bool {
    l == Level::Exact
        && matches!(
            f,
            Field::FamilyName | Field::GivenName | Field::BirthDate | Field::PatientId
        )
}

fn bits(m: f64, u: f64) -> f64 {
    (m.clamp(P_MIN, P_MAX) / u.clamp(P_MIN, P_MAX))
        .log2()
        .clamp(W_MIN, W_MAX)
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            rows: DEFAULTS
                .iter()
                .map(|&(field, level, m, u)| Row {
                    field,
                    level,
                    m,
                    u,
                    weight: bits(m, u),
                    default_m: m,
                    default_u: u,
                    m_count: 0,
                    u_count: 0,
                    by_frequency: by_frequency(field, level),
                })
                .collect(),
            sampled: 0,
            labels: LabelCounts::default(),
        }
    }
}

impl Weights {
    fn row(&self, f: Field, l: Level) -> Option<&Row> {
        self.rows.iter().find(|r| r.field == f && r.level == l)
    }

    /// The weight of a level; for the levels weighed by frequency, u is the agreeing value's
    /// share of the cache (`frequency`: orders holding it, of how many), blended with the
    /// level's u as if seen in [`FREQUENCY_PRIOR`] more orders (a small cache says little
    /// about how rare a name is).
    pub fn weight(&self, f: Field, l: Level, frequency: Option<(u32, u32)>) -> f64 {
        if l.is_neutral() {
            return 0.0;
        }
        let Some(r) = self.row(f, l) else {
            return 0.0;
        };
        match frequency {
            Some((count, n)) if r.by_frequency => {
                let u = (count as f64 + FREQUENCY_PRIOR * r.u) / (n as f64 + FREQUENCY_PRIOR);
                bits(r.m, u)
            }
            _ => r.weight,
        }
    }

    /// Estimates the weights from `sampled` (levels of random pairs of the cache's orders,
    /// different patients) and `labels` (pairs the Associate judged).
    pub fn estimate(sampled: &[Levels], labels: &[(Label, Levels)]) -> Weights {
        let mut w = Weights {
            sampled: sampled.len() as u32,
            ..Weights::default()
        };
        let count = |pairs: &mut dyn Iterator<Item = &Levels>, f: Field| {
            let mut n = 0u32;
            let mut per: Vec<(Level, u32)> = Vec::new();
            for levels in pairs {
                // A value missing on one side says nothing of the others: m and u are shares
                // of the pairs that had the field to compare, as the defaults are.
                let Some((_, l)) = levels.iter().find(|(x, l)| *x == f && !l.is_neutral()) else {
                    continue;
                };
                n += 1;
                match per.iter_mut().find(|(x, _)| x == l) {
                    Some(e) => e.1 += 1,
                    None => per.push((*l, 1)),
                }
            }
            (n, per)
        };
        for l in labels {
            match l.0 {
                Label::Applied => w.labels.applied += 1,
                Label::Rejected => w.labels.rejected += 1,
                Label::Undone => w.labels.undone += 1,
            }
        }
        for f in Field::ALL {
            let (m_n, m_per) = count(
                &mut labels
                    .iter()
                    .filter(|(k, _)| *k == Label::Applied)
                    .map(|(_, v)| v),
                f,
            );
            let (u_n, u_per) = count(
                &mut sampled.iter().chain(
                    labels
                        .iter()
                        .filter(|(k, _)| *k != Label::Applied)
                        .map(|(_, v)| v),
                ),
                f,
            );
            let get = |per: &[(Level, u32)], l: Level| {
                per.iter().find(|(x, _)| *x == l).map_or(0, |(_, c)| *c)
            };
            for r in w.rows.iter_mut().filter(|r| r.field == f) {
                r.m_count = get(&m_per, r.level);
                r.u_count = get(&u_per, r.level);
                r.m = (r.m_count as f64 + M_PRIOR * r.default_m) / (m_n as f64 + M_PRIOR);
                // (For the levels weighed by frequency this u is the average, for --explain.)
                r.u = (r.u_count as f64 + U_PRIOR * r.default_u) / (u_n as f64 + U_PRIOR);
                r.weight = bits(r.m, r.u);
            }
        }
        w
    }

    /// The rows that differ from the defaults by more than a tenth of a bit.
    pub fn learned(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|r| (r.weight - bits(r.default_m, r.default_u)).abs() > 0.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_favour_agreement_and_stay_in_bounds() {
        let w = Weights::default();
        for r in &w.rows {
            assert!(r.weight >= W_MIN && r.weight <= W_MAX, "{r:?}");
            let agrees = matches!(r.level, Level::Exact | Level::Within2h | Level::SharedWord);
            if agrees {
                assert!(r.weight > 0.0, "{r:?}");
            }
            if r.level == Level::Different {
                assert!(r.weight < 0.0, "{r:?}");
            }
        }
        assert_eq!(w.weight(Field::PatientId, Level::Temporary, None), 0.0);
        // A rare family name says more than a common one.
        let rare = w.weight(Field::FamilyName, Level::Exact, Some((1, 50_000)));
        let common = w.weight(Field::FamilyName, Level::Exact, Some((1000, 50_000)));
        assert!(rare > common + 5.0, "{rare} {common}");
    }

    #[test]
    fn confirmed_matches_move_m_and_the_weight_a_bounded_step() {
        let typo = vec![(Field::FamilyName, Level::Close)];
        let labels: Vec<(Label, Levels)> =
            (0..20).map(|_| (Label::Applied, typo.clone())).collect();
        let w = Weights::estimate(&[], &labels);
        let before = Weights::default().weight(Field::FamilyName, Level::Close, None);
        let after = w.weight(Field::FamilyName, Level::Close, None);
        assert!(after > before, "{before} -> {after}");
        assert!(after < W_MAX);
        assert_eq!(w.labels.applied, 20);
        assert!(
            w.learned()
                .any(|r| r.field == Field::FamilyName && r.level == Level::Close)
        );
    }
}
