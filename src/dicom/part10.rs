//! A received data set wrapped as a Part 10 file: preamble, `DICM`, and a file meta group
//! naming the SOP class and instance of the C-STORE, its transfer syntax and the sender's AE
//! title. The data set bytes follow exactly as they arrived.

use crate::dicom::write::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION};

/// The longest value a short-length element can hold (padded to even length).
const MAX_SHORT_VALUE: usize = 0xFFFE;

fn element(out: &mut Vec<u8>, element: u16, vr: &[u8; 2], value: &[u8], pad: u8) {
    let mut v = value.to_vec();
    if v.len() % 2 == 1 {
        v.push(pad);
    }
    out.extend_from_slice(&0x0002u16.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    if vr == b"OB" {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(&v);
}

/// The file's bytes and where its data set starts.
pub fn wrap_part10(
    sop_class: &str,
    sop_instance: &str,
    transfer_syntax: &str,
    source_ae: &str,
    data: &[u8],
) -> Result<(Vec<u8>, u64), String> {
    let mut out = file_head(
        sop_class,
        sop_instance,
        transfer_syntax,
        source_ae,
        data.len(),
    )?;
    let offset = out.len() as u64;
    out.extend_from_slice(data);
    Ok((out, offset))
}

/// Preamble, `DICM` and the file meta group: what precedes the data set. `room`: bytes to
/// reserve after it for the data set (the receiver appends the data set as it arrives, so it
/// is never copied into a file buffer again). A value too long for its length field (a UID
/// of 64 KB from a peer's command) is refused, never written with a wrapped length.
pub fn file_head(
    sop_class: &str,
    sop_instance: &str,
    transfer_syntax: &str,
    source_ae: &str,
    room: usize,
) -> Result<Vec<u8>, String> {
    for (what, v) in [
        ("SOP Class UID", sop_class),
        ("SOP Instance UID", sop_instance),
        ("Transfer Syntax UID", transfer_syntax),
        ("Source AE Title", source_ae),
    ] {
        if v.len() > MAX_SHORT_VALUE {
            return Err(format!(
                "{what} of {} bytes is longer than a file meta element can hold",
                v.len()
            ));
        }
    }
    let mut meta = Vec::with_capacity(256);
    element(&mut meta, 0x0001, b"OB", &[0, 1], 0);
    element(&mut meta, 0x0002, b"UI", sop_class.as_bytes(), 0);
    element(&mut meta, 0x0003, b"UI", sop_instance.as_bytes(), 0);
    element(&mut meta, 0x0010, b"UI", transfer_syntax.as_bytes(), 0);
    element(
        &mut meta,
        0x0012,
        b"UI",
        IMPLEMENTATION_CLASS_UID.as_bytes(),
        0,
    );
    element(
        &mut meta,
        0x0013,
        b"SH",
        IMPLEMENTATION_VERSION.as_bytes(),
        b' ',
    );
    if !source_ae.is_empty() {
        element(&mut meta, 0x0016, b"AE", source_ae.as_bytes(), b' ');
    }
    let mut out = Vec::with_capacity(132 + 12 + meta.len() + room);
    out.extend_from_slice(&[0u8; 128]);
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dicom_rs_reads_the_wrapped_file() {
        let obj = crate::dicom::write::DataSetBuilder::new()
            .text(
                dicom_dictionary_std::tags::SOP_INSTANCE_UID,
                dicom_core::VR::UI,
                "1.2.3",
            )
            .text(
                dicom_dictionary_std::tags::PATIENT_ID,
                dicom_core::VR::LO,
                "P1",
            )
            .build();
        let ts = dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN.erased();
        let mut data = Vec::new();
        obj.write_dataset_with_ts(&mut data, &ts).unwrap();
        let (bytes, offset) = wrap_part10(
            "1.2.840.10008.5.1.4.1.1.7",
            "1.2.3",
            "1.2.840.10008.1.2.1",
            "CT1",
            &data,
        )
        .unwrap();
        assert_eq!(&bytes[offset as usize..], &data[..]);
        // A UID its length field cannot hold is refused, not wrapped.
        let long = "1.".repeat(40_000);
        let err = file_head("1.2", &long, "1.2.840.10008.1.2.1", "CT1", 0).unwrap_err();
        assert!(err.contains("SOP Instance UID of 80000 bytes"), "{err}");
        let file = dicom_object::OpenFileOptions::new()
            .from_reader(&bytes[128..])
            .unwrap();
        assert_eq!(file.meta().media_storage_sop_instance_uid(), "1.2.3");
        assert_eq!(file.meta().transfer_syntax(), "1.2.840.10008.1.2.1");
        assert_eq!(
            file.element(dicom_dictionary_std::tags::PATIENT_ID)
                .unwrap()
                .to_str()
                .unwrap(),
            "P1"
        );
    }
}
