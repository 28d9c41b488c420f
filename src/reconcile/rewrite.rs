//! Writing a correction into one file: the new values, the old ones kept in Original
//! Attributes Sequence (0400,0561) with the time, the modifying system and the reason, and a
//! Specific Character Set that can represent every name. Everything else (encapsulated pixel
//! data, private attributes, the preamble) is carried over as read.
//!
//! The rewritten bytes are returned, not written: the store makes them a new version (temp
//! file, flush, rename) in the same step that records them.

use std::path::Path;

use dicom_core::header::Header as _;
use dicom_core::value::{DataSetSequence, Value as DicomValue};
use dicom_core::{DataDictionary, DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
use dicom_object::InMemDicomObject;
use serde::Serialize;

use super::correction::{Correction, Elem, Item, Value, tags};
use crate::dicom::object::Bounds;

/// Why a file could not be corrected. Each names the file; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    #[error("{file}: cannot be read for correction: {message}")]
    Read { file: String, message: String },
    #[error(
        "{file}: its Specific Character Set '{charset}' is not one qcdesk can rewrite without \
         damaging its text"
    )]
    Charset { file: String, charset: String },
    #[error("{file}: the corrected copy cannot be written: {message}")]
    Write { file: String, message: String },
    #[error("{file}: the corrected copy does not read back as written ({message})")]
    Verify { file: String, message: String },
}

/// One attribute a correction changes: its tag, keyword, and old and new values as text
/// (sequences as `[{Keyword=value, ...}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Change {
    pub tag: String,
    pub keyword: String,
    pub old: String,
    pub new: String,
}

/// When and why, as written into Original Attributes Sequence.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// Attribute Modification DateTime (DT).
    pub datetime: String,
    /// Reason for the Attribute Modification: CORRECT (reconciliation) or COERCE.
    pub reason: &'static str,
}

impl Stamp {
    /// Now, for a correction.
    pub fn correct_now() -> Stamp {
        let t = time::OffsetDateTime::now_utc();
        Stamp {
            datetime: format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}.{:06}+0000",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.microsecond()
            ),
            reason: "CORRECT",
        }
    }
}

/// The name qcdesk gives itself as Modifying System.
pub const MODIFYING_SYSTEM: &str = "QCDESK";

/// What a rewrite produced.
#[derive(Debug)]
pub struct Rewritten {
    pub bytes: Vec<u8>,
    pub changes: Vec<Change>,
}

fn tag_text(t: Tag) -> String {
    format!("({:04X},{:04X})", t.0, t.1)
}

fn keyword(t: Tag) -> String {
    StandardDataDictionary
        .by_tag(t)
        .map(|e| e.alias.to_string())
        .unwrap_or_else(|| tag_text(t))
}

fn clean(s: &str) -> String {
    s.trim_end_matches([' ', '\0'])
        .trim_start_matches(' ')
        .to_string()
}

/// An element of a file as text, the way [`render_value`] shows new values.
fn render_element(e: &dicom_object::mem::InMemElement) -> String {
    match e.value() {
        DicomValue::Primitive(p) => clean(&p.to_str()),
        DicomValue::Sequence(s) => render_objects(s.items()),
        DicomValue::PixelSequence(_) => "(encapsulated pixel data)".into(),
    }
}

fn render_objects(items: &[InMemDicomObject]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = items
        .iter()
        .map(|o| {
            let fields: Vec<String> = o
                .iter()
                .map(|e| format!("{}={}", keyword(e.tag()), render_element(e)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        })
        .collect();
    format!("[{}]", inner.join(", "))
}

/// A new value as text.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Items(items) if items.is_empty() => String::new(),
        Value::Items(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|item| {
                    let fields: Vec<String> = item
                        .iter()
                        .map(|e| format!("{}={}", keyword(e.tag), render_value(&e.value)))
                        .collect();
                    format!("{{{}}}", fields.join(", "))
                })
                .collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

/// The changes `c` makes to `obj`, with the index of each set: a value equal to what the
/// file holds (or empty where the file has nothing) is no change.
fn changes_in(obj: &InMemDicomObject, c: &Correction) -> Vec<(usize, Change)> {
    let mut out = Vec::new();
    for (i, e) in c.sets.iter().enumerate() {
        let old = obj.get(e.tag).map(render_element).unwrap_or_default();
        let new = render_value(&e.value);
        if old == new {
            continue;
        }
        out.push((
            i,
            Change {
                tag: tag_text(e.tag),
                keyword: keyword(e.tag),
                old,
                new,
            },
        ));
    }
    out
}

fn open(
    path: &Path,
    label: &str,
    whole: bool,
) -> Result<dicom_object::DefaultDicomObject, RewriteError> {
    // Read without recursion and within limits (a stored file came from a peer or a medium).
    let bounds = if whole {
        Bounds::default()
    } else {
        Bounds::header_only()
    };
    crate::dicom::object::open_file(path, bounds).map_err(|e| RewriteError::Read {
        file: label.to_string(),
        message: e.to_string(),
    })
}

/// The changes a correction would make to the file at `path` (`label` names it in errors):
/// the dry run. Reads the header only.
pub fn preview_file(path: &Path, label: &str, c: &Correction) -> Result<Vec<Change>, RewriteError> {
    let obj = open(path, label, false)?;
    charset_for(&obj, c, label)?;
    Ok(changes_in(&obj, c).into_iter().map(|(_, ch)| ch).collect())
}

/// The Specific Character Set to write: the file's own when it can represent every new value,
/// else ISO_IR 192 (UTF-8; every text of the data set is then written in it). `None`: keep it.
/// A set dicom-rs cannot decode and encode again (ISO 2022 code extensions) is refused: its
/// text would be damaged.
fn charset_for(
    obj: &InMemDicomObject,
    c: &Correction,
    label: &str,
) -> Result<Option<&'static str>, RewriteError> {
    let declared = obj
        .get(tags::SPECIFIC_CHARACTER_SET)
        .map(render_element)
        .unwrap_or_default();
    let declared = declared.trim().to_string();
    let refuse = || RewriteError::Charset {
        file: label.to_string(),
        charset: declared.clone(),
    };
    if declared.contains('\\') {
        return Err(refuse());
    }
    let cs = if declared.is_empty() {
        None
    } else {
        Some(SpecificCharacterSet::from_code(&declared).ok_or_else(refuse)?)
    };
    let mut texts = Vec::new();
    for e in &c.sets {
        collect_texts(e, &mut texts);
    }
    let fits = |s: &str| match &cs {
        None => s.is_ascii(),
        Some(cs) => cs.encode(s).is_ok(),
    };
    if texts.iter().all(|s| fits(s)) {
        return Ok(None);
    }
    Ok(Some("ISO_IR 192"))
}

fn collect_texts<'a>(e: &'a Elem, out: &mut Vec<&'a str>) {
    match &e.value {
        Value::Text(s) => out.push(s),
        Value::Items(items) => items.iter().flatten().for_each(|e| collect_texts(e, out)),
    }
}

