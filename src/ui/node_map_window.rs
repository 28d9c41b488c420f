//! The node map window: senders (from the files) on the left, qcdesk in the middle, archives,
//! RIS and other peers on the right (one box per AE title and host), joined by lines whose
//! width follows the studies and whose colour the exception rate, each labelled with its
//! counts, under a legend. Hover a box for its details; click a sender to see its studies in
//! the queue.

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

/// An edge's words, drawn at its middle on a plate so that lines crossing it stay readable.
fn edge_label(painter: &egui::Painter, at: egui::Pos2, text: &str, ui: &egui::Ui) {
    let galley = painter.layout_no_wrap(
        text.to_string(),
        egui::FontId::proportional(super::theme::MIN_TEXT_SIZE),
        ui.visuals().strong_text_color(),
    );
    let rect = egui::Rect::from_center_size(at, galley.size() + egui::vec2(8.0, 4.0));
    painter.rect_filled(rect, 3.0, ui.visuals().window_fill);
    painter.galley(
        rect.min + egui::vec2(4.0, 2.0),
        galley,
        Color32::PLACEHOLDER,
    );
}

/// The legend: what a line's width and colour say.
fn legend_ui(ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Legend:").strong());
        for (rate, words) in [
            (0.0, "no exceptions"),
            (0.25, "25% exceptions"),
            (0.5, "50%"),
            (1.0, "all exceptions"),
        ] {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(28.0, 12.0), egui::Sense::hover());
            ui.painter().line_segment(
                [rect.left_center(), rect.right_center()],
                Stroke::new(4.0, rate_colour(rate)),
            );
            ui.label(words);
        }
        ui.separator();
        ui.label("Sender lines: thicker = more studies; labels: studies · share of exceptions.");
        let (rect, _) = ui.allocate_exact_size(egui::vec2(28.0, 12.0), egui::Sense::hover());
        ui.painter().line_segment(
            [rect.left_center(), rect.right_center()],
            Stroke::new(1.5, Color32::GRAY),
        );
        ui.label("qcdesk ↔ node: associations · instances · failed");
    });
}

pub fn node_map_window_ui(ctx: &egui::Context, w: &mut NodeMapWindow) -> Vec<UiCommand> {
    let mut out = Vec::new();
    let mut open = w.open;
    // The window fits the screen; its map scrolls inside it.
    let screen = ctx.content_rect();
    egui::Window::new("Node map")
        .open(&mut open)
        .default_width(1000.0_f32.min(screen.width() - 80.0))
        .default_height(screen.height() - 140.0)
        .max_height(screen.height() - 100.0)
        .default_pos([40.0, 80.0])
        .show(ctx, |ui| {
            let Some(m) = &w.map else {
                ui.spinner();
                return;
            };
            ui.label(
                "Senders as their files describe them → qcdesk → the nodes it talks to. \
                 Click a sender for its studies; hover a box for details.",
            );
            legend_ui(ui);
            ui.separator();
            egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
                let mut left = Vec::new();
                let mut right = Vec::new();
                let mut middle = None;
                let others = crate::reports::node_map::other_peers(m);
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        if m.senders.is_empty() {
                            ui.label(RichText::new("No sender yet.").weak());
                        }
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
                            left.push((
                                r.rect,
                                s.studies,
                                s.exception_rate,
                                format!(
                                    "{} stud{} · {:.0}%",
                                    s.studies,
                                    if s.studies == 1 { "y" } else { "ies" },
                                    s.exception_rate * 100.0
                                ),
                            ));
                        }
                    });
                    ui.add_space(140.0);
                    ui.vertical(|ui| {
                        ui.add_space(40.0);
                        let r = boxed(
                            ui,
                            &[m.local.ae_title.clone(), format!("qcdesk :{}", m.local.port)],
                            "qcdesk".into(),
                        );
                        middle = Some(r.rect);
                    });
                    ui.add_space(150.0);
                    ui.vertical(|ui| {
                        let counts = |p: Option<&crate::store::PeerCounts>| match p {
                            Some(p) => format!(
                                "{} assoc · {} inst{}",
                                p.ae.associations,
                                p.instances,
                                if p.failures > 0 {
                                    format!(" · {} failed", p.failures)
                                } else {
                                    String::new()
                                }
                            ),
                            None => "not contacted".to_string(),
                        };
                        for n in &m.nodes {
                            let peer = crate::reports::node_map::node_peer(m, n);
                            let r = boxed(
                                ui,
                                &[
                                    n.name.clone(),
                                    format!("{}@{}:{}", n.ae_title, n.host, n.port),
                                    format!("{:?}", n.role).to_lowercase(),
                                ],
                                match peer {
                                    Some(p) => format!(
                                        "configured node; last met {}",
                                        crate::text::local_time(&p.ae.last_seen)
                                    ),
                                    None => "configured node, not contacted yet".into(),
                                },
                            );
                            right.push((r.rect, counts(peer), peer.is_some_and(|p| p.failures > 0)));
                        }
                        for p in &others {
                            let r = boxed(
                                ui,
                                &[
                                    p.ae.ae_title.clone(),
                                    p.ae.address.clone(),
                                    format!("impl {}", p.ae.implementation_version),
                                ],
                                format!(
                                    "{} associations, {} instances, {} failed; last {}",
                                    p.ae.associations,
                                    p.instances,
                                    p.failures,
                                    crate::text::local_time(&p.ae.last_seen)
                                ),
                            );
                            right.push((r.rect, counts(Some(p)), p.failures > 0));
                        }
                    });
                });
                let Some(mid) = middle else {
                    return;
                };
                let painter = ui.painter().clone();
                for (rect, studies, rate, _) in &left {
                    let width = 1.0 + (1.0 + (*studies).max(0) as f32).ln();
                    painter.line_segment(
                        [rect.right_center(), mid.left_center()],
                        Stroke::new(width, rate_colour(*rate)),
                    );
                }
                for (rect, _, failed) in &right {
                    let colour = if *failed {
                        rate_colour(1.0)
                    } else {
                        Color32::GRAY
                    };
                    painter.line_segment(
                        [mid.right_center(), rect.left_center()],
                        Stroke::new(1.5, colour),
                    );
                }
                // Labels after every line, so that no line crosses a label.
                for (rect, _, _, text) in &left {
                    let at = rect.right_center().lerp(mid.left_center(), 0.45);
                    edge_label(&painter, at, text, ui);
                }
                for (rect, text, _) in &right {
                    let at = mid.right_center().lerp(rect.left_center(), 0.55);
                    edge_label(&painter, at, text, ui);
                }
            });
        });
    w.open = open;
    out
}
