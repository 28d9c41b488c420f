//! Import: pydicom's test files, re-import, conflicts, DICOMDIR media, and bad input.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;

fn import_json(ws: &Path, paths: &[&Path]) -> serde_json::Value {
    let mut args: Vec<String> = vec!["import".into(), "--json".into()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    qcdesk_json(ws, &args)
}

fn db(ws: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.join("qcdesk.sqlite")).expect("open db")
}

fn stored_paths(ws: &Path) -> HashSet<PathBuf> {
    let conn = db(ws);
    let mut stmt = conn.prepare("SELECT original_path FROM files").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| PathBuf::from(p.unwrap()))
        .collect()
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn paths_of(v: &serde_json::Value, key: &str) -> Vec<(String, String)> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_string(),
                p["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_pydicom_file_is_indexed_or_listed_with_a_reason() {
    let ws = tempfile::tempdir().unwrap();
    let src = pydicom_dir();
    let r = import_json(ws.path(), &[&src]);

    let all = files_under(&src);
    assert_eq!(n(&r, "files_found"), all.len() as u64);
    assert_eq!(
        all.len(),
        195,
        "tests/data/pydicom changed: update the counts below"
    );
    assert_eq!(n(&r, "new_instances"), 143);
    assert_eq!(
        n(&r, "duplicates"),
        2,
        "one pydicom file is a byte-identical copy of another; meta_missing_tsyntax.dcm holds \
         nested_priv_SQ.dcm's data set (no UIDs: the data set identifies it)"
    );
    assert_eq!(
        n(&r, "variants"),
        11,
        "one SOP Instance in other encodings (big endian, implicit, RLE, JPEG-LS, J2K...)"
    );
    assert_eq!(
        n(&r, "conflicts"),
        19,
        "one SOP Instance UID with other values (pixels, frames, truncation...)"
    );
    assert_eq!(n(&r, "non_dicom"), 12);
    assert_eq!(n(&r, "dicomdirs"), 8);
    assert!(r["unreadable"].as_array().unwrap().is_empty());
    assert_eq!(
        n(&r, "new_instances")
            + n(&r, "duplicates")
            + n(&r, "variants")
            + n(&r, "conflicts")
            + n(&r, "non_dicom")
            + n(&r, "dicomdirs"),
        n(&r, "files_found")
    );

    // Every file is in the store, or skipped with a reason, or a DICOMDIR, or a byte copy of one stored.
    let stored = stored_paths(ws.path());
    let skipped: HashSet<PathBuf> = paths_of(&r, "skipped")
        .into_iter()
        .map(|(p, _)| PathBuf::from(p))
        .collect();
    let mut uncovered = Vec::new();
    for f in &all {
        let is_dicomdir = f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("DICOMDIR"));
        if !stored.contains(f) && !skipped.contains(f) && !is_dicomdir {
            uncovered.push(f.clone());
        }
    }
    assert_eq!(
        uncovered.len(),
        1,
        "only the duplicate may be unlisted: {uncovered:?}"
    );
    let dup = std::fs::read(&uncovered[0]).unwrap();
    assert!(
        stored
            .iter()
            .any(|p| std::fs::read(p).map(|b| b == dup).unwrap_or(false)),
        "{} is not a copy of a stored file",
        uncovered[0].display()
    );
    for (path, reason) in paths_of(&r, "skipped") {
        assert!(!reason.is_empty(), "{path} skipped without reason");
    }

    // The damaged files are kept and named with their fault.
    let broken = paths_of(&r, "broken");
    let reason_of = |name: &str| {
        broken
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{name} not listed as broken: {broken:?}"))
    };
    assert!(reason_of("MR_truncated.dcm").contains("truncated"));
    assert!(reason_of("rtplan_truncated.dcm").contains("(300A,012C)"));
    assert!(reason_of("SC_rgb_jpeg.dcm").contains("(0008,0008)"));
    assert_eq!(broken.len(), 3);

    // The files dicom-rs alone refuses are still indexed with their header.
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let studies = queue.as_array().unwrap();
    let find = |uid: &str| studies.iter().find(|s| s["study_instance_uid"] == uid);
    // no_meta_group_length.dcm and meta_missing_tsyntax.dcm (CT_small's study) and UN_sequence.dcm.
    let ct_small = find("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322").expect("CT_small study");
    assert_eq!(ct_small["patient_name"], "CompressedSamples^CT1");
    let un = find("1.2.840.113619.2.327.3.185221411.476.1398588725.795");
    assert!(
        un.is_none(),
        "UN_sequence's Study UID is inside the UN sequence, not at the top level"
    );
    let notes: Vec<String> = studies
        .iter()
        .flat_map(|s| s["findings"].as_array().unwrap().iter())
        .filter(|f| f["code"] == "format_note")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        notes.iter().any(|m| m.contains("CP-246")),
        "UN sequence skipped with a note: {notes:?}"
    );
    assert!(
        notes.iter().any(|m| m.contains("no group length")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|m| m.contains("no Transfer Syntax UID")),
        "{notes:?}"
    );

    // Names in every character set pydicom has samples of, ISO 2022 ones included
    // (which dicom-rs leaves undecoded and qcdesk decodes itself).
    let names: Vec<&str> = studies
        .iter()
        .map(|s| s["patient_name"].as_str().unwrap())
        .collect();
    for expected in [
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
        "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
        "Hong^Gildong=洪^吉洞=홍^길동",
        "やまだ^たろう",
        "김희중",
        "Wang^XiaoDong=王^小東=",
        "Wang^XiaoDong=王^小东=",
        "Äneas^Rüdiger",
        "Διονυσιος",
        "Люкceмбypг",
        "قباني^لنزار",
        "שרון^דבורה",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not decoded; names: {names:?}"
        );
    }

    // The store agrees with the database.
    let verify = qcdesk_json(ws.path(), &["verify", "--json"]);
    assert_eq!(verify["ok"], true, "{verify}");
}

