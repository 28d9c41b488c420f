//! Mapping between [`Header`] fields and the `blobs` table columns (same names).

use rusqlite::Row;

use crate::dicom::Header;

macro_rules! header_columns {
    ($($f:ident),* $(,)?) => {
        /// The `blobs` columns that hold header attributes, in a fixed order.
        pub const HEADER_COLUMNS: &[&str] = &[$(stringify!($f)),*];

        /// The header's values in [`HEADER_COLUMNS`] order.
        pub fn header_values(h: &Header) -> Vec<&str> {
            vec![$(h.$f.as_str()),*]
        }

        /// Reads a header from `row`, whose columns from `offset` on are [`HEADER_COLUMNS`].
        pub fn header_from_row(row: &Row<'_>, offset: usize) -> rusqlite::Result<Header> {
            let mut h = Header::default();
            let mut i = offset;
            $( h.$f = row.get(i)?; i += 1; )*
            let _ = i;
            Ok(h)
        }
    };
}

header_columns!(
    transfer_syntax,
    media_sop_class_uid,
    source_ae,
    implementation_version,
    specific_character_set,
    sop_class_uid,
    sop_instance_uid,
    study_date,
    series_date,
    content_date,
    study_time,
    accession,
    modality,
    manufacturer,
    institution,
    referring_physician,
    station_name,
    study_description,
    series_description,
    model_name,
    patient_name,
    patient_id,
    issuer_of_patient_id,
    birth_date,
    sex,
    software_versions,
    study_uid,
    series_uid,
    study_id,
    series_number,
    instance_number,
    rows,
    columns,
    frames,
);

/// `b.col1, b.col2, ...` for SELECTs over the blobs table aliased `b`.
pub fn select_list(alias: &str) -> String {
    HEADER_COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
