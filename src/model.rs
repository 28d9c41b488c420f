//! Plain data types shared by the core, the CLI and the UI: studies, findings, worklist items.
//! No I/O here; everything is serde-able so the CLI can print it as JSON.

use serde::{Deserialize, Serialize};

/// Where a study stands in the exception queue. Ordered from most to least severe:
/// a study takes the most severe state any of its findings implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudyState {
    /// A file cannot be read or lacks what every archive needs (UIDs, pixel data, valid values).
    Broken,
    /// The study contradicts itself (two patients, two accessions, duplicate SOP Instance UIDs).
    Inconsistent,
    /// An order exists for the accession, but demographics or modality differ.
    Mismatch,
    /// No order in the worklist cache for the study's accession.
    Unmatched,
    /// The study agrees with its order.
    Matched,
}

impl StudyState {
    pub const ALL: [StudyState; 5] = [
        StudyState::Broken,
        StudyState::Inconsistent,
        StudyState::Mismatch,
        StudyState::Unmatched,
        StudyState::Matched,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StudyState::Broken => "broken",
            StudyState::Inconsistent => "inconsistent",
            StudyState::Mismatch => "mismatch",
            StudyState::Unmatched => "unmatched",
            StudyState::Matched => "matched",
        }
    }

    pub fn parse(s: &str) -> Option<StudyState> {
        StudyState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether the study needs a person's attention.
    pub fn is_exception(self) -> bool {
        self != StudyState::Matched
    }
}

impl std::fmt::Display for StudyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem (or note) found about a study. `code` is stable and documented in docs/cli.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub message: String,
    /// Original path of the file the finding is about, when it is about one file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A row of the exception queue: one study with the values shown in the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRow {
    pub id: i64,
    pub study_instance_uid: Option<String>,
    pub state: StudyState,
    pub patient_name: String,
    pub patient_id: String,
    pub accession: String,
    pub modality: String,
    pub study_date: String,
    pub study_description: String,
    pub series: u32,
    pub instances: u32,
    pub files: u32,
    /// Calling AE of the sender, or the folder the files were imported from.
    pub source: String,
    /// When the study first arrived (UTC, RFC 3339).
    pub first_seen: String,
    /// Unix seconds of `first_seen`, for computing age without parsing.
    #[serde(skip)]
    pub first_seen_unix: i64,
    pub findings: Vec<Finding>,
}

impl StudyRow {
    /// One line summing up the findings, for the queue table.
    pub fn finding_summary(&self) -> String {
        match self.findings.len() {
            0 => String::new(),
            1 => self.findings[0].message.clone(),
            n => format!("{} (+{} more)", self.findings[0].message, n - 1),
        }
    }
}

/// One instance as shown in the study detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub id: i64,
    pub sop_instance_uid: Option<String>,
    pub sop_class_uid: String,
    pub sop_class_name: String,
    pub instance_number: String,
    pub transfer_syntax: String,
    /// Content hash of the current version's bytes.
    pub blob: String,
    pub size: u64,
    pub original_path: String,
    /// Number of versions (1 = only the original).
    pub versions: u32,
    /// Files received with the same SOP Instance UID but different bytes.
    pub conflicts: u32,
}

/// One series as shown in the study detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    pub id: i64,
    pub series_instance_uid: Option<String>,
    pub modality: String,
    pub series_number: String,
    pub description: String,
    pub instances: Vec<InstanceRow>,
}

/// Everything the detail panel and `qcdesk show` need about one study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyDetail {
    #[serde(flatten)]
    pub row: StudyRow,
    pub patient_birth_date: String,
    pub patient_sex: String,
    pub issuer_of_patient_id: String,
    pub study_time: String,
    pub referring_physician: String,
    pub institution: String,
    pub station_name: String,
    pub series_list: Vec<SeriesRow>,
    /// The worklist orders whose accession matches the study's.
    pub orders: Vec<WorklistItem>,
}

/// A scheduled order from the RIS worklist cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorklistItem {
    pub accession: String,
    pub requested_procedure_id: String,
    pub sps_id: String,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub modality: String,
    pub station_ae: String,
    /// Scheduled start, DICOM DA+TM (YYYYMMDDHHMMSS) as the RIS gave it.
    pub scheduled_at: String,
    pub procedure: String,
    pub study_instance_uid: String,
    /// Where the entry came from: "demo", a node name, a file.
    pub source: String,
}
