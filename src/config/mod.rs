//! Settings read from the workspace's `config.toml` (and the service's settings file), one
//! table per capability, kept at the bottom so the store and the services above it read them
//! without importing each other. (`[rules]` still lives in `rules`, `[queue]` in `model`.)

mod dismiss;
mod imaging;
mod matching;
mod receiver;
mod send;
mod worklist;

pub use dismiss::{DEFAULT_REASONS, DismissConfig, RULE_DOES_NOT_APPLY, reason_needs_note};
pub use imaging::{DEFAULT_MAX_PIXEL_BYTES, ImagingConfig};
pub use matching::MatchConfig;
pub use receiver::{Durability, MAX_ASSOCIATIONS, MAX_PER_ADDRESS, MAX_PER_AE, ReceiverConfig};
pub use send::{SendConfig, UnmatchedSends};
pub use worklist::WorklistConfig;

use serde::{Deserialize, Serialize};

/// qcdesk's AE title until the site sets its own.
pub const DEFAULT_AE_TITLE: &str = "QCDESK";

/// `[claims]`: how long a study stays claimed by a desk or command that stopped renewing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimConfig {
    /// Minutes a claim lasts unless renewed. A desk renews its claims four times a lease
    /// while it works on the study, so a desk that dies frees its studies after at most this.
    pub minutes: u64,
}

impl Default for ClaimConfig {
    fn default() -> Self {
        ClaimConfig { minutes: 5 }
    }
}

impl ClaimConfig {
    /// The lease, never shorter than 10 seconds (a lease shorter than a renewal's round trip
    /// would lapse while its holder works).
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs((self.minutes * 60).max(10))
    }
}
