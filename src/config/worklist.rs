//! `[worklist]`: how often the RIS is synced without anyone asking.

/// `[worklist]` in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorklistConfig {
    /// Minutes between automatic syncs of each RIS node (0: never): the service syncs when due,
    /// a desk a grace later (`worklist::schedule`).
    pub sync_minutes: u64,
}

impl Default for WorklistConfig {
    fn default() -> Self {
        WorklistConfig { sync_minutes: 15 }
    }
}