#[test]
fn reimporting_the_same_bytes_is_a_no_op_and_originals_stay_untouched() {
    let ws = tempfile::tempdir().unwrap();
    let src = pydicom_dir().join("test_files");
    let before: Vec<(PathBuf, Vec<u8>)> = files_under(&src)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let first = import_json(ws.path(), &[&src]);
    let studies_before = qcdesk_json(ws.path(), &["queue", "--json"]);
    let second = import_json(ws.path(), &[&src]);
    assert_eq!(n(&second, "new_instances"), 0);
    assert_eq!(n(&second, "conflicts"), 0);
    assert_eq!(
        n(&second, "duplicates"),
        n(&first, "new_instances")
            + n(&first, "conflicts")
            + n(&first, "variants")
            + n(&first, "duplicates")
    );
    let studies_after = qcdesk_json(ws.path(), &["queue", "--json"]);
    assert_eq!(studies_before, studies_after);
    for (p, bytes) in before {
        assert!(
            std::fs::read(&p).unwrap() == bytes,
            "{} was modified",
            p.display()
        );
    }
}

#[test]
fn a_dicomdir_brings_in_the_files_it_lists() {
    let ws = tempfile::tempdir().unwrap();
    let medium = pydicom_dir().join("test_files/dicomdirtests/98892001/CT2N/DICOMDIR");
    let medium = if medium.exists() {
        medium
    } else {
        pydicom_dir().join("test_files/dicomdirtests/DICOMDIR")
    };
    let r = import_json(ws.path(), &[&medium]);
    assert_eq!(n(&r, "dicomdirs"), 1);
    assert!(n(&r, "new_instances") > 10, "{r}");
    assert!(
        r["missing_from_dicomdir"].as_array().unwrap().is_empty(),
        "{r}"
    );
}

/// A small valid DICOM file whose Pixel Data is declared with `pixel_len` bytes and padded
/// with a sparse hole to that length (so "huge" costs no disk).
fn sparse_dicom(path: &Path, pixel_len: u32) {
    fn el(out: &mut Vec<u8>, g: u16, e: u16, vr: &[u8; 2], v: &[u8]) {
        out.extend_from_slice(&g.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
        out.extend_from_slice(vr);
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        out.extend_from_slice(v);
    }
    let mut f = vec![0u8; 128];
    f.extend_from_slice(b"DICM");
    let mut meta = Vec::new();
    el(&mut meta, 2, 0x10, b"UI", b"1.2.840.10008.1.2.1\0");
    el(&mut f, 2, 0, b"UL", &(meta.len() as u32).to_le_bytes());
    f.extend_from_slice(&meta);
    el(&mut f, 8, 0x16, b"UI", b"1.2.840.10008.5.1.4.1.1.7\0");
    el(&mut f, 8, 0x18, b"UI", b"1.2.3.4.5.6.7.8\0");
    el(&mut f, 0x10, 0x10, b"PN", b"HUGE^FILE");
    el(&mut f, 0x20, 0x0D, b"UI", b"1.2.3.4.5.6\0");
    el(&mut f, 0x20, 0x0E, b"UI", b"1.2.3.4.5.6.7\0");
    f.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
    f.extend_from_slice(&pixel_len.to_le_bytes());
    let header_len = f.len() as u64;
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&f).unwrap();
    file.set_len(header_len + u64::from(pixel_len)).unwrap();
}

