//! The header reader on hand-made files: each fault it must tolerate or refuse.

use std::io::Cursor;

use super::meta::has_long_length;
use super::*;

fn explicit_element(out: &mut Vec<u8>, group: u16, element: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    if has_long_length(vr) {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(value);
}

fn meta(with_group_length: bool) -> Vec<u8> {
    let mut meta = Vec::new();
    explicit_element(&mut meta, 2, 0x0003, b"UI", b"1.2.3.4\0");
    explicit_element(&mut meta, 2, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
    let mut f = vec![0u8; 128];
    f.extend_from_slice(b"DICM");
    if with_group_length {
        explicit_element(&mut f, 2, 0, b"UL", &(meta.len() as u32).to_le_bytes());
    }
    f.extend_from_slice(&meta);
    f
}

fn minimal_file(
    with_group_length: bool,
    pixel_len_declared: u32,
    pixel_len_present: usize,
) -> Vec<u8> {
    let mut f = meta(with_group_length);
    explicit_element(&mut f, 0x0008, 0x0018, b"UI", b"1.2.3.4\0");
    explicit_element(&mut f, 0x0010, 0x0010, b"PN", b"DOE^JANE");
    explicit_element(&mut f, 0x0020, 0x000D, b"UI", b"1.2.3\0");
    f.extend_from_slice(&0x7FE0u16.to_le_bytes());
    f.extend_from_slice(&0x0010u16.to_le_bytes());
    f.extend_from_slice(b"OW\0\0");
    f.extend_from_slice(&pixel_len_declared.to_le_bytes());
    f.extend(std::iter::repeat_n(0u8, pixel_len_present));
    f
}

fn read(f: &[u8]) -> ReadOutcome {
    read_header(&mut Cursor::new(f), f.len() as u64).unwrap()
}

fn kinds(out: &ReadOutcome) -> Vec<FaultKind> {
    out.faults.iter().map(|f| f.kind).collect()
}

#[test]
fn reads_a_minimal_file() {
    let f = minimal_file(true, 8, 8);
    let out = read(&f);
    assert_eq!(out.header.patient_name, "DOE^JANE");
    assert_eq!(out.header.sop_instance_uid, "1.2.3.4");
    assert_eq!(out.header.media_sop_instance_uid, "1.2.3.4");
    assert_eq!(out.header.study_uid, "1.2.3");
    assert!(out.header.has_pixel_data);
    assert!(out.faults.is_empty(), "{:?}", out.faults);
    // The data set starts right after the meta group.
    assert_eq!(
        &f[out.dataset_offset as usize..][..4],
        &[0x08, 0x00, 0x18, 0x00]
    );
}

#[test]
fn missing_group_length_is_a_note() {
    let out = read(&minimal_file(false, 8, 8));
    assert_eq!(out.header.patient_name, "DOE^JANE");
    assert_eq!(kinds(&out), [FaultKind::Note]);
    assert!(out.faults[0].message.contains("group length"));
}

#[test]
fn truncated_pixel_data_is_a_typed_fault() {
    let out = read(&minimal_file(true, 1024, 100));
    assert_eq!(out.header.patient_name, "DOE^JANE");
    assert_eq!(kinds(&out), [FaultKind::Truncated]);
    assert!(out.is_truncated());
}

#[test]
fn extended_offset_table_does_not_hide_pixel_data() {
    let mut f = minimal_file(true, 8, 8);
    // Insert (7FE0,0001) OV, 8 bytes, before Pixel Data.
    let at = f
        .windows(4)
        .position(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .unwrap();
    let mut eot = vec![0xE0, 0x7F, 0x01, 0x00, b'O', b'V', 0, 0, 8, 0, 0, 0];
    eot.extend_from_slice(&[0u8; 8]);
    f.splice(at..at, eot);
    let out = read(&f);
    assert!(out.header.has_pixel_data);
    assert!(out.faults.is_empty(), "{:?}", out.faults);
}

#[test]
fn absurd_element_lengths_are_refused_before_allocation() {
    let mut f = minimal_file(true, 8, 8);
    let at = f
        .windows(4)
        .position(|w| w == [0x10, 0x00, 0x10, 0x00])
        .unwrap();
    // (0010,1000) OB declaring 3 GB; the claimed file size would hold it.
    let mut big = vec![0x10, 0x00, 0x00, 0x10, b'O', b'B', 0, 0];
    big.extend_from_slice(&(3u32 << 30).to_le_bytes());
    f.splice(at + 16..at + 16, big);
    let out = read_header(&mut Cursor::new(&f), 1 << 40).unwrap();
    assert_eq!(out.header.patient_name, "DOE^JANE");
    assert!(
        out.faults[0]
            .message
            .contains("more than a header element may hold"),
        "{:?}",
        out.faults
    );
}

#[test]
fn rejects_non_dicom() {
    let text = b"hello, this is not a DICOM file at all, just some text bytes....";
    assert_eq!(
        read_header(&mut Cursor::new(text), 60),
        Err(NotDicom::NoMarker)
    );
    assert_eq!(read_header(&mut Cursor::new(b""), 0), Err(NotDicom::Empty));
}

#[test]
fn reads_a_bare_data_set() {
    let mut f = Vec::new();
    explicit_element(&mut f, 0x0008, 0x0018, b"UI", b"1.2.3.4\0");
    explicit_element(&mut f, 0x0010, 0x0020, b"LO", b"PID1");
    let out = read(&f);
    assert_eq!(out.header.patient_id, "PID1");
    assert!(out.faults[0].message.contains("no file meta"));
    assert_eq!(out.dataset_offset, 0);
}

#[test]
fn zeros_behind_a_marker_are_refused_at_once() {
    // What a crash or a failed copy leaves: a DICM marker, then nothing but zeros. Claimed
    // size 5 GB: reading must stop at the first element, not walk 600 million of them.
    let mut f = vec![0u8; 128];
    f.extend_from_slice(b"DICM");
    f.extend(std::iter::repeat_n(0u8, 4096));
    let out = read_header(&mut Cursor::new(&f), 5 << 30).unwrap();
    assert!(out.has_errors(), "{:?}", out.faults);
    assert!(
        out.errors().any(|e| e.message.contains("group 0000")),
        "{:?}",
        out.faults
    );
    assert!(out.identifies_nothing());
}

#[test]
fn elements_out_of_order_are_refused() {
    let mut f = meta(true);
    explicit_element(&mut f, 0x0010, 0x0010, b"PN", b"DOE^JANE");
    explicit_element(&mut f, 0x0008, 0x0018, b"UI", b"1.2.3.4\0");
    let out = read(&f);
    assert_eq!(out.header.patient_name, "DOE^JANE");
    assert!(
        out.errors().any(|e| e.message.contains("ascending order")),
        "{:?}",
        out.faults
    );
}

#[test]
fn text_is_decoded_by_every_value_of_the_character_set() {
    let mut f = meta(true);
    explicit_element(
        &mut f,
        0x0008,
        0x0005,
        b"CS",
        b"ISO 2022 IR 100\\ISO 2022 IR 126 ",
    );
    explicit_element(
        &mut f,
        0x0010,
        0x0010,
        b"PN",
        b"M\xfcller^\x1b-F\xc4\xe9\xef ",
    );
    let out = read(&f);
    assert_eq!(out.header.patient_name, "Müller^Διο");
    assert!(out.faults.is_empty(), "{:?}", out.faults);
}

#[test]
fn non_ascii_without_a_character_set_is_reported() {
    let mut f = meta(true);
    explicit_element(&mut f, 0x0010, 0x0010, b"PN", b"M\xfcller^J\xfcrgen ");
    explicit_element(&mut f, 0x0010, 0x0020, b"LO", b"12345 ");
    let out = read(&f);
    assert_eq!(out.header.patient_name, "Müller^Jürgen");
    assert_eq!(kinds(&out), [FaultKind::UndeclaredCharset]);
    assert!(out.faults[0].message.contains("PatientName"));
}

#[test]
fn issuer_of_accession_is_read_from_its_sequence() {
    let mut f = meta(true);
    explicit_element(&mut f, 0x0008, 0x0050, b"SH", b"A123");
    let mut item = Vec::new();
    explicit_element(&mut item, 0x0040, 0x0031, b"UT", b"RIS_EAST");
    let mut seq_item = vec![0xFE, 0xFF, 0x00, 0xE0];
    seq_item.extend_from_slice(&(item.len() as u32).to_le_bytes());
    seq_item.extend_from_slice(&item);
    explicit_element(&mut f, 0x0008, 0x0051, b"SQ", &seq_item);
    explicit_element(&mut f, 0x0010, 0x0010, b"PN", b"DOE^JANE");
    let out = read(&f);
    assert_eq!(out.header.accession, "A123");
    assert_eq!(out.header.issuer_of_accession, "RIS_EAST");
    assert_eq!(out.header.patient_name, "DOE^JANE");
    assert!(out.faults.is_empty(), "{:?}", out.faults);
}

#[test]
fn big_endian_numbers_read_right() {
    let mut f = Vec::new();
    // Explicit VR Big Endian, no meta: (0008,0018) then Rows = 512.
    let el = |out: &mut Vec<u8>, g: u16, e: u16, vr: &[u8; 2], v: &[u8]| {
        out.extend_from_slice(&g.to_be_bytes());
        out.extend_from_slice(&e.to_be_bytes());
        out.extend_from_slice(vr);
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v);
    };
    el(&mut f, 0x0008, 0x0018, b"UI", b"1.2.3.4\0");
    el(&mut f, 0x0028, 0x0010, b"US", &512u16.to_be_bytes());
    let out = read(&f);
    assert_eq!(out.header.rows, "512");
}
