//! Orders from HL7 v2 messages: ORM^O01 (IHE SWF, v2.3.1) and OMI^O23 (v2.5.1, one order per
//! IPC segment), in a file of messages with MLLP framing or as plain segment lines. Parsing is
//! the `hl7-parser` crate's; the mapping to worklist fields (IHE RAD-4) is qcdesk's. A message
//! that is not an order or lacks what an order needs is reported with the line it starts on
//! (or the offending segment's); the others are imported. Each ORC starts an order (a message
//! may carry several); ORC-1 = CA/DC/OC cancels the orders of its accession. What a file asks
//! for is kept in file order, so a cancel followed by a new order leaves the new one.

use hl7_parser::Message;
use hl7_parser::message::{Segment, Separators};

use crate::model::WorklistItem;

use super::BadLine;

/// One thing a file asks for, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A new or changed order.
    Upsert(Box<WorklistItem>),
    /// ORC-1 = CA, DC or OC: the orders of this accession (and requested procedure, when
    /// given) are cancelled.
    Cancel {
        accession: String,
        requested_procedure_id: String,
    },
}

/// What a file's messages ask for.
#[derive(Debug, Default)]
pub struct Parsed {
    pub ops: Vec<Op>,
    pub bad: Vec<BadLine>,
}

impl Parsed {
    /// The orders to add or change (tests and summaries).
    pub fn items(&self) -> Vec<&WorklistItem> {
        self.ops
            .iter()
            .filter_map(|o| match o {
                Op::Upsert(i) => Some(&**i),
                Op::Cancel { .. } => None,
            })
            .collect()
    }
}

/// One message's text and the file line its MSH is on; its segments are one per line.
struct Raw {
    line: usize,
    segments: Vec<(usize, String)>,
}

/// Splits a file into messages: MLLP frames (VT … FS CR) and/or a new message at each MSH.
fn split(text: &str) -> Vec<Raw> {
    let mut out: Vec<Raw> = Vec::new();
    let mut line = 0usize;
    let mut rest = text;
    while !rest.is_empty() {
        let (segment, next) = match rest.find(['\r', '\n']) {
            Some(i) => {
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                (&rest[..i], &rest[i + skip..])
            }
            None => (rest, ""),
        };
        rest = next;
        line += 1;
        let seg = segment.trim_matches(|c| c == '\u{0b}' || c == '\u{1c}');
        if seg.trim().is_empty() {
            continue;
        }
        if seg.starts_with("MSH") || out.is_empty() {
            out.push(Raw {
                line,
                segments: Vec::new(),
            });
        }
        if let Some(m) = out.last_mut() {
            m.segments.push((line, seg.to_string()));
        }
    }
    out
}

