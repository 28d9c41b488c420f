//! Corrections through the command line: `fix` from an order and by hand, checked with pydicom
//! and dciodvfy; originals untouched; `undo` back to the exact previous version; `history`;
//! the audit chain catching an altered or deleted entry; character sets; a correction killed
//! midway leaving one complete version.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// A workspace holding one pydicom test file as its only study; returns (workspace, id).
fn workspace_with(file: &str) -> (tempfile::TempDir, String) {
    let ws = tempfile::tempdir().unwrap();
    let src = pydicom_dir().join(file);
    let r = qcdesk_json(ws.path(), &["import", src.to_str().unwrap(), "--json"]);
    assert_eq!(r["new_instances"].as_u64(), Some(1), "{r:#}");
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let id = queue[0]["id"].to_string();
    (ws, id)
}

/// Each instance's current blob, in series and instance order.
fn current_blobs(ws: &Path, id: &str) -> Vec<String> {
    let show = qcdesk_json(ws, &["show", id, "--json"]);
    show["series_list"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["instances"].as_array().unwrap().iter())
        .map(|i| i["blob"].as_str().unwrap().to_string())
        .collect()
}

fn blob_path(ws: &Path, hash: &str) -> PathBuf {
    ws.join("store")
        .join(&hash[..2])
        .join(format!("{hash}.dcm"))
}

fn add_orders(ws: &Path, csv: &str) {
    let f = ws.join("orders.csv");
    std::fs::write(&f, csv).unwrap();
    let r = qcdesk_json(ws, &["worklist", "import", f.to_str().unwrap(), "--json"]);
    assert!(r["new"].as_u64().unwrap() >= 1, "{r:#}");
}

fn python(script: &str, args: &[&Path]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script);
    for a in args {
        cmd.arg(a);
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// dciodvfy's error lines for a file (its warnings are many and not ours to judge).
fn dciodvfy_errors(file: &Path) -> Vec<String> {
    let tool = require_tool("dciodvfy");
    let out = Command::new(tool).arg(file).output().expect("dciodvfy");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut errors: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("Error"))
        .map(str::to_string)
        .collect();
    errors.sort();
    errors.dedup();
    errors
}

const ORDER_CSV: &str = "accession,issuer_of_accession,requested_procedure_id,sps_id,patient_name,patient_id,issuer_of_patient_id,other_patient_ids,birth_date,sex,modality,scheduled_date,scheduled_time,procedure,procedure_code,study_instance_uid,referring_physician,step_description,protocol_code\n\
ACC77,RIS.EAST,RP77,SPS77,Müller^Jürgen,P7700,HOSP.A,OLD12^^^HOSP.B,19700102,M,MR,2026-11-28,0930,MR Knee left,MRKL^LOCAL^MR knee left,1.2.826.0.1.3680043.8.498.77,Welby^Marcus,MR knee protocol,PKN^LOCAL^Knee routine\n";

