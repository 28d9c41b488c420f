//! DICOMDIR (media directory) reading: the list of files a CD or DVD says it holds.
//! Records marked not in use are skipped; ISO 9660 version suffixes (`;1`) are accepted;
//! File IDs are matched case-insensitively and can never leave the medium.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;

/// The files a DICOMDIR references, resolved against its folder.
#[derive(Debug, Default)]
pub struct DirectoryListing {
    pub files: Vec<PathBuf>,
    /// Referenced File IDs that name no file on the medium.
    pub missing: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read DICOMDIR {path}: {reason}")]
pub struct DicomdirError {
    pub path: String,
    pub reason: String,
}

/// Reads the directory records of the DICOMDIR at `path`.
pub fn read_dicomdir(path: &Path) -> Result<DirectoryListing, DicomdirError> {
    let err = |reason: String| DicomdirError {
        path: path.display().to_string(),
        reason,
    };
    // A medium is anyone's: read without recursion and within limits.
    let obj = super::object::open_file(path, super::object::Bounds::default())
        .map_err(|e| err(e.to_string()))?;
    let root = path.parent().unwrap_or(Path::new("."));
    let mut listing = DirectoryListing::default();
    let Some(records) = obj
        .get(tags::DIRECTORY_RECORD_SEQUENCE)
        .and_then(|e| e.items())
    else {
        return Ok(listing);
    };
    for record in records {
        // Record In-use Flag 0000: the record was deleted (PS3.10 8.5); its file may be gone.
        let inactive = record
            .get(tags::RECORD_IN_USE_FLAG)
            .and_then(|e| e.to_int::<u16>().ok())
            == Some(0);
        if inactive {
            continue;
        }
        let Some(elem) = record.get(tags::REFERENCED_FILE_ID) else {
            continue;
        };
        let Ok(parts) = elem.to_multi_str() else {
            continue;
        };
        let parts: Vec<String> = parts
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            continue;
        }
        match resolve(root, &parts) {
            Some(p) if on_medium(root, &p) => listing.files.push(p),
            Some(_) => listing.missing.push(format!(
                "{} (a link leading off the medium: not read)",
                parts.join("\\")
            )),
            None => listing.missing.push(parts.join("\\")),
        }
    }
    Ok(listing)
}

/// Whether `file`, links resolved, lies under the medium's root (links resolved too): a link
/// on a medium must not lead the import to read the host's files.
fn on_medium(root: &Path, file: &Path) -> bool {
    match (std::fs::canonicalize(root), std::fs::canonicalize(file)) {
        (Ok(root), Ok(file)) => file.starts_with(&root),
        _ => false,
    }
}

/// Finds the file named by File ID components, matching case-insensitively where needed:
/// media are written in upper case, but copies on Linux disks often are not.
fn resolve(root: &Path, parts: &[String]) -> Option<PathBuf> {
    let mut here = root.to_path_buf();
    for part in parts {
        // A File ID names a file on the medium: no absolute paths, no way up and out of it.
        let component = Path::new(part);
        if component.components().count() != 1
            || !matches!(
                component.components().next(),
                Some(std::path::Component::Normal(_))
            )
        {
            return None;
        }
        let exact = here.join(part);
        if exact.exists() {
            here = exact;
            continue;
        }
        // Media written as ISO 9660 level 1 may name files "IM1;1" on one side only.
        let bare = |n: &str| -> String {
            match n.rsplit_once(';') {
                Some((stem, ver)) if !ver.is_empty() && ver.bytes().all(|b| b.is_ascii_digit()) => {
                    stem.to_string()
                }
                _ => n.to_string(),
            }
        };
        let wanted = bare(part);
        let found = std::fs::read_dir(&here)
            .ok()?
            .flatten()
            .find(|e| bare(&e.file_name().to_string_lossy()).eq_ignore_ascii_case(&wanted))?;
        here = found.path();
    }
    here.is_file().then_some(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_stay_on_the_medium() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("IMAGES")).unwrap();
        std::fs::write(dir.path().join("IMAGES").join("im1"), b"x").unwrap();
        let medium = dir.path().join("IMAGES");
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Case-insensitive match of what the medium wrote in upper case.
        assert!(resolve(dir.path(), &ids(&["IMAGES", "IM1"])).is_some());
        // ISO 9660 version suffixes on either side.
        assert!(resolve(dir.path(), &ids(&["IMAGES", "IM1;1"])).is_some());
        std::fs::write(dir.path().join("IMAGES").join("IM2;1"), b"x").unwrap();
        assert!(resolve(dir.path(), &ids(&["IMAGES", "IM2"])).is_some());
        // No way up or out.
        assert!(resolve(&medium, &ids(&["..", "IMAGES", "im1"])).is_none());
        assert!(resolve(&medium, &ids(&["/etc/passwd"])).is_none());
        assert!(resolve(&medium, &ids(&["a/../../b"])).is_none());
        // Nor through a link: a folder or a file on the medium pointing off it.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), medium.join("LINKDIR")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), medium.join("LINK")).unwrap();
        let via_dir = resolve(&medium, &ids(&["LINKDIR", "SECRET"])).unwrap();
        assert!(!on_medium(&medium, &via_dir));
        let via_file = resolve(&medium, &ids(&["LINK"])).unwrap();
        assert!(!on_medium(&medium, &via_file));
        assert!(on_medium(
            dir.path(),
            &dir.path().join("IMAGES").join("im1")
        ));
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_object::InMemDicomObject;
    use dicom_object::meta::FileMetaTableBuilder;

    fn record(file_id: &str, in_use: u16) -> InMemDicomObject {
        InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::RECORD_IN_USE_FLAG,
                VR::US,
                PrimitiveValue::from(in_use),
            ),
            DataElement::new(
                tags::DIRECTORY_RECORD_TYPE,
                VR::CS,
                PrimitiveValue::from("IMAGE"),
            ),
            DataElement::new(
                tags::REFERENCED_FILE_ID,
                VR::CS,
                PrimitiveValue::from(file_id),
            ),
        ])
    }

    #[test]
    fn records_not_in_use_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["IM1", "IM2"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let obj = InMemDicomObject::from_element_iter([DataElement::new(
            tags::DIRECTORY_RECORD_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![
                record("IM1", 0x0000),
                record("IM2", 0xFFFF),
                record("GONE", 0),
            ]),
        )]);
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(crate::dicom::uids::EXPLICIT_VR_LITTLE_ENDIAN)
                    .media_storage_sop_class_uid(crate::dicom::uids::MEDIA_STORAGE_DIRECTORY)
                    .media_storage_sop_instance_uid("1.2.3"),
            )
            .unwrap();
        let path = dir.path().join("DICOMDIR");
        file.write_to_file(&path).unwrap();
        let listing = read_dicomdir(&path).unwrap();
        let names: Vec<String> = listing
            .files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["IM2"]);
        assert!(
            listing.missing.is_empty(),
            "a deleted record's file is not missing"
        );
    }
}
