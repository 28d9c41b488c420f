//! The RIS worklist cache's feeds and search: Modality Worklist sync from a RIS node (`sync`,
//! `mwl`) and when it runs by itself (`schedule`), orders from CSV and HL7 v2 files (`csv`, `hl7`),
//! and the offline search index (`search`). The cache itself is a store table
//! (`store::worklist`); classification reads it from there.

pub mod csv;
pub mod hl7;
pub mod mwl;
pub mod schedule;
pub mod search;
pub mod sync;

pub use search::{SearchHit, SearchIndex, SearchQuery};
pub use sync::{DEFAULT_LIMIT, SyncError, SyncReport, sync};

/// A malformed line of an order file: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadLine {
    pub line: usize,
    pub why: String,
}

/// What an order file import did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileImportReport {
    pub file: String,
    pub format: String,
    pub source: String,
    #[serde(flatten)]
    pub counts: crate::store::SyncCounts,
    /// Orders cancelled by the file (HL7 ORC-1 = CA / DC), marked vanished.
    pub cancelled: usize,
    pub bad_lines: Vec<BadLine>,
}

/// Order file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Hl7,
}

impl FileFormat {
    pub fn parse(s: &str) -> Option<FileFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "hl7" => Some(FileFormat::Hl7),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Hl7 => "hl7",
        }
    }

    /// The format of a file by its content (an MSH segment or an MLLP frame first: HL7).
    fn sniff(text: &str) -> FileFormat {
        let t = text.trim_start_matches(['\u{feff}', '\u{0b}', ' ', '\r', '\n']);
        if t.starts_with("MSH") {
            FileFormat::Hl7
        } else {
            FileFormat::Csv
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileImportError {
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Imports the orders of a CSV or HL7 file into the cache under `source` (default: the format's
/// name, so the orders of successive files update each other). Nothing is marked vanished by
/// absence (a file is no full listing); HL7 cancels mark their orders vanished.
pub fn import_file(
    store: &mut crate::store::Store,
    path: &std::path::Path,
    format: Option<FileFormat>,
    source: Option<&str>,
) -> Result<FileImportReport, FileImportError> {
    let bytes = std::fs::read(path).map_err(|cause| FileImportError::Read {
        path: path.display().to_string(),
        cause,
    })?;
    let text = csv::decode_text(&bytes);
    let format = format.unwrap_or_else(|| FileFormat::sniff(&text));
    let source = source.unwrap_or(format.name()).to_string();
    let (ops, bad_lines) = match format {
        FileFormat::Csv => {
            let (items, bad) = csv::parse(&text, &source);
            let ops = items
                .into_iter()
                .map(|i| hl7::Op::Upsert(Box::new(i)))
                .collect();
            (ops, bad)
        }
        FileFormat::Hl7 => {
            let p = hl7::parse(&text, &source);
            (p.ops, p.bad)
        }
    };
    // In file order: orders up to a cancel are merged before it is applied.
    let why = format!("cancelled by {}", path.display());
    let mut counts = crate::store::SyncCounts::default();
    let mut cancelled = 0;
    let mut pending: Vec<crate::model::WorklistItem> = Vec::new();
    for op in ops.into_iter().chain([hl7::Op::Cancel {
        accession: String::new(),
        requested_procedure_id: String::new(),
    }]) {
        match op {
            hl7::Op::Upsert(item) => pending.push(*item),
            hl7::Op::Cancel {
                accession,
                requested_procedure_id,
            } => {
                if !pending.is_empty() {
                    counts.add(store.merge_worklist(&source, &pending, None)?);
                    pending.clear();
                }
                if !accession.is_empty() {
                    cancelled += store.vanish_worklist_orders(
                        &source,
                        &accession,
                        &requested_procedure_id,
                        &why,
                    )?;
                }
            }
        }
    }
    Ok(FileImportReport {
        file: path.display().to_string(),
        format: format.name().to_string(),
        source,
        counts,
        cancelled,
        bad_lines,
    })
}

/// Parses a date the user typed: `YYYYMMDD` or `YYYY-MM-DD`, into `YYYYMMDD`.
pub fn parse_user_date(text: &str) -> Result<String, String> {
    let digits: String = text.trim().chars().filter(|c| *c != '-').collect();
    let shaped = digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit());
    let dashes_ok = !text.contains('-') || text.trim().len() == 10;
    if shaped && dashes_ok && crate::dicom::values::check_date(&digits).is_none() {
        Ok(digits)
    } else {
        Err(format!("bad date '{text}': use YYYYMMDD or YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_dates_take_both_forms() {
        assert_eq!(parse_user_date("2026-11-28").unwrap(), "20261128");
        assert_eq!(parse_user_date("20261128").unwrap(), "20261128");
        assert!(parse_user_date("2026-13-01").is_err());
        assert!(parse_user_date("28.11.2026").is_err());
        assert!(parse_user_date("202611").is_err());
    }
}