#[test]
fn bad_input_gets_a_reason_and_harms_nothing() {
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let d = inbox.path();
    std::fs::write(d.join("empty.dcm"), b"").unwrap();
    std::fs::write(d.join("notes.txt"), b"scanned by the night shift\n").unwrap();
    let ct = std::fs::read(pydicom_dir().join("test_files/CT_small.dcm")).unwrap();
    std::fs::write(d.join("cut.dcm"), &ct[..ct.len() / 2]).unwrap();
    let mut garbage = ct.clone();
    for b in &mut garbage[400..460] {
        *b = 0xFF;
    }
    std::fs::write(d.join("garbage.dcm"), &garbage).unwrap();
    // Huge: a 3 GB non-DICOM file and a 100 MB DICOM file, both sparse.
    std::fs::File::create(d.join("disk.img"))
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    sparse_dicom(&d.join("huge.dcm"), 100 << 20);
    std::os::unix::fs::symlink(d.join("gone.dcm"), d.join("dangling.dcm")).unwrap();
    let locked = d.join("locked.dcm");
    std::fs::write(&locked, &ct).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }

    // As an unprivileged user (root reads anything): the locked file must be refused.
    let out = qcdesk_unprivileged(
        ws.path(),
        &["import", "--json", d.to_str().unwrap()],
        &[ws.path(), d],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped = paths_of(&r, "skipped");
    let skip_reason = |name: &str| {
        skipped
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, r)| r.clone())
    };
    assert_eq!(skip_reason("empty.dcm").as_deref(), Some("empty file"));
    assert!(skip_reason("notes.txt").is_some());
    assert!(skip_reason("disk.img").is_some());
    let unreadable = paths_of(&r, "unreadable");
    let unreadable_reason = |name: &str| {
        unreadable
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, r)| r.clone())
    };
    assert!(
        unreadable_reason("dangling.dcm").is_some_and(|r| r.contains("broken symbolic link")),
        "{unreadable:?}"
    );
    assert!(
        unreadable_reason("locked.dcm").is_some_and(|r| r.contains("ermission")),
        "{unreadable:?}"
    );
    let broken = paths_of(&r, "broken");
    assert!(
        broken
            .iter()
            .any(|(p, r)| p.ends_with("cut.dcm") && r.contains("truncated")),
        "{broken:?}"
    );
    assert!(
        broken.iter().any(|(p, _)| p.ends_with("garbage.dcm")),
        "{broken:?}"
    );

    // The huge DICOM file is indexed (streamed, not loaded) with its header.
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let huge = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["patient_name"] == "HUGE^FILE")
        .expect("huge file indexed");
    assert_eq!(huge["instances"], 1);
    // Rejected files are kept in the workspace so the desk can list them.
    let status = qcdesk_json(ws.path(), &["status", "--json"]);
    assert_eq!(status["rejects"].as_u64().unwrap(), unreadable.len() as u64);
    let verify = qcdesk_json(ws.path(), &["verify", "--json"]);
    assert_eq!(verify["ok"], true, "{verify}");
}

#[test]
fn a_database_from_a_newer_qcdesk_is_refused_and_left_alone() {
    let ws = tempfile::tempdir().unwrap();
    qcdesk_json(ws.path(), &["status", "--json"]);
    db(ws.path())
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let before = std::fs::read(ws.path().join("qcdesk.sqlite")).unwrap();
    let out = qcdesk(ws.path(), &["queue"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(ws.path().join("qcdesk.sqlite")).unwrap(),
        before
    );
}

#[test]
fn a_corrupt_database_is_named_in_the_error() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("qcdesk.sqlite"), vec![0x42u8; 8192]).unwrap();
    let out = qcdesk(ws.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("qcdesk.sqlite"), "{}", stderr(&out));
}

