//! The start of a file: where the data set begins and how it is encoded (the DICM marker, the
//! file meta group, or a guess for files without one). The meta group is always Explicit VR
//! Little Endian and tiny, so it is parsed here by hand, tolerating a missing group length.

use std::io::{Read, Seek, SeekFrom};

use super::attrs::field_for_meta;
use super::{
    EXPLICIT_VR_BE, EXPLICIT_VR_LE, FaultKind, IMPLICIT_VR_LE, NotDicom, ReadOutcome, clean,
};

/// VRs whose explicit length field is 4 bytes (after two reserved bytes).
pub(crate) fn has_long_length(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

pub(crate) fn is_vr(b: &[u8]) -> bool {
    const VRS: [&[u8; 2]; 34] = [
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
        b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
        b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
    ];
    b.len() >= 2 && VRS.iter().any(|v| v[..] == b[..2])
}

/// Where the data set starts and how it is encoded, as far as the first bytes tell.
pub(super) struct Layout {
    /// Offset of the file meta group, if there is one.
    pub meta_at: Option<u64>,
    /// Offset of the data set when there is no meta group.
    pub dataset_at: u64,
    /// Transfer syntax guessed from the first element when there is no meta group.
    pub guessed_ts: &'static str,
}

pub(super) fn sniff(head: &[u8]) -> Result<Layout, NotDicom> {
    if head.is_empty() {
        return Err(NotDicom::Empty);
    }
    let with_meta = |at| Layout {
        meta_at: Some(at),
        dataset_at: at,
        guessed_ts: EXPLICIT_VR_LE,
    };
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Ok(with_meta(132));
    }
    if head.len() >= 4 && &head[0..4] == b"DICM" {
        return Ok(with_meta(4));
    }
    if head.len() < 8 {
        return Err(NotDicom::NoMarker);
    }
    let group_le = u16::from_le_bytes([head[0], head[1]]);
    let group_be = u16::from_be_bytes([head[0], head[1]]);
    let explicit = is_vr(&head[4..6]);
    if group_le == 0x0002 && explicit {
        return Ok(with_meta(0));
    }
    let bare = |ts| Layout {
        meta_at: None,
        dataset_at: 0,
        guessed_ts: ts,
    };
    // A bare data set almost always starts in group 0008 (Identifying), which pins the byte order.
    if group_le == 0x0008 {
        return Ok(bare(if explicit {
            EXPLICIT_VR_LE
        } else {
            IMPLICIT_VR_LE
        }));
    }
    if group_be == 0x0008 && explicit {
        return Ok(bare(EXPLICIT_VR_BE));
    }
    Err(NotDicom::NoMarker)
}

/// Reads the file meta group (always Explicit VR Little Endian) at the reader's position.
/// Returns the offset where the data set starts.
pub(super) fn read_meta<R: Read + Seek>(
    src: &mut R,
    out: &mut ReadOutcome,
) -> std::io::Result<u64> {
    let mut saw_group_length = false;
    loop {
        let start = src.stream_position()?;
        let mut tag_vr = [0u8; 6];
        if let Err(e) = src.read_exact(&mut tag_vr) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                src.seek(SeekFrom::Start(start))?;
                out.push(
                    FaultKind::Truncated,
                    "file ends inside the file meta information",
                );
                return Ok(start);
            }
            return Err(e);
        }
        let group = u16::from_le_bytes([tag_vr[0], tag_vr[1]]);
        let element = u16::from_le_bytes([tag_vr[2], tag_vr[3]]);
        if group != 0x0002 {
            src.seek(SeekFrom::Start(start))?;
            if !saw_group_length {
                out.push(
                    FaultKind::Note,
                    "file meta information has no group length (0002,0000)",
                );
            }
            return Ok(start);
        }
        let vr = &tag_vr[4..6];
        if !is_vr(vr) {
            out.push(
                FaultKind::Unreadable,
                format!("file meta element (0002,{element:04X}) is not Explicit VR Little Endian"),
            );
            src.seek(SeekFrom::Start(start))?;
            return Ok(start);
        }
        let len = if has_long_length(vr) {
            let mut b = [0u8; 6];
            src.read_exact(&mut b)?;
            u32::from_le_bytes([b[2], b[3], b[4], b[5]])
        } else {
            let mut b = [0u8; 2];
            src.read_exact(&mut b)?;
            u32::from(u16::from_le_bytes(b))
        };
        if len == u32::MAX || len > 1 << 20 {
            out.push(
                FaultKind::Unreadable,
                format!("file meta element (0002,{element:04X}) has length {len}"),
            );
            return src.stream_position();
        }
        let mut value = vec![0u8; len as usize];
        src.read_exact(&mut value)?;
        if element == 0x0000 {
            saw_group_length = true;
        } else if let Some(i) = field_for_meta(element) {
            let text = clean(&String::from_utf8_lossy(&value));
            if let Some(slot) = out.header.values_mut().into_iter().nth(i) {
                *slot = text;
            }
        }
    }
}

/// Explicit or Implicit VR Little Endian, by whether the first element carries a VR.
pub(super) fn guess_ts_at<R: Read + Seek>(src: &mut R, at: u64) -> Option<&'static str> {
    let mut b = [0u8; 6];
    src.seek(SeekFrom::Start(at)).ok()?;
    src.read_exact(&mut b).ok()?;
    Some(if is_vr(&b[4..6]) {
        EXPLICIT_VR_LE
    } else {
        IMPLICIT_VR_LE
    })
}
