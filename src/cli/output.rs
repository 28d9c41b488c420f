//! Text and JSON rendering of command results.

use serde::Serialize;

use crate::fsutil::human_age;
use crate::import::ImportReport;
use crate::model::{StudyDetail, StudyRow, WorklistItem};
use crate::store::{StoreStats, VerifyReport};

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// One JSON object per line (events of a long-running command), flushed at once.
pub fn print_json_line<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(value)?)?;
    out.flush()?;
    Ok(())
}

/// `status --json`: counts per state as an object, not a list of pairs.
#[derive(Serialize)]
pub struct StatusJson {
    studies: u64,
    states: serde_json::Map<String, serde_json::Value>,
    /// Dismissed studies, left out of `states`.
    dismissed: u64,
    instances: u64,
    files: u64,
    rejects: u64,
    worklist: u64,
}

impl From<&StoreStats> for StatusJson {
    fn from(s: &StoreStats) -> Self {
        StatusJson {
            studies: s.studies,
            states: s
                .by_state
                .iter()
                .map(|(st, n)| (st.as_str().to_string(), (*n).into()))
                .collect(),
            dismissed: s.dismissed,
            instances: s.instances,
            files: s.files,
            rejects: s.rejects,
            worklist: s.worklist,
        }
    }
}

/// A value from a file or a peer, for a text column: control characters escaped (a patient
/// name holding an escape sequence must not drive the terminal), cut to `n` characters.
fn cut(s: &str, n: usize) -> String {
    let s = crate::text::printable(s);
    if s.chars().count() <= n {
        s
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `s` made printable and fitted to `width` terminal columns: cut with an ellipsis when
/// longer, padded with spaces when shorter. Columns, not characters: a CJK character takes
/// two, a combining mark none, so the table's columns stay aligned whatever the names.
pub fn cell(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let s = crate::text::printable(s);
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    let mut out = String::new();
    let mut used = 0;
    if total <= width {
        out.push_str(&s);
        used = total;
    } else {
        for c in s.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width.saturating_sub(1) {
                break;
            }
            out.push(c);
            used += w;
        }
        out.push('…');
        used += 1;
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

pub fn print_import(r: &ImportReport) {
    println!("{}", r.summary());
    for p in &r.broken {
        println!("  damaged: {}: {}", p.path, p.reason);
    }
    for p in &r.unreadable {
        println!("  unreadable: {}: {}", p.path, p.reason);
    }
    for m in &r.missing_from_dicomdir {
        println!("  missing: {m}");
    }
    for m in &r.not_in_dicomdir {
        println!("  not in DICOMDIR (imported): {m}");
    }
}

pub fn print_verify(r: &VerifyReport, root: &std::path::Path) {
    if r.ok() {
        println!("workspace {} is consistent", root.display());
    }
    for p in &r.problems {
        println!("{p}");
    }
    if !r.orphans.is_empty() {
        println!(
            "{} file(s) in the store that no record names (left by an interrupted import; harmless, reused after a check if imported again):",
            r.orphans.len()
        );
        for o in &r.orphans {
            println!("  {o}");
        }
    }
}

pub fn print_queue(rows: &[StudyRow]) {
    let now = crate::fsutil::now().1;
    println!(
        "{:>5}  {} {} {} {} {} {:<10} {:>4} {:>5}  {} FINDINGS",
        "ID",
        cell("STATE", 13),
        cell("PATIENT", 24),
        cell("PATIENT ID", 12),
        cell("ACCESSION", 12),
        cell("MOD", 6),
        "DATE",
        "SER",
        "INST",
        cell("AGE", 7)
    );
    for r in rows {
        let state = match &r.dismissed {
            Some(_) => format!("{} (dismissed)", r.state.as_str()),
            None => r.state.as_str().to_string(),
        };
        println!(
            "{:>5}  {} {} {} {} {} {:<10} {:>4} {:>5}  {} {}",
            r.id,
            cell(&state, 13),
            cell(&r.patient_name, 24),
            cell(&r.patient_id, 12),
            cell(&r.accession, 12),
            cell(&r.modality, 6),
            cell(&crate::text::iso_date(&r.study_date), 10),
            r.series,
            r.instances,
            cell(&human_age(now - r.first_seen_unix), 7),
            cut(&r.finding_summary(), 80)
        );
    }
    println!("{} studies", rows.len());
}

pub fn print_detail(d: &StudyDetail) {
    let v = crate::text::printable;
    let r = &d.row;
    if d.moved_to.is_empty() {
        println!("Study {}  [{}]", r.id, r.state);
    } else {
        println!("Study {}  [emptied: it holds no instances]", r.id);
        for m in &d.moved_to {
            println!(
                "  Moved to            study {} (Study Instance UID {}): {} instance(s), correction {} ({}) at {}",
                m.study, m.study_instance_uid, m.instances, m.correction, m.action, m.at
            );
        }
        println!(
            "                      (qcdesk show {} for it; qcdesk undo {} takes the move back)",
            d.moved_to[d.moved_to.len() - 1].study,
            r.id
        );
    }
    if let Some(dm) = &r.dismissed {
        println!(
            "  DISMISSED           {} — by {} at {}{}",
            v(&dm.reason),
            v(&dm.by),
            dm.at,
            if dm.note.is_empty() {
                String::new()
            } else {
                format!("; note: {}", v(&dm.note))
            }
        );
        println!(
            "                      (qcdesk reopen {} makes it an open exception again)",
            r.id
        );
    }
    if let Some(state) = &r.send_state {
        match &r.send_caveat {
            Some(c) => println!("  Sent                {state}, {}", v(c)),
            None => println!("  Sent                {state}"),
        }
    }
    println!(
        "  Study Instance UID  {}",
        r.study_instance_uid.as_deref().unwrap_or("(none)")
    );
    println!(
        "  Patient             {}  ID {}  born {}  sex {}",
        v(&r.patient_name),
        v(&r.patient_id),
        v(&crate::text::iso_date(&d.patient_birth_date)),
        v(&d.patient_sex)
    );
    println!("  Accession           {}", v(&r.accession));
    println!(
        "  Modality / date     {}  {} {}",
        v(&r.modality),
        v(&crate::text::iso_date(&r.study_date)),
        v(&d.study_time)
    );
    println!("  Description         {}", v(&r.study_description));
    println!(
        "  Source              {}  (first seen {})",
        v(&r.source),
        r.first_seen
    );
    if !r.findings.is_empty() {
        println!("Findings:");
        for f in &r.findings {
            match &f.file {
                Some(file) => println!("  [{}] {} — {}", f.code, v(&f.message), v(file)),
                None => println!("  [{}] {}", f.code, v(&f.message)),
            }
        }
    }
    println!("Series:");
    for s in &d.series_list {
        println!(
            "  #{} {} {} ({} instances)",
            v(&s.series_number),
            v(&s.modality),
            v(&s.description),
            s.instances.len()
        );
        for i in &s.instances {
            let mut extra = Vec::new();
            if i.conflicts > 0 {
                extra.push(format!("{} conflicting", i.conflicts));
            }
            if i.variants > 0 {
                extra.push(format!("{} encoding variants", i.variants));
            }
            if i.receipts.len() > 1 {
                extra.push(format!("received {} times", i.receipts.len()));
            }
            println!(
                "    {:>4} {} {}{}",
                v(&i.instance_number),
                v(i.sop_instance_uid
                    .as_deref()
                    .unwrap_or("(no SOP Instance UID)")),
                v(&i.original_path),
                if extra.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", extra.join(", "))
                }
            );
        }
    }
    for c in &d.orders {
        let o = &c.order;
        println!("Study vs. order {} ({}):", v(&o.accession), v(&o.procedure));
        for f in &c.fields {
            let mark = match f.verdict {
                crate::model::Verdict::Match => "  ",
                crate::model::Verdict::Equivalent => "~ ",
                crate::model::Verdict::Mismatch => "! ",
                crate::model::Verdict::NotCompared => "  ",
            };
            println!(
                "  {mark}{:<20} {:<28} {:<28} {}",
                f.field,
                cut(&f.study, 28),
                cut(&f.order, 28),
                f.why
            );
        }
    }
}

pub fn print_status(s: &StoreStats, root: &std::path::Path) {
    println!("workspace {}", root.display());
    println!(
        "{} studies, {} instances, {} files, {} worklist orders, {} rejected files",
        s.studies, s.instances, s.files, s.worklist, s.rejects
    );
    for (st, n) in &s.by_state {
        println!("  {:<13} {n}", st.as_str());
    }
    println!("  {:<13} {}", "dismissed", s.dismissed);
}

fn worklist_header() {
    println!(
        "{:<10} {:<14} {:<28} {:<10} {:<8} {:<4} {:<10} PROCEDURE",
        "ACCESSION", "SCHEDULED", "PATIENT", "ID", "BORN", "MOD", "SOURCE"
    );
}

fn worklist_line(i: &WorklistItem, extra: &str) {
    println!(
        "{:<10} {:<14} {:<28} {:<10} {:<8} {:<4} {:<10} {}{}{extra}",
        i.accession,
        cut(&i.scheduled_at, 14),
        cut(&i.patient_name, 28),
        i.patient_id,
        i.birth_date,
        i.modality,
        cut(&i.source, 10),
        i.procedure,
        match &i.vanished_at {
            Some(at) => format!("  [vanished {at}]"),
            None => String::new(),
        }
    );
}

pub fn print_worklist(items: &[WorklistItem]) {
    worklist_header();
    for i in items {
        worklist_line(i, "");
    }
    let vanished = items.iter().filter(|i| i.vanished_at.is_some()).count();
    println!(
        "{} orders ({vanished} no longer listed by their source)",
        items.len()
    );
}

pub fn print_hits(hits: &[crate::worklist::SearchHit]) {
    worklist_header();
    for h in hits {
        worklist_line(&h.item, &format!("  (score {})", h.score));
    }
    println!("{} found", hits.len());
}

pub fn print_sync_record(s: &crate::store::SyncRecord) {
    if s.ok {
        println!(
            "last sync of {}: {} ({} items, {} new, {} changed, {} vanished)",
            s.source, s.finished_at, s.received, s.new, s.changed, s.vanished
        );
    } else {
        println!(
            "last sync of {} FAILED at {}: {}",
            s.source, s.finished_at, s.error
        );
    }
}

pub fn print_sync(r: &crate::worklist::SyncReport) {
    let c = &r.counts;
    println!(
        "{} ({}): {} items received, {} new, {} changed, {} unchanged, {} vanished; {} studies reclassified; {} s",
        r.node,
        r.address,
        c.received,
        c.new,
        c.changed,
        c.unchanged,
        c.vanished,
        c.studies_reclassified,
        r.seconds
    );
    for u in &r.unreadable {
        println!("  unreadable {u}");
    }
    if !r.unreadable.is_empty() {
        println!("  (some answers were unreadable: nothing was marked vanished)");
    }
}

pub fn print_file_import(r: &crate::worklist::FileImportReport) {
    let c = &r.counts;
    println!(
        "{} ({}, source {}): {} orders read, {} new, {} changed, {} unchanged, {} cancelled, {} bad lines",
        r.file,
        r.format,
        r.source,
        c.received,
        c.new,
        c.changed,
        c.unchanged,
        r.cancelled,
        r.bad_lines.len()
    );
    for b in &r.bad_lines {
        println!("  line {}: {}", b.line, b.why);
    }
}

pub fn print_nodes(nodes: &[crate::model::DicomNode], local_ae: &str) {
    println!("qcdesk's AE title: {local_ae}");
    println!(
        "{:<14} {:<8} {:<34} {:<4} CALLING AE",
        "NAME", "ROLE", "ADDRESS", "TLS"
    );
    for n in nodes {
        let address = if n.embedded.is_empty() {
            n.address()
        } else {
            format!("{}@127.0.0.1 (built in: {})", n.ae_title, n.embedded)
        };
        println!(
            "{:<14} {:<8} {:<34} {:<4} {}",
            n.name,
            n.role.as_str(),
            address,
            if n.tls { "yes" } else { "no" },
            if n.calling_ae.is_empty() {
                local_ae
            } else {
                &n.calling_ae
            }
        );
    }
}

pub fn print_thumbs(results: &[crate::imaging::ThumbResult]) {
    let mut ok = 0;
    for r in results {
        match (&r.png, &r.reason) {
            (Some(png), _) => {
                ok += 1;
                let partial = r
                    .partial
                    .map(|(have, of)| format!("  (partial: {have} of {of} rows)"))
                    .unwrap_or_default();
                println!("{} -> {png}{partial}", r.file);
            }
            (None, reason) => println!(
                "{}: {}: {}",
                r.file,
                r.status,
                reason.as_deref().unwrap_or("")
            ),
        }
    }
    println!("{ok} of {} files rendered", results.len());
}
