//! Header-only, damage-tolerant reading of one DICOM file.
//!
//! dicom-rs refuses whole files for faults that leave most of the header readable (a meta group
//! without group length or transfer syntax, no meta group at all, a broken element deep in the
//! data set). An importer must still index such files with what can be read, so this reader
//! parses the file meta group itself (it is always Explicit VR Little Endian and tiny), guesses
//! the encoding of files without one, and walks dicom-rs's token stream, keeping every top-level
//! value it wants until the pixel data or the first error.

use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::text::SpecificCharacterSet;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_parser::dataset::read::DataSetReaderOptions;
use dicom_parser::dataset::{DataSetReader, DataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::uids;

/// Attributes of one file that the queue, the rules and the matching need.
/// Empty string = absent or empty in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub transfer_syntax: String,
    pub media_sop_class_uid: String,
    pub media_sop_instance_uid: String,
    pub source_ae: String,
    pub implementation_version: String,
    pub specific_character_set: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_date: String,
    pub series_date: String,
    pub content_date: String,
    pub study_time: String,
    pub accession: String,
    pub modality: String,
    pub manufacturer: String,
    pub institution: String,
    pub referring_physician: String,
    pub station_name: String,
    pub study_description: String,
    pub series_description: String,
    pub model_name: String,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer_of_patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub software_versions: String,
    pub study_uid: String,
    pub series_uid: String,
    pub study_id: String,
    pub series_number: String,
    pub instance_number: String,
    pub rows: String,
    pub columns: String,
    pub frames: String,
    /// A Pixel Data, Float Pixel Data or Double Float Pixel Data element is present.
    pub has_pixel_data: bool,
}

impl Header {
    /// The field a top-level tag is kept in, if the reader wants it.
    fn slot(&mut self, tag: Tag) -> Option<&mut String> {
        Some(match tag {
            tags::SPECIFIC_CHARACTER_SET => &mut self.specific_character_set,
            tags::SOP_CLASS_UID => &mut self.sop_class_uid,
            tags::SOP_INSTANCE_UID => &mut self.sop_instance_uid,
            tags::STUDY_DATE => &mut self.study_date,
            tags::SERIES_DATE => &mut self.series_date,
            tags::CONTENT_DATE => &mut self.content_date,
            tags::STUDY_TIME => &mut self.study_time,
            tags::ACCESSION_NUMBER => &mut self.accession,
            tags::MODALITY => &mut self.modality,
            tags::MANUFACTURER => &mut self.manufacturer,
            tags::INSTITUTION_NAME => &mut self.institution,
            tags::REFERRING_PHYSICIAN_NAME => &mut self.referring_physician,
            tags::STATION_NAME => &mut self.station_name,
            tags::STUDY_DESCRIPTION => &mut self.study_description,
            tags::SERIES_DESCRIPTION => &mut self.series_description,
            tags::MANUFACTURER_MODEL_NAME => &mut self.model_name,
            tags::PATIENT_NAME => &mut self.patient_name,
            tags::PATIENT_ID => &mut self.patient_id,
            tags::ISSUER_OF_PATIENT_ID => &mut self.issuer_of_patient_id,
            tags::PATIENT_BIRTH_DATE => &mut self.birth_date,
            tags::PATIENT_SEX => &mut self.sex,
            tags::SOFTWARE_VERSIONS => &mut self.software_versions,
            tags::STUDY_INSTANCE_UID => &mut self.study_uid,
            tags::SERIES_INSTANCE_UID => &mut self.series_uid,
            tags::STUDY_ID => &mut self.study_id,
            tags::SERIES_NUMBER => &mut self.series_number,
            tags::INSTANCE_NUMBER => &mut self.instance_number,
            tags::ROWS => &mut self.rows,
            tags::COLUMNS => &mut self.columns,
            tags::NUMBER_OF_FRAMES => &mut self.frames,
            _ => return None,
        })
    }

