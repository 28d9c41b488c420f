//! Reports for administration: exception KPIs over a period, computed from the store's facts
//! ([`ReportFacts`]) and a clock given by the caller (tests pass a fixed one). Open exceptions
//! by state, finding code and age; arrivals, fixes, dismissals and resends per day; time to
//! resolve (first receipt to verified resend or dismissal); wrong-patient corrections; IOCM
//! rejections by reason; all of it per modality, station, source AE, implementation version or
//! finding code. Knows nothing of the UI; `export` writes CSV, `html` the page for meetings.

pub mod export;
pub mod html;
pub mod node_map;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::model::StudyState;
use crate::store::{ReportFacts, StudyFact};

/// How the per-group table is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    Modality,
    Station,
    Source,
    /// Implementation Version Name of the files.
    Version,
    /// Finding code (a study counts under each of its codes).
    Code,
}

impl GroupBy {
    pub const ALL: [GroupBy; 5] = [
        GroupBy::Modality,
        GroupBy::Station,
        GroupBy::Source,
        GroupBy::Version,
        GroupBy::Code,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Modality => "modality",
            GroupBy::Station => "station",
            GroupBy::Source => "source",
            GroupBy::Version => "version",
            GroupBy::Code => "code",
        }
    }

    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s.trim())
    }

    /// The group keys of a study.
    fn keys(self, s: &StudyFact) -> Vec<&str> {
        fn one(v: &str) -> &str {
            if v.trim().is_empty() {
                "(unknown)"
            } else {
                v.trim()
            }
        }
        match self {
            GroupBy::Modality => vec![one(&s.modality)],
            GroupBy::Station => vec![one(&s.station)],
            GroupBy::Source => vec![one(&s.source)],
            GroupBy::Version => vec![one(&s.implementation_version)],
            GroupBy::Code if s.finding_codes.is_empty() => vec!["(none)"],
            GroupBy::Code => {
                let mut c: Vec<&str> = s.finding_codes.iter().map(String::as_str).collect();
                c.sort_unstable();
                c.dedup();
                c
            }
        }
    }
}

/// The period and grouping of a report: `[from_unix, to_unix)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportQuery {
    pub from_unix: i64,
    pub to_unix: i64,
    pub by: GroupBy,
}

/// A count under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

/// The exceptions open now (neither matched nor dismissed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Open {
    pub total: u64,
    pub by_state: Vec<Count>,
    pub by_code: Vec<Count>,
    /// By time since first receipt: `< 1 h`, `< 8 h`, `< 24 h`, `< 3 d`, `older`.
    pub age: Vec<Count>,
}

/// One day of the period (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: String,
    pub arrivals: u64,
    /// Arrivals that were exceptions.
    pub exceptions: u64,
    pub fixes: u64,
    pub dismissals: u64,
    pub resends: u64,
}

/// Time to resolve: first receipt to verified resend (after a fix) or dismissal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolve {
    pub resolved: u64,
    pub by_fix: u64,
    pub by_dismissal: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// The period's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub arrivals: u64,
    pub exceptions: u64,
    /// `exceptions / arrivals` (0 without arrivals).
    pub exception_rate: f64,
    pub fixes: u64,
    pub dismissals: u64,
    pub resends: u64,
    /// Corrections that changed Patient ID.
    pub wrong_patient_corrections: u64,
    /// Resolutions by dismissal among all resolutions (the false-positive share).
    pub dismissal_share: f64,
}

/// One row of the per-group table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    pub arrivals: u64,
    pub exceptions: u64,
    pub exception_rate: f64,
    /// Open now (of every period).
    pub open: u64,
    pub fixes: u64,
    pub dismissals: u64,
    pub wrong_patient_corrections: u64,
    pub resolve: Resolve,
}

/// An IOCM rejection reason and how often it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejections {
    pub code: String,
    pub meaning: String,
    pub count: u64,
}

/// A report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The period, UTC dates, `to` included.
    pub from: String,
    pub to: String,
    pub generated_at: String,
    pub by: GroupBy,
    pub open: Open,
    pub totals: Totals,
    pub resolve: Resolve,
    pub days: Vec<Day>,
    pub rejections: Vec<Rejections>,
    pub groups: Vec<Group>,
}

/// The age buckets' names and upper bounds (seconds).
const AGES: [(&str, i64); 5] = [
    ("< 1 h", 3_600),
    ("< 8 h", 8 * 3_600),
    ("< 24 h", 24 * 3_600),
    ("< 3 d", 3 * 86_400),
    ("older", i64::MAX),
];

