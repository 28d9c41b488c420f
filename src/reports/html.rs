//! A report as one self-contained HTML page for the monthly meeting: the figures, four charts
//! drawn as inline SVG (arrivals and exceptions per day, the age of open exceptions, time to
//! resolve per group, exception rate per group), and the tables. No script, font, image or
//! style sheet is fetched; it prints on A4 or Letter.

use std::fmt::Write as _;

use super::{Count, Report, hours};

/// Escapes text for HTML (station names and AE titles come from the files).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const W: f64 = 640.0;
const H: f64 = 200.0;

/// A bar chart: one or two series per label (the second drawn darker over the first).
fn bars(title: &str, labels: &[String], a: &[f64], b: Option<&[f64]>, unit: &str) -> String {
    let max = a
        .iter()
        .chain(b.unwrap_or(&[]))
        .fold(0.0f64, |m, v| m.max(*v))
        .max(1e-9);
    let n = labels.len().max(1) as f64;
    let (left, bottom, top) = (40.0, 40.0, 24.0);
    let slot = (W - left - 10.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let scale = (H - bottom - top) / max;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure><figcaption>{}</figcaption><svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="gray"/><text x="4" y="{t}" font-size="10">{max}{unit}</text>"#,
        y = H - bottom,
        x2 = W - 10.0,
        t = top + 4.0,
        max = fmt_num(max),
        unit = esc(unit)
    );
    for (i, label) in labels.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar) / 2.0;
        let mut draw = |v: f64, class: &str| {
            let h = v * scale;
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}"><title>{}: {}{}</title></rect>"#,
                H - bottom - h,
                esc(label),
                fmt_num(v),
                esc(unit)
            );
        };
        draw(a[i], "a");
        if let Some(b) = b {
            draw(b[i], "b");
        }
        // Labels, thinned out when many.
        let every = (labels.len() / 12).max(1);
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="9" transform="rotate(30 {:.1} {:.1})">{}</text>"#,
                x,
                H - bottom + 12.0,
                x,
                H - bottom + 12.0,
                esc(label)
            );
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

