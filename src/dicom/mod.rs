//! Everything that knows DICOM encoding: header reading with fallbacks for damaged files,
//! character sets, comparing two copies of an instance, DICOMDIR parsing, value-format checks
//! and writing Part 10 files. The rest of the core sees only plain strings and [`Header`]s.

pub mod charset;
pub mod compare;
pub mod dicomdir;
pub mod dump;
pub mod header;
pub mod object;
pub mod part10;
pub(crate) mod tokens;
pub mod uids;
pub mod values;
pub mod write;

pub use header::{Fault, FaultKind, Header, NotDicom, ReadOutcome, read_header, ts_name};
