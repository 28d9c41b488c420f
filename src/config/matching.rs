//! `[reconcile]`: the matching's thresholds, temporary IDs and Study UID policy.

use crate::model::StudyUidPolicy;

/// `[reconcile]` in `config.toml`: the site's thresholds.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchConfig {
    /// A candidate at least this likely (percent) may be matched without asking, when it is
    /// unambiguous and the fields that say who the patient is agree.
    pub auto_match_score: i32,
    /// Two candidates whose evidence is closer than this many bits are both shown as possibly
    /// right (4 bits: one is less than 16 times as likely as the other).
    pub ambiguous_margin: i32,
    /// Candidates less likely than this (percent) are not shown.
    pub min_score: i32,
    /// Candidates whose evidence weighs less than this many bits (more against than for, at
    /// 0) are not shown.
    pub min_evidence: i32,
    /// Patterns (regular expressions) of temporary Patient IDs, given to a patient before
    /// registration: such an ID is counted as missing, not as disagreeing.
    pub temporary_ids: Vec<String>,
    /// What applying an order does with its Study Instance UID.
    pub study_uid: StudyUidPolicy,
    /// Minutes between the receiver service's passes proposing each open study's likely
    /// order (also run soon after studies arrive); 0: never.
    pub propose_minutes: u64,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            auto_match_score: 99,
            ambiguous_margin: 4,
            min_score: 0,
            min_evidence: 0,
            temporary_ids: vec![
                "^(TMP|TEMP|UNK|UNKNOWN|NOID|TRAUMA|EMERG)".into(),
                "^0+$".into(),
            ],
            study_uid: StudyUidPolicy::Keep,
            propose_minutes: 5,
        }
    }
}
