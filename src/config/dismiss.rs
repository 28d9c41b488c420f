//! `[dismiss]`: the reasons a study may be resolved without change.

/// `[dismiss]` in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DismissConfig {
    /// The reasons a study may be dismissed for.
    pub reasons: Vec<String>,
}

/// The reason for a false positive: a rule that fired where it should not. It says nothing
/// by itself, so a note saying why is required with it.
pub const RULE_DOES_NOT_APPLY: &str = "rule does not apply here";

/// The reasons a site has unless its `config.toml` says otherwise (also listed by
/// `dismiss --help`).
pub const DEFAULT_REASONS: [&str; 6] = [
    RULE_DOES_NOT_APPLY,
    "phantom or QA scan",
    "research scan without order",
    "test patient",
    "known duplicate",
    "sent to the wrong system",
];

/// True when dismissing for `reason` needs a note.
pub fn reason_needs_note(reason: &str) -> bool {
    reason.trim().eq_ignore_ascii_case(RULE_DOES_NOT_APPLY)
}

impl Default for DismissConfig {
    fn default() -> Self {
        DismissConfig {
            reasons: DEFAULT_REASONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}
