//! The node map window: senders (from the files) on the left, qcdesk in the middle, archives,
//! RIS and other peers on the right, joined by lines whose width follows the studies and
//! whose colour the exception rate. Hover a box for its details; click a sender to see its
//! studies in the queue.

use egui::{Color32, RichText, Stroke};

use super::state::UiCommand;
use crate::reports::node_map::NodeMap;

/// The window's state: open or not, and the map as last loaded.
#[derive(Debug, Default)]
pub struct NodeMapWindow {
    pub open: bool,
    pub map: Option<NodeMap>,
}

fn rate_colour(rate: f64) -> Color32 {
    let r = rate.clamp(0.0, 1.0);
    Color32::from_rgb(
        (40.0 + 200.0 * r) as u8,
        (160.0 * (1.0 - r) + 40.0) as u8,
        60,
    )
}

fn boxed(ui: &mut egui::Ui, lines: &[String], hover: String) -> egui::Response {
    egui::Frame::group(ui.style())
        .show(ui, |ui| {
            ui.set_width(200.0);
            for (i, l) in lines.iter().enumerate() {
                let text = if i == 0 {
                    RichText::new(l).strong()
                } else {
                    RichText::new(l).small()
                };
                // Not selectable: a click on the text is a click on the box.
                ui.add(egui::Label::new(text).selectable(false));
            }
        })
        .response
        .interact(egui::Sense::click())
        .on_hover_text(hover)
}

pub fn node_map_window_ui(ctx: &egui::Context, w: &mut NodeMapWindow) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let mut open = w.open;
    egui::Window::new("Node map")
        .open(&mut open)
        .default_width(760.0)
        .default_pos([60.0, 90.0])
        .show(ctx, |ui| {
            let Some(m) = &w.map else {
                ui.spinner();
                return;
            };
            ui.label(
                "Senders as their files describe them → qcdesk → the nodes it talks to. \
                 Line width: studies; colour: share of exceptions. Click a sender for its studies.",
            );
            egui::ScrollArea::both().max_height(520.0).show(ui, |ui| {
                let mut left = Vec::new();
                let mut right = Vec::new();
                let mut middle = None;
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        for s in &m.senders {
                            let mut lines = vec![if s.source_ae.is_empty() {
                                "?".to_string()
                            } else {
                                s.source_ae.clone()
                            }];
                            if !s.station_name.is_empty() {
                                lines.push(format!("station {}", s.station_name));
                            }
                            lines.push(format!("{} {}", s.manufacturer, s.model).trim().to_string());
                            lines.push(format!("software {}", s.software_versions));
                            lines.push(format!("impl {}", s.implementation_version));
                            let hover = format!(
                                "{} studies, {} instances, {} exceptions ({:.0}%)\nImplementation Class UID {}",
                                s.studies,
                                s.instances,
                                s.exceptions,
                                s.exception_rate * 100.0,
                                s.implementation_class_uid
                            );
                            let r = boxed(ui, &lines, hover);
                            if r.clicked() && !s.source_ae.is_empty() {
                                out.push(UiCommand::ShowGroupInQueue(
                                    crate::reports::GroupBy::Source,
                                    s.source_ae.clone(),
                                ));
                            }
                            left.push((r.rect, s.studies, s.exception_rate));
                        }
                    });
                    ui.add_space(80.0);
                    ui.vertical(|ui| {
                        ui.add_space(40.0);
                        let r = boxed(
                            ui,
                            &[m.local.ae_title.clone(), format!("qcdesk :{}", m.local.port)],
                            "qcdesk".into(),
                        );
                        middle = Some(r.rect);
                    });
                    ui.add_space(80.0);
                    ui.vertical(|ui| {
                        for n in &m.nodes {
                            let r = boxed(
                                ui,
                                &[
                                    n.name.clone(),
                                    format!("{}@{}:{}", n.ae_title, n.host, n.port),
                                    format!("{:?}", n.role).to_lowercase(),
                                ],
                                "configured node".into(),
                            );
                            right.push(r.rect);
                        }
                        for p in &m.peers {
                            let r = boxed(
                                ui,
                                &[
                                    p.ae.ae_title.clone(),
                                    p.ae.address.clone(),
                                    format!("impl {}", p.ae.implementation_version),
                                ],
                                format!(
                                    "{} associations, {} instances, {} failed; last {}",
                                    p.ae.associations, p.instances, p.failures, p.ae.last_seen
                                ),
                            );
                            right.push(r.rect);
                        }
                    });
                });
                let Some(mid) = middle else {
                    return;
                };
                let painter = ui.painter();
                for (rect, studies, rate) in left {
                    let width = 1.0 + (1.0 + studies.max(0) as f32).ln();
                    painter.line_segment(
                        [rect.right_center(), mid.left_center()],
                        Stroke::new(width, rate_colour(rate)),
                    );
                }
                for rect in right {
                    painter.line_segment(
                        [mid.right_center(), rect.left_center()],
                        Stroke::new(1.0, Color32::GRAY),
                    );
                }
            });
        });
    w.open = open;
    out
}