fn value(seg: &Segment<'_>, sep: &Separators, field: usize, component: usize) -> String {
    seg.field(field)
        .and_then(|f| f.repeat(1))
        .and_then(|r| r.component(component))
        .map(|c| sep.decode(c.raw_value()).to_string())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Components `from..=to` of a field joined by `^`, trailing empties dropped.
fn components(seg: &Segment<'_>, sep: &Separators, field: usize, order: &[usize]) -> String {
    let parts: Vec<String> = order.iter().map(|&c| value(seg, sep, field, c)).collect();
    let mut s = parts.join("^");
    while s.ends_with('^') {
        s.pop();
    }
    s
}

/// XPN (family^given^middle^suffix^prefix) as a DICOM PN (family^given^middle^prefix^suffix).
fn person(seg: &Segment<'_>, sep: &Separators, field: usize, offset: usize) -> String {
    let o = offset;
    components(seg, sep, field, &[o + 1, o + 2, o + 3, o + 5, o + 4])
}

/// A CE/CWE (code^text^scheme) as `CODE^SCHEME^TEXT`.
fn code(seg: &Segment<'_>, sep: &Separators, field: usize) -> String {
    let (c, t, s) = (
        value(seg, sep, field, 1),
        value(seg, sep, field, 2),
        value(seg, sep, field, 3),
    );
    if c.is_empty() && t.is_empty() {
        String::new()
    } else {
        format!("{c}^{s}^{t}")
    }
}

/// An HL7 TS as DICOM date + time digits (YYYYMMDDHHMMSS at most).
fn timestamp(ts: &str) -> Result<String, String> {
    let digits: String = ts
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    if digits.is_empty() {
        return Ok(String::new());
    }
    if digits.len() < 8 {
        return Err(format!("'{ts}' is not a date/time"));
    }
    if let Some(why) = crate::dicom::values::check_date(&digits[..8]) {
        return Err(why);
    }
    Ok(digits)
}

/// Reads the orders of a file's text. `source` is written into each item.
pub fn parse(text: &str, source: &str) -> Parsed {
    let mut out = Parsed::default();
    for raw in split(text) {
        if let Err(b) = message(&raw, source, &mut out) {
            out.bad.push(b);
        }
    }
    out
}

fn message(raw: &Raw, source: &str, out: &mut Parsed) -> Result<(), BadLine> {
    let bad = |line: usize, why: String| BadLine { line, why };
    let joined: String = raw
        .segments
        .iter()
        .map(|(_, s)| s.as_str())
        .collect::<Vec<_>>()
        .join("\r");
    if !joined.starts_with("MSH") {
        return Err(bad(
            raw.line,
            "text before the first MSH segment (skipped)".into(),
        ));
    }
    let msg =
        Message::parse(&joined).map_err(|e| bad(raw.line, format!("not an HL7 message: {e}")))?;
    let sep = msg.separators;
    let line_of = |name: &str| {
        raw.segments
            .iter()
            .find(|(_, s)| s.starts_with(name))
            .map(|(l, _)| *l)
            .unwrap_or(raw.line)
    };
    let msh = msg
        .segment("MSH")
        .ok_or_else(|| bad(raw.line, "no MSH segment".into()))?;
    let kind = format!("{}^{}", value(msh, &sep, 9, 1), value(msh, &sep, 9, 2));
    if kind != "ORM^O01" && kind != "OMI^O23" {
        return Err(bad(
            raw.line,
            format!("message type {kind} is not an order (ORM^O01 or OMI^O23): skipped"),
        ));
    }
    let pid = msg
        .segment("PID")
        .ok_or_else(|| bad(raw.line, format!("{kind} without a PID segment")))?;
    let pv1 = msg.segment("PV1");

    let mut base = WorklistItem {
        source: source.to_string(),
        ..WorklistItem::default()
    };
    // PID-3: the first identifier is the patient's, the others are other IDs.
    if let Some(f) = pid.field(3) {
        for (n, rep) in f.repeats().enumerate() {
            let id = rep
                .component(1)
                .map(|c| sep.decode(c.raw_value()).to_string())
                .unwrap_or_default();
            let issuer = rep
                .component(4)
                .map(|c| sep.decode(c.raw_value()).to_string())
                .unwrap_or_default();
            if n == 0 {
                base.patient_id = id.trim().to_string();
                base.issuer_of_patient_id = issuer.trim().to_string();
            } else if !id.trim().is_empty() {
                if !base.other_patient_ids.is_empty() {
                    base.other_patient_ids.push('\\');
                }
                base.other_patient_ids.push_str(id.trim());
                if !issuer.trim().is_empty() {
                    base.other_patient_ids.push_str("^^^");
                    base.other_patient_ids.push_str(issuer.trim());
                }
            }
        }
    }
    base.patient_name = person(pid, &sep, 5, 0);
    base.birth_date = timestamp(&value(pid, &sep, 7, 1))
        .map(|t| t.chars().take(8).collect())
        .map_err(|why| bad(line_of("PID"), format!("PID-7 birth date: {why}")))?;
    base.sex = value(pid, &sep, 8, 1).to_ascii_uppercase();
    if !matches!(base.sex.as_str(), "" | "M" | "F" | "O") {
        // HL7 has U, A, N...: DICOM knows M, F, O.
        base.sex = "O".into();
    }
    if let Some(pv1) = pv1 {
        base.referring_physician = person(pv1, &sep, 8, 1);
        base.admission_id = value(pv1, &sep, 19, 1);
    }
    // Order groups: each ORC starts one; the OBR, TQ1, IPC and ZDS after it belong to it.
    let mut groups: Vec<Vec<(usize, &Segment<'_>)>> = Vec::new();
    let lines: Vec<usize> = raw.segments.iter().map(|(l, _)| *l).collect();
    for (n, seg) in msg.segments().enumerate() {
        let line = lines.get(n).copied().unwrap_or(raw.line);
        match seg.name {
            "ORC" => groups.push(vec![(line, seg)]),
            "OBR" | "TQ1" | "IPC" | "ZDS" => {
                if let Some(g) = groups.last_mut() {
                    g.push((line, seg));
                }
            }
            _ => {}
        }
    }
    if groups.is_empty() {
        return Err(bad(raw.line, format!("{kind} without an ORC segment")));
    }
    let mut ops = Vec::new();
    for group in &groups {
        let (orc_line, orc) = group[0];
        let find = |name: &str| group.iter().find(|(_, s)| s.name == name).copied();
        let (obr_line, obr) =
            find("OBR").ok_or_else(|| bad(orc_line, "an ORC without its OBR segment".into()))?;
        let mut order = base.clone();
        order.requesting_physician = person(obr, &sep, 16, 1);
        if order.requesting_physician.is_empty() {
            order.requesting_physician = person(orc, &sep, 12, 1);
        }
        order.procedure_code = code(obr, &sep, 4);
        order.procedure = value(obr, &sep, 4, 2);
        let control = value(orc, &sep, 1, 1).to_ascii_uppercase();
        let mut items = Vec::new();
        if kind == "ORM^O01" {
            let mut i = order.clone();
            i.accession = value(obr, &sep, 18, 1);
            i.requested_procedure_id = value(obr, &sep, 19, 1);
            i.sps_id = value(obr, &sep, 20, 1);
            i.modality = value(obr, &sep, 24, 1).to_ascii_uppercase();
            i.study_instance_uid = find("ZDS")
                .map(|(_, z)| value(z, &sep, 1, 1))
                .unwrap_or_default();
            let start = [
                value(obr, &sep, 27, 4),
                value(orc, &sep, 7, 4),
                value(obr, &sep, 7, 1),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
            i.scheduled_at = timestamp(&start)
                .map_err(|why| bad(obr_line, format!("OBR-27/ORC-7 start: {why}")))?;
            items.push((obr_line, i));
        } else {
            let (tq1_line, start) = find("TQ1")
                .map(|(l, t)| (l, value(t, &sep, 7, 1)))
                .unwrap_or((orc_line, String::new()));
            let start =
                timestamp(&start).map_err(|why| bad(tq1_line, format!("TQ1-7 start: {why}")))?;
            for (ipc_line, ipc) in group.iter().filter(|(_, s)| s.name == "IPC") {
                let mut i = order.clone();
                i.accession = value(ipc, &sep, 1, 1);
                i.issuer_of_accession = value(ipc, &sep, 1, 2);
                i.requested_procedure_id = value(ipc, &sep, 2, 1);
                i.study_instance_uid = value(ipc, &sep, 3, 1);
                i.sps_id = value(ipc, &sep, 4, 1);
                i.modality = value(ipc, &sep, 5, 1).to_ascii_uppercase();
                i.protocol_code = code(ipc, &sep, 6);
                i.step_description = value(ipc, &sep, 6, 2);
                i.station_ae = value(ipc, &sep, 9, 1);
                i.scheduled_at = start.clone();
                items.push((*ipc_line, i));
            }
            if items.is_empty() {
                return Err(bad(orc_line, "OMI^O23 order without an IPC segment".into()));
            }
        }
        let cancel = matches!(control.as_str(), "CA" | "DC" | "OC");
        for (line, i) in items {
            if cancel {
                if i.accession.is_empty() {
                    return Err(bad(
                        line,
                        format!("ORC-1 {control} without an accession number to cancel"),
                    ));
                }
                let op = Op::Cancel {
                    accession: i.accession,
                    requested_procedure_id: i.requested_procedure_id,
                };
                if !ops.contains(&op) {
                    ops.push(op);
                }
                continue;
            }
            if i.accession.is_empty() && i.sps_id.is_empty() {
                return Err(bad(
                    line,
                    "order without an accession number (OBR-18 / IPC-1) or step id".into(),
                ));
            }
            if i.patient_id.is_empty() {
                return Err(bad(line_of("PID"), "PID-3 patient ID is empty".into()));
            }
            ops.push(Op::Upsert(Box::new(i)));
        }
    }
    // A message is taken whole or not at all.
    out.ops.extend(ops);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORM: &str = "MSH|^~\\&|RIS|RGH|QCDESK|RGH|20261128090000||ORM^O01|1|P|2.3.1\r\
PID|1||P100^^^RGH~X9^^^OTHER||M\\E\\ller^J\\T\\rgen^^^Dr.||19700102|M\r\
PV1|1|O||||||D1^Brandt^Helga|||||||||||V123\r\
ORC|NW|PL1|FI1||SC||^^^20261128093000\r\
OBR|1|PL1|FI1|CTTHX^CT Thorax^99RGH||||||||||||O1^Ober^Anna||A5001|RP5001|SPS5001||||CT\r";

    #[test]
    fn an_orm_becomes_an_order() {
        let p = parse(ORM, "hl7");
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        let i = p.items()[0];
        assert_eq!(i.patient_id, "P100");
        assert_eq!(i.issuer_of_patient_id, "RGH");
        assert_eq!(i.other_patient_ids, "X9^^^OTHER");
        assert_eq!(i.patient_name, "M\\ller^J&rgen^^Dr.");
        assert_eq!(i.birth_date, "19700102");
        assert_eq!(i.accession, "A5001");
        assert_eq!(i.requested_procedure_id, "RP5001");
        assert_eq!(i.sps_id, "SPS5001");
        assert_eq!(i.modality, "CT");
        assert_eq!(i.scheduled_at, "20261128093000");
        assert_eq!(i.procedure, "CT Thorax");
        assert_eq!(i.procedure_code, "CTTHX^99RGH^CT Thorax");
        assert_eq!(i.referring_physician, "Brandt^Helga");
        assert_eq!(i.requesting_physician, "Ober^Anna");
        assert_eq!(i.admission_id, "V123");
    }

    #[test]
    fn mllp_frames_omi_and_bad_messages() {
        let omi = "MSH|^~\\&|RIS|RGH|QCDESK|RGH|20261128||OMI^O23|2|P|2.5.1\r\
PID|1||P200^^^RGH||Doe^Jane||19800101|F\r\
ORC|NW|PL2\r\
TQ1|1||||||20261129100000\r\
OBR|1|PL2||MRKNEE^MR Knee^99RGH\r\
IPC|A6001^RGH|RP6001|1.2.3.4|SPS6001|MR|PK1^Knee routine^99RGH|||MR01\r\
IPC|A6001^RGH|RP6001|1.2.3.4|SPS6002|MR|PK2^Knee contrast^99RGH|||MR01\r";
        let adt = "MSH|^~\\&|RIS|RGH|QCDESK|RGH|20261128||ADT^A01|3|P|2.5\rPID|1||P300\r";
        let bad_date = ORM
            .replace("19700102", "19701345")
            .replace("|1|P|", "|4|P|");
        let cancel = ORM.replace("ORC|NW", "ORC|CA");
        let text = format!("\u{0b}{omi}\u{1c}\r\n{adt}\n{bad_date}\n{cancel}");
        let p = parse(&text, "hl7");
        let items = p.items();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].sps_id, "SPS6002");
        assert_eq!(items[0].issuer_of_accession, "RGH");
        assert_eq!(items[0].station_ae, "MR01");
        assert_eq!(items[0].scheduled_at, "20261129100000");
        assert_eq!(items[0].protocol_code, "PK1^99RGH^Knee routine");
        assert_eq!(
            p.ops.last(),
            Some(&Op::Cancel {
                accession: "A5001".into(),
                requested_procedure_id: "RP5001".into()
            })
        );
        let lines: Vec<(usize, bool)> = p
            .bad
            .iter()
            .map(|b| (b.line, b.why.contains("ADT^A01") || b.why.contains("PID-7")))
            .collect();
        // Lines 1–7 hold the OMI, 8 the MLLP end byte; the ADT starts on line 9, and the
        // bad PID of the next message is on line 12.
        assert_eq!(lines, [(9, true), (12, true)], "{:?}", p.bad);
    }

    #[test]
    fn every_order_of_a_message_is_read() {
        let two = ORM.replace(
            "ORC|NW|PL1",
            "ORC|NW|PL0\rOBR|1|PL0||CTHEAD^CT Head^99RGH||||||||||||||A4999|RP4999|SPS4999||||CT\rORC|NW|PL1",
        );
        let p = parse(&two, "hl7");
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        let accs: Vec<&str> = p.items().iter().map(|i| i.accession.as_str()).collect();
        assert_eq!(accs, ["A4999", "A5001"]);
        assert_eq!(p.items()[0].procedure, "CT Head");
        assert_eq!(p.items()[1].procedure, "CT Thorax");
    }
}
