//! `report`: exception KPIs over a period, as text, JSON, CSV files or an HTML page.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::output;
use crate::reports::{self, GroupBy, ReportQuery};
use crate::store::Store;

/// `qcdesk report [--from DATE] [--to DATE] [--by G] [--json | --csv DIR | --html FILE]`.
pub fn report(
    store: &Store,
    from: Option<&str>,
    to: Option<&str>,
    by: &str,
    json: bool,
    csv: Option<PathBuf>,
    html: Option<PathBuf>,
) -> Result<()> {
    let Some(by) = GroupBy::parse(by) else {
        bail!(
            "--by '{by}': one of {}",
            GroupBy::ALL.map(|g| g.as_str()).join(", ")
        );
    };
    let (_, now) = crate::fsutil::now();
    let date = |s: &str, what: &str| {
        reports::parse_date(s)
            .ok_or_else(|| anyhow::anyhow!("{what} '{s}' is not a date in YYYY-MM-DD form"))
    };
    // `--to` is the last day included.
    let to_unix = match to {
        Some(s) => date(s, "--to")? + 86_400,
        None => reports::parse_date(&reports::date_of(now)).unwrap_or(now) + 86_400,
    };
    let from_unix = match from {
        Some(s) => date(s, "--from")?,
        None => to_unix - 30 * 86_400,
    };
    if from_unix >= to_unix {
        bail!("--from must come before --to");
    }
    if to_unix - from_unix > 366 * 86_400 {
        bail!("a report covers at most 366 days");
    }
    let facts = store.report_facts(by)?;
    let r = reports::report(
        &facts,
        &ReportQuery {
            from_unix,
            to_unix,
            by,
        },
        now,
    );
    if let Some(file) = html {
        let page = reports::html::render(&r);
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        crate::fsutil::write_atomic(dir, &file, page.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        println!("{}", file.display());
        return Ok(());
    }
    if let Some(dir) = csv {
        let files = reports::export::write_csv(&r, &dir)?;
        if json {
            return output::print_json(&files);
        }
        for f in files {
            println!("{}", f.display());
        }
        return Ok(());
    }
    if json {
        return output::print_json(&r);
    }
    let t = &r.totals;
    let age = |s: Option<i64>| s.map_or("—".to_string(), crate::fsutil::human_age);
    println!("{} to {}", r.from, r.to);
    println!(
        "  arrivals {}  exceptions {} ({:.1}%)  fixes {}  dismissals {}  resends {}  wrong-patient corrections {}",
        t.arrivals,
        t.exceptions,
        t.exception_rate * 100.0,
        t.fixes,
        t.dismissals,
        t.resends,
        t.wrong_patient_corrections
    );
    println!(
        "  resolved {} (median {}, p90 {}), {:.1}% by dismissal",
        r.resolve.resolved,
        age(r.resolve.median_seconds),
        age(r.resolve.p90_seconds),
        t.dismissal_share * 100.0
    );
    println!(
        "  open now {}: {}",
        r.open.total,
        r.open
            .age
            .iter()
            .map(|c| format!("{} {}", c.key, c.count))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("by {}:", by.as_str());
    for g in &r.groups {
        println!(
            "  {:<24} arrivals {:>5}  exceptions {:>5} ({:>5.1}%)  open {:>4}  fixes {:>4}  dismissed {:>4}",
            g.key,
            g.arrivals,
            g.exceptions,
            g.exception_rate * 100.0,
            g.open,
            g.fixes,
            g.dismissals
        );
    }
    for x in &r.rejections {
        println!("  rejected {} {}: {}", x.code, x.meaning, x.count);
    }
    Ok(())
}

/// `qcdesk nodes [--json | --dot FILE | --svg FILE]`: every DICOM node qcdesk has met.
pub fn nodes(store: &Store, json: bool, dot: Option<PathBuf>, svg: Option<PathBuf>) -> Result<()> {
    use crate::reports::node_map::{node_map, to_dot, to_svg};
    let m = node_map(store)?;
    let write = |file: &PathBuf, text: String| -> Result<()> {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        crate::fsutil::write_atomic(dir, file, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        println!("{}", file.display());
        Ok(())
    };
    if let Some(f) = &dot {
        write(f, to_dot(&m))?;
    }
    if let Some(f) = &svg {
        write(f, to_svg(&m))?;
    }
    if dot.is_some() || svg.is_some() {
        return Ok(());
    }
    if json {
        return output::print_json(&m);
    }
    println!("{} (port {})", m.local.ae_title, m.local.port);
    println!("senders (from the files):");
    for s in &m.senders {
        println!(
            "  {:<16} {:<12} {} {} software '{}' impl '{}' ({})  {} studies, {} instances, {:.0}% exceptions",
            s.source_ae,
            s.station_name,
            s.manufacturer,
            s.model,
            s.software_versions,
            s.implementation_version,
            s.implementation_class_uid,
            s.studies,
            s.instances,
            s.exception_rate * 100.0
        );
    }
    println!("network peers:");
    for p in &m.peers {
        println!(
            "  {:<16} {:<21} impl '{}' ({})  {} associations, {} instances, {} failed, last {}",
            p.ae.ae_title,
            p.ae.address,
            p.ae.implementation_version,
            p.ae.implementation_class_uid,
            p.ae.associations,
            p.instances,
            p.failures,
            p.ae.last_seen
        );
    }
    println!("configured nodes:");
    for n in &m.nodes {
        println!(
            "  {:<12} {}@{}:{} {:?}",
            n.name, n.ae_title, n.host, n.port, n.role
        );
    }
    Ok(())
}
