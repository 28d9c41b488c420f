//! An instance is its data set: re-wrapped files are duplicates, transcoded copies are encoding
//! variants, a real change is a conflict that names the attribute, a SOP Instance UID in two
//! studies is flagged on both, and every arrival is a receipt. Copies are made by DCMTK.

mod common;

use std::path::{Path, PathBuf};

use common::*;

const CT: &str = "test_files/CT_small.dcm";
const STUDY: &str = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322";
const SOP: &str = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";

fn import(ws: &Path, paths: &[&Path]) -> serde_json::Value {
    let mut args: Vec<String> = vec!["import".into(), "--json".into()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    qcdesk_json(ws, &args)
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn ct_copy(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(pydicom_dir().join(CT), &p).unwrap();
    p
}

/// The instance `SOP` of study `STUDY` as `show --json` has it.
fn instance(ws: &Path, study: &str) -> serde_json::Value {
    let show = qcdesk_json(ws, &["show", study, "--json"]);
    show["series_list"][0]["instances"][0].clone()
}

#[test]
fn a_re_wrapped_file_is_a_duplicate_receipt() {
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let original = ct_copy(inbox.path(), "a.dcm");
    let first = import(ws.path(), &[&original]);
    assert_eq!(n(&first, "new_instances"), 1);

    // A router re-sent it: same data set, its own file meta group.
    let routed = inbox.path().join("routed.dcm");
    let bytes = std::fs::read(&original).unwrap();
    let rewrapped = rewrap(&bytes, "ROUTER_AE", "ROUTER_2_1");
    assert_ne!(rewrapped, bytes);
    std::fs::write(&routed, &rewrapped).unwrap();
    let r = import(ws.path(), &[&routed]);
    assert_eq!(
        (n(&r, "duplicates"), n(&r, "conflicts"), n(&r, "variants")),
        (1, 0, 0),
        "{r}"
    );
    let (state, codes, _) = study_findings(ws.path(), STUDY);
    assert!(!codes.iter().any(|c| c == "duplicate_sop_uid"), "{codes:?}");
    assert_ne!(state, "inconsistent");

    // Both files are kept, and every arrival is a receipt: the same bytes again from
    // another folder too.
    let again = tempfile::tempdir().unwrap();
    let copy = ct_copy(again.path(), "same.dcm");
    let r = import(ws.path(), &[&copy]);
    assert_eq!(n(&r, "duplicates"), 1);
    let inst = instance(ws.path(), STUDY);
    let receipts = inst["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 3, "{inst}");
    let paths: Vec<&str> = receipts
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            original.to_str().unwrap(),
            routed.to_str().unwrap(),
            copy.to_str().unwrap()
        ]
    );
    assert!(receipts.iter().all(|r| r["source_kind"] == "folder"));
    assert_eq!(receipts[0]["blob"], receipts[2]["blob"]);
    assert_ne!(receipts[0]["blob"], receipts[1]["blob"]);
    let roles: Vec<&str> = inst["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["original", "duplicate"]);
    assert_eq!(inst["dataset_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn a_transcoded_copy_is_an_encoding_variant() {
    let dcmconv = require_tool("dcmconv");
    let dcmcrle = require_tool("dcmcrle");
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let original = ct_copy(inbox.path(), "a.dcm");
    let implicit = inbox.path().join("implicit.dcm");
    let rle = inbox.path().join("rle.dcm");
    run_ok(
        &dcmconv,
        &[
            "+ti",
            original.to_str().unwrap(),
            implicit.to_str().unwrap(),
        ],
    );
    run_ok(
        &dcmcrle,
        &[original.to_str().unwrap(), rle.to_str().unwrap()],
    );
    let r = import(ws.path(), &[&original, &implicit, &rle]);
    assert_eq!(
        (
            n(&r, "new_instances"),
            n(&r, "variants"),
            n(&r, "conflicts")
        ),
        (1, 2, 0),
        "{r}"
    );
    let (state, codes, messages) = study_findings(ws.path(), STUDY);
    assert!(!codes.iter().any(|c| c == "duplicate_sop_uid"), "{codes:?}");
    assert_ne!(state, "inconsistent");
    let notes: Vec<&String> = messages
        .iter()
        .zip(&codes)
        .filter(|(_, c)| *c == "format_note")
        .map(|(m, _)| m)
        .collect();
    assert!(
        notes
            .iter()
            .any(|m| m.contains("Implicit VR Little Endian")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|m| m.contains("RLE Lossless")),
        "{notes:?}"
    );
}

#[test]
fn a_changed_value_is_a_conflict_naming_the_attribute() {
    let dcmodify = require_tool("dcmodify");
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let original = ct_copy(inbox.path(), "a.dcm");
    let changed = ct_copy(inbox.path(), "b.dcm");
    run_ok(
        &dcmodify,
        &["-nb", "-m", "(0010,0020)=1CT9", changed.to_str().unwrap()],
    );
    let r = import(ws.path(), &[&original, &changed]);
    assert_eq!((n(&r, "new_instances"), n(&r, "conflicts")), (1, 1), "{r}");
    let (state, codes, messages) = study_findings(ws.path(), STUDY);
    assert_eq!(state, "inconsistent");
    let at = codes.iter().position(|c| c == "duplicate_sop_uid").unwrap();
    assert!(
        messages[at].contains("PatientID: 1CT1 vs 1CT9"),
        "{}",
        messages[at]
    );
    // The instance still holds the first bytes, read-only; the conflict is kept beside it.
    let inst = instance(ws.path(), STUDY);
    assert_eq!(inst["conflicts"], 1);
    let blob = inst["blob"].as_str().unwrap();
    let path = ws
        .path()
        .join("store")
        .join(&blob[..2])
        .join(format!("{blob}.dcm"));
    assert!(std::fs::read(&path).unwrap() == std::fs::read(&original).unwrap());
    assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
    let conflict = &inst["copies"][1];
    assert_eq!(conflict["role"], "conflict");
    assert_eq!(conflict["differences"][0]["attribute"], "PatientID");
}

#[test]
fn changed_pixels_are_a_conflict_but_padding_is_not() {
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let original = ct_copy(inbox.path(), "a.dcm");
    let bytes = std::fs::read(&original).unwrap();
    // CT_small ends with 126 bytes of Data Set Trailing Padding after its pixel data.
    let mut pixel = bytes.clone();
    let inside = bytes.len() - 2000;
    pixel[inside] ^= 0x40;
    let mut padding = bytes.clone();
    let last = bytes.len() - 1;
    padding[last] ^= 0xFF;
    std::fs::write(inbox.path().join("b_pixel.dcm"), &pixel).unwrap();
    std::fs::write(inbox.path().join("c_padding.dcm"), &padding).unwrap();
    let r = import(ws.path(), &[inbox.path()]);
    assert_eq!(
        (
            n(&r, "new_instances"),
            n(&r, "conflicts"),
            n(&r, "variants")
        ),
        (1, 1, 1),
        "{r}"
    );
    let (_, codes, messages) = study_findings(ws.path(), STUDY);
    let at = codes.iter().position(|c| c == "duplicate_sop_uid").unwrap();
    assert!(messages[at].contains("PixelData"), "{}", messages[at]);
}

#[test]
fn a_sop_instance_uid_in_another_study_flags_both_and_the_newcomer_appears() {
    let dcmodify = require_tool("dcmodify");
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let original = ct_copy(inbox.path(), "a.dcm");
    let moved = ct_copy(inbox.path(), "b.dcm");
    run_ok(
        &dcmodify,
        &[
            "-nb",
            "-m",
            "(0020,000D)=1.2.826.0.1.3680043.2.1143.999",
            moved.to_str().unwrap(),
        ],
    );
    let r = import(ws.path(), &[&original, &moved]);
    assert_eq!(n(&r, "new_instances"), 2, "{r}");
    for (study, other) in [
        (STUDY, "1.2.826.0.1.3680043.2.1143.999"),
        ("1.2.826.0.1.3680043.2.1143.999", STUDY),
    ] {
        let (state, codes, messages) = study_findings(ws.path(), study);
        assert_eq!(state, "inconsistent", "{study}: {codes:?}");
        let at = codes
            .iter()
            .position(|c| c == "sop_uid_in_other_study")
            .unwrap_or_else(|| panic!("{study}: {codes:?}"));
        assert!(messages[at].contains(SOP) && messages[at].contains(other));
    }
}

#[test]
fn a_damaged_dicomdir_still_imports_its_folders() {
    let ws = tempfile::tempdir().unwrap();
    let medium = tempfile::tempdir().unwrap();
    let src = pydicom_dir().join("test_files/dicomdirtests");
    // A copy of the medium whose DICOMDIR is cut short.
    let mut copied = 0;
    for f in files_under(&src) {
        let rel = f.strip_prefix(&src).unwrap();
        // The sibling test DICOMDIRs and the nested medium are not part of this one.
        if (rel.components().count() == 1 && rel != Path::new("DICOMDIR"))
            || rel.starts_with("TINY_ALPHA")
        {
            continue;
        }
        let dest = medium.path().join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
        copied += 1;
    }
    let dicomdir = medium.path().join("DICOMDIR");
    let bytes = std::fs::read(&dicomdir).unwrap();
    std::fs::write(&dicomdir, &bytes[..bytes.len() / 3]).unwrap();

    let r = import(ws.path(), &[&dicomdir]);
    let unreadable = r["unreadable"].as_array().unwrap();
    assert!(
        unreadable
            .iter()
            .any(|u| u["path"].as_str().unwrap().ends_with("DICOMDIR")
                && u["reason"].as_str().unwrap().contains("read instead")),
        "{r}"
    );
    assert!(n(&r, "new_instances") > 10, "{r}");
    // Everything but the broken DICOMDIR was found, and each is listed as not referenced.
    assert_eq!(n(&r, "files_found") as usize, copied, "{r}");
    assert_eq!(
        r["not_in_dicomdir"].as_array().unwrap().len(),
        copied - 1,
        "{r}"
    );
}
