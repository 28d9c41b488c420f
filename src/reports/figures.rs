//! The figures of a report, as the CLI prints them (JSON, CSV, HTML) and the desk draws them.

use serde::Serialize;

use super::GroupBy;

/// A count under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

/// The exceptions open now (neither matched nor dismissed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Open {
    pub total: u64,
    pub by_state: Vec<Count>,
    pub by_code: Vec<Count>,
    /// By time since first receipt: `< 1 h`, `< 8 h`, `< 24 h`, `< 3 d`, `older`.
    pub age: Vec<Count>,
}

/// One day of the period (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: String,
    pub arrivals: u64,
    /// Arrivals that were exceptions.
    pub exceptions: u64,
    pub fixes: u64,
    pub dismissals: u64,
    pub resends: u64,
}

/// Time to resolve: first receipt to verified resend (after a fix) or dismissal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolve {
    pub resolved: u64,
    pub by_fix: u64,
    pub by_dismissal: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// The period's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub arrivals: u64,
    pub exceptions: u64,
    /// `exceptions / arrivals` (0 without arrivals).
    pub exception_rate: f64,
    pub fixes: u64,
    pub dismissals: u64,
    pub resends: u64,
    /// Corrections that changed Patient ID.
    pub wrong_patient_corrections: u64,
    /// Resolutions by dismissal among all resolutions (the false-positive share).
    pub dismissal_share: f64,
}

/// One row of the per-group table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    pub arrivals: u64,
    pub exceptions: u64,
    pub exception_rate: f64,
    /// Open now (of every period).
    pub open: u64,
    pub fixes: u64,
    pub dismissals: u64,
    pub wrong_patient_corrections: u64,
    pub resolve: Resolve,
}

/// An IOCM rejection reason and how often it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejections {
    pub code: String,
    pub meaning: String,
    pub count: u64,
}

/// A report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The period, UTC dates, `to` included.
    pub from: String,
    pub to: String,
    pub generated_at: String,
    pub by: GroupBy,
    pub open: Open,
    pub totals: Totals,
    pub resolve: Resolve,
    pub days: Vec<Day>,
    pub rejections: Vec<Rejections>,
    pub groups: Vec<Group>,
    /// The studies behind the figures, for the desk (a click shows them in the queue).
    #[serde(skip)]
    pub members: Members,
}

/// The study ids behind a report's figures, in the order of the figures they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// Per age bucket of `open.age`: the open exceptions.
    pub ages: Vec<Vec<i64>>,
    /// Per day of `days`: the arrivals.
    pub days: Vec<Vec<i64>>,
    /// Per group of `groups`: its arrivals in the period.
    pub group_arrivals: Vec<Vec<i64>>,
    /// Per group of `groups`: its open exceptions (of any period).
    pub group_open: Vec<Vec<i64>>,
}
