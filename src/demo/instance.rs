//! Writing the demo department's files: one Part 10 file per image, per modality IOD, with the
//! planted damage applied to the encoded bytes where a plant needs it.

use std::path::Path;

use dicom_core::VR;
use dicom_dictionary_std::tags;

use super::department::{CONFLICT_ID_OF, Modality, PATIENTS, PlannedStudy, Plant, STUDIES};
use super::images;
use super::{PlantedStudy, orders};
use crate::dicom::uids;
use crate::dicom::write::{
    DataSetBuilder, WriteError, encode_part10, encode_part10_as, write_file,
};
use crate::model::WorklistItem;

pub(super) struct Generated {
    pub studies: Vec<PlantedStudy>,
    pub valid_files: Vec<String>,
    pub files_written: usize,
    pub orders: Vec<WorklistItem>,
}

/// A 2.25 UID derived from a name: stable across runs, unique in practice.
pub fn uid_from(name: &str) -> String {
    let h = blake3::hash(format!("qcdesk-demo/{name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.as_bytes()[..16]);
    // Clear the top bit so the number fits comfortably and never starts with zero.
    let n = u128::from_be_bytes(b) >> 1 | 1 << 120;
    format!("2.25.{n}")
}

pub(super) fn accession(index: usize) -> String {
    format!("A{}", 240_100 + index)
}

pub(super) fn dicom_date(d: time::Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Unix time the study was acquired (its date and time, read as UTC).
pub(super) fn acquired_at(today: time::Date, study: &PlannedStudy) -> i64 {
    let date = today - time::Duration::days(i64::from(study.days_ago));
    let t = study.time.as_bytes();
    let num = |a: usize| i64::from(t[a] - b'0') * 10 + i64::from(t[a + 1] - b'0');
    let midnight = date.midnight().assume_utc().unix_timestamp();
    midnight + num(0) * 3600 + num(2) * 60 + num(4)
}

const INSTITUTION: &str = "Riverside General Hospital";

/// Writes every planned study into `inbox/<station AE>/<label>/` and returns what was planted.
pub(super) fn write_department(
    inbox: &Path,
    tmp: &Path,
    today: time::Date,
) -> Result<Generated, WriteError> {
    let mut out = Generated {
        studies: Vec::new(),
        valid_files: Vec::new(),
        files_written: 0,
        orders: orders(today),
    };
    for (index, study) in STUDIES.iter().enumerate() {
        let planted = write_study(inbox, tmp, today, index, study, &mut out)?;
        out.studies.push(planted);
    }
    // What else lands in a modality's export folder: notes and empty files, to be skipped.
    let extras: [(&str, &[u8]); 2] = [
        ("README.txt", b"Exported by the modality. Do not edit.\n"),
        ("CT_SOMATOM1/EMPTY.DCM", b""),
    ];
    for (name, bytes) in extras {
        write_file(tmp, &inbox.join(name), bytes)?;
    }
    Ok(out)
}

struct Ctx<'a> {
    study: &'a PlannedStudy,
    index: usize,
    study_uid: String,
    date: String,
}

fn write_study(
    inbox: &Path,
    tmp: &Path,
    today: time::Date,
    index: usize,
    study: &PlannedStudy,
    out: &mut Generated,
) -> Result<PlantedStudy, WriteError> {
    let date = dicom_date(today - time::Duration::days(i64::from(study.days_ago)));
    // The console of the study-UID plant made up its own UID instead of the worklist's.
    let study_uid = if study.plant == Plant::StudyUidMismatch {
        uid_from(&format!("study/{}/console", study.label))
    } else {
        uid_from(&format!("study/{}", study.label))
    };
    let ctx = Ctx {
        study,
        index,
        study_uid,
        date,
    };
    let folder = inbox.join(study.modality.station_ae()).join(study.label);
    let mut planted_file: Option<String> = None;
    let mut first_file: Option<String> = None;
    let mut first_sop: Option<String> = None;

    for (s, (description, count)) in study.modality.series().iter().enumerate() {
        for n in 0..*count {
            let sop = uid_from(&format!("sop/{}/{s}/{n}", study.label));
            let obj = instance(&ctx, s, description, n, *count, &sop, 0);
            let mut obj = obj;
            let is_plant_target = s == 0 && n == count.saturating_sub(1);
            let mut damaged = false;
            if is_plant_target {
                match study.plant {
                    Plant::MissingSopUid => {
                        obj = obj.remove(tags::SOP_INSTANCE_UID);
                        damaged = true;
                    }
                    Plant::NoPixelData => {
                        obj = obj.remove(tags::PIXEL_DATA);
                        damaged = true;
                    }
                    _ => {}
                }
            }
            let mut bytes = encode_part10(obj.build(), Some(study.modality.station_ae()))?;
            if is_plant_target {
                match study.plant {
                    Plant::Truncated => {
                        bytes.truncate(bytes.len() * 3 / 5);
                        damaged = true;
                    }
                    Plant::Corrupt => {
                        corrupt_after_uids(&mut bytes);
                        damaged = true;
                    }
                    _ => {}
                }
            }
            let name = Path::new(&format!("S{:02}", s + 1)).join(format!("IM{:04}.dcm", n + 1));
            let path = folder.join(&name);
            write_file(tmp, &path, &bytes)?;
            out.files_written += 1;
            let shown = path.display().to_string();
            if damaged {
                planted_file = Some(shown.clone());
            } else if !matches!(study.plant, Plant::BadDate | Plant::UndeclaredCharset) {
                out.valid_files.push(shown.clone());
            }
            // Copies of the same instances that come back another way.
            let copy = match study.plant {
                // A router's own file meta group around the same data set.
                Plant::ResentByRouter => Some((
                    "ROUTED",
                    encode_part10(
                        instance(&ctx, s, description, n, *count, &sop, 0).build(),
                        Some("ROUTER1"),
                    )?,
                )),
                // The archive's copy, in Implicit VR Little Endian.
                Plant::TranscodedCopy => Some((
                    "ARCHIVE_COPY",
                    encode_part10_as(
                        instance(&ctx, s, description, n, *count, &sop, 0).build(),
                        Some("ARCHIVE"),
                        uids::IMPLICIT_VR_LITTLE_ENDIAN,
                    )?,
                )),
                _ => None,
            };
            if let Some((sub, bytes)) = copy {
                let path = folder.join(sub).join(&name);
                write_file(tmp, &path, &bytes)?;
                out.files_written += 1;
                out.valid_files.push(path.display().to_string());
            }
            if first_file.is_none() {
                first_file = Some(shown);
                first_sop = Some(sop.clone());
            }
        }
    }

    if study.plant == Plant::DuplicateSop
        && let Some(sop) = &first_sop
    {
        // The station re-sent the first image after reprocessing: same UID, other pixels.
        let (description, count) = study.modality.series()[0];
        let obj = instance(&ctx, 0, description, 0, count, sop, 1);
        let bytes = encode_part10(obj.build(), Some(study.modality.station_ae()))?;
        let path = folder.join("RESENT").join("IM0001.dcm");
        write_file(tmp, &path, &bytes)?;
        out.files_written += 1;
        planted_file = Some(path.display().to_string());
    }

    let (expected_state, code) = study.plant.expected();
    Ok(PlantedStudy {
        label: study.label.to_string(),
        study_instance_uid: ctx.study_uid.clone(),
        accession: if study.plant == Plant::NoAccession {
            String::new()
        } else {
            accession(index)
        },
        file: planted_file.or(first_file).unwrap_or_default(),
        expected_state,
        expected_code: code.map(str::to_string),
    })
}

/// Damages the data set after the identifying groups: the VR of Rows (0028,0010) becomes
/// bytes no reader accepts, so the header up to the UIDs is readable and the rest is not.
fn corrupt_after_uids(bytes: &mut [u8]) {
    let pattern = [0x28, 0x00, 0x10, 0x00, b'U', b'S'];
    if let Some(at) = bytes.windows(pattern.len()).position(|w| w == pattern) {
        bytes[at + 4] = 0xFF;
        bytes[at + 5] = 0xFF;
        bytes[at + 6] = 0xFF;
        bytes[at + 7] = 0x7F;
    }
}

/// The data set of one image. `variant` changes the pixels (for the duplicate-UID plant).
fn instance(
    ctx: &Ctx<'_>,
    series: usize,
    description: &str,
    n: usize,
    count: usize,
    sop: &str,
    variant: u64,
) -> DataSetBuilder {
    let study = ctx.study;
    let modality = study.modality;
    let mut patient = &PATIENTS[study.patient];
    if study.plant == Plant::MixedPatient && series == 1 {
        patient = &PATIENTS[(study.patient + 1) % PATIENTS.len()];
    }
    let mut patient_id = patient.id.to_string();
    let mut name = patient.name.to_string();
    let mut charset = Some("ISO_IR 192");
    let mut study_uid = ctx.study_uid.clone();
    let mut birth = patient.birth_date.to_string();
    let mut acc = accession(ctx.index);
    let mut study_date = ctx.date.clone();
    match study.plant {
        Plant::WrongPatientId => patient_id = transpose_last_digits(&patient_id),
        Plant::MisspelledName => {
            name = name
                .replace('Ü', "UE")
                .replace('Ö', "OE")
                .replace('Ä', "AE")
        }
        Plant::WrongBirthDate => {
            birth = format!("{}{}{}", &birth[0..4], &birth[6..8], &birth[4..6])
        }
        Plant::NoAccession => acc.clear(),
        Plant::AsciiName => {
            name = crate::rules::names::fold_accents(&name);
            charset = None;
        }
        Plant::UndeclaredCharset => charset = None,
        Plant::SplitStudy if series == 1 => {
            study_uid = uid_from(&format!("study/{}/split", study.label));
        }
        Plant::PatientConflict => patient_id = PATIENTS[CONFLICT_ID_OF].id.to_string(),
        Plant::TwoAccessions if series == 1 => acc = accession(ctx.index) + "B",
        Plant::BadDate => {
            study_date = format!(
                "{}-{}-{}",
                &study_date[0..4],
                &study_date[4..6],
                &study_date[6..8]
            )
        }
        _ => {}
    }
    let (manufacturer, model, software) = modality.manufacturer();
    let series_uid = uid_from(&format!("series/{}/{series}", study.label));
    let time = study.time;
    let seed =
        blake3::hash(sop.as_bytes()).as_bytes()[0] as u64 * 7919 + n as u64 + variant * 104_729;

    let mut b = DataSetBuilder::new();
    if let Some(cs) = charset {
        b = b.text(tags::SPECIFIC_CHARACTER_SET, VR::CS, cs);
    }
    let mut b = b
        .text(tags::SOP_CLASS_UID, VR::UI, sop_class(modality))
        .text(tags::SOP_INSTANCE_UID, VR::UI, sop)
        .text(tags::STUDY_DATE, VR::DA, &study_date)
        .text(tags::SERIES_DATE, VR::DA, &ctx.date)
        .text(tags::CONTENT_DATE, VR::DA, &ctx.date)
        .text(tags::STUDY_TIME, VR::TM, time)
        .text(tags::SERIES_TIME, VR::TM, time)
        .text(tags::CONTENT_TIME, VR::TM, time)
        .text(tags::ACCESSION_NUMBER, VR::SH, &acc)
        .text(tags::MODALITY, VR::CS, modality.code())
        .text(tags::MANUFACTURER, VR::LO, manufacturer)
        .text(tags::INSTITUTION_NAME, VR::LO, INSTITUTION)
        .text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "HOUSE^GREGORY^^DR")
        .text(tags::STATION_NAME, VR::SH, modality.station_name())
        .text(tags::STUDY_DESCRIPTION, VR::LO, study.procedure)
        .text(tags::SERIES_DESCRIPTION, VR::LO, description)
        .text(tags::MANUFACTURER_MODEL_NAME, VR::LO, model)
        .text(tags::PATIENT_NAME, VR::PN, &name)
        .text(tags::PATIENT_ID, VR::LO, &patient_id)
        .text(tags::ISSUER_OF_PATIENT_ID, VR::LO, "RGH")
        .text(tags::PATIENT_BIRTH_DATE, VR::DA, &birth)
        .text(tags::PATIENT_SEX, VR::CS, patient.sex)
        .text(tags::SOFTWARE_VERSIONS, VR::LO, software)
        .text(tags::STUDY_INSTANCE_UID, VR::UI, &study_uid)
        .text(tags::SERIES_INSTANCE_UID, VR::UI, &series_uid)
        .text(tags::STUDY_ID, VR::SH, &format!("{}", 1000 + ctx.index))
        .text(tags::SERIES_NUMBER, VR::IS, &format!("{}", series + 1))
        .text(tags::INSTANCE_NUMBER, VR::IS, &format!("{}", n + 1));

    let z = if count > 1 {
        n as f32 / (count - 1) as f32
    } else {
        0.5
    };
    b = match modality {
        Modality::Ct => {
            let scout = series == 1;
            let size = 256;
            let pos = -100.0 + 5.0 * n as f32;
            let image_type = if scout {
                "ORIGINAL\\PRIMARY\\LOCALIZER"
            } else {
                "ORIGINAL\\PRIMARY\\AXIAL"
            };
            let b = b
                .text(tags::IMAGE_TYPE, VR::CS, image_type)
                .text(tags::BODY_PART_EXAMINED, VR::CS, "CHEST")
                .text(tags::KVP, VR::DS, "120")
                .text(tags::RESCALE_INTERCEPT, VR::DS, "-1024")
                .text(tags::RESCALE_SLOPE, VR::DS, "1")
                .text(tags::WINDOW_CENTER, VR::DS, "40")
                .text(tags::WINDOW_WIDTH, VR::DS, "400");
            // Hounsfield units, except on the localizer (dciodvfy: RescaleType HU is for slices).
            let b = if scout {
                b
            } else {
                b.text(tags::RESCALE_TYPE, VR::LO, "HU")
            };
            let b = image_plane(b, study, 1.40625, -180.0, pos);
            grey16(b, size, size, 12, images::ct_slice(size, z, seed))
        }
        Modality::Mr => {
            let size = 256;
            let pos = -30.0 + 6.0 * n as f32;
            let fat_sat = series == 1;
            let b = b
                .text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\OTHER")
                .text(tags::BODY_PART_EXAMINED, VR::CS, "HEAD")
                .text(tags::SCANNING_SEQUENCE, VR::CS, "SE")
                .text(
                    tags::SEQUENCE_VARIANT,
                    VR::CS,
                    if fat_sat { "SK\\SP" } else { "SK" },
                )
                .text(tags::SCAN_OPTIONS, VR::CS, if fat_sat { "FS" } else { "" })
                .text(tags::MR_ACQUISITION_TYPE, VR::CS, "2D")
                .text(tags::REPETITION_TIME, VR::DS, "4000")
                .text(tags::ECHO_TIME, VR::DS, "98")
                .text(tags::ECHO_TRAIN_LENGTH, VR::IS, "15")
                .text(tags::MAGNETIC_FIELD_STRENGTH, VR::DS, "1.5")
                .text(tags::SPACING_BETWEEN_SLICES, VR::DS, "6")
                .text(tags::WINDOW_CENTER, VR::DS, "800")
                .text(tags::WINDOW_WIDTH, VR::DS, "1600");
            let b = image_plane(b, study, 0.9375, -120.0, pos);
            grey16(b, size, size, 12, images::mr_slice(size, z, seed))
        }
        Modality::Cr => {
            let size = 384;
            let lateral = series == 1;
            let b = b
                .text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY")
                .text(tags::BODY_PART_EXAMINED, VR::CS, "CHEST")
                .text(
                    tags::VIEW_POSITION,
                    VR::CS,
                    if lateral { "LL" } else { "PA" },
                )
                .text(
                    tags::PATIENT_ORIENTATION,
                    VR::CS,
                    if lateral { "A\\F" } else { "L\\F" },
                )
                .text(tags::KVP, VR::DS, "110")
                .text(tags::IMAGER_PIXEL_SPACING, VR::DS, "0.9\\0.9")
                .text(tags::WINDOW_CENTER, VR::DS, "2000")
                .text(tags::WINDOW_WIDTH, VR::DS, "3600");
            grey16(b, size, size, 12, images::cr_chest(size, seed))
        }
        Modality::Us => {
            let (w, h) = (320, 240);
            b.text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\ABDOMINAL")
                .text(tags::BODY_PART_EXAMINED, VR::CS, "ABDOMEN")
                .text(tags::PATIENT_ORIENTATION, VR::CS, "")
                .text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00")
                .u16(tags::SAMPLES_PER_PIXEL, 1)
                .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
                .u16(tags::ROWS, h as u16)
                .u16(tags::COLUMNS, w as u16)
                .u16(tags::BITS_ALLOCATED, 8)
                .u16(tags::BITS_STORED, 8)
                .u16(tags::HIGH_BIT, 7)
                .u16(tags::PIXEL_REPRESENTATION, 0)
                .pixels_u8(tags::PIXEL_DATA, images::us_sector(w, h, seed))
        }
    };
    b
}

/// Frame of Reference, Image Plane and position attributes of an axial slice.
fn image_plane(
    b: DataSetBuilder,
    study: &PlannedStudy,
    spacing: f32,
    origin: f32,
    pos: f32,
) -> DataSetBuilder {
    b.text(tags::PATIENT_POSITION, VR::CS, "HFS")
        .text(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &uid_from(&format!("for/{}", study.label)),
        )
        .text(tags::POSITION_REFERENCE_INDICATOR, VR::LO, "")
        .text(tags::ACQUISITION_NUMBER, VR::IS, "1")
        .text(tags::SLICE_THICKNESS, VR::DS, "5")
        .text(
            tags::PIXEL_SPACING,
            VR::DS,
            &format!("{spacing}\\{spacing}"),
        )
        .text(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("{origin}\\{origin}\\{pos}"),
        )
        .text(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0")
        .text(tags::SLICE_LOCATION, VR::DS, &format!("{pos}"))
}

fn grey16(
    b: DataSetBuilder,
    rows: usize,
    cols: usize,
    bits: u16,
    pixels: Vec<u16>,
) -> DataSetBuilder {
    b.u16(tags::SAMPLES_PER_PIXEL, 1)
        .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
        .u16(tags::ROWS, rows as u16)
        .u16(tags::COLUMNS, cols as u16)
        .u16(tags::BITS_ALLOCATED, 16)
        .u16(tags::BITS_STORED, bits)
        .u16(tags::HIGH_BIT, bits - 1)
        .u16(tags::PIXEL_REPRESENTATION, 0)
        .pixels_u16(tags::PIXEL_DATA, pixels)
}

fn sop_class(m: Modality) -> &'static str {
    match m {
        Modality::Ct => uids::CT_IMAGE_STORAGE,
        Modality::Mr => uids::MR_IMAGE_STORAGE,
        Modality::Cr => uids::CR_IMAGE_STORAGE,
        Modality::Us => uids::US_IMAGE_STORAGE,
    }
}

fn transpose_last_digits(id: &str) -> String {
    let mut c: Vec<char> = id.chars().collect();
    let n = c.len();
    if n >= 2 {
        c.swap(n - 1, n - 2);
    }
    c.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_valid_and_stable() {
        let a = uid_from("x");
        assert_eq!(a, uid_from("x"));
        assert_ne!(a, uid_from("y"));
        assert!(crate::dicom::values::check_uid(&a).is_none(), "{a}");
    }

    #[test]
    fn transposes() {
        assert_eq!(transpose_last_digits("1004521"), "1004512");
    }
}
