//! Entry points for the fuzz targets (`fuzz/`, run by `scripts/fuzz`): each takes arbitrary
//! bytes and hands them to the parsers a peer or a file feeds, as the product does. They
//! return nothing: a target passes when nothing panics, overflows or runs away.

use std::io::Cursor;

use crate::dicom::object::{self, Bounds};
use crate::net::scp::{Answer, StoreSink};

const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// A file: the header reader, the bounded object reader, the header dump, the copy
/// comparison.
pub fn file(data: &[u8]) {
    let len = data.len() as u64;
    let _ = crate::dicom::read_header(&mut Cursor::new(data), len);
    let _ = object::read_file_bytes(data, Bounds::default());
    let _ = crate::dicom::dump::dump(&mut Cursor::new(data), len);
    let _ =
        crate::dicom::compare::compare(&mut Cursor::new(data), len, &mut Cursor::new(data), len);
}

/// Collects a C-STORE's data set, as the demo archive's sink does.
struct Collect(Vec<u8>);

impl StoreSink for Collect {
    fn write(&mut self, bytes: &[u8]) {
        if self.0.len() + bytes.len() <= 1 << 20 {
            self.0.extend_from_slice(bytes);
        }
    }
    fn finish(self: Box<Self>) -> Answer {
        Answer::success()
    }
}

/// What an SCP reads from a peer: the association request, then DIMSE messages over P-DATA
/// PDUs (command sets decoded, data sets gathered or streamed), until the bytes run out.
pub fn dimse(data: &[u8]) {
    let rest = match data.first() {
        Some(0x01) => {
            let len = data
                .get(2..6)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .unwrap_or(0);
            let end = (6 + len).min(data.len());
            let _ = crate::net::fuzz_request(&data[..end]);
            &data[end..]
        }
        _ => data,
    };
    crate::net::fuzz_read_messages(rest, 64, &mut |_, _| Some(Box::new(Collect(Vec::new()))));
    let _ = crate::net::Command::decode(data);
}

/// A Storage Commitment request or report, in every transfer syntax a peer may negotiate.
pub fn commitment(data: &[u8]) {
    for ts in [EXPLICIT_VR_LE, IMPLICIT_VR_LE, EXPLICIT_VR_BE, DEFLATED] {
        let _ = crate::net::commitment::read_report(data, ts);
        let _ = crate::net::commitment::read_request(data, ts);
    }
    let _ = crate::dicom::dump::dump_dataset(data, IMPLICIT_VR_LE);
}

/// An image: its attributes, then its representative frame decoded (for a thumbnail) and
/// rendered.
pub fn decode(data: &[u8]) {
    let len = data.len() as u64;
    let mut src = Cursor::new(data);
    let Ok(info) = crate::imaging::read_info(&mut src, len) else {
        return;
    };
    let frame = crate::imaging::representative_frame(&info);
    if let Ok(f) = crate::imaging::decode_frame_for(&mut src, &info, frame, Some(64)) {
        let small = f.reduced(64).unwrap_or(f);
        let _ = crate::imaging::render(&small, &info, crate::imaging::Windowing::Default);
    }
}
