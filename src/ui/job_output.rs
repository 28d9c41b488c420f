//! What the desk's background jobs produce: one closed enum, a variant per kind of result, so
//! a finished job is taken in by what it is (the compiler checks every kind is handled) rather
//! than cast back from `Any`. Each result type converts into its variant, so a job's closure
//! returns its own type.

use crate::import::ImportReport;
use crate::model::{StudyDetail, StudyRow};
use crate::net::EchoReport;
use crate::reconcile::fix::Applied;
use crate::store::{CorrectionEntry, Reject, StoreStats, UndoOutcome};
use crate::worklist::SyncReport;

use super::bulk_orders::{BulkOutcome, BulkPreview};
use super::candidates::StudyCandidates;
use super::correct_data::PendingCorrection;
use super::network_data::TransfersLoaded;
use super::team_data::ClaimResult;
use super::worklist_data::WorklistLoaded;

/// A finished job's result.
pub enum Output {
    Queue(Vec<StudyRow>, StoreStats),
    Study(Box<(StudyDetail, Option<StudyCandidates>, Vec<CorrectionEntry>)>),
    Import(Box<ImportReport>),
    Rejects(Vec<Reject>),
    Proposed(crate::reconcile::learn::ProposeSummary),
    NodeMap(Box<crate::reports::node_map::NodeMap>),
    Report(Box<crate::reports::Report>),
    BulkPreview(Box<BulkPreview>),
    BulkApplied(BulkOutcome),
    Worklist(Box<WorklistLoaded>),
    /// Syncs of RIS nodes (one asked for, or the schedule's): each node's outcome.
    Synced(Vec<(String, Result<SyncReport, String>)>),
    Echoed(String, Result<EchoReport, String>),
    NodesSaved(Result<(), String>),
    ReceiverStarted(Box<Result<crate::receive::Receiver, String>>),
    Transfers(TransfersLoaded),
    /// A send queued, retried or cancelled: what to tell the user.
    SendNote(String),
    Preview(Box<PendingCorrection>),
    /// (study, what was applied, the correction, the study's state now).
    Applied(Box<(i64, String, Applied, String)>),
    Rejected(i64, crate::reconcile::reject::Rejected),
    /// (study, what to tell the user).
    Dismissed(i64, String),
    Undone(i64, UndoOutcome),
    Claim(ClaimResult),
}

macro_rules! from {
    ($t:ty => $v:ident boxed) => {
        impl From<$t> for Output {
            fn from(v: $t) -> Output {
                Output::$v(Box::new(v))
            }
        }
    };
    ($t:ty => $v:ident) => {
        impl From<$t> for Output {
            fn from(v: $t) -> Output {
                Output::$v(v)
            }
        }
    };
}

from!((StudyDetail, Option<StudyCandidates>, Vec<CorrectionEntry>) => Study boxed);
from!(ImportReport => Import boxed);
from!(Vec<Reject> => Rejects);
from!(crate::reconcile::learn::ProposeSummary => Proposed);
from!(crate::reports::node_map::NodeMap => NodeMap boxed);
from!(crate::reports::Report => Report boxed);
from!(BulkPreview => BulkPreview boxed);
from!(BulkOutcome => BulkApplied);
from!(WorklistLoaded => Worklist boxed);
from!(Vec<(String, Result<SyncReport, String>)> => Synced);
from!(Result<(), String> => NodesSaved);
from!(Result<crate::receive::Receiver, String> => ReceiverStarted boxed);
from!(TransfersLoaded => Transfers);
from!(String => SendNote);
from!(PendingCorrection => Preview boxed);
from!((i64, String, Applied, String) => Applied boxed);
from!(ClaimResult => Claim);

impl From<(Vec<StudyRow>, StoreStats)> for Output {
    fn from((rows, stats): (Vec<StudyRow>, StoreStats)) -> Output {
        Output::Queue(rows, stats)
    }
}

impl From<(String, Result<SyncReport, String>)> for Output {
    fn from(one: (String, Result<SyncReport, String>)) -> Output {
        Output::Synced(vec![one])
    }
}

impl From<(String, Result<EchoReport, String>)> for Output {
    fn from((node, r): (String, Result<EchoReport, String>)) -> Output {
        Output::Echoed(node, r)
    }
}

impl From<(i64, crate::reconcile::reject::Rejected)> for Output {
    fn from((study, r): (i64, crate::reconcile::reject::Rejected)) -> Output {
        Output::Rejected(study, r)
    }
}

impl From<(i64, String)> for Output {
    fn from((study, note): (i64, String)) -> Output {
        Output::Dismissed(study, note)
    }
}

impl From<(i64, UndoOutcome)> for Output {
    fn from((study, out): (i64, UndoOutcome)) -> Output {
        Output::Undone(study, out)
    }
}