    /// Re-decodes text fields of an ISO 2022 data set, which dicom-rs leaves as one character
    /// per byte with the escape sequences in (see [`super::charset`]).
    fn decode_iso2022(&mut self) {
        let scs = self.specific_character_set.clone();
        if !super::charset::is_iso2022(&scs) {
            return;
        }
        for field in [
            &mut self.patient_name,
            &mut self.patient_id,
            &mut self.issuer_of_patient_id,
            &mut self.accession,
            &mut self.institution,
            &mut self.referring_physician,
            &mut self.station_name,
            &mut self.study_description,
            &mut self.series_description,
            &mut self.manufacturer,
            &mut self.model_name,
            &mut self.study_id,
            &mut self.software_versions,
        ] {
            if field.chars().any(|c| c == '\u{1b}' || u32::from(c) >= 0x80)
                && let Some(bytes) = super::charset::bytes_of_latin1(field)
            {
                *field = super::charset::decode_iso2022(&bytes, &scs);
            }
        }
    }

    /// Whether this file is a DICOMDIR (a media directory, not an instance).
    pub fn is_dicomdir(&self) -> bool {
        self.media_sop_class_uid == uids::MEDIA_STORAGE_DIRECTORY
            || self.sop_class_uid == uids::MEDIA_STORAGE_DIRECTORY
    }
}

/// How much of a file could be read, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    pub header: Header,
    /// Faults that make the file unusable as it is (parse stopped early, truncated pixel data).
    pub errors: Vec<String>,
    /// Deviations a reader copes with (no file meta, missing group length, guessed syntax).
    pub warnings: Vec<String>,
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

const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";

/// VRs whose explicit length field is 4 bytes (after two reserved bytes).
fn has_long_length(vr: &[u8]) -> bool {
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

fn is_vr(b: &[u8]) -> bool {
    const VRS: [&[u8; 2]; 34] = [
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
        b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
        b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
    ];
    b.len() >= 2 && VRS.iter().any(|v| v[..] == b[..2])
}

fn clean(s: &str) -> String {
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

fn tag_str(tag: Tag) -> String {
    format!("({:04X},{:04X})", tag.group(), tag.element())
}

/// Where the data set starts and how it is encoded, as far as the first bytes tell.
struct Layout {
    /// Offset of the file meta group, if there is one.
    meta_at: Option<u64>,
    /// Offset of the data set when there is no meta group.
    dataset_at: u64,
    /// Transfer syntax guessed from the first element when there is no meta group.
    guessed_ts: &'static str,
}

fn sniff(head: &[u8]) -> Result<Layout, NotDicom> {
    if head.is_empty() {
        return Err(NotDicom::Empty);
    }
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Ok(Layout {
            meta_at: Some(132),
            dataset_at: 132,
            guessed_ts: EXPLICIT_VR_LE,
        });
    }
    if head.len() >= 4 && &head[0..4] == b"DICM" {
        return Ok(Layout {
            meta_at: Some(4),
            dataset_at: 4,
            guessed_ts: EXPLICIT_VR_LE,
        });
    }
    if head.len() < 8 {
        return Err(NotDicom::NoMarker);
    }
    let group_le = u16::from_le_bytes([head[0], head[1]]);
    let group_be = u16::from_be_bytes([head[0], head[1]]);
    let explicit = is_vr(&head[4..6]);
    if group_le == 0x0002 && explicit {
        return Ok(Layout {
            meta_at: Some(0),
            dataset_at: 0,
            guessed_ts: EXPLICIT_VR_LE,
        });
    }
    // A bare data set almost always starts in group 0008 (Identifying), which pins the byte order.
    if group_le == 0x0008 {
        let ts = if explicit {
            EXPLICIT_VR_LE
        } else {
            IMPLICIT_VR_LE
        };
        return Ok(Layout {
            meta_at: None,
            dataset_at: 0,
            guessed_ts: ts,
        });
    }
    if group_be == 0x0008 && explicit {
        return Ok(Layout {
            meta_at: None,
            dataset_at: 0,
            guessed_ts: EXPLICIT_VR_BE,
        });
    }
    Err(NotDicom::NoMarker)
}

/// Reads the file meta group (always Explicit VR Little Endian) at the reader's position.
/// Returns the offset where the data set starts.
fn read_meta<R: Read + Seek>(src: &mut R, out: &mut ReadOutcome) -> std::io::Result<u64> {
    let mut saw_group_length = false;
    loop {
        let start = src.stream_position()?;
        let mut tag_vr = [0u8; 6];
        if let Err(e) = src.read_exact(&mut tag_vr) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                src.seek(SeekFrom::Start(start))?;
                out.errors
                    .push("file ends inside the file meta information".into());
                return Ok(start);
            }
            return Err(e);
        }
        let group = u16::from_le_bytes([tag_vr[0], tag_vr[1]]);
        let element = u16::from_le_bytes([tag_vr[2], tag_vr[3]]);
        if group != 0x0002 {
            src.seek(SeekFrom::Start(start))?;
            if !saw_group_length {
                out.warnings
                    .push("file meta information has no group length (0002,0000)".into());
            }
            return Ok(start);
        }
        let vr = &tag_vr[4..6];
        if !is_vr(vr) {
            out.errors.push(format!(
                "file meta element (0002,{element:04X}) is not Explicit VR Little Endian"
            ));
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
            out.errors.push(format!(
                "file meta element (0002,{element:04X}) has length {len}"
            ));
            return src.stream_position();
        }
        let mut value = vec![0u8; len as usize];
        src.read_exact(&mut value)?;
        let text = || clean(&String::from_utf8_lossy(&value));
        match element {
            0x0000 => saw_group_length = true,
            0x0002 => out.header.media_sop_class_uid = text(),
            0x0003 => out.header.media_sop_instance_uid = text(),
            0x0010 => out.header.transfer_syntax = text(),
            0x0013 => out.header.implementation_version = text(),
            0x0016 => out.header.source_ae = text(),
            _ => {}
        }
    }
}