#[test]
fn applying_an_order_writes_the_ihe_set_keeps_the_original_and_undoes_exactly() {
    // JPEG 2000: encapsulated pixel data that must come through byte for byte.
    let (ws, id) = workspace_with("test_files/JPEG2000.dcm");
    let w = ws.path();
    add_orders(w, ORDER_CSV);
    let original = current_blobs(w, &id);
    assert_eq!(original.len(), 1);

    // The dry run lists each change and writes nothing.
    let dry = qcdesk_json(w, &["fix", &id, "--order", "ACC77", "--dry-run", "--json"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["version"], Value::Null);
    let keywords: Vec<&str> = dry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["keyword"].as_str().unwrap())
        .collect();
    for k in [
        "AccessionNumber",
        "IssuerOfAccessionNumberSequence",
        "ReferringPhysicianName",
        "StudyDescription",
        "ProcedureCodeSequence",
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "PatientBirthDate",
        "OtherPatientIDsSequence",
        "StudyID",
        "RequestAttributesSequence",
    ] {
        assert!(keywords.contains(&k), "{k} missing from {keywords:?}");
    }
    let pid = dry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["keyword"] == "PatientID")
        .unwrap();
    assert_eq!(pid["new"], "P7700");
    assert_eq!(pid["tag"], "(0010,0020)");
    assert_eq!(current_blobs(w, &id), original, "a dry run writes nothing");

    let fixed = qcdesk_json(
        w,
        &[
            "fix",
            &id,
            "--order",
            "ACC77",
            "--reason",
            "wrong patient selected at the modality",
            "--operator",
            "J. Smith",
            "--json",
        ],
    );
    assert_eq!(fixed["dry_run"], false);
    assert!(fixed["version"].as_i64().is_some(), "{fixed:#}");
    assert_eq!(
        fixed["changes"], dry["changes"],
        "the preview was what was done"
    );
    let corrected = current_blobs(w, &id);
    assert_ne!(corrected, original);
    let (old_file, new_file) = (blob_path(w, &original[0]), blob_path(w, &corrected[0]));
    // The original is byte-identical to what was imported.
    assert_eq!(
        std::fs::read(&old_file).unwrap(),
        std::fs::read(pydicom_dir().join("test_files/JPEG2000.dcm")).unwrap()
    );

    let checked = python(
        r#"
import sys, pydicom
old = pydicom.dcmread(sys.argv[1]); new = pydicom.dcmread(sys.argv[2])
assert new.PatientName == "Müller^Jürgen", new.PatientName
assert new.SpecificCharacterSet == "ISO_IR 192", new.SpecificCharacterSet  # none declared before
assert new.PatientID == "P7700" and new.IssuerOfPatientID == "HOSP.A"
o = new.OtherPatientIDsSequence[0]
assert (o.PatientID, o.IssuerOfPatientID, o.TypeOfPatientID) == ("OLD12", "HOSP.B", "TEXT")
assert new.PatientBirthDate == "19700102" and new.PatientSex == "M"
assert new.AccessionNumber == "ACC77"
assert new.IssuerOfAccessionNumberSequence[0].LocalNamespaceEntityID == "RIS.EAST"
assert new.ReferringPhysicianName == "Welby^Marcus"
assert new.StudyID == "RP77" and new.StudyDescription == "MR Knee left"
c = new.ProcedureCodeSequence[0]
assert (c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning) == ("MRKL", "LOCAL", "MR knee left")
r = new.RequestAttributesSequence[0]
assert r.RequestedProcedureID == "RP77" and r.AccessionNumber == "ACC77"
assert r.ScheduledProcedureStepID == "SPS77" and r.ScheduledProcedureStepDescription == "MR knee protocol"
assert r.RequestedProcedureDescription == "MR Knee left"
assert r.RequestedProcedureCodeSequence[0].CodeValue == "MRKL"
assert r.ScheduledProtocolCodeSequence[0].CodeValue == "PKN"
assert r.StudyInstanceUID == "1.2.826.0.1.3680043.8.498.77"
assert r.IssuerOfAccessionNumberSequence[0].LocalNamespaceEntityID == "RIS.EAST"
# The study keeps its UID; the instance its identity.
assert new.StudyInstanceUID == old.StudyInstanceUID
assert new.SOPInstanceUID == old.SOPInstanceUID
assert new.file_meta.TransferSyntaxUID == old.file_meta.TransferSyntaxUID
# Old values kept, with when, by what and why.
item = new.OriginalAttributesSequence[-1]
assert item.ModifyingSystem == "QCDESK" and item.ReasonForTheAttributeModification == "CORRECT"
assert len(item.AttributeModificationDateTime) >= 14
mod = item.ModifiedAttributesSequence[0]
assert mod.PatientID == old.PatientID and mod.PatientName == old.PatientName
assert "AccessionNumber" in mod
# Encapsulated pixel data byte for byte; every attribute not corrected as it was.
assert new.PixelData == old.PixelData
changed = {0x00080005, 0x00080050, 0x00080051, 0x00080090, 0x00081030, 0x00081032,
           0x00100010, 0x00100020, 0x00100021, 0x00100030, 0x00100040, 0x00101002,
           0x00200010, 0x00400275, 0x04000561}
for e in old:
    if int(e.tag) in changed:
        continue
    assert e.tag in new, e.tag
    assert new[e.tag].value == e.value, (e.tag, e.value, new[e.tag].value)
print("ok")
"#,
        &[&old_file, &new_file],
    );
    assert_eq!(checked.trim(), "ok");

    // No new dciodvfy errors.
    let before = dciodvfy_errors(&old_file);
    let after = dciodvfy_errors(&new_file);
    let new_errors: Vec<&String> = after.iter().filter(|e| !before.contains(e)).collect();
    assert!(
        new_errors.is_empty(),
        "new dciodvfy errors: {new_errors:#?}"
    );

    // The study now matches its order; show, history and the audit log say so.
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    assert_eq!(show["patient_id"], "P7700", "{show:#}");
    let history = qcdesk_json(w, &["history", &id, "--json"]);
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["action"], "order");
    assert_eq!(history[0]["operator"], "J. Smith");
    assert_eq!(history[0]["origin"]["accession"], "ACC77");
    let audit = qcdesk_json(w, &["audit", &id, "--json"]);
    assert_eq!(audit[0]["detail"]["versions"][0]["before"], original[0]);
    assert_eq!(audit[0]["detail"]["versions"][0]["after"], corrected[0]);
    assert_eq!(
        audit[0]["detail"]["reason"],
        "wrong patient selected at the modality"
    );

    // Applying it again changes nothing and says so.
    let again = qcdesk(w, &["fix", &id, "--order", "ACC77"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already holds these values"),
        "{}",
        stderr(&again)
    );

    // Undo: back on the original, byte for byte; the corrected version stays in history.
    let undo = qcdesk_json(w, &["undo", &id, "--json"]);
    assert_eq!(undo["instances"], 1);
    assert_eq!(current_blobs(w, &id), original);
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    assert_ne!(show["patient_id"], "P7700");
    assert!(new_file.exists());
    let history = qcdesk_json(w, &["history", &id, "--json"]);
    assert_eq!(history[0]["undone_by"], history[1]["id"]);
    assert_eq!(history[1]["action"], "undo");
    let no_more = qcdesk(w, &["undo", &id]);
    assert!(!no_more.status.success());
    assert!(stderr(&no_more).contains("no correction to undo"));

    let verify = qcdesk(w, &["audit", "--verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    let v = qcdesk_json(w, &["verify", "--json"]);
    assert_eq!(v["ok"], true, "{v:#}");
}

#[test]
fn names_round_trip_in_latin1_utf8_and_cjk_and_iso2022_files_are_refused() {
    let read_name = r#"
import sys, pydicom
d = pydicom.dcmread(sys.argv[1])
print(d.get("SpecificCharacterSet", ""), "|", str(d.PatientName), sep="")
"#;
    let cases = [
        // Latin-1 file, Latin-1 name: the set stays.
        ("charset_files/chrFren.dcm", "Dubois^Amélie", "ISO_IR 100"),
        // No set declared, a CJK name: UTF-8.
        (
            "test_files/CT_small.dcm",
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
            "ISO_IR 192",
        ),
        // Latin-1 file, a Greek name: UTF-8, and the French text of the file converted.
        (
            "charset_files/chrFren.dcm",
            "Παπαδόπουλος^Νίκος",
            "ISO_IR 192",
        ),
    ];
    for (file, name, charset) in cases {
        let (ws, id) = workspace_with(file);
        let w = ws.path();
        let setting = format!("PatientName={name}");
        let out = qcdesk(w, &["fix", &id, "--set", &setting]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let blob = current_blobs(w, &id)[0].clone();
        let got = python(read_name, &[&blob_path(w, &blob)]);
        assert_eq!(got.trim(), format!("{charset}|{name}"), "{file}");
        let show = qcdesk_json(w, &["show", &id, "--json"]);
        assert_eq!(show["patient_name"], name, "{file}");
        if charset == "ISO_IR 192" && file.contains("chrFren") {
            // The rest of the file's text survives the change of character set.
            let old = python(
                "import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); print(d.OriginalAttributesSequence[0].ModifiedAttributesSequence[0].PatientName)",
                &[&blob_path(w, &blob)],
            );
            assert_eq!(old.trim(), "Buc^Jérôme");
        }
    }
    // ISO 2022 with code extensions: refused, naming the file and the set.
    let (ws, id) = workspace_with("charset_files/chrJapMulti.dcm");
    let out = qcdesk(
        ws.path(),
        &["fix", &id, "--set", "PatientName=Yamada^Tarou"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("chrJapMulti.dcm") && err.contains("ISO 2022 IR 87"),
        "{err}"
    );
    assert!(err.contains("not changed"), "{err}");
}

#[test]
fn invalid_values_are_refused_naming_each_field_and_nothing_changes() {
    let (ws, id) = workspace_with("test_files/CT_small.dcm");
    let w = ws.path();
    let before = current_blobs(w, &id);
    let out = qcdesk(
        w,
        &[
            "fix",
            &id,
            "--set",
            "PatientBirthDate=1980-13-01",
            "--set",
            "PatientSex=female",
            "--set",
            "PatientName=A^B^C^D^E^F",
            "--set",
            "AccessionNumber=ABCDEFGHIJKLMNOPQ",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for f in [
        "PatientBirthDate:",
        "PatientSex:",
        "PatientName:",
        "AccessionNumber:",
    ] {
        assert!(err.contains(f), "{f} not named: {err}");
    }
    let out = qcdesk(w, &["fix", &id, "--set", "Modality=MR"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a field qcdesk edits"));
    let out = qcdesk(w, &["fix", &id]);
    assert_eq!(out.status.code(), Some(1), "neither --order nor --set");
    assert_eq!(current_blobs(w, &id), before);
    assert_eq!(
        qcdesk_json(w, &["history", &id, "--json"]),
        serde_json::json!([])
    );
}

/// Runs SQL on the workspace database around qcdesk (as someone with the file could).
fn tamper(ws: &Path, sql: &str) {
    python(
        "import sys, sqlite3\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.commit()",
        &[&ws.join("qcdesk.sqlite"), Path::new(sql)],
    );
}

#[test]
fn the_audit_chain_names_the_first_altered_or_deleted_entry() {
    let (ws, id) = workspace_with("test_files/CT_small.dcm");
    let w = ws.path();
    for v in ["P1", "P2", "P3"] {
        let out = qcdesk(w, &["fix", &id, "--set", &format!("PatientID={v}")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let ok = qcdesk_json(w, &["audit", "--verify", "--json"]);
    assert_eq!(ok["entries"], 3);
    assert_eq!(ok["first_bad"], Value::Null);
    let copy = tempfile::tempdir().unwrap();
    let copy_ws = |name: &str| {
        let d = copy.path().join(name);
        let out = Command::new("cp")
            .arg("-a")
            .arg(w)
            .arg(&d)
            .output()
            .unwrap();
        assert!(out.status.success());
        d
    };
    let (altered, deleted, tail) = (copy_ws("altered"), copy_ws("deleted"), copy_ws("tail"));

    // The database itself refuses.
    let refused = Command::new("python3")
        .args([
            "-c",
            "import sys, sqlite3\nc = sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE audit_log SET operator = 'x'\")\nc.commit()",
        ])
        .arg(w.join("qcdesk.sqlite"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("append-only"));

    // Around the triggers: an entry altered, one deleted, the newest deleted.
    tamper(
        &altered,
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = replace(detail, 'P2', 'P9') WHERE id = 2;",
    );
    tamper(
        &deleted,
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 2;",
    );
    tamper(
        &tail,
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 3;",
    );
    for (dir, entry, words) in [
        (&altered, "entry 2", "altered"),
        (&deleted, "entry 3", "missing"),
        (&tail, "entry 3", "missing"),
    ] {
        let out = qcdesk(dir, &["audit", "--verify"]);
        assert_eq!(out.status.code(), Some(1), "{}", dir.display());
        let err = stderr(&out);
        assert!(err.contains(entry) && err.contains(words), "{err}");
    }
}

#[test]
fn a_correction_prepared_on_an_older_state_is_refused() {
    use qcdesk::reconcile::correction::Correction;
    use qcdesk::reconcile::fields::parse_assignment;
    use qcdesk::reconcile::fix::{self, Who};

    let (ws, id) = workspace_with("test_files/CT_small.dcm");
    let mut store = qcdesk::store::Store::open(ws.path()).unwrap();
    let id: i64 = id.parse().unwrap();
    let c = Correction::manual(&[parse_assignment("PatientID=NEW1").unwrap()]);
    let preview = fix::preview(&store, id, &c).unwrap();
    assert_eq!(preview.instances, 1);
    // Meanwhile someone else corrects it.
    let out = qcdesk(
        ws.path(),
        &["fix", &id.to_string(), "--set", "PatientID=OTHER"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = fix::apply(&mut store, &preview, &c, &Who::default(), |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("changed since"), "{err}");
    let show = qcdesk_json(ws.path(), &["show", &id.to_string(), "--json"]);
    assert_eq!(show["patient_id"], "OTHER");
}

#[test]
fn a_correction_killed_midway_leaves_one_complete_version() {
    let ws = demo_workspace();
    let w = ws.path();
    // The study with the most instances.
    let queue = qcdesk_json(w, &["queue", "--json"]);
    let big = queue
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|s| s["instances"].as_u64().unwrap_or(0))
        .unwrap();
    let id = big["id"].to_string();
    assert!(big["instances"].as_u64().unwrap() >= 10, "{big:#}");

    // How long one correction takes here, to kill the others inside it.
    let started = std::time::Instant::now();
    let out = qcdesk(w, &["fix", &id, "--set", "PatientID=TRIAL0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full = started.elapsed();

    let mut killed_midway = 0;
    for trial in 1..=8u32 {
        let before = current_blobs(w, &id);
        let history_before = qcdesk_json(w, &["history", &id, "--json"])
            .as_array()
            .unwrap()
            .len();
        let mut child = Command::new(bin())
            .arg("--workspace")
            .arg(w)
            .args(["fix", &id, "--set", &format!("PatientID=TRIAL{trial}")])
            .spawn()
            .unwrap();
        std::thread::sleep(full * trial / 9);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        let after = current_blobs(w, &id);
        let history_after = qcdesk_json(w, &["history", &id, "--json"])
            .as_array()
            .unwrap()
            .len();
        if after == before {
            assert_eq!(history_after, history_before, "trial {trial}");
            if !finished {
                killed_midway += 1;
            }
        } else {
            assert_eq!(history_after, history_before + 1, "trial {trial}");
            assert!(
                after.iter().all(|b| !before.contains(b)),
                "trial {trial}: a mix of versions: {before:?} -> {after:?}"
            );
        }
        let show = qcdesk_json(w, &["show", &id, "--json"]);
        let pid = show["patient_id"].as_str().unwrap();
        assert!(
            pid == format!("TRIAL{trial}")
                || pid == format!("TRIAL{}", trial - 1)
                || after == before,
            "trial {trial}: {pid}"
        );
        let v = qcdesk_json(w, &["verify", "--json"]);
        assert_eq!(v["ok"], true, "trial {trial}: {v:#}");
    }
    assert!(killed_midway > 0, "no trial was killed before it committed");
    let verify = qcdesk(w, &["audit", "--verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

/// The queue's studies with a finding of this code.
fn studies_with_finding(ws: &Path, code: &str) -> Vec<Value> {
    let queue = qcdesk_json(ws, &["queue", "--json"]);
    queue
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == code)
        })
        .cloned()
        .collect()
}

fn series_uids(ws: &Path, id: &str) -> Vec<String> {
    let show = qcdesk_json(ws, &["show", id, "--json"]);
    show["series_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["series_instance_uid"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn merging_a_split_study_joins_it_moving_a_series_splits_it_and_undo_takes_both_back() {
    let ws = demo_workspace();
    let w = ws.path();
    let split = studies_with_finding(w, "split_study");
    assert_eq!(split.len(), 2, "the demo's split study: {split:#?}");
    let (a, b) = (split[0]["id"].to_string(), split[1]["id"].to_string());
    let (na, nb) = (
        split[0]["instances"].as_u64().unwrap(),
        split[1]["instances"].as_u64().unwrap(),
    );
    let uid_a = split[0]["study_instance_uid"].as_str().unwrap().to_string();

    let merged = qcdesk_json(w, &["merge", &a, &b, "--json"]);
    assert_eq!(merged["to_study"].to_string(), a, "{merged:#}");
    assert_eq!(merged["instances"].as_u64(), Some(nb));
    assert_eq!(merged["other_patient"], Value::Null, "one patient");
    let queue = qcdesk_json(w, &["queue", "--json"]);
    let rows = queue.as_array().unwrap();
    assert!(
        rows.iter().all(|r| r["id"] != split[1]["id"]),
        "the emptied study leaves the queue"
    );
    let row_a = rows.iter().find(|r| r["id"] == split[0]["id"]).unwrap();
    assert_eq!(row_a["instances"].as_u64(), Some(na + nb));
    assert!(studies_with_finding(w, "split_study").is_empty());
    // The moved files carry the kept study's UID.
    let blobs = current_blobs(w, &a);
    let uids = python(
        "import sys, pydicom\nprint(sorted({pydicom.dcmread(f).StudyInstanceUID for f in sys.argv[1:]}))",
        &blobs
            .iter()
            .map(|h| blob_path(w, h))
            .collect::<Vec<_>>()
            .iter()
            .map(|p| p.as_path())
            .collect::<Vec<_>>(),
    );
    assert_eq!(uids.trim(), format!("['{uid_a}']"));
    // Both studies' history shows it; undo from either takes it back.
    assert_eq!(
        qcdesk_json(w, &["history", &b, "--json"])[0]["action"],
        "merge"
    );
    let undo = qcdesk_json(w, &["undo", &b, "--json"]);
    assert_eq!(undo["instances"].as_u64(), Some(nb));
    assert_eq!(studies_with_finding(w, "split_study").len(), 2);

    // Split: a series of A to a new study, then back.
    let series = series_uids(w, &a);
    let moved = qcdesk_json(w, &["move", &series[0], "--new", "--json"]);
    let new_id = moved["to_study"].to_string();
    assert_ne!(new_id, "null", "{moved:#}");
    let show = qcdesk_json(w, &["show", &new_id, "--json"]);
    assert_ne!(show["study_instance_uid"], uid_a.as_str());
    assert_eq!(series_uids(w, &new_id), vec![series[0].clone()]);
    let undo = qcdesk(w, &["undo", &new_id]);
    assert!(undo.status.success(), "{}", stderr(&undo));
    assert_eq!(series_uids(w, &a), series);

    // Onto another patient: refused without a reason and a second confirmation.
    let queue = qcdesk_json(w, &["queue", "--json"]);
    let other = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["patient_id"] != split[0]["patient_id"] && r["instances"].as_u64() > Some(0))
        .unwrap();
    let other_id = other["id"].to_string();
    let out = qcdesk(w, &["move", &series[0], "--to", &other_id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--confirm-other-patient"),
        "{}",
        stderr(&out)
    );
    assert_eq!(series_uids(w, &a), series, "nothing moved");
    let done = qcdesk_json(
        w,
        &[
            "move",
            &series[0],
            "--to",
            &other_id,
            "--reason",
            "series acquired on the wrong patient",
            "--confirm-other-patient",
            "--json",
        ],
    );
    assert!(done["other_patient"].is_array(), "{done:#}");
    let show = qcdesk_json(w, &["show", &other_id, "--json"]);
    assert!(
        show["series_list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["series_instance_uid"] == series[0].as_str())
    );
    let moved_blob = show["series_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["series_instance_uid"] == series[0].as_str())
        .unwrap()["instances"][0]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    let pid = python(
        "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]).PatientID)",
        &[&blob_path(w, &moved_blob)],
    );
    assert_eq!(pid.trim(), other["patient_id"].as_str().unwrap());
    let verify = qcdesk(w, &["audit", "--verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn rejecting_adds_a_valid_kos_note_and_leaves_the_instances_out_of_rules_and_sending() {
    let ws = demo_workspace();
    let w = ws.path();
    let queue = qcdesk_json(w, &["queue", "--json"]);
    let big = queue
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "matched")
        .max_by_key(|s| s["instances"].as_u64().unwrap_or(0))
        .unwrap()
        .clone();
    let id = big["id"].to_string();
    let n = big["instances"].as_u64().unwrap();
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    let first = &show["series_list"][0];
    let series_uid = first["series_instance_uid"].as_str().unwrap().to_string();
    let in_series = first["instances"].as_array().unwrap().len() as u64;
    let rejected_sops: Vec<String> = first["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sop_instance_uid"].as_str().unwrap().to_string())
        .collect();

    let bad = qcdesk(w, &["reject", &series_uid, "--code", "999"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("113038 (Incorrect Modality Worklist Entry)"));

    let done = qcdesk_json(
        w,
        &[
            "reject",
            &series_uid,
            "--code",
            "113001",
            "--reason",
            "motion",
            "--json",
        ],
    );
    assert_eq!(done["rejected"].as_u64(), Some(in_series), "{done:#}");
    assert_eq!(done["meaning"], "Rejected for Quality Reasons");

    // The study: the series marked, the note in a KO series of its own, counts without them.
    let show = qcdesk_json(w, &["show", &id, "--json"]);
    let series = show["series_list"].as_array().unwrap();
    assert!(
        series[0]["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["rejected"] == true)
    );
    let ko = series
        .iter()
        .find(|s| s["modality"] == "KO")
        .expect("the rejection note's series");
    assert_eq!(
        ko["instances"][0]["sop_instance_uid"],
        done["note_sop_instance_uid"]
    );
    assert_eq!(show["state"], "matched", "still this patient's study");
    assert_eq!(show["instances"].as_u64(), Some(n - in_series + 1));

    // A valid Key Object Selection document listing exactly the rejected instances.
    let note = blob_path(w, ko["instances"][0]["blob"].as_str().unwrap());
    let errors = dciodvfy_errors(&note);
    assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    let listed = python(
        r#"
import sys, pydicom
d = pydicom.dcmread(sys.argv[1])
assert d.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"
c = d.ConceptNameCodeSequence[0]
assert (c.CodeValue, c.CodingSchemeDesignator) == ("113001", "DCM"), c
assert d.ContentTemplateSequence[0].TemplateIdentifier == "2010"
ev = d.CurrentRequestedProcedureEvidenceSequence[0]
print("\n".join(sorted(r.ReferencedSOPInstanceUID for s in ev.ReferencedSeriesSequence for r in s.ReferencedSOPSequence)))
"#,
        &[&note],
    );
    let mut expected = rejected_sops.clone();
    expected.sort();
    assert_eq!(listed.trim(), expected.join("\n"));

    // Nothing left to reject there; not undone; audited.
    let again = qcdesk(w, &["reject", &series_uid, "--code", "113001"]);
    assert!(
        stderr(&again).contains("nothing to reject"),
        "{}",
        stderr(&again)
    );
    let history = qcdesk_json(w, &["history", &id, "--json"]);
    assert_eq!(history[0]["action"], "reject");
    let undo = qcdesk(w, &["undo", &id]);
    assert!(stderr(&undo).contains("no correction to undo"));
    assert!(qcdesk(w, &["audit", "--verify"]).status.success());

    // Sending: the note goes, the rejected instances do not.
    let mut store = qcdesk::store::Store::open(w).unwrap();
    let id: i64 = id.parse().unwrap();
    let job = store.enqueue_send(id, "demo-archive").unwrap();
    let t = store
        .transfers(None)
        .unwrap()
        .into_iter()
        .find(|t| t.job == job)
        .unwrap();
    assert_eq!(t.instances as u64, n - in_series + 1);
}

#[test]
fn an_order_applied_with_its_study_uid_moves_the_instances_to_that_study_and_back() {
    let (ws, id) = workspace_with("test_files/CT_small.dcm");
    let w = ws.path();
    add_orders(w, ORDER_CSV);
    let old_uid = qcdesk_json(w, &["show", &id, "--json"])["study_instance_uid"].clone();
    let done = qcdesk_json(
        w,
        &["fix", &id, "--order", "ACC77", "--take-study-uid", "--json"],
    );
    let to = done["to_study"].to_string();
    assert_ne!(to, id, "{done:#}");
    let show = qcdesk_json(w, &["show", &to, "--json"]);
    assert_eq!(show["study_instance_uid"], "1.2.826.0.1.3680043.8.498.77");
    assert_eq!(show["patient_id"], "P7700");
    let queue = qcdesk_json(w, &["queue", "--json"]);
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue:#}");
    let undo = qcdesk(w, &["undo", &to]);
    assert!(undo.status.success(), "{}", stderr(&undo));
    let queue = qcdesk_json(w, &["queue", "--json"]);
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["study_instance_uid"], old_uid);
    // Without a UID in the order it is refused.
    let ws2 = tempfile::tempdir().unwrap();
    let src = pydicom_dir().join("test_files/CT_small.dcm");
    qcdesk_json(ws2.path(), &["import", src.to_str().unwrap(), "--json"]);
    add_orders(
        ws2.path(),
        "accession,patient_name,patient_id\nNOUID1,Doe^Jane,P1\n",
    );
    let id2 = qcdesk_json(ws2.path(), &["queue", "--json"])[0]["id"].to_string();
    let out = qcdesk(
        ws2.path(),
        &["fix", &id2, "--order", "NOUID1", "--take-study-uid"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no Study Instance UID"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bulk_edit_corrects_each_study_of_one_patient_and_refuses_two_patients() {
    let ws = demo_workspace();
    let w = ws.path();
    let split = studies_with_finding(w, "split_study");
    let (a, b) = (split[0]["id"].to_string(), split[1]["id"].to_string());
    let done = qcdesk_json(
        w,
        &[
            "fix",
            &a,
            &b,
            "--set",
            "ReferringPhysicianName=Welby^Marcus",
            "--json",
        ],
    );
    let rows = done.as_array().expect("one object per study");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["version"].is_i64()), "{done:#}");
    for id in [&a, &b] {
        let h = qcdesk_json(w, &["history", id, "--json"]);
        assert_eq!(h.as_array().unwrap().len(), 1);
    }
    let other = qcdesk_json(w, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["patient_id"] != split[0]["patient_id"])
        .unwrap()["id"]
        .to_string();
    let out = qcdesk(w, &["fix", &a, &other, "--set", "StudyDescription=X"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("2 patients"), "{}", stderr(&out));
    let out = qcdesk(w, &["fix", &a, &b, "--order", "A240127"]);
    assert_eq!(out.status.code(), Some(1));
}
