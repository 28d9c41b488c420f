//! The one list of header attributes qcdesk keeps per file. Everything else is generated from
//! it: the [`Header`] struct, where each value comes from and how it is decoded, and the names
//! of the `blobs` table columns that store them (a store test checks the table has them all).

use dicom_core::Tag;
use dicom_dictionary_std::tags;

/// Where a header value comes from and how its bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An element of the file meta group (0002,xxxx), always ASCII.
    Meta(u16),
    /// A top-level text element (PN, LO, SH...): decoded by the Specific Character Set.
    Text(Tag),
    /// A top-level element in the default repertoire (CS, DA, TM, IS, DS, UI).
    Code(Tag),
    /// A top-level US element, shown as a number.
    Us(Tag),
    /// An element inside the first item of a top-level sequence; the first non-empty of the
    /// listed elements wins.
    Nested(Tag, &'static [Tag]),
}

macro_rules! header_attributes {
    ($( $(#[$doc:meta])* $field:ident: $source:expr; )*) => {
        /// Attributes of one file that the queue, the rules and the matching need.
        /// Empty string = absent or empty in the file.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Header {
            $( $(#[$doc])* pub $field: String, )*
            /// A Pixel Data, Float Pixel Data or Double Float Pixel Data element is present.
            pub has_pixel_data: bool,
        }

        impl Header {
            /// Field names, in list order: also the `blobs` column names.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Where each field comes from, in list order.
            pub const SOURCES: &'static [Source] = &[$($source),*];

            /// The values, in list order.
            pub fn values(&self) -> Vec<&str> {
                vec![$(self.$field.as_str()),*]
            }

            /// Mutable access to the values, in list order.
            pub fn values_mut(&mut self) -> Vec<&mut String> {
                vec![$(&mut self.$field),*]
            }
        }
    };
}

use Source::{Code, Meta, Nested, Text, Us};

header_attributes! {
    transfer_syntax: Meta(0x0010);
    media_sop_class_uid: Meta(0x0002);
    media_sop_instance_uid: Meta(0x0003);
    implementation_class_uid: Meta(0x0012);
    implementation_version: Meta(0x0013);
    source_ae: Meta(0x0016);
    specific_character_set: Code(tags::SPECIFIC_CHARACTER_SET);
    sop_class_uid: Code(tags::SOP_CLASS_UID);
    sop_instance_uid: Code(tags::SOP_INSTANCE_UID);
    study_date: Code(tags::STUDY_DATE);
    series_date: Code(tags::SERIES_DATE);
    content_date: Code(tags::CONTENT_DATE);
    study_time: Code(tags::STUDY_TIME);
    accession: Text(tags::ACCESSION_NUMBER);
    /// Local Namespace Entity ID (else Universal Entity ID) of the Issuer of Accession Number.
    issuer_of_accession: Nested(
        tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
        &[tags::LOCAL_NAMESPACE_ENTITY_ID, tags::UNIVERSAL_ENTITY_ID]
    );
    modality: Code(tags::MODALITY);
    manufacturer: Text(tags::MANUFACTURER);
    institution: Text(tags::INSTITUTION_NAME);
    referring_physician: Text(tags::REFERRING_PHYSICIAN_NAME);
    station_name: Text(tags::STATION_NAME);
    study_description: Text(tags::STUDY_DESCRIPTION);
    series_description: Text(tags::SERIES_DESCRIPTION);
    model_name: Text(tags::MANUFACTURER_MODEL_NAME);
    patient_name: Text(tags::PATIENT_NAME);
    patient_id: Text(tags::PATIENT_ID);
    issuer_of_patient_id: Text(tags::ISSUER_OF_PATIENT_ID);
    birth_date: Code(tags::PATIENT_BIRTH_DATE);
    sex: Code(tags::PATIENT_SEX);
    software_versions: Text(tags::SOFTWARE_VERSIONS);
    study_uid: Code(tags::STUDY_INSTANCE_UID);
    series_uid: Code(tags::SERIES_INSTANCE_UID);
    study_id: Text(tags::STUDY_ID);
    series_number: Code(tags::SERIES_NUMBER);
    instance_number: Code(tags::INSTANCE_NUMBER);
    rows: Us(tags::ROWS);
    columns: Us(tags::COLUMNS);
    frames: Code(tags::NUMBER_OF_FRAMES);
}

impl Source {
    /// The tag a top-level source reads (None for meta and nested ones).
    pub fn top_level_tag(self) -> Option<Tag> {
        match self {
            Source::Text(t) | Source::Code(t) | Source::Us(t) => Some(t),
            Source::Meta(_) | Source::Nested(..) => None,
        }
    }
}

/// Index of the field a top-level tag is kept in.
pub fn field_for_tag(tag: Tag) -> Option<usize> {
    Header::SOURCES
        .iter()
        .position(|s| s.top_level_tag() == Some(tag))
}

/// Index of the field a meta element is kept in.
pub fn field_for_meta(element: u16) -> Option<usize> {
    Header::SOURCES
        .iter()
        .position(|s| *s == Source::Meta(element))
}

/// Index of the field an element inside an item of top-level sequence `seq` is kept in, and
/// the element's rank among the alternatives (lower wins).
pub fn field_for_nested(seq: Tag, tag: Tag) -> Option<(usize, usize)> {
    Header::SOURCES
        .iter()
        .enumerate()
        .find_map(|(i, s)| match s {
            Source::Nested(sq, inner) if *sq == seq => {
                inner.iter().position(|t| *t == tag).map(|rank| (i, rank))
            }
            _ => None,
        })
}

/// The DICOM keyword of a field's attribute ("PatientName"), for messages.
pub fn keyword(index: usize) -> String {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    let tag = match Header::SOURCES.get(index) {
        Some(Source::Meta(e)) => Tag(0x0002, *e),
        Some(Source::Nested(seq, _)) => *seq,
        Some(s) => s.top_level_tag().unwrap_or(Tag(0, 0)),
        None => return String::new(),
    };
    dicom_dictionary_std::StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias().to_string())
        .unwrap_or_else(|| format!("({:04X},{:04X})", tag.group(), tag.element()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_consistent() {
        assert_eq!(Header::COLUMNS.len(), Header::SOURCES.len());
        let mut h = Header::default();
        assert_eq!(h.values_mut().len(), Header::COLUMNS.len());
        assert_eq!(
            field_for_tag(tags::PATIENT_NAME).map(keyword).as_deref(),
            Some("PatientName")
        );
        assert_eq!(
            field_for_meta(0x0010).map(|i| Header::COLUMNS[i]),
            Some("transfer_syntax")
        );
        assert_eq!(
            field_for_nested(
                tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
                tags::UNIVERSAL_ENTITY_ID
            )
            .map(|(i, rank)| (Header::COLUMNS[i], rank)),
            Some(("issuer_of_accession", 1))
        );
        // Each tag is kept once.
        let mut tags: Vec<_> = Header::SOURCES
            .iter()
            .filter_map(|s| s.top_level_tag())
            .collect();
        let n = tags.len();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), n);
    }
}
