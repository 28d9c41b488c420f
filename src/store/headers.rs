//! Mapping between [`Header`] fields and the `blobs` table columns (same names, from the one
//! list in `dicom::header::attrs`), and the typed read faults stored beside them.

use rusqlite::Row;

use crate::dicom::{Fault, Header};

/// The `blobs` columns that hold header attributes, in a fixed order.
pub const HEADER_COLUMNS: &[&str] = Header::COLUMNS;

/// Reads a header from `row`, whose columns from `offset` on are [`HEADER_COLUMNS`].
pub fn header_from_row(row: &Row<'_>, offset: usize) -> rusqlite::Result<Header> {
    let mut h = Header::default();
    for (i, slot) in h.values_mut().into_iter().enumerate() {
        *slot = row.get(offset + i)?;
    }
    Ok(h)
}

/// `b.col1, b.col2, ...` for SELECTs over the blobs table aliased `b`.
pub fn select_list(alias: &str) -> String {
    HEADER_COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The faults stored in `read_errors` and `read_warnings` (JSON lists of typed faults).
pub fn faults_from_json(errors: &str, warnings: &str) -> Vec<Fault> {
    let parse = |s: &str| serde_json::from_str::<Vec<Fault>>(s).unwrap_or_default();
    let mut out = parse(errors);
    out.extend(parse(warnings));
    out
}

/// The faults as stored: (read_errors, read_warnings).
pub fn faults_to_json(faults: &[Fault]) -> (String, String) {
    let (errors, warnings): (Vec<&Fault>, Vec<&Fault>) =
        faults.iter().partition(|f| f.kind.is_error());
    (
        serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_attribute_has_its_column() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(dir.path()).unwrap();
        let cols: Vec<String> = store
            .conn
            .prepare("SELECT name FROM pragma_table_info('blobs')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for c in HEADER_COLUMNS {
            assert!(cols.iter().any(|x| x == c), "blobs has no column {c}");
        }
    }

    #[test]
    fn faults_round_trip() {
        use crate::dicom::FaultKind;
        let faults = vec![
            Fault::new(FaultKind::Truncated, "short"),
            Fault::new(FaultKind::Note, "no meta"),
        ];
        let (e, w) = faults_to_json(&faults);
        assert_eq!(faults_from_json(&e, &w), faults);
    }
}
