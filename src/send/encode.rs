//! An instance's data set as it must travel: its own bytes when the archive took the file's
//! transfer syntax, else transcoded to the uncompressed syntax the archive accepted.

use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_pixeldata::Transcode;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::dicom::object::Bounds;
use crate::net::{EXPLICIT_VR_LE, IMPLICIT_VR_LE};

/// Deflated Explicit VR Little Endian.
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// The data set of the Part 10 file `bytes` (data set at `offset`, in `ts`) encoded in
/// `target`.
pub fn dataset_for(bytes: &[u8], offset: u64, ts: &str, target: &str) -> Result<Vec<u8>, String> {
    let data = bytes
        .get(offset as usize..)
        .ok_or_else(|| "the stored file is shorter than its header says".to_string())?;
    if ts == target {
        let mut out = data.to_vec();
        // A deflated stream may end on an odd byte; PDVs must be even (DCMTK aborts).
        if out.len() % 2 == 1 {
            out.push(0);
        }
        return Ok(out);
    }
    if target != EXPLICIT_VR_LE && target != IMPLICIT_VR_LE {
        return Err(format!("cannot convert to transfer syntax {target}"));
    }
    let target_ts = TransferSyntaxRegistry
        .get(target)
        .ok_or_else(|| format!("unknown transfer syntax {target}"))?;
    let from = TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| format!("unknown transfer syntax {ts}"))?;
    let uncompressed = !from.is_encapsulated_pixel_data() && ts != DEFLATED;
    // Read without recursion and within limits: a stored file came from a peer or a medium.
    let mut obj = crate::dicom::object::read_file_bytes(bytes, Bounds::default())
        .map_err(|e| format!("cannot read the stored file: {e}"))?;
    if !uncompressed {
        let explicit = TransferSyntaxRegistry
            .get(EXPLICIT_VR_LE)
            .ok_or("no Explicit VR Little Endian")?;
        obj.transcode(explicit).map_err(|e| {
            format!(
                "cannot decompress {} for the archive: {e}",
                crate::dicom::header::ts_name(ts)
            )
        })?;
    }
    let mut out = Vec::with_capacity(data.len() * 2);
    obj.write_dataset_with_ts(&mut out, target_ts)
        .map_err(|e| format!("cannot encode the data set: {e}"))?;
    Ok(out)
}
