//! Header-only, damage-tolerant reading of one DICOM file.
//!
//! dicom-rs refuses whole files for faults that leave most of the header readable (a meta group
//! without group length or transfer syntax, no meta group at all, a broken element deep in the
//! data set). An importer must still index such files with what can be read, so this reader
//! parses the file meta group itself (`meta`), guesses the encoding of files without one, walks
//! dicom-rs's token stream with raw values up to the pixel data or the first error (`walk`),
//! decodes text by the data set's character set itself (`super::charset`), and checks that the
//! pixel data the header announces is all there (`pixel`).

mod attrs;
pub(crate) mod meta;
mod pixel;
mod walk;

use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

pub use attrs::{Header, Source, field_for_tag, keyword};

use super::uids;

/// What kind of problem reading a file met. Rules map each kind to a finding code; nothing
/// downstream matches on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The file ends before the data it announces (pixel data, a fragment, the meta group).
    Truncated,
    /// The data set cannot be read past some point.
    Unreadable,
    /// Non-ASCII text but no Specific Character Set.
    UndeclaredCharset,
    /// Text that its declared character set does not allow, or a set qcdesk does not know.
    BadCharset,
    /// A deviation readers cope with (no file meta, guessed syntax, a skipped private sequence).
    Note,
}

impl FaultKind {
    /// Whether the file is unusable as it is.
    pub fn is_error(self) -> bool {
        matches!(self, FaultKind::Truncated | FaultKind::Unreadable)
    }
}

/// One problem reading a file met, in words naming the element or offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

impl Fault {
    pub fn new(kind: FaultKind, message: impl Into<String>) -> Fault {
        Fault {
            kind,
            message: message.into(),
        }
    }
}

/// How much of a file could be read, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    pub header: Header,
    pub faults: Vec<Fault>,
    /// Where the data set starts (after the file meta group): the part that identifies an
    /// instance whatever wrapped it.
    pub dataset_offset: u64,
    /// Where the file meta group starts, when the file has one.
    pub meta_offset: Option<u64>,
}

