//! Everything that knows DICOM encoding: header reading with fallbacks for damaged files,
//! DICOMDIR parsing, value-format checks and (for the demo) writing Part 10 files.
//! The rest of the core sees only plain strings and [`Header`]s.

pub mod charset;
pub mod dicomdir;
pub mod header;
pub mod uids;
pub mod values;
pub mod write;

pub use header::{Header, NotDicom, ReadOutcome, read_header};