/// Reads what it can of the header of the DICOM file in `src` (positioned at its start).
/// `size` is the file's length, used to tell whether the pixel data is complete.
pub fn read_header<R: Read + Seek>(src: &mut R, size: u64) -> Result<ReadOutcome, NotDicom> {
    let io = |e: std::io::Error| NotDicom::Io(e.to_string());
    let mut head = [0u8; 132];
    let n = read_up_to(src, &mut head).map_err(io)?;
    let layout = sniff(&head[..n])?;
    let mut out = ReadOutcome::default();

    let dataset_at = match layout.meta_at {
        Some(at) => {
            src.seek(SeekFrom::Start(at)).map_err(io)?;
            match read_meta(src, &mut out) {
                Ok(pos) => pos,
                Err(e) => {
                    out.errors
                        .push(format!("file meta information is unreadable: {e}"));
                    return Ok(out);
                }
            }
        }
        None => {
            out.warnings.push(format!(
                "no file meta information (not a DICOM Part 10 file); read as {}",
                ts_name(layout.guessed_ts)
            ));
            layout.dataset_at
        }
    };

    let ts_uid = if out.header.transfer_syntax.is_empty() {
        if layout.meta_at.is_some() {
            let guess = guess_ts_at(src, dataset_at).unwrap_or(layout.guessed_ts);
            out.warnings.push(format!(
                "file meta information has no Transfer Syntax UID (0002,0010); read as {}",
                ts_name(guess)
            ));
            guess
        } else {
            layout.guessed_ts
        }
        .to_string()
    } else {
        out.header.transfer_syntax.clone()
    };

    let registry = TransferSyntaxRegistry;
    let ts = match registry.get(&ts_uid) {
        Some(ts) => ts,
        None => {
            out.errors.push(format!("unknown transfer syntax {ts_uid}"));
            match registry.get(EXPLICIT_VR_LE) {
                Some(ts) => ts,
                None => return Ok(out),
            }
        }
    };
    if out.header.transfer_syntax.is_empty() {
        out.header.transfer_syntax = ts.uid().to_string();
    }

    let deflated = matches!(ts.codec(), Codec::Dataset(_));
    let pixel = walk_dataset(src, ts, deflated, dataset_at, size, &mut out);
    out.header.decode_iso2022();

    if let Some(pixel) = pixel
        && !deflated
    {
        check_pixel_data(src, pixel, size, &mut out);
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

fn guess_ts_at<R: Read + Seek>(src: &mut R, at: u64) -> Option<&'static str> {
    let mut b = [0u8; 6];
    src.seek(SeekFrom::Start(at)).ok()?;
    src.read_exact(&mut b).ok()?;
    Some(if is_vr(&b[4..6]) {
        EXPLICIT_VR_LE
    } else {
        IMPLICIT_VR_LE
    })
}

fn ts_name(uid: &str) -> &'static str {
    match uid {
        EXPLICIT_VR_LE => "Explicit VR Little Endian",
        IMPLICIT_VR_LE => "Implicit VR Little Endian",
        EXPLICIT_VR_BE => "Explicit VR Big Endian",
        _ => "the declared transfer syntax",
    }
}

