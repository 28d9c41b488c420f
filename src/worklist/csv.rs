//! Orders from a CSV file, for sites without a Modality Worklist SCP: a header row naming the
//! columns (any order, case-insensitive; docs/cli.md lists them), `,` or `;` separated, UTF-8
//! (a BOM is fine) or Latin-1. A line that cannot be an order is reported with its number and
//! why; the good lines are imported all the same.

use crate::dicom::values::{check_date, check_time};
use crate::model::WorklistItem;

use super::BadLine;

/// The columns qcdesk reads, and the names it also accepts for them.
pub const COLUMNS: &[(&str, &[&str])] = &[
    ("accession", &["accession_number"]),
    ("issuer_of_accession", &[]),
    ("requested_procedure_id", &[]),
    ("sps_id", &["step_id", "scheduled_procedure_step_id"]),
    ("patient_name", &["name"]),
    ("patient_id", &[]),
    ("issuer_of_patient_id", &[]),
    ("other_patient_ids", &[]),
    ("birth_date", &["patient_birth_date", "dob"]),
    ("sex", &["patient_sex"]),
    ("modality", &[]),
    ("station_ae", &["scheduled_station_ae_title", "station"]),
    ("scheduled_date", &["date"]),
    ("scheduled_time", &["time"]),
    (
        "procedure",
        &["procedure_description", "requested_procedure_description"],
    ),
    ("procedure_code", &[]),
    ("study_instance_uid", &["study_uid"]),
    ("referring_physician", &[]),
    ("requesting_physician", &[]),
    ("admission_id", &[]),
    ("step_description", &[]),
    ("protocol_code", &[]),
];

/// Text of a file: UTF-8 (BOM dropped) when it is, Latin-1 otherwise.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

fn canonical(header: &str) -> Option<&'static str> {
    let h: String = header
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    COLUMNS
        .iter()
        .find(|(name, aliases)| *name == h || aliases.contains(&h.as_str()))
        .map(|(name, _)| *name)
}

/// A date as typed (YYYYMMDD or YYYY-MM-DD) in DICOM form, or why not.
fn date(field: &str, v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Ok(String::new());
    }
    let d: String = v.chars().filter(|c| *c != '-').collect();
    if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{field} '{v}' is not a date (YYYYMMDD or YYYY-MM-DD)"
        ));
    }
    match check_date(&d) {
        None => Ok(d),
        Some(why) => Err(format!("{field}: {why}")),
    }
}

fn time(v: &str) -> Result<String, String> {
    let t: String = v.chars().filter(|c| *c != ':').collect();
    match check_time(&t) {
        None => Ok(t),
        Some(why) => Err(format!("scheduled_time: {why}")),
    }
}

/// Reads the orders of a CSV text. `source` is written into each item.
pub fn parse(text: &str, source: &str) -> (Vec<WorklistItem>, Vec<BadLine>) {
    let mut items = Vec::new();
    let mut bad = Vec::new();
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            bad.push(BadLine {
                line: 1,
                why: format!("no header row: {e}"),
            });
            return (items, bad);
        }
    };
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    for h in headers.iter() {
        let c = canonical(h);
        if c.is_none() && !h.trim().is_empty() {
            bad.push(BadLine {
                line: 1,
                why: format!("unknown column '{}' (ignored)", h.trim()),
            });
        }
        columns.push(c);
    }
    let has = |name: &str| columns.contains(&Some(name));
    if !(has("accession") || has("sps_id")) || !(has("patient_id") || has("patient_name")) {
        bad.push(BadLine {
            line: 1,
            why: "the header needs an accession (or sps_id) column and a patient_id (or \
                  patient_name) column"
                .into(),
        });
        return (items, bad);
    }
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                bad.push(BadLine {
                    line,
                    why: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != columns.len() {
            bad.push(BadLine {
                line,
                why: format!("{} fields, the header has {}", record.len(), columns.len()),
            });
            continue;
        }
        match item(&columns, &record, source) {
            Ok(i) => items.push(i),
            Err(why) => bad.push(BadLine { line, why }),
        }
    }
    (items, bad)
}

