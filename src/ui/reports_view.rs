//! The Reports view: the period and grouping the user picks, the figures, four plots
//! (arrivals and exceptions per day, open exceptions by age, time to resolve and exception
//! rate per group) and the per-group table. Every bar and the table's counts lead to the
//! queue narrowed to the studies behind them (`Report::members`). The figures come from
//! `reports`, computed off the UI thread.

use egui::RichText;
use egui_plot::{Bar, BarChart, Plot, PlotPoint, Text};

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

/// What a chart's values are, for its axis and its bars' labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Percent,
    Hours,
}

impl Unit {
    fn format(self, v: f64) -> String {
        match self {
            Unit::Count => format!("{v:.0}"),
            Unit::Percent => format!("{v:.0}%"),
            Unit::Hours if v < 10.0 => format!("{v:.1} h"),
            Unit::Hours => format!("{v:.0} h"),
        }
    }
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `x` (at least 1).
fn nice_step(x: f64) -> f64 {
    let x = x.max(1.0);
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= x)
        .unwrap_or(10.0 * p)
}

/// Strong, distinct fills on a light grid (the pale translucent default read as empty).
fn bar_colours(dark: bool) -> (egui::Color32, egui::Color32) {
    if dark {
        (
            egui::Color32::from_rgb(110, 160, 210),
            egui::Color32::from_rgb(230, 140, 50),
        )
    } else {
        (
            egui::Color32::from_rgb(120, 170, 215),
            egui::Color32::from_rgb(205, 100, 20),
        )
    }
}

