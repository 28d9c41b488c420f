//! The Reports view: the period and grouping the user picks, the figures, four plots
//! (arrivals and exceptions per day, open exceptions by age, time to resolve and exception
//! rate per group) and the per-group table. Every bar and the table's counts lead to the
//! queue narrowed to the studies behind them (`Report::members`). The figures come from
//! `reports`, computed off the UI thread.

use egui::RichText;
use egui_plot::{Bar, BarChart, Plot};

use super::state::UiCommand;
use crate::reports::{GroupBy, Report, hours};

/// What the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportsView {
    /// The period: this many days up to today.
    pub days: i64,
    pub by: GroupBy,
}

impl Default for ReportsView {
    fn default() -> Self {
        ReportsView {
            days: 30,
            by: GroupBy::Modality,
        }
    }
}

/// A bar chart with a title; returns the index of a bar clicked.
fn chart(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    labels: &[String],
    values: &[(f64, f64)],
    second: bool,
) -> Option<usize> {
    ui.label(RichText::new(title).strong());
    let first: Vec<Bar> = labels
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (l, (a, _)))| Bar::new(i as f64, *a).name(l).width(0.7))
        .collect();
    let labels_x = labels.to_vec();
    let resp = Plot::new(id)
        .height(150.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_axes([true, true])
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                labels_x.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |p| {
            let a = BarChart::new("a", first).color(egui::Color32::from_rgb(158, 202, 225));
            if second {
                let b: Vec<Bar> = labels
                    .iter()
                    .zip(values)
                    .enumerate()
                    .map(|(i, (l, (_, b)))| Bar::new(i as f64, *b).name(l).width(0.5))
                    .collect();
                p.bar_chart(a);
                p.bar_chart(BarChart::new("b", b).color(egui::Color32::from_rgb(49, 130, 189)));
            } else {
                p.bar_chart(a);
            }
        });
    // Named for screen readers (and the UI tests, which click a bar through it).
    let name = format!("{title} (chart)");
    resp.response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, &name));
    if resp.response.clicked()
        && let Some(pos) = resp.response.interact_pointer_pos()
    {
        let x = resp.transform.value_from_position(pos).x.round();
        if x >= 0.0 && (x as usize) < labels.len() {
            return Some(x as usize);
        }
    }
    None
}

