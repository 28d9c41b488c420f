//! `[send]`: the send queue's retries, proof and what may be sent unmatched.

/// `[send]` in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendConfig {
    /// Attempts before a job is failed (connection refused, timeout, abort, A7xx).
    pub retries: i64,
    /// Wait before the second attempt; tripled each time after, at most 10 minutes.
    pub backoff_seconds: i64,
    /// Ask for Storage Commitment where the archive offers it.
    pub commitment: bool,
    /// How long to wait for the commitment report before proving by query instead.
    pub commitment_wait_seconds: u64,
    /// Associations a study is sent over at once (1 to 8).
    pub associations: usize,
    /// A study that is not matched and whole: "ask" (the default) or "forbid".
    pub unmatched: UnmatchedSends,
}

impl Default for SendConfig {
    fn default() -> Self {
        SendConfig {
            retries: 5,
            backoff_seconds: 10,
            commitment: true,
            commitment_wait_seconds: 30,
            associations: 2,
            unmatched: UnmatchedSends::Ask,
        }
    }
}

/// `[send] unmatched`: what happens when a study that is not matched is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedSends {
    /// Ask first, naming what is wrong (the command line needs `--force`).
    #[default]
    Ask,
    /// Never: fix or dismiss the study first.
    Forbid,
}
