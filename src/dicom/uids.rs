//! UID constants and SOP class names used by the core.

use dicom_core::dictionary::UidDictionary;
use dicom_dictionary_std::StandardSopClassDictionary;

pub const MEDIA_STORAGE_DIRECTORY: &str = "1.2.840.10008.1.3.10";
pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";
pub const IMPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2";
pub const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
pub const MR_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.4";
pub const CR_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.1";
pub const DX_IMAGE_STORAGE_PRESENTATION: &str = "1.2.840.10008.5.1.4.1.1.1.1";
pub const US_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.6.1";

/// The registered name of a SOP class, or the UID itself when unknown.
pub fn sop_class_name(uid: &str) -> String {
    StandardSopClassDictionary
        .by_uid(uid)
        .map(|e| e.name.to_string())
        .unwrap_or_else(|| uid.to_string())
}

/// Whether instances of this SOP class cannot exist without pixel data (image storage classes).
pub fn needs_pixel_data(uid: &str) -> bool {
    StandardSopClassDictionary
        .by_uid(uid)
        .is_some_and(|e| e.name.contains("Image Storage") && !e.name.contains("Retired"))
}

/// A fresh UID under 2.25 (a UUID-sized number, from the clock, the process and `salt`).
pub fn new_uid(salt: i64) -> String {
    let mut h = blake3::Hasher::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(&now.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&salt.to_le_bytes());
    let bytes = h.finalize();
    let mut n = [0u8; 16];
    n.copy_from_slice(&bytes.as_bytes()[..16]);
    format!("2.25.{}", u128::from_le_bytes(n) >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_classes_need_pixels() {
        assert!(needs_pixel_data(CT_IMAGE_STORAGE));
        assert!(needs_pixel_data(US_IMAGE_STORAGE));
        assert!(!needs_pixel_data("1.2.840.10008.5.1.4.1.1.88.11")); // Basic Text SR
        assert!(!needs_pixel_data("1.2.3.4"));
        assert_eq!(sop_class_name(CT_IMAGE_STORAGE), "CT Image Storage");
    }
}