fn fmt_num(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn count_table(title: &str, head: &str, rows: &[Count]) -> String {
    let mut t = format!(
        "<h3>{}</h3><table><tr><th>{}</th><th>count</th></tr>",
        esc(title),
        esc(head)
    );
    for c in rows {
        let _ = write!(t, "<tr><td>{}</td><td>{}</td></tr>", esc(&c.key), c.count);
    }
    t.push_str("</table>");
    t
}

/// The page.
pub fn render(r: &Report) -> String {
    let t = &r.totals;
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>qcdesk exception report {from} to {to}</title>
<style>
@page {{ size: A4; margin: 15mm; }}
body {{ font-family: sans-serif; font-size: 11pt; color: #111; max-width: 180mm; margin: auto; }}
h1 {{ font-size: 16pt; }} h2 {{ font-size: 13pt; margin-top: 1.2em; }} h3 {{ font-size: 11pt; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
td, th {{ border: 1px solid #bbb; padding: 2px 6px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
figure {{ margin: 0.8em 0; break-inside: avoid; }} figcaption {{ font-weight: bold; }}
rect.a {{ fill: #9ecae1; }} rect.b {{ fill: #3182bd; }}
section {{ break-inside: avoid; }}
</style></head><body>
<h1>Exception report {from} to {to}</h1>
<p>Generated {gen} by qcdesk, grouped by {by}.</p>"#,
        from = esc(&r.from),
        to = esc(&r.to),
        gen = esc(&r.generated_at),
        by = r.by.as_str()
    );
    let _ = write!(
        h,
        "<section><h2>Summary</h2><table>\
         <tr><td>Arrivals</td><td>{}</td></tr>\
         <tr><td>Exceptions</td><td>{} ({:.1}%)</td></tr>\
         <tr><td>Fixes</td><td>{}</td></tr>\
         <tr><td>Wrong-patient corrections</td><td>{}</td></tr>\
         <tr><td>Dismissals</td><td>{}</td></tr>\
         <tr><td>Resends</td><td>{}</td></tr>\
         <tr><td>Resolved</td><td>{} (median {}, p90 {})</td></tr>\
         <tr><td>Resolved by dismissal</td><td>{:.1}%</td></tr>\
         <tr><td>Open now</td><td>{}</td></tr></table></section>",
        t.arrivals,
        t.exceptions,
        t.exception_rate * 100.0,
        t.fixes,
        t.wrong_patient_corrections,
        t.dismissals,
        t.resends,
        r.resolve.resolved,
        hours(r.resolve.median_seconds),
        hours(r.resolve.p90_seconds),
        t.dismissal_share * 100.0,
        r.open.total
    );
    h.push_str("<section><h2>Charts</h2>");
    let days: Vec<String> = r.days.iter().map(|d| d.date.clone()).collect();
    let arrivals: Vec<f64> = r.days.iter().map(|d| d.arrivals as f64).collect();
    let exceptions: Vec<f64> = r.days.iter().map(|d| d.exceptions as f64).collect();
    h.push_str(&bars(
        "Arrivals (light) and exceptions (dark) per day",
        &days,
        &arrivals,
        Some(&exceptions),
        "",
    ));
    let ages: Vec<String> = r.open.age.iter().map(|c| c.key.clone()).collect();
    let age_n: Vec<f64> = r.open.age.iter().map(|c| c.count as f64).collect();
    h.push_str(&bars("Open exceptions by age", &ages, &age_n, None, ""));
    let keys: Vec<String> = r.groups.iter().map(|g| g.key.clone()).collect();
    let median: Vec<f64> = r
        .groups
        .iter()
        .map(|g| g.resolve.median_seconds.unwrap_or(0) as f64 / 3600.0)
        .collect();
    let p90: Vec<f64> = r
        .groups
        .iter()
        .map(|g| g.resolve.p90_seconds.unwrap_or(0) as f64 / 3600.0)
        .collect();
    h.push_str(&bars(
        &format!(
            "Time to resolve per {} (p90 light, median dark)",
            r.by.as_str()
        ),
        &keys,
        &p90,
        Some(&median),
        " h",
    ));
    let mut by_rate: Vec<&super::Group> = r.groups.iter().filter(|g| g.arrivals > 0).collect();
    by_rate.sort_by(|a, b| b.exception_rate.total_cmp(&a.exception_rate));
    by_rate.truncate(15);
    h.push_str(&bars(
        &format!("Exception rate per {}, highest first", r.by.as_str()),
        &by_rate.iter().map(|g| g.key.clone()).collect::<Vec<_>>(),
        &by_rate
            .iter()
            .map(|g| g.exception_rate * 100.0)
            .collect::<Vec<_>>(),
        None,
        " %",
    ));
    h.push_str("</section>");
    let _ = write!(
        h,
        "<section><h2>Per {}</h2><table><tr><th>{}</th><th>arrivals</th><th>exceptions</th><th>rate</th>\
         <th>open</th><th>fixes</th><th>dismissals</th><th>wrong patient</th><th>resolved</th>\
         <th>median</th><th>p90</th></tr>",
        r.by.as_str(),
        r.by.as_str()
    );
    for g in &r.groups {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.key),
            g.arrivals,
            g.exceptions,
            g.exception_rate * 100.0,
            g.open,
            g.fixes,
            g.dismissals,
            g.wrong_patient_corrections,
            g.resolve.resolved,
            hours(g.resolve.median_seconds),
            hours(g.resolve.p90_seconds)
        );
    }
    h.push_str("</table></section><section><h2>Open exceptions</h2>");
    h.push_str(&count_table("By state", "state", &r.open.by_state));
    h.push_str(&count_table("By finding", "code", &r.open.by_code));
    h.push_str("</section><section><h2>Rejections (IOCM)</h2><table><tr><th>code</th><th>reason</th><th>count</th></tr>");
    for x in &r.rejections {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.code),
            esc(&x.meaning),
            x.count
        );
    }
    h.push_str("</table></section></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_files_is_escaped() {
        assert_eq!(esc("<CT&1 \"a\">"), "&lt;CT&amp;1 &quot;a&quot;&gt;");
    }
}