/// The UTC date of a Unix time.
pub fn date_of(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

/// Unix time of a `YYYY-MM-DD` (UTC midnight).
pub fn parse_date(s: &str) -> Option<i64> {
    let f = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]").ok()?;
    let d = time::Date::parse(s.trim(), &f).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp())
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Median (the mean of the middle two for an even count) and 90th percentile (nearest rank).
fn quantiles(mut v: Vec<i64>) -> (Option<i64>, Option<i64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_unstable();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    let rank = (9 * n).div_ceil(10).max(1);
    (Some(median), Some(v[rank - 1]))
}

fn resolve_of(times: Vec<(i64, bool)>) -> Resolve {
    let by_dismissal = times.iter().filter(|(_, d)| *d).count() as u64;
    let (median_seconds, p90_seconds) = quantiles(times.iter().map(|(t, _)| *t).collect());
    Resolve {
        resolved: times.len() as u64,
        by_fix: times.len() as u64 - by_dismissal,
        by_dismissal,
        median_seconds,
        p90_seconds,
    }
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn counts(map: BTreeMap<String, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    v
}

/// Computes a report from the store's facts as of `now`.
pub fn report(facts: &ReportFacts, q: &ReportQuery, now: i64) -> Report {
    let within = |t: i64| t >= q.from_unix && t < q.to_unix;
    let mut corrected: HashMap<i64, Vec<&crate::store::CorrectionFact>> = HashMap::new();
    for c in facts.corrections.iter().filter(|c| !c.undone) {
        corrected.entry(c.study_id).or_default().push(c);
    }
    let ever_dismissed: std::collections::HashSet<i64> =
        facts.dismissals.iter().map(|d| d.study_id).collect();
    let is_exception = |s: &StudyFact| {
        s.state != StudyState::Matched
            || corrected.contains_key(&s.id)
            || ever_dismissed.contains(&s.id)
    };
    let is_open = |s: &StudyFact| s.state != StudyState::Matched && !s.dismissed;

    // When each study was resolved: its standing dismissal, else the first verified resend
    // after its last correction (a study that is matched now).
    let mut verified_sends: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for x in &facts.sends {
        if let Some(v) = x.verified_unix {
            verified_sends
                .entry(x.study_id)
                .or_default()
                .push((x.created_unix, v));
        }
    }
    let mut resolution: HashMap<i64, (i64, bool)> = HashMap::new();
    for d in facts.dismissals.iter().filter(|d| !d.reopened) {
        resolution.insert(d.study_id, (d.at_unix, true));
    }
    for s in &facts.studies {
        if resolution.contains_key(&s.id) || s.state != StudyState::Matched {
            continue;
        }
        let Some(last_fix) = corrected
            .get(&s.id)
            .and_then(|c| c.iter().map(|c| c.at_unix).max())
        else {
            continue;
        };
        if let Some(t) = verified_sends
            .get(&s.id)
            .into_iter()
            .flatten()
            .filter(|(created, _)| *created >= last_fix)
            .map(|(_, verified)| *verified)
            .min()
        {
            resolution.insert(s.id, (t, false));
        }
    }
    let first_seen: HashMap<i64, i64> = facts
        .studies
        .iter()
        .map(|s| (s.id, s.first_seen_unix))
        .collect();

    // Open exceptions now.
    let mut open = Open::default();
    let (mut by_state, mut by_code, mut age) =
        (BTreeMap::new(), BTreeMap::new(), vec![0u64; AGES.len()]);
    for s in facts.studies.iter().filter(|s| is_open(s)) {
        open.total += 1;
        *by_state.entry(s.state.as_str().to_string()).or_insert(0) += 1;
        let mut codes: Vec<&String> = s.finding_codes.iter().collect();
        codes.sort_unstable();
        codes.dedup();
        for c in codes {
            *by_code.entry(c.clone()).or_insert(0) += 1;
        }
        let a = now - s.first_seen_unix;
        let bucket = AGES.iter().position(|(_, max)| a < *max).unwrap_or(4);
        age[bucket] += 1;
    }
    open.by_state = counts(by_state);
    open.by_code = counts(by_code);
    open.age = AGES
        .iter()
        .zip(age)
        .map(|((k, _), count)| Count {
            key: k.to_string(),
            count,
        })
        .collect();

    // Per day.
    let day_count = ((q.to_unix - q.from_unix).max(0) / 86_400).min(366);
    let mut days: Vec<Day> = (0..day_count)
        .map(|i| Day {
            date: date_of(q.from_unix + i * 86_400),
            arrivals: 0,
            exceptions: 0,
            fixes: 0,
            dismissals: 0,
            resends: 0,
        })
        .collect();
    let n_days = days.len();
    let day_of = |t: i64| -> Option<usize> {
        within(t)
            .then(|| ((t - q.from_unix) / 86_400) as usize)
            .filter(|&i| i < n_days)
    };
    let mut totals = Totals::default();
    let in_period: Vec<&StudyFact> = facts
        .studies
        .iter()
        .filter(|s| within(s.first_seen_unix))
        .collect();
    for s in &in_period {
        totals.arrivals += 1;
        let e = is_exception(s);
        totals.exceptions += u64::from(e);
        if let Some(i) = day_of(s.first_seen_unix) {
            days[i].arrivals += 1;
            days[i].exceptions += u64::from(e);
        }
    }
    for c in facts
        .corrections
        .iter()
        .filter(|c| !c.undone && within(c.at_unix))
    {
        totals.fixes += 1;
        totals.wrong_patient_corrections += u64::from(c.patient_id_changed);
        if let Some(i) = day_of(c.at_unix) {
            days[i].fixes += 1;
        }
    }
    for d in facts.dismissals.iter().filter(|d| within(d.at_unix)) {
        totals.dismissals += 1;
        if let Some(i) = day_of(d.at_unix) {
            days[i].dismissals += 1;
        }
    }
    for x in facts.sends.iter().filter(|x| within(x.created_unix)) {
        totals.resends += 1;
        if let Some(i) = day_of(x.created_unix) {
            days[i].resends += 1;
        }
    }
    totals.exception_rate = rate(totals.exceptions, totals.arrivals);
    let resolve = resolve_of(
        resolution
            .iter()
            .filter(|(_, (t, _))| within(*t))
            .filter_map(|(id, (t, d))| first_seen.get(id).map(|f| ((t - f).max(0), *d)))
            .collect(),
    );
    totals.dismissal_share = rate(resolve.by_dismissal, resolve.resolved);

    let mut rejections: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in facts.rejections.iter().filter(|r| within(r.at_unix)) {
        *rejections
            .entry((r.code.clone(), r.meaning.clone()))
            .or_insert(0) += 1;
    }

    // Per group: each study's groups (by index) once, then one pass over each kind of event.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<Group> = Vec::new();
    let mut groups_of: HashMap<i64, Vec<usize>> = HashMap::with_capacity(facts.studies.len());
    for s in &facts.studies {
        let mut mine = Vec::with_capacity(1);
        for k in q.by.keys(s) {
            let i = *index.entry(k).or_insert_with(|| {
                rows.push(Group {
                    key: k.to_string(),
                    ..Group::default()
                });
                rows.len() - 1
            });
            let g = &mut rows[i];
            g.open += u64::from(is_open(s));
            if within(s.first_seen_unix) {
                g.arrivals += 1;
                g.exceptions += u64::from(is_exception(s));
            }
            mine.push(i);
        }
        groups_of.insert(s.id, mine);
    }
    let of = |study: i64| groups_of.get(&study).into_iter().flatten().copied();
    for c in facts
        .corrections
        .iter()
        .filter(|c| !c.undone && within(c.at_unix))
    {
        for i in of(c.study_id) {
            rows[i].fixes += 1;
            rows[i].wrong_patient_corrections += u64::from(c.patient_id_changed);
        }
    }
    for d in facts.dismissals.iter().filter(|d| within(d.at_unix)) {
        for i in of(d.study_id) {
            rows[i].dismissals += 1;
        }
    }
    let mut times: Vec<Vec<(i64, bool)>> = vec![Vec::new(); rows.len()];
    for (id, (t, dismissed)) in resolution.iter().filter(|(_, (t, _))| within(*t)) {
        let Some(f) = first_seen.get(id) else {
            continue;
        };
        for i in of(*id) {
            times[i].push(((t - f).max(0), *dismissed));
        }
    }
    let mut groups: Vec<Group> = rows
        .into_iter()
        .zip(times)
        .map(|(mut g, t)| {
            g.exception_rate = rate(g.exceptions, g.arrivals);
            g.resolve = resolve_of(t);
            g
        })
        .collect();
    groups.sort_by(|a, b| a.key.cmp(&b.key));

    Report {
        from: date_of(q.from_unix),
        to: date_of(q.to_unix - 1),
        generated_at: rfc3339(now),
        by: q.by,
        open,
        totals,
        resolve,
        days,
        rejections: rejections
            .into_iter()
            .map(|((code, meaning), count)| Rejections {
                code,
                meaning,
                count,
            })
            .collect(),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_the_usual_ones() {
        assert_eq!(quantiles(vec![]), (None, None));
        assert_eq!(quantiles(vec![5]), (Some(5), Some(5)));
        assert_eq!(quantiles(vec![4, 1, 3, 2]), (Some(2), Some(4)));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(quantiles(v), (Some(5), Some(9)));
        assert_eq!(
            parse_date("2026-11-28").map(date_of).as_deref(),
            Some("2026-11-28")
        );
        assert_eq!(parse_date("28.11.2026"), None);
    }
}
