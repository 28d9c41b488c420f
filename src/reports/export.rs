//! A report as CSV files, one table each (columns in docs/cli.md), written durably.

use std::path::{Path, PathBuf};

use super::{Count, Report};

fn table(rows: Vec<Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

fn counts(header: &str, c: &[Count]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![header.to_string(), "count".to_string()]];
    rows.extend(c.iter().map(|c| vec![c.key.clone(), c.count.to_string()]));
    rows
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The tables of a report: (file name, rows with a header first).
pub fn tables(r: &Report) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let t = &r.totals;
    let summary = vec![
        vec!["metric".into(), "value".into()],
        vec!["from".into(), r.from.clone()],
        vec!["to".into(), r.to.clone()],
        vec!["generated_at".into(), r.generated_at.clone()],
        vec!["arrivals".into(), t.arrivals.to_string()],
        vec!["exceptions".into(), t.exceptions.to_string()],
        vec!["exception_rate".into(), format!("{:.4}", t.exception_rate)],
        vec!["fixes".into(), t.fixes.to_string()],
        vec!["dismissals".into(), t.dismissals.to_string()],
        vec!["resends".into(), t.resends.to_string()],
        vec![
            "wrong_patient_corrections".into(),
            t.wrong_patient_corrections.to_string(),
        ],
        vec![
            "dismissal_share".into(),
            format!("{:.4}", t.dismissal_share),
        ],
        vec!["open".into(), r.open.total.to_string()],
        vec!["resolved".into(), r.resolve.resolved.to_string()],
        vec![
            "median_resolve_seconds".into(),
            opt(r.resolve.median_seconds),
        ],
        vec!["p90_resolve_seconds".into(), opt(r.resolve.p90_seconds)],
    ];
    let mut days = vec![
        [
            "date",
            "arrivals",
            "exceptions",
            "fixes",
            "dismissals",
            "resends",
        ]
        .map(String::from)
        .to_vec(),
    ];
    days.extend(r.days.iter().map(|d| {
        vec![
            d.date.clone(),
            d.arrivals.to_string(),
            d.exceptions.to_string(),
            d.fixes.to_string(),
            d.dismissals.to_string(),
            d.resends.to_string(),
        ]
    }));
    let mut groups = vec![
        [
            r.by.as_str(),
            "arrivals",
            "exceptions",
            "exception_rate",
            "open",
            "fixes",
            "dismissals",
            "wrong_patient_corrections",
            "resolved",
            "median_resolve_seconds",
            "p90_resolve_seconds",
        ]
        .map(String::from)
        .to_vec(),
    ];
    groups.extend(r.groups.iter().map(|g| {
        vec![
            g.key.clone(),
            g.arrivals.to_string(),
            g.exceptions.to_string(),
            format!("{:.4}", g.exception_rate),
            g.open.to_string(),
            g.fixes.to_string(),
            g.dismissals.to_string(),
            g.wrong_patient_corrections.to_string(),
            g.resolve.resolved.to_string(),
            opt(g.resolve.median_seconds),
            opt(g.resolve.p90_seconds),
        ]
    }));
    let mut rejections = vec![["code", "meaning", "count"].map(String::from).to_vec()];
    rejections.extend(
        r.rejections
            .iter()
            .map(|x| vec![x.code.clone(), x.meaning.clone(), x.count.to_string()]),
    );
    vec![
        ("summary.csv", summary),
        ("open_by_state.csv", counts("state", &r.open.by_state)),
        ("open_by_code.csv", counts("code", &r.open.by_code)),
        ("open_age.csv", counts("age", &r.open.age)),
        ("days.csv", days),
        ("groups.csv", groups),
        ("rejections.csv", rejections),
    ]
}

/// Writes the report's tables into `dir` (made if missing); returns the files written.
pub fn write_csv(r: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (name, rows) in tables(r) {
        let bytes = table(rows).map_err(std::io::Error::other)?;
        let path = dir.join(name);
        crate::fsutil::write_atomic(dir, &path, &bytes)?;
        out.push(path);
    }
    Ok(out)
}
