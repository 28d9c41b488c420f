//! Is the pixel data the header announces all in the file? Native pixel data by its length,
//! encapsulated pixel data by walking its fragment items (headers only, data skipped by seeks).

use std::io::{Read, Seek, SeekFrom};

use super::{FaultKind, ReadOutcome};

/// What the walk learned about the pixel data element.
#[derive(Debug, Clone, Copy)]
pub(super) enum PixelData {
    /// Native pixel data of a defined length; `None` means undefined.
    Native { len: Option<u32> },
    /// Encapsulated: a sequence of fragments follows.
    Encapsulated,
}

/// Checks the pixel data at the reader's position is complete; records what is missing.
pub(super) fn check_pixel_data<R: Read + Seek>(
    src: &mut R,
    pixel: PixelData,
    size: u64,
    out: &mut ReadOutcome,
) {
    let Ok(pos) = src.stream_position() else {
        return;
    };
    match pixel {
        PixelData::Native { len: Some(len) } => {
            let have = size.saturating_sub(pos);
            if u64::from(len) > have {
                out.push(
                    FaultKind::Truncated,
                    format!(
                        "file is truncated: Pixel Data declares {len} bytes, only {have} present"
                    ),
                );
            }
        }
        PixelData::Native { len: None } => {}
        PixelData::Encapsulated => {
            let mut at = pos;
            loop {
                let mut item = [0u8; 8];
                if src.seek(SeekFrom::Start(at)).is_err() || src.read_exact(&mut item).is_err() {
                    out.push(
                        FaultKind::Truncated,
                        "file is truncated: encapsulated Pixel Data has no sequence delimiter",
                    );
                    return;
                }
                let group = u16::from_le_bytes([item[0], item[1]]);
                let element = u16::from_le_bytes([item[2], item[3]]);
                let len = u32::from_le_bytes([item[4], item[5], item[6], item[7]]);
                match (group, element) {
                    (0xFFFE, 0xE0DD) => return,
                    (0xFFFE, 0xE000) => {
                        at += 8 + u64::from(len);
                        if at > size {
                            out.push(
                                FaultKind::Truncated,
                                format!("file is truncated: a Pixel Data fragment of {len} bytes ends past the end of the file"),
                            );
                            return;
                        }
                    }
                    _ => {
                        out.push(
                            FaultKind::Unreadable,
                            format!("encapsulated Pixel Data is damaged: unexpected item tag ({group:04X},{element:04X})"),
                        );
                        return;
                    }
                }
            }
        }
    }
}