/// What the walk learned about the pixel data element.
#[derive(Debug, Clone, Copy)]
enum PixelData {
    /// Native pixel data of a defined length; `None` means undefined.
    Native { len: Option<u32> },
    /// Encapsulated: a sequence of fragments follows.
    Encapsulated,
}

/// Counts the bytes read through it, so the walk knows its file position while dicom-rs's
/// reader owns the source.
struct Counting<R> {
    inner: R,
    pos: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

/// A top-level sequence: its tag, where its value starts, its declared length (None = undefined).
#[derive(Debug, Clone, Copy)]
struct SeqAt {
    tag: Tag,
    value_at: u64,
    len: Option<u32>,
}

/// Longest non-pixel element a header may hold. Real headers stay far below; without a cap a
/// crafted length makes dicom-rs allocate (and zero) gigabytes, notably in deflated files where
/// the file size says nothing about the data set's.
const MAX_ELEMENT_LEN: u64 = 64 << 20;

/// How one stretch of token reading ended.
enum Segment {
    Pixel(PixelData),
    End,
    /// Reading failed; `recover_from` is the top-level sequence the failure happened in
    /// (its tag and where its value starts), which may be skipped to carry on.
    Failed {
        error: String,
        recover_from: Option<SeqAt>,
    },
}

/// Walks the top level of the data set, filling the header, until pixel data or an error.
/// Returns where the pixel data is, with the reader positioned at its value.
fn walk_dataset<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    deflated: bool,
    dataset_at: u64,
    size: u64,
    out: &mut ReadOutcome,
) -> Option<PixelData> {
    let mut start = dataset_at;
    // A few skips at most: each one moves forward, but a damaged file should not spin.
    for _ in 0..8 {
        match walk_segment(src, ts, start, size, deflated, out) {
            Segment::Pixel(p) => return Some(p),
            Segment::End => return None,
            Segment::Failed {
                error,
                recover_from,
            } => {
                // Undefined-length sequences that dicom-rs cannot parse as encoded (typically
                // private UN, which CP-246 says to read as Implicit VR): skip them whole.
                if let Some(seq) = recover_from
                    && !deflated
                {
                    let private = seq.tag.group() % 2 == 1;
                    let skipped = match seq.len {
                        // Undefined length (typically private UN, which CP-246 says to read
                        // as Implicit VR): find its delimiter that way.
                        None => skip_implicit_sequence(src, seq.value_at, size)
                            .map(|next| (next, "skipped it as Implicit VR Little Endian (CP-246)")),
                        // Defined length: its end is known whatever is inside.
                        Some(len) => {
                            let next = seq.value_at + u64::from(len);
                            (next <= size).then_some((next, "skipped it by its declared length"))
                        }
                    };
                    if let Some((next, how)) = skipped {
                        let msg = format!(
                            "sequence {} could not be read as encoded; {how}",
                            tag_str(seq.tag)
                        );
                        // A damaged private sequence is the vendor's business; a standard one
                        // is damage to the file, even though the rest of the header reads.
                        if private || seq.len.is_none() {
                            out.warnings.push(msg);
                        } else {
                            out.errors.push(format!("{msg} ({error})"));
                        }
                        start = next;
                        continue;
                    }
                }
                out.errors.push(error);
                return None;
            }
        }
    }
    out.errors
        .push("data set unreadable: too many damaged sequences".into());
    None
}

