//! The queue's filter bar: state, modality, search, dismissed, thumbnails, and the figure of
//! a report the queue is narrowed to (with the way back to every study).

use super::super::state::UiCommand;
use super::DeskApp;
use crate::model::StudyState;

impl DeskApp {
    /// The queue's filters: state, modality, search, dismissed, thumbnails, the narrowing.
    pub(super) fn queue_filters_ui(&mut self, ui: &mut egui::Ui) -> Vec<UiCommand> {
        let mut out = Vec::new();
        let state_text = self
            .state
            .state_filter
            .map_or("All states".to_string(), |s| s.as_str().to_string());
        // The label stands before its box, as the search field's does (egui's `from_label`
        // puts it after, where it reads as a stray word).
        let label = ui.label("State:");
        egui::ComboBox::from_id_salt("state-filter")
            .selected_text(state_text)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.state.state_filter, None, "All states");
                for s in StudyState::ALL {
                    ui.selectable_value(&mut self.state.state_filter, Some(s), s.as_str());
                }
            })
            .response
            .labelled_by(label.id);
        let mod_text = if self.state.modality_filter.is_empty() {
            "All"
        } else {
            &self.state.modality_filter
        };
        let label = ui.label("Modality:");
        egui::ComboBox::from_id_salt("modality-filter")
            .selected_text(mod_text.to_string())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.state.modality_filter, String::new(), "All");
                for m in self.rt.modalities() {
                    ui.selectable_value(&mut self.state.modality_filter, m.clone(), m);
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Search:");
        ui.add(
            egui::TextEdit::singleline(&mut self.state.search)
                .id(self.search_id)
                .hint_text("name, ID, accession, UID, finding (Ctrl+F)")
                .desired_width(260.0),
        )
        .labelled_by(label.id);
        ui.checkbox(&mut self.state.show_dismissed, "Dismissed")
            .on_hover_text("Show the studies dismissed without change too");
        ui.checkbox(&mut self.state.queue_thumbnails, "Thumbnails")
            .on_hover_text("A picture per study in the queue");
        ui.separator();
        if self.state.marked.is_empty() {
            let likely = self
                .rt
                .view
                .iter()
                .filter(|&&i| self.rt.rows[i].likely_order.is_some())
                .count();
            if ui
                .add_enabled(likely > 0, egui::Button::new("Mark likely"))
                .on_hover_text(
                    "Mark every study shown that has a likely order (Ctrl+click marks one), \
                     to apply each its order at once",
                )
                .clicked()
            {
                out.push(UiCommand::MarkLikely);
            }
        } else {
            if ui
                .button(format!(
                    "Apply likely orders… ({})",
                    self.state.marked.len()
                ))
                .on_hover_text(
                    "See each marked study's likely order and changes, then confirm once",
                )
                .clicked()
            {
                out.push(UiCommand::PreviewBulkOrders);
            }
            if ui.button("Clear marks").clicked() {
                out.push(UiCommand::ClearMarks);
            }
        }
        if let Some(only) = &self.rt.only {
            ui.separator();
            ui.label(
                egui::RichText::new(format!("Report: {} ({})", only.label, only.ids.len()))
                    .strong(),
            )
            .on_hover_text("The queue shows only the studies behind this figure of the report");
            if ui.button("Show all").clicked() {
                self.rt.show_only(None);
            }
        }
        out
    }
}
