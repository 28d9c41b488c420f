//! Probabilistic record linkage (Fellegi–Sunter) of a study with an order: each field of the
//! pair falls into an agreement level (exact, close, phonetic, one digit off, temporary ID,
//! missing...), and each level weighs log2(m/u) bits, where m is how often a true pair shows
//! that level and u how often a random pair does. Agreement on a rare value (a rare family
//! name, a birth date few orders share) weighs more than on a common one: its u is the value's
//! frequency in the cache. The sum of a pair's weights, with the prior that the study's order
//! is one of the cache's N orders, gives the posterior probability the Associate reads.
//!
//! `compare` (the levels), `weights` (m and u: defaults, estimated from the cache and the
//! Associate's confirmed and rejected matches), `index` (blocking: which orders are worth
//! comparing at all, and value frequencies).

pub mod compare;
pub mod index;
pub mod names;
pub mod weights;

use serde::{Deserialize, Serialize};

/// A field of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Accession,
    PatientId,
    FamilyName,
    GivenName,
    BirthDate,
    Sex,
    Modality,
    Station,
    Time,
    Procedure,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Accession,
        Field::PatientId,
        Field::FamilyName,
        Field::GivenName,
        Field::BirthDate,
        Field::Sex,
        Field::Modality,
        Field::Station,
        Field::Time,
        Field::Procedure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Accession => "accession",
            Field::PatientId => "patient_id",
            Field::FamilyName => "family_name",
            Field::GivenName => "given_name",
            Field::BirthDate => "birth_date",
            Field::Sex => "sex",
            Field::Modality => "modality",
            Field::Station => "station",
            Field::Time => "time",
            Field::Procedure => "procedure",
        }
    }

    /// Fields that say who the patient is (the others, day, station, modality and procedure,
    /// only support a match).
    pub fn is_identity(self) -> bool {
        matches!(
            self,
            Field::Accession
                | Field::PatientId
                | Field::FamilyName
                | Field::GivenName
                | Field::BirthDate
                | Field::Sex
        )
    }
}

/// An agreement level of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The same value (names: once accents, case and umlaut spelling are folded).
    Exact,
    /// The study's Patient ID is among the order's other IDs.
    OtherId,
    /// The same Patient ID from another issuer.
    OtherIssuer,
    /// One character off (a typo, a dropped or swapped letter or digit).
    Close,
    /// Sounds the same.
    Phonetic,
    /// An initial for the name.
    Initial,
    /// Day and month swapped.
    DayMonth,
    /// Two adjacent digits swapped.
    Transposed,
    /// One digit off.
    OneDigit,
    /// The same day and month, the century off.
    Century,
    /// The same day and month, another year.
    Year,
    /// Done within two hours of the scheduled time.
    Within2h,
    /// Done the scheduled day.
    SameDay,
    /// Done within three days of it.
    Within3Days,
    /// Done further from it.
    Far,
    /// A word of the description in the ordered procedure.
    SharedWord,
    /// A temporary Patient ID (a site pattern): counted as missing.
    Temporary,
    /// Different values.
    Different,
    /// One side has no value: no evidence either way.
    Missing,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::OtherId => "other_id",
            Level::OtherIssuer => "other_issuer",
            Level::Close => "close",
            Level::Phonetic => "phonetic",
            Level::Initial => "initial",
            Level::DayMonth => "day_month",
            Level::Transposed => "transposed",
            Level::OneDigit => "one_digit",
            Level::Century => "century",
            Level::Year => "year",
            Level::Within2h => "within_2h",
            Level::SameDay => "same_day",
            Level::Within3Days => "within_3_days",
            Level::Far => "far",
            Level::SharedWord => "shared_word",
            Level::Temporary => "temporary",
            Level::Different => "different",
            Level::Missing => "missing",
        }
    }

    /// Levels that carry no evidence (weight 0 whatever m and u say).
    pub fn is_neutral(self) -> bool {
        matches!(self, Level::Missing | Level::Temporary)
    }
}

/// The level of one field of a pair, and why, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub field: Field,
    pub level: Level,
    pub detail: String,
    /// How many of the cache's orders hold the agreeing value, and of how many, when the
    /// level is `Exact` on a field weighed by frequency (names, birth date, Patient ID).
    pub frequency: Option<(u32, u32)>,
    /// Bits added to the level's weight (a name found in the other name field).
    pub adjust: f64,
}

/// A pair's comparison vector: its levels, field by field.
pub type Levels = Vec<(Field, Level)>;

/// The levels of `outcomes`, for learning.
pub fn levels_of(outcomes: &[Outcome]) -> Levels {
    outcomes.iter().map(|o| (o.field, o.level)).collect()
}