fn walk_segment<R: Read + Seek>(
    src: &mut R,
    ts: &dicom_encoding::TransferSyntax,
    start: u64,
    size: u64,
    deflated: bool,
    out: &mut ReadOutcome,
) -> Segment {
    let failed = |error: String| Segment::Failed {
        error,
        recover_from: None,
    };
    if src.seek(SeekFrom::Start(start)).is_err() {
        return failed("cannot seek to the data set".into());
    }
    let pos = Rc::new(Cell::new(start));
    let base: Box<dyn Read + '_> = Box::new(Counting {
        inner: &mut *src,
        pos: Rc::clone(&pos),
    });
    let reader: Box<dyn Read + '_> = match ts.codec() {
        Codec::Dataset(Some(adapter)) => adapter.adapt_reader(base),
        Codec::Dataset(None) => {
            return failed(format!("transfer syntax {} is not supported", ts.uid()));
        }
        _ => base,
    };
    let charset =
        SpecificCharacterSet::from_code(&out.header.specific_character_set).unwrap_or_default();
    let options = DataSetReaderOptions::default();
    let mut tokens = match DataSetReader::new_with_ts_cs_options(reader, ts, charset, options) {
        Ok(t) => t,
        Err(e) => return failed(format!("cannot read the data set: {e}")),
    };
    let mut depth = 0usize;
    let mut pending: Option<(Tag, VR)> = None;
    let mut last_tag: Option<Tag> = None;
    let mut top_seq: Option<SeqAt> = None;
    loop {
        let token = match tokens.next() {
            None => return Segment::End,
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                let after = last_tag
                    .map(|t| format!(" after {}", tag_str(t)))
                    .unwrap_or_default();
                return Segment::Failed {
                    error: format!("data set unreadable{after}: {e}"),
                    recover_from: if depth > 0 { top_seq } else { None },
                };
            }
        };
        match token {
            DataToken::ElementHeader(h) => {
                last_tag = Some(h.tag);
                if depth == 0 && is_pixel_tag(h.tag) {
                    out.header.has_pixel_data = true;
                    return Segment::Pixel(PixelData::Native { len: h.len.get() });
                }
                // Groups after pixel data (trailing padding) end the header. Group 7FE0 goes
                // on: the Extended Offset Table (7FE0,0001/0002) comes before Pixel Data.
                if depth == 0 && h.tag.group() > 0x7FE0 {
                    return Segment::End;
                }
                // Refuse a length the file cannot hold, or no header needs, before dicom-rs
                // allocates it.
                let remaining = size.saturating_sub(pos.get());
                if let Some(len) = h.len.get() {
                    let len = u64::from(len);
                    let problem = if !deflated && len > remaining {
                        Some(format!("only {remaining} remain in the file"))
                    } else if len > MAX_ELEMENT_LEN {
                        Some(format!(
                            "more than a header element may hold ({MAX_ELEMENT_LEN})"
                        ))
                    } else {
                        None
                    };
                    if let Some(problem) = problem {
                        return Segment::Failed {
                            error: format!(
                                "data set unreadable: element {} declares {len} bytes, {problem}",
                                tag_str(h.tag)
                            ),
                            recover_from: if depth > 0 { top_seq } else { None },
                        };
                    }
                }
                if depth == 0 {
                    pending = Some((h.tag, h.vr));
                }
            }
            DataToken::PrimitiveValue(v) => {
                if let Some((tag, vr)) = pending.take()
                    && let Some(slot) = out.header.slot(tag)
                {
                    *slot = if vr == VR::UN {
                        un_value(tag, &v.to_bytes())
                    } else {
                        clean(&v.to_str())
                    };
                }
            }
            DataToken::SequenceStart { tag, len } => {
                last_tag = Some(tag);
                pending = None;
                if depth == 0 {
                    top_seq = Some(SeqAt {
                        tag,
                        value_at: pos.get(),
                        len: len.get(),
                    });
                }
                depth += 1;
            }
            DataToken::PixelSequenceStart => {
                if depth == 0 {
                    out.header.has_pixel_data = true;
                    return Segment::Pixel(PixelData::Encapsulated);
                }
                depth += 1;
            }
            DataToken::ItemStart { .. } => depth += 1,
            DataToken::ItemEnd | DataToken::SequenceEnd => depth = depth.saturating_sub(1),
            DataToken::ItemValue(_) | DataToken::OffsetTable(_) => {}
        }
    }
}