/// The view. `report` is the last one computed; `loading` while a new one is.
pub fn reports_ui(
    ui: &mut egui::Ui,
    view: &mut ReportsView,
    report: Option<&Report>,
    loading: bool,
) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let before = *view;
    ui.horizontal(|ui| {
        ui.label("Period:");
        for d in [7, 30, 90, 365] {
            ui.selectable_value(&mut view.days, d, format!("{d} days"));
        }
        ui.separator();
        let label = ui.label("Group by:");
        egui::ComboBox::from_id_salt("report-by")
            .selected_text(view.by.as_str())
            .show_ui(ui, |ui| {
                for g in GroupBy::ALL {
                    ui.selectable_value(&mut view.by, g, g.as_str());
                }
            })
            .response
            .labelled_by(label.id);
        if ui.button("Refresh").clicked() {
            out.push(UiCommand::LoadReport);
        }
        if loading {
            ui.spinner();
        }
    });
    if *view != before {
        out.push(UiCommand::LoadReport);
    }
    let Some(r) = report else {
        ui.label("Computing the report…");
        return out;
    };
    ui.separator();
    let t = &r.totals;
    ui.label(format!(
        "{} to {}: {} arrivals, {} exceptions ({:.1}%), {} fixes, {} wrong-patient corrections, {} dismissed, {} resent; resolved {} (median {}, p90 {}), {:.0}% by dismissal; {} open now",
        r.from,
        r.to,
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
    ));
    let by = r.by;
    let m = &r.members;
    // The studies behind figure `i` of `lists`, as a command for the queue.
    let show = |label: String, lists: &[Vec<i64>], i: usize| {
        UiCommand::ShowStudiesInQueue(label, lists.get(i).cloned().unwrap_or_default())
    };
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show(ui, |ui| {
            ui.columns(2, |cols| {
                let days: Vec<String> = r
                    .days
                    .iter()
                    .map(|d| d.date.get(5..).unwrap_or(&d.date).to_string())
                    .collect();
                let per_day: Vec<(f64, f64)> = r
                    .days
                    .iter()
                    .map(|d| (d.arrivals as f64, d.exceptions as f64))
                    .collect();
                if let Some(i) = chart(
                    &mut cols[0],
                    "per-day",
                    "Arrivals (light) and exceptions (dark) per day",
                    &days,
                    &per_day,
                    true,
                ) {
                    let date = r.days.get(i).map_or("", |d| d.date.as_str());
                    out.push(show(format!("arrivals on {date}"), &m.days, i));
                }
                let ages: Vec<String> = r.open.age.iter().map(|c| c.key.clone()).collect();
                let age_n: Vec<(f64, f64)> =
                    r.open.age.iter().map(|c| (c.count as f64, 0.0)).collect();
                if let Some(i) = chart(
                    &mut cols[1],
                    "ages",
                    "Open exceptions by age",
                    &ages,
                    &age_n,
                    false,
                ) {
                    out.push(show(format!("open, {}", ages[i]), &m.ages, i));
                }
                let keys: Vec<String> = r.groups.iter().map(|g| g.key.clone()).collect();
                let resolve: Vec<(f64, f64)> = r
                    .groups
                    .iter()
                    .map(|g| {
                        (
                            g.resolve.p90_seconds.unwrap_or(0) as f64 / 3600.0,
                            g.resolve.median_seconds.unwrap_or(0) as f64 / 3600.0,
                        )
                    })
                    .collect();
                if let Some(i) = chart(
                    &mut cols[0],
                    "resolve",
                    &format!(
                        "Hours to resolve per {} (p90 light, median dark)",
                        by.as_str()
                    ),
                    &keys,
                    &resolve,
                    true,
                ) {
                    let label = format!("{} {}, arrivals", by.as_str(), keys[i]);
                    out.push(show(label, &m.group_arrivals, i));
                }
                let rates: Vec<(f64, f64)> = r
                    .groups
                    .iter()
                    .map(|g| (g.exception_rate * 100.0, 0.0))
                    .collect();
                if let Some(i) = chart(
                    &mut cols[1],
                    "rates",
                    &format!("Exception rate per {} (%)", by.as_str()),
                    &keys,
                    &rates,
                    false,
                ) {
                    let label = format!("{} {}, arrivals", by.as_str(), keys[i]);
                    out.push(show(label, &m.group_arrivals, i));
                }
            });
            ui.add_space(8.0);
            egui::Grid::new("report-groups")
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        by.as_str(),
                        "arrivals",
                        "exceptions",
                        "rate",
                        "open",
                        "fixes",
                        "dismissed",
                        "wrong patient",
                        "median",
                        "p90",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for (i, g) in r.groups.iter().enumerate() {
                        let name = format!("{} {}", by.as_str(), g.key);
                        if ui
                            .link(&g.key)
                            .on_hover_text("Show this group's arrivals in the queue")
                            .clicked()
                        {
                            out.push(show(format!("{name}, arrivals"), &m.group_arrivals, i));
                        }
                        if ui
                            .link(g.arrivals.to_string())
                            .on_hover_text("Show these studies in the queue")
                            .clicked()
                        {
                            out.push(show(format!("{name}, arrivals"), &m.group_arrivals, i));
                        }
                        for v in [
                            g.exceptions.to_string(),
                            format!("{:.1}%", g.exception_rate * 100.0),
                        ] {
                            ui.label(v);
                        }
                        if ui
                            .link(g.open.to_string())
                            .on_hover_text("Show these open exceptions in the queue")
                            .clicked()
                        {
                            out.push(show(format!("{name}, open"), &m.group_open, i));
                        }
                        for v in [
                            g.fixes.to_string(),
                            g.dismissals.to_string(),
                            g.wrong_patient_corrections.to_string(),
                            hours(g.resolve.median_seconds),
                            hours(g.resolve.p90_seconds),
                        ] {
                            ui.label(v);
                        }
                        ui.end_row();
                    }
                });
        });
    out
}
