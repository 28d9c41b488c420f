//! Writing DICOM Part 10 files: an element list in, a complete file out (temp + fsync + rename).

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{FileDicomObject, InMemDicomObject};

use crate::fsutil;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot build the file meta information: {0}")]
    Meta(String),
    #[error("cannot encode the data set: {0}")]
    Encode(String),
    #[error("cannot write {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
}

/// Implementation Class UID of qcdesk (2.25 UUID-derived root; no registration needed).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.238419760383104185962341349815298214421";
pub const IMPLEMENTATION_VERSION: &str = concat!("QCDESK_", env!("CARGO_PKG_VERSION"));

/// Builds a data set element by element.
#[derive(Debug)]
pub struct DataSetBuilder {
    obj: InMemDicomObject,
}

impl Default for DataSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataSetBuilder {
    pub fn new() -> DataSetBuilder {
        DataSetBuilder {
            obj: InMemDicomObject::new_empty(),
        }
    }

    /// A text value (any string VR; backslash separates multiple values).
    pub fn text(mut self, tag: Tag, vr: VR, value: &str) -> Self {
        self.obj
            .put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        self
    }

    pub fn u16(mut self, tag: Tag, value: u16) -> Self {
        self.obj
            .put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        self
    }

    pub fn pixels_u16(mut self, tag: Tag, data: Vec<u16>) -> Self {
        self.obj.put(DataElement::new(
            tag,
            VR::OW,
            PrimitiveValue::U16(data.into()),
        ));
        self
    }

    pub fn pixels_u8(mut self, tag: Tag, data: Vec<u8>) -> Self {
        self.obj.put(DataElement::new(
            tag,
            VR::OB,
            PrimitiveValue::U8(data.into()),
        ));
        self
    }

    pub fn remove(mut self, tag: Tag) -> Self {
        self.obj.remove_element(tag);
        self
    }

    pub fn build(self) -> InMemDicomObject {
        self.obj
    }
}

/// Encodes `obj` as a Part 10 file (Explicit VR Little Endian) in memory.
pub fn encode_part10(
    obj: InMemDicomObject,
    source_ae: Option<&str>,
) -> Result<Vec<u8>, WriteError> {
    encode_part10_as(obj, source_ae, super::uids::EXPLICIT_VR_LITTLE_ENDIAN)
}

/// Encodes `obj` as a Part 10 file in the given (uncompressed or deflated) transfer syntax.
pub fn encode_part10_as(
    obj: InMemDicomObject,
    source_ae: Option<&str>,
    transfer_syntax: &str,
) -> Result<Vec<u8>, WriteError> {
    let mut meta = FileMetaTableBuilder::new()
        .transfer_syntax(transfer_syntax)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION);
    if let Some(ae) = source_ae {
        meta = meta.source_application_entity_title(ae);
    }
    // with_meta fills Media Storage SOP Class/Instance from the data set; a file planted
    // without SOP Instance UID still needs some value there for the builder.
    let has_sop = obj
        .get(dicom_dictionary_std::tags::SOP_INSTANCE_UID)
        .is_some();
    if !has_sop {
        meta = meta.media_storage_sop_instance_uid("");
    }
    let file: FileDicomObject<InMemDicomObject> = obj
        .with_meta(meta)
        .map_err(|e| WriteError::Meta(e.to_string()))?;
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)
        .map_err(|e| WriteError::Encode(e.to_string()))?;
    Ok(bytes)
}

/// Writes `bytes` to `dest` durably (temp file in `tmp_dir`, fsync, rename).
pub fn write_file(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |cause| WriteError::Io {
        path: dest.display().to_string(),
        cause,
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    fsutil::write_atomic(tmp_dir, dest, bytes).map_err(io)
}
