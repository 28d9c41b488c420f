//! qcdesk: a desk for PACS exception handling and QA.
//!
//! The core (everything but `ui` and `cli`) knows nothing of egui: DICOM reading and writing,
//! the store, import, classification rules, imaging, DICOM networking (`net`), the worklist
//! cache's feeds and search, background jobs and the demo.

pub mod cli;
pub mod config;
pub mod conformance;
pub mod demo;
pub mod dicom;
pub mod embedded;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod imaging;
pub mod import;
pub mod jobs;
pub mod model;
pub mod net;
pub mod receive;
pub mod reconcile;
pub mod reports;
pub mod rules;
pub mod send;
pub mod store;
pub mod text;
#[cfg(feature = "desk")]
pub mod ui;
pub mod worklist;
pub mod workspace;