impl ReadOutcome {
    /// Faults that make the file unusable as it is.
    pub fn errors(&self) -> impl Iterator<Item = &Fault> {
        self.faults.iter().filter(|f| f.kind.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    pub fn is_truncated(&self) -> bool {
        self.faults.iter().any(|f| f.kind == FaultKind::Truncated)
    }

    /// Why the file is refused rather than stored: it has read errors and nothing read
    /// identifies an instance (the first error is given).
    pub fn refusal(&self) -> Option<String> {
        (self.has_errors() && self.identifies_nothing()).then(|| {
            self.errors()
                .next()
                .map(|e| e.message.clone())
                .unwrap_or_default()
        })
    }

    /// Nothing read identifies an instance, a study or a patient: what a crash or a failed
    /// copy leaves behind a DICM marker. Such a file is refused rather than stored.
    pub fn identifies_nothing(&self) -> bool {
        let h = &self.header;
        [
            &h.sop_instance_uid,
            &h.media_sop_instance_uid,
            &h.study_uid,
            &h.series_uid,
            &h.patient_id,
            &h.patient_name,
            &h.accession,
        ]
        .iter()
        .all(|v| v.is_empty())
    }

    fn push(&mut self, kind: FaultKind, message: impl Into<String>) {
        self.faults.push(Fault::new(kind, message));
    }
}

impl Header {
    /// Whether this file is a DICOMDIR (a media directory, not an instance).
    pub fn is_dicomdir(&self) -> bool {
        self.media_sop_class_uid == uids::MEDIA_STORAGE_DIRECTORY
            || self.sop_class_uid == uids::MEDIA_STORAGE_DIRECTORY
    }
}

/// Why a file is not treated as DICOM at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotDicom {
    #[error("empty file")]
    Empty,
    #[error("no DICM marker and no recognisable data set at the start")]
    NoMarker,
    #[error("read error: {0}")]
    Io(String),
}

pub(crate) const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub(crate) const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
pub(crate) const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";

fn tag_str(tag: dicom_core::Tag) -> String {
    format!("({:04X},{:04X})", tag.group(), tag.element())
}

/// Padding a value may carry: spaces and NULs at either end.
fn clean(s: &str) -> String {
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

/// Reads what it can of the header of the DICOM file in `src` (positioned at its start).
/// `size` is the file's length, used to tell whether the pixel data is complete.
pub fn read_header<R: Read + Seek>(src: &mut R, size: u64) -> Result<ReadOutcome, NotDicom> {
    let io = |e: std::io::Error| NotDicom::Io(e.to_string());
    let mut head = [0u8; 132];
    let n = read_up_to(src, &mut head).map_err(io)?;
    let layout = meta::sniff(&head[..n])?;
    let mut out = ReadOutcome {
        meta_offset: layout.meta_at,
        ..ReadOutcome::default()
    };

    let dataset_at = match layout.meta_at {
        Some(at) => {
            src.seek(SeekFrom::Start(at)).map_err(io)?;
            match meta::read_meta(src, &mut out) {
                Ok(pos) => pos,
                Err(e) => {
                    let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        FaultKind::Truncated
                    } else {
                        FaultKind::Unreadable
                    };
                    out.push(kind, format!("file meta information is unreadable: {e}"));
                    return Ok(out);
                }
            }
        }
        None => {
            out.push(
                FaultKind::Note,
                format!(
                    "no file meta information (not a DICOM Part 10 file); read as {}",
                    ts_name(layout.guessed_ts)
                ),
            );
            layout.dataset_at
        }
    };
    out.dataset_offset = dataset_at;

    let ts_uid = if out.header.transfer_syntax.is_empty() {
        if layout.meta_at.is_some() {
            let guess = meta::guess_ts_at(src, dataset_at).unwrap_or(layout.guessed_ts);
            out.push(
                FaultKind::Note,
                format!(
                    "file meta information has no Transfer Syntax UID (0002,0010); read as {}",
                    ts_name(guess)
                ),
            );
            guess
        } else {
            layout.guessed_ts
        }
        .to_string()
    } else {
        out.header.transfer_syntax.clone()
    };

    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    let registry = dicom_transfer_syntax_registry::TransferSyntaxRegistry;
    let ts = match registry.get(&ts_uid) {
        Some(ts) => ts,
        None => {
            out.push(
                FaultKind::Unreadable,
                format!("unknown transfer syntax {ts_uid}"),
            );
            match registry.get(EXPLICIT_VR_LE) {
                Some(ts) => ts,
                None => return Ok(out),
            }
        }
    };
    if out.header.transfer_syntax.is_empty() {
        out.header.transfer_syntax = ts.uid().to_string();
    }

    let deflated = matches!(
        ts.codec(),
        dicom_encoding::transfer_syntax::Codec::Dataset(_)
    );
    let pixel = walk::walk_dataset(src, ts, deflated, dataset_at, size, &mut out);
    if let Some(pixel) = pixel
        && !deflated
    {
        pixel::check_pixel_data(src, pixel, size, &mut out);
    }
    Ok(out)
}

fn read_up_to<R: Read>(src: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A transfer syntax's name for people ("Explicit VR Little Endian"), or its UID.
pub fn ts_name(uid: &str) -> String {
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    match uid {
        EXPLICIT_VR_LE => "Explicit VR Little Endian".into(),
        IMPLICIT_VR_LE => "Implicit VR Little Endian".into(),
        EXPLICIT_VR_BE => "Explicit VR Big Endian".into(),
        _ => dicom_transfer_syntax_registry::TransferSyntaxRegistry
            .get(uid)
            .map(|ts| ts.name().to_string())
            .unwrap_or_else(|| uid.to_string()),
    }
}

#[cfg(test)]
mod tests;