/// Skips an undefined-length sequence whose value starts at `at`, reading it as Implicit VR
/// Little Endian. Returns the offset after its Sequence Delimitation Item.
fn skip_implicit_sequence<R: Read + Seek>(src: &mut R, at: u64, size: u64) -> Option<u64> {
    let mut pos = at;
    // Each open level: true = sequence (ends at E0DD), false = item (ends at E00D).
    let mut open: Vec<bool> = vec![true];
    while pos + 8 <= size {
        let mut b = [0u8; 8];
        src.seek(SeekFrom::Start(pos)).ok()?;
        src.read_exact(&mut b).ok()?;
        pos += 8;
        let group = u16::from_le_bytes([b[0], b[1]]);
        let element = u16::from_le_bytes([b[2], b[3]]);
        let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        match (group, element) {
            (0xFFFE, 0xE0DD) => {
                if open.pop() != Some(true) {
                    return None;
                }
                if open.is_empty() {
                    return Some(pos);
                }
            }
            (0xFFFE, 0xE00D) => {
                if open.pop() != Some(false) {
                    return None;
                }
            }
            (0xFFFE, 0xE000) => {
                if len == u32::MAX {
                    open.push(false);
                } else {
                    pos += u64::from(len);
                }
            }
            _ if len == u32::MAX => open.push(true),
            _ => pos += u64::from(len),
        }
    }
    None
}

/// A standard attribute written with VR UN: its bytes are still the standard encoding
/// (little endian binary, text otherwise), as readers like pydicom assume.
fn un_value(tag: Tag, bytes: &[u8]) -> String {
    match tag {
        tags::ROWS | tags::COLUMNS if bytes.len() >= 2 => {
            u16::from_le_bytes([bytes[0], bytes[1]]).to_string()
        }
        _ => clean(&String::from_utf8_lossy(bytes)),
    }
}

fn is_pixel_tag(tag: Tag) -> bool {
    tag == tags::PIXEL_DATA || tag == tags::FLOAT_PIXEL_DATA || tag == tags::DOUBLE_FLOAT_PIXEL_DATA
}

/// Checks that the pixel data the header announces is all in the file.
fn check_pixel_data<R: Read + Seek>(
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
                out.errors.push(format!(
                    "file is truncated: Pixel Data declares {len} bytes, only {have} present"
                ));
            }
        }
        PixelData::Native { len: None } => {}
        PixelData::Encapsulated => {
            // Walk the fragment items by their headers only; the data is skipped with seeks.
            let mut at = pos;
            loop {
                let mut item = [0u8; 8];
                if src.seek(SeekFrom::Start(at)).is_err() || src.read_exact(&mut item).is_err() {
                    out.errors.push(
                        "file is truncated: encapsulated Pixel Data has no sequence delimiter"
                            .into(),
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
                            out.errors.push(format!(
                                "file is truncated: a Pixel Data fragment of {len} bytes ends past the end of the file"
                            ));
                            return;
                        }
                    }
                    _ => {
                        out.errors.push(format!(
                            "encapsulated Pixel Data is damaged: unexpected item tag ({group:04X},{element:04X})"
                        ));
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

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

    fn minimal_file(
        with_group_length: bool,
        pixel_len_declared: u32,
        pixel_len_present: usize,
    ) -> Vec<u8> {
        let mut meta = Vec::new();
        explicit_element(&mut meta, 2, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        if with_group_length {
            explicit_element(&mut f, 2, 0, b"UL", &(meta.len() as u32).to_le_bytes());
        }
        f.extend_from_slice(&meta);
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

    #[test]
    fn reads_a_minimal_file() {
        let f = minimal_file(true, 8, 8);
        let out = read_header(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(out.header.patient_name, "DOE^JANE");
        assert_eq!(out.header.sop_instance_uid, "1.2.3.4");
        assert_eq!(out.header.study_uid, "1.2.3");
        assert!(out.header.has_pixel_data);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn missing_group_length_is_a_warning() {
        let f = minimal_file(false, 8, 8);
        let out = read_header(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(out.header.patient_name, "DOE^JANE");
        assert!(out.errors.is_empty());
        assert!(out.warnings[0].contains("group length"));
    }

    #[test]
    fn truncated_pixel_data_is_an_error() {
        let f = minimal_file(true, 1024, 100);
        let out = read_header(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(out.header.patient_name, "DOE^JANE");
        assert!(out.errors[0].contains("truncated"), "{:?}", out.errors);
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
        let out = read_header(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert!(out.header.has_pixel_data);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
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
            out.errors[0].contains("more than a header element may hold"),
            "{:?}",
            out.errors
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
        let out = read_header(&mut Cursor::new(&f), f.len() as u64).unwrap();
        assert_eq!(out.header.patient_id, "PID1");
        assert!(out.warnings[0].contains("no file meta"));
    }
}