/// A bar chart with a title: each bar labelled with its value, the value axis fitted to the
/// data from zero (room left above the tallest bar for its label) and ticked in `unit`.
/// `values` are (first, second) per label; the second is drawn over the first when
/// `second`. Returns the index of a bar clicked.
fn chart(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    labels: &[String],
    values: &[(f64, f64)],
    second: bool,
    unit: Unit,
) -> Option<usize> {
    ui.label(RichText::new(title).strong());
    let dark = ui.visuals().dark_mode;
    let (light, strong) = bar_colours(dark);
    let text_colour = ui.visuals().strong_text_color();
    let top = values
        .iter()
        .map(|(a, b)| if second { a.max(*b) } else { *a })
        .fold(0.0f64, f64::max);
    // Nothing to show: say so rather than draw an empty frame with a meaningless axis.
    if top <= 0.0 {
        ui.add_sized(
            [ui.available_width(), 150.0],
            egui::Label::new(RichText::new("Nothing in this period.").weak()),
        );
        return None;
    }
    let ceiling = match unit {
        Unit::Percent => (top * 1.2).min(110.0),
        _ => top * 1.2,
    };
    let bar = |i: usize, l: &String, v: f64, width: f64, fill: egui::Color32| {
        Bar::new(i as f64, v)
            .name(format!("{l}: {}", unit.format(v)))
            .width(width)
            .fill(fill)
            .stroke(egui::Stroke::new(1.0, fill.gamma_multiply(0.8)))
    };
    let first: Vec<Bar> = labels
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (l, (a, _)))| bar(i, l, *a, 0.7, if second { light } else { strong }))
        .collect();
    let labels_x = labels.to_vec();
    let resp = Plot::new(id)
        .height(150.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_axes([true, true])
        .show_grid([false, true])
        .y_axis_min_width(40.0)
        // About four labelled lines from zero to the top: 1, 2 or 5 times a power of ten.
        .y_grid_spacer(egui_plot::uniform_grid_spacer(move |_| {
            let step = nice_step(ceiling / 4.0);
            [step, step * 5.0, step * 10.0]
        }))
        .include_y(0.0)
        .include_y(ceiling)
        .include_x(-0.6)
        .include_x(labels.len() as f64 - 0.4)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                labels_x.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_axis_formatter(move |mark, _| {
            if mark.value < 0.0 {
                String::new()
            } else {
                unit.format(mark.value)
            }
        })
        .show(ui, |p| {
            p.bar_chart(BarChart::new("a", first));
            if second {
                let b: Vec<Bar> = labels
                    .iter()
                    .zip(values)
                    .enumerate()
                    .map(|(i, (l, (_, b)))| bar(i, l, *b, 0.45, strong))
                    .collect();
                p.bar_chart(BarChart::new("b", b));
            }
            // Each bar's value above it (the tallest of a pair, and the pair's second
            // inside when they differ).
            for (i, (a, b)) in values.iter().enumerate() {
                let shown = if second { a.max(*b) } else { *a };
                if shown <= 0.0 {
                    continue;
                }
                let text = if second && b > &0.0 && (a - b).abs() > f64::EPSILON {
                    format!("{} / {}", unit.format(*a), unit.format(*b))
                } else {
                    unit.format(shown)
                };
                p.text(
                    Text::new(
                        format!("v{i}"),
                        PlotPoint::new(i as f64, shown),
                        RichText::new(text).color(text_colour),
                    )
                    .anchor(egui::Align2::CENTER_BOTTOM),
                );
            }
        });
    // Named for screen readers (and the UI tests).
    let name = format!("{title} (chart)");
    resp.response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, &name));
    // Each bar is a button of its own over the plot, named with its label and value: a
    // screen reader lists them, and a click anywhere in the bar's column chooses it.
    let mut chosen = None;
    for (i, (l, (a, b))) in labels.iter().zip(values).enumerate() {
        let column = resp.transform.rect_from_values(
            &PlotPoint::new(i as f64 - 0.4, 0.0),
            &PlotPoint::new(i as f64 + 0.4, ceiling),
        );
        let column = column.intersect(*resp.transform.frame());
        if column.width() <= 0.0 || column.height() <= 0.0 {
            continue;
        }
        let value = if second {
            format!("{} / {}", unit.format(*a), unit.format(*b))
        } else {
            unit.format(*a)
        };
        let bar_name = format!("{title}: {l}: {value}");
        let r = ui
            .interact(column, ui.scope_id().with((id, i)), egui::Sense::click())
            .on_hover_text(format!(
                "{l}: {value}. Click for these studies in the queue."
            ));
        r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &bar_name));
        if r.clicked() {
            chosen = Some(i);
        }
    }
    if chosen.is_none()
        && resp.response.clicked()
        && let Some(pos) = resp.response.interact_pointer_pos()
    {
        let x = resp.transform.value_from_position(pos).x.round();
        if x >= 0.0 && (x as usize) < labels.len() {
            chosen = Some(x as usize);
        }
    }
    chosen
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
                // The axis starts at the first day with arrivals (a week at least): a
                // 30-day period whose studies came in its last 3 days is not squeezed into
                // its right edge.
                let first_day = r
                    .days
                    .iter()
                    .position(|d| d.arrivals > 0)
                    .unwrap_or(0)
                    .min(r.days.len().saturating_sub(7));
                let shown_days = &r.days[first_day..];
                let days: Vec<String> = shown_days
                    .iter()
                    .map(|d| d.date.get(5..).unwrap_or(&d.date).to_string())
                    .collect();
                let per_day: Vec<(f64, f64)> = shown_days
                    .iter()
                    .map(|d| (d.arrivals as f64, d.exceptions as f64))
                    .collect();
                let title = if first_day > 0 {
                    format!(
                        "Arrivals (light) and exceptions (dark) per day, from {} (none before)",
                        shown_days.first().map_or("", |d| d.date.as_str())
                    )
                } else {
                    "Arrivals (light) and exceptions (dark) per day".to_string()
                };
                if let Some(i) = chart(
                    &mut cols[0],
                    "per-day",
                    &title,
                    &days,
                    &per_day,
                    true,
                    Unit::Count,
                ) {
                    let i = first_day + i;
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
                    Unit::Count,
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
                    Unit::Hours,
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
                    Unit::Percent,
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

#[cfg(test)]
mod tests {
    #[test]
    fn steps_are_round() {
        assert_eq!(super::nice_step(0.3), 1.0);
        assert_eq!(super::nice_step(3.0), 5.0);
        assert_eq!(super::nice_step(20.0), 20.0);
        assert_eq!(super::nice_step(21.0), 50.0);
        assert_eq!(super::nice_step(120.0), 200.0);
    }
}
