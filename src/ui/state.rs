//! The desk's serializable state: what the user chose (filters, sort, theme, panels) and is
//! restored on the next start. Runtime data lives in `runtime`.

use serde::{Deserialize, Serialize};

use crate::model::StudyState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortColumn {
    State,
    Patient,
    PatientId,
    Accession,
    Modality,
    StudyDate,
    Instances,
    Source,
    Age,
}

/// What the central area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum View {
    /// The exception queue.
    #[default]
    Queue,
    /// The RIS worklist cache: search, sync.
    Worklist,
    /// Exception KPIs for administration.
    Reports,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeskState {
    pub view: View,
    pub state_filter: Option<StudyState>,
    /// Empty = all modalities.
    pub modality_filter: String,
    /// Often a patient's name: never saved with the settings (they are not patient data).
    #[serde(skip)]
    pub search: String,
    pub sort: SortColumn,
    pub ascending: bool,
    pub dark: bool,
    pub show_detail: bool,
    /// A thumbnail per study in the queue.
    pub queue_thumbnails: bool,
    /// Show dismissed studies in the queue too.
    #[serde(default)]
    pub show_dismissed: bool,
    /// Selected study id (a number, not patient data).
    pub selected: Option<i64>,
    /// Studies marked for a batch (Ctrl+click): not saved.
    #[serde(skip)]
    pub marked: std::collections::BTreeSet<i64>,
}

impl Default for DeskState {
    fn default() -> Self {
        DeskState {
            view: View::Queue,
            state_filter: None,
            modality_filter: String::new(),
            search: String::new(),
            sort: SortColumn::State,
            ascending: true,
            dark: false,
            show_detail: true,
            queue_thumbnails: true,
            show_dismissed: false,
            selected: None,
            marked: Default::default(),
        }
    }
}

/// What the user asked for during a frame; run after drawing (egui_demo_app's pattern).
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    Select(i64),
    /// Move the selection by this many rows in the current view.
    MoveSelection(isize),
    OpenDetail,
    Import(Vec<std::path::PathBuf>),
    OpenImportDialog,
    SetSort(SortColumn),
    ToggleTheme,
    Reload,
    DismissNotification(usize),
    ShowRejects,
    FocusSearch,
    /// Open the viewer on a series of the selected study, at an instance or its first image.
    OpenViewer {
        series: i64,
        instance: Option<i64>,
    },
    CloseViewer,
    ShowView(View),
    /// Sync the worklist cache from this RIS node now.
    SyncWorklist(String),
    OpenNodes,
    EchoNode(String),
    SaveNode(crate::model::DicomNode),
    RemoveNode(String),
    SetLocalAe(String),
    /// Queue a study for an archive node.
    SendStudy {
        study: i64,
        node: String,
    },
    /// Send the study the question was about, as it is.
    ConfirmSend,
    /// Do not send it.
    CancelSend,
    /// Ask whether to take over the study another holds (the detail's "Take over…").
    AskTakeOver(i64),
    /// Take the study over for this reason (audited).
    TakeOver {
        study: i64,
        reason: String,
    },
    CancelTakeOver,
    OpenTransfers,
    RetryTransfer(i64),
    CancelTransfer(i64),
    /// Start or stop the receiver (C-STORE SCP).
    ToggleReceiver,
    /// Show what applying this order to the study would change.
    PreviewOrder {
        study: i64,
        order: Box<crate::model::WorklistItem>,
    },
    /// Apply the correction previewed.
    ApplyCorrection,
    CancelCorrection,
    /// Take back the study's newest correction.
    UndoCorrection(i64),
    /// Ctrl+Z on a study the desk did not just correct: say how to undo there instead.
    UndoRefused,
    /// Open the hand-edit form on the selected study.
    OpenEdit,
    /// Show what the form's values would change.
    PreviewEdit,
    CloseEdit,
    /// Select the next study in the view that is not matched.
    NextException,
    /// Open the reject / merge / split window on the selected study.
    OpenActions,
    CloseActions,
    /// Preview a merge or a split.
    PreviewRelocation(super::correct_data::Relocation),
    /// Reject as the actions window says.
    RejectInstances,
    /// Dismiss as the actions window says.
    Dismiss,
    /// Reopen a dismissed study.
    Reopen(i64),
    /// Compute the report for the Reports view's period and grouping.
    LoadReport,
    /// Show a report group's studies in the queue.
    ShowGroupInQueue(crate::reports::GroupBy, String),
    /// The queue narrowed to the studies behind a figure of the report: (label, study ids).
    ShowStudiesInQueue(String, Vec<i64>),
    /// Open the node map window.
    OpenNodeMap,
    /// Mark or unmark a study for a batch (Ctrl+click).
    ToggleMark(i64),
    /// Mark every study of the view with a likely order.
    MarkLikely,
    ClearMarks,
    /// Preview the likely order of each marked study.
    PreviewBulkOrders,
    ApplyBulkOrders,
    CancelBulkOrders,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_hold_no_search_text() {
        let state = DeskState {
            search: "MÜLLER^JÜRGEN".into(),
            ..DeskState::default()
        };
        let saved = ron_like(&state);
        assert!(!saved.contains("MÜLLER"), "{saved}");
        assert!(!saved.contains("search"), "{saved}");
    }

    /// eframe saves with RON; serde_json shows the same fields.
    fn ron_like(s: &DeskState) -> String {
        serde_json::to_string(s).unwrap()
    }
}