#[test]
fn a_workspace_that_cannot_be_written_is_refused_with_its_path() {
    // /sys cannot be written even by root; a chmod'ed folder covers other users.
    let out = qcdesk(Path::new("/sys/qcdesk-test-workspace"), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/sys/qcdesk-test-workspace"),
        "{}",
        stderr(&out)
    );
    // A folder its user may not write (root may write anything: run as `nobody`).
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let ws = parent.path().join("ws");
    let ct = parent.path().join("ct.dcm");
    std::fs::copy(pydicom_dir().join("test_files/CT_small.dcm"), &ct).unwrap();
    let out = qcdesk_unprivileged(&ws, &["status", "--json"], &[parent.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::set_permissions(&ws, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = qcdesk_unprivileged(&ws, &["import", ct.to_str().unwrap()], &[]);
    std::fs::set_permissions(&ws, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
}

#[test]
fn zeros_behind_a_dicm_marker_are_refused_at_once_and_not_stored() {
    // What a crash or a failed copy leaves: a DICM marker, then 5 GB of zeros (sparse here).
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let path = inbox.path().join("zeros.dcm");
    let mut head = vec![0u8; 128];
    head.extend_from_slice(b"DICM");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&head).unwrap();
    f.set_len(5 << 30).unwrap();
    drop(f);
    let r = import_json(ws.path(), &[inbox.path()]);
    let unreadable = paths_of(&r, "unreadable");
    assert_eq!(unreadable.len(), 1, "{r}");
    assert!(
        unreadable[0].1.contains("group 0000") && unreadable[0].1.contains("not stored"),
        "{unreadable:?}"
    );
    assert_eq!(n(&r, "new_instances"), 0);
    assert!(files_under(&ws.path().join("store")).is_empty());
}

#[test]
fn the_unreadable_list_does_not_grow_on_re_import() {
    let ws = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        inbox.path().join("gone.dcm"),
        inbox.path().join("dangling.dcm"),
    )
    .unwrap();
    for _ in 0..3 {
        import_json(ws.path(), &[inbox.path()]);
    }
    let status = qcdesk_json(ws.path(), &["status", "--json"]);
    assert_eq!(status["rejects"], 1, "{status}");
}

#[test]
fn verify_lists_files_the_database_does_not_know() {
    let ws = tempfile::tempdir().unwrap();
    import_json(ws.path(), &[&pydicom_dir().join("test_files/CT_small.dcm")]);
    let v = qcdesk_json(ws.path(), &["verify", "--json"]);
    assert_eq!(
        (v["ok"].clone(), v["orphans"].as_array().unwrap().len()),
        (true.into(), 0)
    );
    let stray = ws.path().join("store/ab/abcdef.dcm");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"left behind").unwrap();
    let v = qcdesk_json(ws.path(), &["verify", "--json"]);
    assert_eq!(v["ok"], true, "orphans are listed, not damage: {v}");
    assert_eq!(v["orphans"][0], stray.to_str().unwrap());
    let out = qcdesk(ws.path(), &["verify"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("abcdef.dcm"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn names_in_every_character_set_are_decoded() {
    let ws = tempfile::tempdir().unwrap();
    import_json(ws.path(), &[&pydicom_dir().join("charset_files")]);
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let names: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["patient_name"].as_str().unwrap())
        .collect();
    for expected in [
        "Διονυσιος",                            // ISO_IR 126 Greek
        "Люкceмбypг",                           // ISO_IR 144 Cyrillic
        "قباني^لنزار",                          // ISO_IR 127 Arabic
        "שרון^דבורה",                           // ISO_IR 138 Hebrew
        "Buc^Jérôme",                           // ISO_IR 100
        "Äneas^Rüdiger",                        // ISO_IR 100
        "Yamada^Tarou=山田^太郎=やまだ^たろう", // ISO 2022 IR 87
        "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",      // ISO 2022 IR 13 + 87
        "Hong^Gildong=洪^吉洞=홍^길동",         // ISO 2022 IR 149
        "Wang^XiaoDong=王^小東=",               // ISO_IR 192
        "Wang^XiaoDong=王^小东=",               // GB18030
    ] {
        assert!(names.contains(&expected), "{expected} not among {names:?}");
    }
    // None of them is flagged for its character set.
    for s in queue.as_array().unwrap() {
        for f in s["findings"].as_array().unwrap() {
            assert!(
                !matches!(
                    f["code"].as_str(),
                    Some("bad_charset" | "undeclared_charset")
                ),
                "{}: {f}",
                s["patient_name"]
            );
        }
    }
}
