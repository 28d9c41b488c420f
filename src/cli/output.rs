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
        "{:>5}  {:<12} {:<24} {:<10} {:<10} {:<6} {:<8} {:>4} {:>5}  {:<7} FINDINGS",
        "ID", "STATE", "PATIENT", "PATIENT ID", "ACCESSION", "MOD", "DATE", "SER", "INST", "AGE"
    );
    for r in rows {
        println!(
            "{:>5}  {:<12} {:<24} {:<10} {:<10} {:<6} {:<8} {:>4} {:>5}  {:<7} {}",
            r.id,
            r.state.as_str(),
            cut(&r.patient_name, 24),
            cut(&r.patient_id, 10),
            cut(&r.accession, 10),
            cut(&r.modality, 6),
            r.study_date,
            r.series,
            r.instances,
            human_age(now - r.first_seen_unix),
            cut(&r.finding_summary(), 80)
        );
    }
    println!("{} studies", rows.len());
}

pub fn print_detail(d: &StudyDetail) {
    let v = crate::text::printable;
    let r = &d.row;
    println!("Study {}  [{}]", r.id, r.state);
    println!(
        "  Study Instance UID  {}",
        r.study_instance_uid.as_deref().unwrap_or("(none)")
    );
    println!(
        "  Patient             {}  ID {}  born {}  sex {}",
        v(&r.patient_name),
        v(&r.patient_id),
        v(&d.patient_birth_date),
        v(&d.patient_sex)
    );
    println!("  Accession           {}", v(&r.accession));
    println!(
        "  Modality / date     {}  {} {}",
        v(&r.modality),
        v(&r.study_date),
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
        println!("  {:<12} {n}", st.as_str());
    }
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
