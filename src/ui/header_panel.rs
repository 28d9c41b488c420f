//! The viewer's header panel: every attribute of the current instance (file meta group, then
//! the data set), searchable by tag, keyword or value, sequences expandable item by item.

use egui::RichText;

use super::images::Images;
use crate::dicom::dump::{Dump, Node};

/// Rows drawn at most while searching (a refined search shows the rest).
const MAX_ROWS: usize = 2000;

pub fn header_panel_ui(
    ui: &mut egui::Ui,
    images: &Images,
    blob: Option<&str>,
    search: &mut String,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Find:");
        ui.add(
            egui::TextEdit::singleline(search)
                .hint_text("tag, keyword or value")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    });
    let Some(blob) = blob else {
        return;
    };
    let Some(dump) = images.header(blob) else {
        ui.spinner();
        return;
    };
    let needle = search.trim().to_lowercase();
    ui.label(
        RichText::new(format!("{} attributes", dump.count))
            .weak()
            .small(),
    );
    if let Some(e) = &dump.error {
        ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
    }
    egui::ScrollArea::both()
        .auto_shrink(false)
        .show(ui, |ui| tree_ui(ui, &dump, &needle));
}

fn tree_ui(ui: &mut egui::Ui, dump: &Dump, needle: &str) {
    let mut budget = MAX_ROWS;
    let mut any = false;
    for (part, nodes) in [("meta", &dump.meta), ("data set", &dump.dataset)] {
        if nodes.is_empty() {
            continue;
        }
        if part == "data set" && !dump.meta.is_empty() {
            ui.separator();
        }
        for (k, n) in nodes.iter().enumerate() {
            if needle.is_empty() || n.matches_deep(needle) {
                any = true;
                node_ui(ui, n, needle, &format!("{part}/{k}"), &mut budget);
            }
        }
    }
    if !any && !needle.is_empty() {
        ui.label(RichText::new("Nothing matches.").weak());
    }
    if budget == 0 {
        ui.label(RichText::new("More matches than shown: refine the search.").weak());
    }
}

fn node_ui(ui: &mut egui::Ui, n: &Node, needle: &str, path: &str, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let head = format!("{} {} {}", n.tag_text(), n.vr, n.keyword);
    if n.vr != dicom_core::VR::SQ {
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 6.0;
            let head = RichText::new(head).monospace().small();
            ui.label(if !needle.is_empty() && n.matches(needle) {
                head.strong()
            } else {
                head
            });
            ui.label(RichText::new(&n.value).small());
        });
        return;
    }
    // Searching opens the sequences that hold a match; otherwise they start closed.
    let whole = needle.is_empty() || n.matches(needle);
    egui::CollapsingHeader::new(
        RichText::new(format!("{head} ({} items)", n.items.len()))
            .monospace()
            .small(),
    )
    .id_salt(path)
    .open((!needle.is_empty()).then_some(true))
    .show(ui, |ui| {
        for (k, item) in n.items.iter().enumerate() {
            if !whole && !item.iter().any(|c| c.matches_deep(needle)) {
                continue;
            }
            egui::CollapsingHeader::new(RichText::new(format!("Item {}", k + 1)).small())
                .id_salt(format!("{path}/{k}"))
                .default_open(n.items.len() == 1)
                .open((!needle.is_empty()).then_some(true))
                .show(ui, |ui| {
                    for (j, c) in item.iter().enumerate() {
                        if whole || c.matches_deep(needle) {
                            node_ui(
                                ui,
                                c,
                                if whole { "" } else { needle },
                                &format!("{path}/{k}/{j}"),
                                budget,
                            );
                        }
                    }
                });
        }
    });
}