fn item(
    columns: &[Option<&'static str>],
    record: &::csv::StringRecord,
    source: &str,
) -> Result<WorklistItem, String> {
    let mut i = WorklistItem {
        source: source.to_string(),
        ..WorklistItem::default()
    };
    let (mut sdate, mut stime) = (String::new(), String::new());
    for (col, value) in columns.iter().zip(record.iter()) {
        let v = value.trim().to_string();
        match col {
            Some("accession") => i.accession = v,
            Some("issuer_of_accession") => i.issuer_of_accession = v,
            Some("requested_procedure_id") => i.requested_procedure_id = v,
            Some("sps_id") => i.sps_id = v,
            Some("patient_name") => i.patient_name = v,
            Some("patient_id") => i.patient_id = v,
            Some("issuer_of_patient_id") => i.issuer_of_patient_id = v,
            Some("other_patient_ids") => i.other_patient_ids = v,
            Some("birth_date") => i.birth_date = date("birth_date", &v)?,
            Some("sex") => {
                let s = v.to_ascii_uppercase();
                if !matches!(s.as_str(), "" | "M" | "F" | "O") {
                    return Err(format!("sex '{v}' is not M, F or O"));
                }
                i.sex = s;
            }
            Some("modality") => i.modality = v.to_ascii_uppercase(),
            Some("station_ae") => i.station_ae = v,
            Some("scheduled_date") => sdate = date("scheduled_date", &v)?,
            Some("scheduled_time") => stime = time(&v)?,
            Some("procedure") => i.procedure = v,
            Some("procedure_code") => i.procedure_code = v,
            Some("study_instance_uid") => {
                if let Some(why) = crate::dicom::values::check_uid(&v) {
                    return Err(format!("study_instance_uid: {why}"));
                }
                i.study_instance_uid = v
            }
            Some("referring_physician") => i.referring_physician = v,
            Some("requesting_physician") => i.requesting_physician = v,
            Some("admission_id") => i.admission_id = v,
            Some("step_description") => i.step_description = v,
            Some("protocol_code") => i.protocol_code = v,
            _ => {}
        }
    }
    if i.accession.is_empty() && i.sps_id.is_empty() {
        return Err("no accession and no sps_id".into());
    }
    if i.patient_id.is_empty() && i.patient_name.is_empty() {
        return Err("no patient_id and no patient_name".into());
    }
    if i.accession.len() > 16 {
        return Err(format!(
            "accession '{}' is longer than 16 characters",
            i.accession
        ));
    }
    i.scheduled_at = format!("{sdate}{}", if sdate.is_empty() { "" } else { &stime });
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines_are_read_and_bad_ones_named() {
        let text = "Accession;Patient Name;Patient-ID;Birth_Date;Sex;Modality;Scheduled Date;Scheduled Time;Colour\n\
                    A1;Müller^Jürgen;P1;1970-01-02;m;ct;2026-11-28;09:30;red\n\
                    A2;Doe^Jane;P2;19701302;F;MR;20261128;1000;\n\
                    ;Nobody;P3;;;CR;;;\n\
                    A4;Roe^Rita;P4;;X;CR;;;\n\
                    A5;Short\n\
                    A6;Lee^Ann;P6;;F;US;20261129;;\n";
        let (items, bad) = parse(text, "csv");
        let accs: Vec<&str> = items.iter().map(|i| i.accession.as_str()).collect();
        assert_eq!(accs, ["A1", "A6"]);
        assert_eq!(items[0].patient_name, "Müller^Jürgen");
        assert_eq!(items[0].birth_date, "19700102");
        assert_eq!(items[0].sex, "M");
        assert_eq!(items[0].modality, "CT");
        assert_eq!(items[0].scheduled_at, "202611280930");
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [1, 3, 4, 5, 6], "{bad:?}");
        assert!(bad[0].why.contains("Colour"));
        assert!(bad[1].why.contains("month 13"), "{}", bad[1].why);
        assert!(bad[2].why.contains("no accession"));
        assert!(bad[3].why.contains("sex 'X'"));
        assert!(bad[4].why.contains("2 fields"));
    }

    #[test]
    fn latin1_files_are_read() {
        assert_eq!(decode_text(b"M\xfcller"), "Müller");
        assert_eq!(decode_text("\u{feff}Müller".as_bytes()), "Müller");
    }
}
