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

    /// Opens the node map window as its button does (`--view node-map`).
    pub fn open_node_map(&mut self) {
        self.report_command(UiCommand::OpenNodeMap);
    }

    /// The queue with no filter: a report's click then shows exactly its studies.
    fn clear_queue_filters(&mut self) {
        self.state.view = View::Queue;
        self.state.state_filter = None;
        self.state.modality_filter.clear();
        self.state.search.clear();
        self.rt.show_only(None);
    }

    pub(super) fn report_command(&mut self, cmd: UiCommand) {
        match cmd {
            UiCommand::LoadReport => self
                .rt
                .load_report(self.reports_view.days, self.reports_view.by),
            UiCommand::ShowGroupInQueue(by, key) => {
                self.clear_queue_filters();
                match by {
                    crate::reports::GroupBy::Modality => self.state.modality_filter = key,
                    _ => self.state.search = key,
                }
            }
            UiCommand::ShowStudiesInQueue(label, ids) => {
                self.clear_queue_filters();
                self.rt.show_only(Some((label, ids)));
            }
            UiCommand::OpenNodeMap => {
                self.rt.node_map.open = true;
                self.rt.load_node_map();
            }
            _ => {}
        }
    }
}
