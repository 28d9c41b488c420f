//! Imaging: every pydicom test file with pixel data gives a picture or a named reason; the
//! pictures match references made by pydicom (scripts/make-reference-images.py); one image in
//! five encodings gives one thumbnail; 12-bit JPEG (made by DCMTK) renders; a truncated file
//! renders partially; a garbage pixel stream is refused with a reason.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

fn thumbs(paths: &[&Path], out: &Path, size: u32) -> Vec<serde_json::Value> {
    let mut args: Vec<String> = vec![
        "thumbs".into(),
        "--json".into(),
        "--out".into(),
        out.display().to_string(),
        "--size".into(),
        size.to_string(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ws = tempfile::tempdir().unwrap();
    qcdesk_json(ws.path(), &args)
        .as_array()
        .expect("a list")
        .clone()
}

fn rgb(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Mean absolute difference per sample between two pictures of one size.
fn mad(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "sizes differ");
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn every_pydicom_file_gives_a_picture_or_a_reason() {
    let out = tempfile::tempdir().unwrap();
    let results = thumbs(&[&pydicom_dir().join("test_files")], out.path(), 128);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        *by_status
            .entry(r["status"].as_str().unwrap().to_string())
            .or_default() += 1;
        match r["status"].as_str().unwrap() {
            "ok" => {
                let png = PathBuf::from(r["png"].as_str().unwrap());
                let (w, h) = image::image_dimensions(&png).unwrap();
                assert!(w <= 128 && h <= 128 && w > 0 && h > 0, "{}", r["file"]);
                assert!(r["frames"].as_u64().unwrap() >= 1);
                assert!(!r["transfer_syntax"].as_str().unwrap().is_empty());
            }
            _ => assert!(
                !r["reason"].as_str().unwrap_or("").is_empty(),
                "no reason: {r}"
            ),
        }
    }
    // One PNG per rendered input, never shared.
    let pngs: std::collections::HashSet<&str> =
        results.iter().filter_map(|r| r["png"].as_str()).collect();
    assert_eq!(pngs.len(), by_status["ok"]);
    assert_eq!(by_status["ok"], 91, "{by_status:?}");
    assert_eq!(by_status["no_pixel_data"], 70, "{by_status:?}");
    // The DICOM files that cannot be rendered, and why.
    let refused: BTreeMap<String, String> = results
        .iter()
        .filter(|r| r["status"] == "cannot_render")
        .filter(|r| !r["reason"].as_str().unwrap().contains("not a DICOM file"))
        .map(|r| {
            (
                Path::new(r["file"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    // Its codestream declares four billion tiles (GDCM refuses it too).
    assert!(refused["JPEG2000-embedded-sequence-delimiter.dcm"].contains("JPEG 2000"));
    assert!(refused["meta_missing_tsyntax.dcm"].contains("Rows"));
    assert!(refused["nested_priv_SQ.dcm"].contains("Rows"));
}

#[test]
fn pictures_match_pydicom_references() {
    let refs = data_dir().join("reference");
    let index = std::fs::read_to_string(refs.join("INDEX.tsv")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (png, source, what) = (cols[0], cols[1], cols[2]);
        let src = pydicom_dir().join("test_files").join(source);
        let dir = out.path().join(png);
        let r = &thumbs(&[&src], &dir, 4096)[0];
        assert_eq!(r["status"], "ok", "{source}: {r}");
        let ours = rgb(Path::new(r["png"].as_str().unwrap()));
        let theirs = rgb(&refs.join(png));
        let d = mad(&ours, &theirs);
        eprintln!("{source}: mean difference {d:.3} ({what})");
        // Lossy decoders differ by a level here and there; a real fault (swapped channels,
        // no palette, not inverted, another window) is tens of levels.
        if d >= 1.0 {
            failures.push(format!("{source} ({what}): mean difference {d:.2}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn one_image_in_five_encodings_gives_one_thumbnail() {
    let dcmcjpeg = require_tool("dcmcjpeg");
    let work = tempfile::tempdir().unwrap();
    let native = pydicom_dir().join("test_files/MR_small.dcm");
    let lossless = work.path().join("MR_small_jpeg_lossless.dcm");
    run_ok(
        &dcmcjpeg,
        &["+e1", native.to_str().unwrap(), lossless.to_str().unwrap()],
    );
    let files: Vec<PathBuf> = vec![
        native,
        pydicom_dir().join("test_files/MR_small_RLE.dcm"),
        pydicom_dir().join("test_files/MR_small_jpeg_ls_lossless.dcm"),
        pydicom_dir().join("test_files/MR_small_jp2klossless.dcm"),
        lossless,
    ];
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = work.path().join("out");
    let results = thumbs(&paths, &out, 64);
    let first = rgb(Path::new(results[0]["png"].as_str().unwrap()));
    for r in &results[1..] {
        assert_eq!(r["status"], "ok", "{r}");
        let other = rgb(Path::new(r["png"].as_str().unwrap()));
        let d = mad(&first, &other);
        assert!(d < 1.0, "{}: mean difference {d}", r["file"]);
    }
}

#[test]
fn twelve_bit_jpeg_made_by_dcmtk_renders() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use qcdesk::dicom::write::{DataSetBuilder, encode_part10};
    let dcmcjpeg = require_tool("dcmcjpeg");
    let work = tempfile::tempdir().unwrap();
    // A 12-bit CR-like image: a smooth gradient with a disc.
    let (w, h) = (256usize, 192usize);
    let pixels: Vec<u16> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let disc = ((x - 128.0).powi(2) + (y - 96.0).powi(2)).sqrt() < 50.0;
            ((x / w as f32) * 3000.0 + if disc { 1000.0 } else { 0.0 }) as u16
        })
        .collect();
    let obj = DataSetBuilder::new()
        .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.1")
        .text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1143.7",
        )
        .text(tags::MODALITY, VR::CS, "CR")
        .u16(tags::SAMPLES_PER_PIXEL, 1)
        .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
        .u16(tags::ROWS, h as u16)
        .u16(tags::COLUMNS, w as u16)
        .u16(tags::BITS_ALLOCATED, 16)
        .u16(tags::BITS_STORED, 12)
        .u16(tags::HIGH_BIT, 11)
        .u16(tags::PIXEL_REPRESENTATION, 0)
        .text(tags::WINDOW_CENTER, VR::DS, "2000")
        .text(tags::WINDOW_WIDTH, VR::DS, "4000")
        .pixels_u16(tags::PIXEL_DATA, pixels)
        .build();
    let native = work.path().join("native.dcm");
    std::fs::write(&native, encode_part10(obj, Some("TEST")).unwrap()).unwrap();
    let jpeg12 = work.path().join("jpeg12.dcm");
    run_ok(
        &dcmcjpeg,
        &["+ee", native.to_str().unwrap(), jpeg12.to_str().unwrap()],
    );
    let results = thumbs(&[&native, &jpeg12], &work.path().join("out"), 4096);
    assert_eq!(
        results[1]["transfer_syntax"], "1.2.840.10008.1.2.4.51",
        "DCMTK made 12-bit JPEG extended"
    );
    assert_eq!(results[1]["status"], "ok", "{}", results[1]);
    let a = rgb(Path::new(results[0]["png"].as_str().unwrap()));
    let b = rgb(Path::new(results[1]["png"].as_str().unwrap()));
    let d = mad(&a, &b);
    assert!(d < 2.0, "lossy 12-bit JPEG vs native: mean difference {d}");
}

#[test]
fn a_truncated_file_renders_what_it_holds() {
    let work = tempfile::tempdir().unwrap();
    let ct = std::fs::read(pydicom_dir().join("test_files/CT_small.dcm")).unwrap();
    // CT_small: 128 x 128 x 16 bits, pixel data ends 126 bytes of padding before the end.
    let cut = work.path().join("cut.dcm");
    let pixel_end = ct.len() - 126 - 12;
    std::fs::write(&cut, &ct[..pixel_end - 128 * 2 * 48]).unwrap();
    let r = &thumbs(&[&cut], &work.path().join("out"), 4096)[0];
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["partial"], serde_json::json!([80, 128]), "{r}");
    let img = rgb(Path::new(r["png"].as_str().unwrap()));
    // The missing rows are hatched in dark red and grey, never left as image.
    let missing = img.get_pixel(3, 120);
    assert!(
        missing.0 == [90, 20, 20] || missing.0 == [30, 30, 30],
        "{missing:?}"
    );
}

#[test]
fn a_garbage_pixel_stream_is_refused_with_a_reason() {
    let work = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(pydicom_dir().join("test_files/SC_rgb_jpeg_gdcm.dcm")).unwrap();
    // Overwrite the JPEG stream after its start marker with noise.
    let soi = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xD8])
        .expect("a JPEG stream");
    let mut x: u32 = 12345;
    for b in &mut bytes[soi + 2..soi + 2000] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let bad = work.path().join("garbage.dcm");
    std::fs::write(&bad, &bytes).unwrap();
    let r = &thumbs(&[&bad], &work.path().join("out"), 128)[0];
    assert_eq!(r["status"], "cannot_render", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("JPEG"), "{r}");
}

#[test]
fn a_workspace_study_renders_by_series_and_instance() {
    let ws = demo_workspace();
    let queue = qcdesk_json(ws.path(), &["queue", "--json"]);
    let patel = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["patient_name"] == "PATEL^PRIYA" && s["modality"] == "CT")
        .expect("PATEL^PRIYA's CT")["id"]
        .to_string();
    let out = ws.path().join("png");
    let results = qcdesk_json(
        ws.path(),
        &[
            "thumbs",
            "--study",
            &patel,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 11, "10 axial images and a scout");
    assert!(results.iter().all(|r| r["status"] == "ok"), "{results:#?}");
    let names: Vec<String> = results
        .iter()
        .map(|r| {
            Path::new(r["png"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    assert!(names[0].starts_with("0001-S1-I1-2.25."), "{names:?}");
    assert!(names[10].starts_with("0011-S2-I1-"), "{names:?}");
    // The truncated tenth image says how much of it arrived.
    let partial = &results[9]["partial"];
    assert!(
        partial[0].as_u64().unwrap() < partial[1].as_u64().unwrap(),
        "{partial}"
    );
}

#[test]
fn thumbs_says_what_is_wrong_with_its_arguments() {
    let ws = tempfile::tempdir().unwrap();
    let out = ws.path().join("png");
    let missing = qcdesk(
        ws.path(),
        &[
            "thumbs",
            "/nonexistent/x.dcm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("/nonexistent/x.dcm"),
        "{}",
        stderr(&missing)
    );
    let size = qcdesk(
        ws.path(),
        &[
            "thumbs",
            "x.dcm",
            "--out",
            out.to_str().unwrap(),
            "--size",
            "0",
        ],
    );
    assert_eq!(size.status.code(), Some(2));
    let no_out = qcdesk(ws.path(), &["thumbs", "x.dcm"]);
    assert_eq!(no_out.status.code(), Some(2));
    // A file that is not DICOM is a row with its reason, and the run succeeds.
    let text = ws.path().join("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let r = thumbs(&[&text], &out, 64);
    assert_eq!(r[0]["status"], "cannot_render");
    assert!(
        r[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a DICOM file"),
        "{}",
        r[0]
    );
}

#[test]
fn jpeg_2000_thumbnails_from_a_coarser_resolution_match_the_full_image() {
    // Thumbnails of JPEG 2000 decode only the resolution level they need; what they show
    // must be the image scaled down, not another picture.
    let out = tempfile::tempdir().unwrap();
    for name in [
        "693_J2KI.dcm",
        "JPEG2000.dcm",
        "examples_jpeg2k.dcm",
        "GDCMJ2K_TextGBR.dcm",
    ] {
        let src = pydicom_dir().join("test_files").join(name);
        let small = &thumbs(&[&src], &out.path().join("small"), 128)[0];
        let full = &thumbs(&[&src], &out.path().join("full"), 4096)[0];
        assert_eq!(small["status"], "ok", "{small}");
        let small = rgb(Path::new(small["png"].as_str().unwrap()));
        let full = rgb(Path::new(full["png"].as_str().unwrap()));
        assert!(full.width().max(full.height()) >= 256, "{name} is large");
        let scaled = image::imageops::thumbnail(&full, small.width(), small.height());
        let d = mad(&small, &scaled);
        let mean = |i: &image::RgbImage| {
            i.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / i.as_raw().len() as f64
        };
        let brightness = (mean(&small) - mean(&scaled)).abs();
        eprintln!("{name}: mean difference {d:.2}, brightness {brightness:.2}");
        // The wavelet's low-pass and a box filter differ at edges and under a narrow window
        // (6 to 8 levels here); the same picture shifted by one pixel differs by 15 or more.
        assert!(d < 10.0, "{name}: mean difference {d:.2}");
        assert!(
            brightness < 2.5,
            "{name}: brightness differs by {brightness:.2}"
        );
    }
}

/// The data set of `obj` in transfer syntax `ts` followed by encapsulated pixel data made of
/// `fragments` (an empty Basic Offset Table first): a Part 10 file as an encoder writes it.
fn encapsulated_file(
    obj: dicom_object::InMemDicomObject,
    ts: &str,
    fragments: &[Vec<u8>],
) -> Vec<u8> {
    let mut bytes = qcdesk::dicom::write::encode_part10_as(obj, Some("TEST"), ts).unwrap();
    bytes.extend_from_slice(&[
        0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    for f in fragments {
        assert_eq!(f.len() % 2, 0, "fragments are of even length");
        bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        bytes.extend_from_slice(&(f.len() as u32).to_le_bytes());
        bytes.extend_from_slice(f);
    }
    bytes.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    bytes
}

/// A file's data set without its pixel data, and the pixel data's fragments.
fn split_encapsulated(path: &Path) -> (dicom_object::InMemDicomObject, String, Vec<Vec<u8>>) {
    let file = dicom_object::open_file(path).unwrap();
    let ts = file.meta().transfer_syntax().to_string();
    let mut obj = file.into_inner();
    let pixels = obj
        .take_element(dicom_dictionary_std::tags::PIXEL_DATA)
        .unwrap();
    let fragments = pixels
        .value()
        .fragments()
        .expect("encapsulated")
        .iter()
        .map(|f| f.to_vec())
        .collect();
    (obj, ts, fragments)
}

#[test]
fn a_jpeg_ls_frame_over_several_fragments_decodes() {
    // As WG04's MR1_JLSL: one frame's codestream split over three fragments, with a zero
    // byte between the scan and the end-of-image marker (DCMTK reads it; CharLS 2.3+ does not).
    let work = tempfile::tempdir().unwrap();
    let original = pydicom_dir().join("test_files/MR_small_jpeg_ls_lossless.dcm");
    let (obj, ts, fragments) = split_encapsulated(&original);
    let mut code: Vec<u8> = fragments.concat();
    while code.last() == Some(&0) {
        code.pop();
    }
    assert!(code.ends_with(&[0xFF, 0xD9]), "a whole JPEG-LS codestream");
    let eoi = code.len() - 2;
    code.insert(eoi, 0);
    if code.len() % 2 == 1 {
        code.push(0);
    }
    let third = (code.len() / 3) & !1;
    let parts = vec![
        code[..third].to_vec(),
        code[third..2 * third].to_vec(),
        code[2 * third..].to_vec(),
    ];
    let split = work.path().join("split.dcm");
    std::fs::write(&split, encapsulated_file(obj, &ts, &parts)).unwrap();
    let r = thumbs(&[&original, &split], &work.path().join("out"), 64);
    assert_eq!(r[1]["status"], "ok", "{}", r[1]);
    let a = rgb(Path::new(r[0]["png"].as_str().unwrap()));
    let b = rgb(Path::new(r[1]["png"].as_str().unwrap()));
    assert_eq!(mad(&a, &b), 0.0, "the same picture");
}

/// A 512 x 512 CT slice without a window: a body of soft tissue with a bone ring, air around
/// it, and padding (-2048, declared) outside the round field of view.
fn ct_without_window() -> (dicom_object::InMemDicomObject, Vec<u16>) {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use qcdesk::dicom::write::DataSetBuilder;
    let n = 512usize;
    let stored: Vec<u16> = (0..n * n)
        .map(|i| {
            let (x, y) = ((i % n) as f32 - 256.0, (i / n) as f32 - 256.0);
            let r = (x * x + y * y).sqrt();
            let hu: f32 = if r > 250.0 {
                -2048.0
            } else if r > 180.0 {
                -1000.0
            } else if r > 160.0 {
                900.0
            } else {
                // Soft tissue with some structure.
                40.0 + 30.0 * ((x / 9.0).sin() * (y / 13.0).cos())
            };
            // Stored = HU + 1024 (intercept -1024), as signed 16-bit.
            ((hu + 1024.0) as i16) as u16
        })
        .collect();
    let obj = DataSetBuilder::new()
        .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2")
        .text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.2.1143.8",
        )
        .text(tags::MODALITY, VR::CS, "CT")
        .u16(tags::SAMPLES_PER_PIXEL, 1)
        .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
        .u16(tags::ROWS, n as u16)
        .u16(tags::COLUMNS, n as u16)
        .u16(tags::BITS_ALLOCATED, 16)
        .u16(tags::BITS_STORED, 16)
        .u16(tags::HIGH_BIT, 15)
        .u16(tags::PIXEL_REPRESENTATION, 1)
        .text(tags::RESCALE_INTERCEPT, VR::DS, "-1024")
        .text(tags::RESCALE_SLOPE, VR::DS, "1")
        .build();
    (obj, stored)
}

#[test]
fn a_jpeg_2000_ct_thumbnail_matches_the_native_one_and_a_ct_without_window_is_readable() {
    use dicom_dictionary_std::tags;
    let opj = require_tool("opj_compress");
    let work = tempfile::tempdir().unwrap();
    let (obj, stored) = ct_without_window();
    let native = work.path().join("native.dcm");
    let with_pixels = {
        let mut o = obj.clone();
        o.put(dicom_core::DataElement::new(
            tags::PIXEL_DATA,
            dicom_core::VR::OW,
            dicom_core::PrimitiveValue::U16(stored.clone().into()),
        ));
        o
    };
    std::fs::write(
        &native,
        qcdesk::dicom::write::encode_part10(with_pixels, Some("TEST")).unwrap(),
    )
    .unwrap();
    // The same pixels, JPEG 2000 lossless (OpenJPEG's reversible 5/3 wavelet).
    let raw = work.path().join("ct.rawl");
    let bytes: Vec<u8> = stored.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let j2k = work.path().join("ct.j2k");
    run_ok(
        &opj,
        &[
            "-i",
            raw.to_str().unwrap(),
            "-o",
            j2k.to_str().unwrap(),
            "-F",
            "512,512,1,16,s",
        ],
    );
    let mut code = std::fs::read(&j2k).unwrap();
    if code.len() % 2 == 1 {
        code.push(0);
    }
    let compressed = work.path().join("j2k.dcm");
    std::fs::write(
        &compressed,
        encapsulated_file(obj, "1.2.840.10008.1.2.4.90", &[code]),
    )
    .unwrap();
    for size in [128, 96] {
        let r = thumbs(
            &[&native, &compressed],
            &work.path().join(format!("out{size}")),
            size,
        );
        assert_eq!(r[1]["status"], "ok", "{}", r[1]);
        let a = rgb(Path::new(r[0]["png"].as_str().unwrap()));
        let b = rgb(Path::new(r[1]["png"].as_str().unwrap()));
        let d = mad(&a, &b);
        eprintln!("{size}: native vs JPEG 2000 thumbnails differ by {d:.2}");

        assert!(d < 1.5, "thumbnails at {size} differ by {d:.2} grey levels");
        // Readable: the soft tissue window, not a grey wash from padding to bone. Tissue
        // (40 HU) sits mid-grey, padding and air black, bone white.
        let centre = a.get_pixel(a.width() / 2, a.height() / 2)[0];
        let corner = a.get_pixel(1, 1)[0];
        assert!((100..=160).contains(&centre), "tissue at grey {centre}");
        assert_eq!(corner, 0, "padding shows black");
    }
}

#[test]
fn pixel_data_bombs_and_impossible_pixel_modules_are_refused_quickly_with_a_reason() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use qcdesk::dicom::write::{DataSetBuilder, encode_part10, encode_part10_as};
    let work = tempfile::tempdir().unwrap();
    let image = |rows: u16, cols: u16, frames: &str, ba: u16, bs: u16, hb: u16| {
        DataSetBuilder::new()
            .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7")
            .text(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.2.1143.9",
            )
            .text(tags::MODALITY, VR::CS, "OT")
            .text(tags::NUMBER_OF_FRAMES, VR::IS, frames)
            .u16(tags::SAMPLES_PER_PIXEL, 1)
            .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
            .u16(tags::ROWS, rows)
            .u16(tags::COLUMNS, cols)
            .u16(tags::BITS_ALLOCATED, ba)
            .u16(tags::BITS_STORED, bs)
            .u16(tags::HIGH_BIT, hb)
            .u16(tags::PIXEL_REPRESENTATION, 0)
            .pixels_u16(tags::PIXEL_DATA, vec![7; 1 << 19])
    };
    let deflated = "1.2.840.10008.1.2.1.99";
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        // 1 MB deflated, declaring 32768 x 32768 pixels.
        (
            "bomb_32768.dcm",
            encode_part10_as(image(32768, 32768, "1", 16, 16, 15).build(), None, deflated).unwrap(),
            Some("32768 x 32768"),
        ),
        // 100 frames of 8192 x 8192: 12.5 GiB declared.
        (
            "bomb_frames.dcm",
            encode_part10_as(image(8192, 8192, "100", 16, 16, 15).build(), None, deflated).unwrap(),
            Some("max_pixel_mb"),
        ),
        (
            "bits_stored.dcm",
            encode_part10(image(512, 1024, "1", 16, 17, 16).build(), None).unwrap(),
            Some("Bits Stored 17"),
        ),
        // A High Bit past Bits Allocated: read as Bits Stored - 1, as readers do.
        (
            "high_bit.dcm",
            encode_part10(image(512, 1024, "1", 16, 12, 100).build(), None).unwrap(),
            None,
        ),
        // A deflated image of a sane size: inflated as a stream, one frame kept.
        (
            "deflated.dcm",
            encode_part10_as(image(512, 1024, "1", 16, 16, 15).build(), None, deflated).unwrap(),
            None,
        ),
    ];
    let mut paths = Vec::new();
    for (name, bytes, _) in &cases {
        let p = work.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        paths.push(p);
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let t = std::time::Instant::now();
    let results = thumbs(&refs, &work.path().join("out"), 128);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    for ((name, _, why), r) in cases.iter().zip(&results) {
        match why {
            Some(why) => {
                assert_eq!(r["status"], "cannot_render", "{name}: {r}");
                let reason = r["reason"].as_str().unwrap();
                assert!(reason.contains(why), "{name}: {reason}");
            }
            None => assert_eq!(r["status"], "ok", "{name}: {r}"),
        }
    }
}