fn to_element(e: &Elem) -> DataElement<InMemDicomObject> {
    match &e.value {
        Value::Text(s) if s.is_empty() => DataElement::new(e.tag, e.vr, PrimitiveValue::Empty),
        Value::Text(s) => DataElement::new(e.tag, e.vr, PrimitiveValue::from(s.as_str())),
        Value::Items(items) => DataElement::new(
            e.tag,
            VR::SQ,
            DataSetSequence::new(
                items.iter().map(to_object).collect::<Vec<_>>(),
                Length::UNDEFINED,
            ),
        ),
    }
}

fn to_object(item: &Item) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(item.iter().map(to_element))
}

/// The correction written into the file at `path`, or `None` when it changes nothing there.
pub fn rewrite_file(
    path: &Path,
    label: &str,
    c: &Correction,
    stamp: &Stamp,
) -> Result<Option<Rewritten>, RewriteError> {
    let mut obj = open(path, label, true)?;
    let charset = charset_for(&obj, c, label)?;
    let changes = changes_in(&obj, c);
    if changes.is_empty() {
        return Ok(None);
    }
    // The old values, an attribute the file lacked as empty (PS3.3 C.12.1.1.9.2).
    let mut old = InMemDicomObject::new_empty();
    for (i, _) in &changes {
        let e = &c.sets[*i];
        match obj.get(e.tag) {
            Some(el) => {
                old.put(el.clone());
            }
            None => {
                old.put(DataElement::new(e.tag, e.vr, empty_of(e.vr)));
            }
        }
    }
    for (i, _) in &changes {
        obj.put(to_element(&c.sets[*i]));
    }
    if let Some(cs) = charset {
        // Kept in Original Attributes too: the set is one of the attributes changed.
        if let Some(el) = obj.get(tags::SPECIFIC_CHARACTER_SET) {
            old.put(el.clone());
        } else {
            old.put(DataElement::new(
                tags::SPECIFIC_CHARACTER_SET,
                VR::CS,
                PrimitiveValue::Empty,
            ));
        }
        obj.put(DataElement::new(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            PrimitiveValue::from(cs),
        ));
    }
    let record = InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::MODIFIED_ATTRIBUTES_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![old], Length::UNDEFINED),
        ),
        DataElement::new(
            tags::ATTRIBUTE_MODIFICATION_DATETIME,
            VR::DT,
            PrimitiveValue::from(stamp.datetime.as_str()),
        ),
        DataElement::new(
            tags::MODIFYING_SYSTEM,
            VR::LO,
            PrimitiveValue::from(MODIFYING_SYSTEM),
        ),
        DataElement::new(
            tags::SOURCE_OF_PREVIOUS_VALUES,
            VR::LO,
            PrimitiveValue::Empty,
        ),
        DataElement::new(
            tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION,
            VR::CS,
            PrimitiveValue::from(stamp.reason),
        ),
    ]);
    // Earlier corrections' items stay; this one is added after them.
    let mut records: Vec<InMemDicomObject> = obj
        .get(tags::ORIGINAL_ATTRIBUTES_SEQUENCE)
        .and_then(|e| e.items())
        .map(|items| items.to_vec())
        .unwrap_or_default();
    records.push(record);
    obj.put(DataElement::new(
        tags::ORIGINAL_ATTRIBUTES_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(records, Length::UNDEFINED),
    ));

    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).map_err(|e| RewriteError::Write {
        file: label.to_string(),
        message: e.to_string(),
    })?;
    keep_preamble(path, &mut bytes);
    Ok(Some(Rewritten {
        bytes,
        changes: changes.into_iter().map(|(_, ch)| ch).collect(),
    }))
}

fn empty_of(vr: VR) -> DicomValue<InMemDicomObject, dicom_core::value::InMemFragment> {
    if vr == VR::SQ {
        DataSetSequence::new(Vec::<InMemDicomObject>::new(), Length::UNDEFINED).into()
    } else {
        PrimitiveValue::Empty.into()
    }
}

/// The original's 128-byte preamble (dicom-rs writes zeros): a dual-personality file (TIFF
/// and DICOM) keeps working.
fn keep_preamble(path: &Path, bytes: &mut [u8]) {
    use std::io::Read;
    let mut head = [0u8; 132];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok();
    if ok && &head[128..132] == b"DICM" && bytes.len() >= 128 {
        bytes[..128].copy_from_slice(&head[..128]);
    }
}
