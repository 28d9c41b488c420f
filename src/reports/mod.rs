//! Reports for administration: exception KPIs over a period, computed from the store's facts
//! ([`ReportFacts`]) and a clock given by the caller (tests pass a fixed one). Open exceptions
//! by state, finding code and age; arrivals, fixes, dismissals and resends per day; time to
//! resolve (first receipt to verified resend or dismissal); wrong-patient corrections; IOCM
//! rejections by reason; all of it per modality, station, source AE, implementation version or
//! finding code. Knows nothing of the UI; `export` writes CSV, `html` the page for meetings.

pub mod export;
mod figures;
pub mod html;
pub mod node_map;

use std::collections::{BTreeMap, HashMap};

pub use figures::*;

pub use crate::model::GroupBy;
use crate::model::StudyState;
use crate::store::{ReportFacts, StudyFact};

impl GroupBy {
    /// Calls `f` with each group key of a study (once each).
    fn for_each_key<'a>(self, s: &'a StudyFact, mut f: impl FnMut(&'a str)) {
        fn one(v: &str) -> &str {
            if v.trim().is_empty() {
                "(unknown)"
            } else {
                v.trim()
            }
        }
        match self {
            GroupBy::Modality => f(one(&s.modality)),
            GroupBy::Station => f(one(&s.station)),
            GroupBy::Source => f(one(&s.source)),
            GroupBy::Version => f(one(&s.implementation_version)),
            GroupBy::Code if s.finding_codes.is_empty() => f("(none)"),
            GroupBy::Code => {
                let mut c: Vec<&str> = s.finding_codes.iter().map(String::as_str).collect();
                c.sort_unstable();
                c.dedup();
                c.into_iter().for_each(f);
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

/// A time to resolve for people: "2.5 h", or "—" when there is none.
pub fn hours(seconds: Option<i64>) -> String {
    seconds.map_or("—".into(), |s| format!("{:.1} h", s as f64 / 3600.0))
}

/// Unix time of a `YYYY-MM-DD` (UTC midnight).
pub fn parse_date(s: &str) -> Option<i64> {
    let f = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]").ok()?;
    let d = time::Date::parse(s.trim(), &f).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp())
}

use crate::fsutil::rfc3339;

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

fn counts(map: BTreeMap<&str, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(key, count)| Count {
            key: key.to_string(),
            count,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    v
}

/// Where each study is in the facts' list, by id: binary search when the list is sorted by id
/// (as the store reads it), else a map. Per-study tables are then plain vectors.
enum Positions {
    Sorted(Vec<i64>),
    Map(HashMap<i64, usize>),
}

impl Positions {
    fn new(studies: &[StudyFact]) -> Positions {
        let ids: Vec<i64> = studies.iter().map(|s| s.id).collect();
        if ids.windows(2).all(|w| w[0] < w[1]) {
            Positions::Sorted(ids)
        } else {
            Positions::Map(ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect())
        }
    }

    fn of(&self, id: i64) -> Option<usize> {
        match self {
            Positions::Sorted(ids) => ids.binary_search(&id).ok(),
            Positions::Map(m) => m.get(&id).copied(),
        }
    }
}

/// Two lists of study ids.
type Ids2 = (Vec<i64>, Vec<i64>);

/// Computes a report from the store's facts as of `now`.
pub fn report(facts: &ReportFacts, q: &ReportQuery, now: i64) -> Report {
    let within = |t: i64| t >= q.from_unix && t < q.to_unix;
    let studies = &facts.studies;
    let positions = Positions::new(studies);
    // Per study (by position): the time of its last standing correction, whether it was ever
    // dismissed.
    let mut last_fix: Vec<Option<i64>> = vec![None; studies.len()];
    for c in facts.corrections.iter().filter(|c| !c.undone) {
        if let Some(p) = positions.of(c.study_id) {
            last_fix[p] = Some(last_fix[p].map_or(c.at_unix, |t| t.max(c.at_unix)));
        }
    }
    let mut ever_dismissed = vec![false; studies.len()];
    for d in &facts.dismissals {
        if let Some(p) = positions.of(d.study_id) {
            ever_dismissed[p] = true;
        }
    }
    let is_exception = |p: usize| {
        studies[p].state != StudyState::Matched || last_fix[p].is_some() || ever_dismissed[p]
    };
    let is_open = |s: &StudyFact| s.state != StudyState::Matched && !s.dismissed;

    // When each study was resolved: its standing dismissal, else the first verified resend
    // after its last correction (a study that is matched now).
    let mut resolution: Vec<Option<(i64, bool)>> = vec![None; studies.len()];
    for d in facts.dismissals.iter().filter(|d| !d.reopened) {
        if let Some(p) = positions.of(d.study_id) {
            resolution[p] = Some((d.at_unix, true));
        }
    }
    let mut resent: Vec<Option<i64>> = vec![None; studies.len()];
    for x in &facts.sends {
        let (Some(verified), Some(p)) = (x.verified_unix, positions.of(x.study_id)) else {
            continue;
        };
        if last_fix[p].is_some_and(|fix| x.created_unix >= fix) {
            resent[p] = Some(resent[p].map_or(verified, |t| t.min(verified)));
        }
    }
    for (p, s) in studies.iter().enumerate() {
        if resolution[p].is_none() && s.state == StudyState::Matched {
            resolution[p] = resent[p].map(|t| (t, false));
        }
    }
    // (position, seconds to resolve, by dismissal) of the resolutions within the period.
    let resolved: Vec<(usize, i64, bool)> = resolution
        .iter()
        .enumerate()
        .filter_map(|(p, r)| {
            let (t, d) = (*r)?;
            within(t).then(|| (p, (t - studies[p].first_seen_unix).max(0), d))
        })
        .collect();

    // Open exceptions now.
    let mut open = Open::default();
    let (mut by_state, mut by_code, mut age) = (
        BTreeMap::<&str, u64>::new(),
        BTreeMap::<&str, u64>::new(),
        vec![0u64; AGES.len()],
    );
    let mut codes: Vec<&str> = Vec::new();
    let mut members = Members {
        ages: vec![Vec::new(); AGES.len()],
        ..Members::default()
    };
    for s in studies.iter().filter(|s| is_open(s)) {
        open.total += 1;
        *by_state.entry(s.state.as_str()).or_insert(0) += 1;
        codes.clear();
        codes.extend(s.finding_codes.iter().map(String::as_str));
        codes.sort_unstable();
        codes.dedup();
        for c in &codes {
            *by_code.entry(c).or_insert(0) += 1;
        }
        let a = now - s.first_seen_unix;
        let bucket = AGES.iter().position(|(_, max)| a < *max).unwrap_or(4);
        age[bucket] += 1;
        members.ages[bucket].push(s.id);
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
    members.days = vec![Vec::new(); n_days];
    let day_of = |t: i64| -> Option<usize> {
        within(t)
            .then(|| ((t - q.from_unix) / 86_400) as usize)
            .filter(|&i| i < n_days)
    };
    let mut totals = Totals::default();
    for (p, s) in studies.iter().enumerate() {
        if !within(s.first_seen_unix) {
            continue;
        }
        totals.arrivals += 1;
        let e = is_exception(p);
        totals.exceptions += u64::from(e);
        if let Some(i) = day_of(s.first_seen_unix) {
            days[i].arrivals += 1;
            members.days[i].push(s.id);
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
    let resolve = resolve_of(resolved.iter().map(|&(_, t, d)| (t, d)).collect());
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
    // Per row: (its arrivals in the period, its open exceptions).
    let mut row_members: Vec<Ids2> = Vec::new();
    // The groups of the study at position p: group_of[starts[p]..starts[p + 1]].
    let (mut group_of, mut starts) = (
        Vec::with_capacity(studies.len()),
        Vec::with_capacity(studies.len() + 1),
    );
    for (p, s) in studies.iter().enumerate() {
        starts.push(group_of.len());
        let (open_now, arrived) = (is_open(s), within(s.first_seen_unix));
        let exception = arrived && is_exception(p);
        q.by.for_each_key(s, |k| {
            let i = *index.entry(k).or_insert_with(|| {
                rows.push(Group {
                    key: k.to_string(),
                    ..Group::default()
                });
                row_members.push((Vec::new(), Vec::new()));
                rows.len() - 1
            });
            let g = &mut rows[i];
            g.open += u64::from(open_now);
            g.arrivals += u64::from(arrived);
            g.exceptions += u64::from(exception);
            if arrived {
                row_members[i].0.push(s.id);
            }
            if open_now {
                row_members[i].1.push(s.id);
            }
            group_of.push(i);
        });
    }
    starts.push(group_of.len());
    let of = |study: i64| {
        positions
            .of(study)
            .map(|p| &group_of[starts[p]..starts[p + 1]])
            .unwrap_or_default()
            .iter()
            .copied()
    };
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
    for &(p, t, dismissed) in &resolved {
        for &i in &group_of[starts[p]..starts[p + 1]] {
            times[i].push((t, dismissed));
        }
    }
    let mut groups: Vec<(Group, Ids2)> = rows
        .into_iter()
        .zip(times)
        .map(|(mut g, t)| {
            g.exception_rate = rate(g.exceptions, g.arrivals);
            g.resolve = resolve_of(t);
            g
        })
        .zip(row_members)
        .collect();
    groups.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    let (groups, group_members): (Vec<Group>, Vec<_>) = groups.into_iter().unzip();
    (members.group_arrivals, members.group_open) = group_members.into_iter().unzip();

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
        members,
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
