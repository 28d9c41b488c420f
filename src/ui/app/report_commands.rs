//! The commands of the Reports view and the node map: which view shows, computing the
//! report, a group's studies in the queue, the node map window.

use super::super::state::{UiCommand, View};
use super::DeskApp;

impl DeskApp {
    /// Opens a view as its button does (`--view`).
    pub fn show_view(&mut self, v: View) {
        self.state.view = v;
        self.viewer = None;
        if v == View::Reports {
            self.rt
                .load_report(self.reports_view.days, self.reports_view.by);
        }
    }

    pub(super) fn report_command(&mut self, cmd: UiCommand) {
        match cmd {
            UiCommand::LoadReport => self
                .rt
                .load_report(self.reports_view.days, self.reports_view.by),
            UiCommand::ShowGroupInQueue(by, key) => {
                self.state.view = View::Queue;
                self.state.state_filter = None;
                self.state.modality_filter.clear();
                self.state.search.clear();
                match by {
                    crate::reports::GroupBy::Modality => self.state.modality_filter = key,
                    _ => self.state.search = key,
                }
            }
            UiCommand::OpenNodeMap => {
                self.rt.node_map.open = true;
                self.rt.load_node_map();
            }
            _ => {}
        }
    }
}
