//! Images on the desk, driven through the accessibility tree with egui_kittest: thumbnails in
//! the queue and the series strip, the viewer (keys, wheel, presets), its header panel, and the
//! thumbnail cache a reopened desk reads.

mod common;

use std::path::Path;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use qcdesk::imaging::Windowing;
use qcdesk::ui::DeskApp;

use common::desk::*;
use common::*;

/// Steps until the image workers are idle, then draws twice more.
fn images_settle(h: &mut Harness<'_, DeskApp>) {
    for _ in 0..3 {
        step_until(h, "the images", |a| a.rt.images.busy() == (0, 0));
    }
}

/// Opens the desk on the demo and selects PATEL^PRIYA's CT (two series; its last image is
/// truncated).
fn desk_on_patel(ws: &Path) -> (Harness<'static, DeskApp>, i64) {
    let mut h = desk_with_thumbnails(ws);
    step_until(&mut h, "the queue", |a| {
        a.rt.queue_loads > 0 && a.rt.running.is_empty()
    });
    let id = h
        .state()
        .rt
        .rows
        .iter()
        .find(|r| r.patient_name == "PATEL^PRIYA" && r.modality == "CT")
        .expect("PATEL^PRIYA")
        .id;
    h.state_mut().select_for_test(id);
    step_until(&mut h, "the detail", |a| {
        a.rt.detail.as_ref().is_some_and(|d| d.row.id == id)
    });
    images_settle(&mut h);
    (h, id)
}

#[test]
fn selecting_a_study_shows_its_series_thumbnails_and_the_cache_keeps_them() {
    let ws = demo_workspace();
    let (mut h, id) = desk_on_patel(ws.path());
    for label in [
        "Series 1 first image: shown",
        "Series 1 middle image: shown",
        "Series 2 first image: shown",
    ] {
        assert_eq!(h.query_all_by_label(label).count(), 1, "{label}");
    }
    assert_eq!(h.query_all_by_label("10 instances").count(), 1);
    // The queue shows a picture per study too (the rows on screen).
    assert_eq!(
        h.query_all_by_label(&format!("Study {id} thumbnail: shown"))
            .count(),
        1
    );
    let shown = h.query_all_by_label_contains("thumbnail: shown").count();
    assert!(shown >= 10, "{shown} queue thumbnails shown");
    assert_eq!(
        h.query_all_by_label_contains("thumbnail: cannot render")
            .count(),
        0
    );

    // Turning the column off hides them.
    h.get_by_label("Thumbnails").click();
    h.step();
    h.step();
    assert_eq!(h.query_all_by_label_contains("thumbnail:").count(), 0);
    h.get_by_label("Thumbnails").click();
    h.step();

    // They are in the workspace now: a reopened desk reads them instead of decoding.
    let cached = walkdir::WalkDir::new(ws.path().join("thumbs"))
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .count();
    assert!(cached >= shown, "{cached} thumbnails cached, {shown} shown");
    drop(h);
    let (h2, _) = desk_on_patel(ws.path());
    let (hits, misses) = h2.state().rt.images.cache_counts();
    assert_eq!(misses, 0, "nothing decoded again");
    assert!(hits as usize >= shown, "{hits} read from the cache");
    assert!(h2.state().rt.images.last_thumb_latency.is_some());
    assert_eq!(
        h2.query_all_by_label("Series 1 first image: shown").count(),
        1
    );
}

/// The picture the viewer shows now, once decoded.
fn current_checksum(h: &mut Harness<'_, DeskApp>) -> blake3::Hash {
    step_until(h, "the viewer's image", |a| {
        let v = a.viewer.as_ref().expect("viewer open");
        let (inst, frame) = v.current().expect("an image");
        matches!(
            a.rt.images.cached_picture(&inst.blob, frame, v.windowing),
            Some(Ok(_))
        )
    });
    let a = h.state();
    let v = a.viewer.as_ref().unwrap();
    let (inst, frame) = v.current().unwrap();
    match a.rt.images.cached_picture(&inst.blob, frame, v.windowing) {
        Some(Ok(img)) => img.checksum,
        _ => unreachable!(),
    }
}

#[test]
fn the_viewer_steps_through_the_series_and_presets_change_the_rendering() {
    let ws = demo_workspace();
    let (mut h, _) = desk_on_patel(ws.path());
    h.get_all_by_label("Open viewer").next().unwrap().click();
    h.step();
    h.step();
    assert!(h.state().viewer.is_some(), "the viewer opened");
    assert_eq!(h.query_all_by_label("image 1 of 10").count(), 1);
    let first = current_checksum(&mut h);

    // Down moves to the next image.
    h.key_press(egui::Key::ArrowDown);
    h.step();
    assert_eq!(h.state().viewer.as_ref().unwrap().index, 1);
    assert_eq!(h.query_all_by_label("image 2 of 10").count(), 1);
    let second = current_checksum(&mut h);
    assert_ne!(first, second, "another slice, another picture");

    // The wheel over the image moves too: one notch down, the next image.
    let centre = egui::pos2(500.0, 500.0);
    h.event(egui::Event::PointerMoved(centre));
    h.step();
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, -1.0),
        phase: egui::TouchPhase::Move,
        modifiers: egui::Modifiers::NONE,
        source: egui::MouseWheelSource::Wheel,
    });
    h.step();
    assert_eq!(h.state().viewer.as_ref().unwrap().index, 2);
    h.key_press(egui::Key::ArrowUp);
    h.step();
    assert_eq!(h.state().viewer.as_ref().unwrap().index, 1);

    // Key 2 (lung window) renders the same image differently; 0 goes back to the header's.
    h.key_press(egui::Key::Num2);
    h.step();
    assert_eq!(
        h.state().viewer.as_ref().unwrap().windowing,
        Windowing::Window {
            center: -600.0,
            width: 1500.0
        }
    );
    let lung = current_checksum(&mut h);
    assert_ne!(lung, second, "the lung window changes the picture");
    h.key_press(egui::Key::Num0);
    h.step();
    assert_eq!(current_checksum(&mut h), second);

    // End goes to the last image: the truncated one renders what arrived.
    h.key_press(egui::Key::End);
    h.step();
    assert_eq!(h.query_all_by_label("image 10 of 10").count(), 1);
    current_checksum(&mut h);
    {
        let a = h.state();
        let v = a.viewer.as_ref().unwrap();
        let (inst, frame) = v.current().unwrap();
        let Some(Ok(img)) = a.rt.images.cached_picture(&inst.blob, frame, v.windowing) else {
            panic!("the truncated image rendered");
        };
        let (have, of) = img.partial.expect("marked partial");
        assert!(have < of, "{have} of {of}");
    }

    // Escape goes back to the queue.
    h.key_press(egui::Key::Escape);
    h.step();
    assert!(h.state().viewer.is_none());
    assert!(h.query_all_by_label("PATEL^PRIYA").count() >= 1);
}

#[test]
fn the_header_panel_lists_and_finds_attributes() {
    let ws = demo_workspace();
    let (mut h, _) = desk_on_patel(ws.path());
    // Enter on a shown study opens its first series.
    h.key_press(egui::Key::Enter);
    h.step();
    assert!(h.state().viewer.is_some(), "Enter opened the viewer");
    h.key_press(egui::Key::H);
    h.step();
    step_until(&mut h, "the header", |a| {
        let v = a.viewer.as_ref().unwrap();
        a.rt.images.header(&v.current().unwrap().0.blob).is_some()
    });
    h.step();
    assert_eq!(
        h.query_all_by_label("(0010,0010) PN PatientName").count(),
        1
    );
    assert!(h.query_all_by_label("PATEL^PRIYA").count() >= 1);
    assert_eq!(
        h.query_all_by_label("(0002,0010) UI TransferSyntaxUID")
            .count(),
        1
    );
    h.get_by_label("Find:").focus();
    h.step();
    h.get_by_label("Find:").type_text("accession");
    h.step();
    h.step();
    assert_eq!(
        h.query_all_by_label("(0008,0050) SH AccessionNumber")
            .count(),
        1
    );
    assert_eq!(
        h.query_all_by_label("(0010,0010) PN PatientName").count(),
        0
    );
    // Typing in the field does not move the viewer.
    assert_eq!(h.state().viewer.as_ref().unwrap().index, 0);
}

#[test]
fn prefetched_neighbours_are_decoded_before_they_are_shown() {
    let ws = demo_workspace();
    let (mut h, _) = desk_on_patel(ws.path());
    h.key_press(egui::Key::Enter);
    h.step();
    current_checksum(&mut h);
    images_settle(&mut h);
    // The next images were decoded ahead, at the windowing in use.
    let a = h.state();
    let v = a.viewer.as_ref().unwrap();
    for n in 1..=4 {
        let (k, f) = v.images[n];
        let blob = &v.series.instances[k].blob;
        assert!(
            matches!(
                a.rt.images.cached_picture(blob, f, v.windowing),
                Some(Ok(_))
            ),
            "image {n} prefetched"
        );
    }
}

#[test]
fn a_series_with_missing_instance_numbers_says_how_many_arrived() {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use qcdesk::dicom::write::{DataSetBuilder, encode_part10};
    // Instances 1, 2, 5 and 6 of a series: 3 and 4 never arrived.
    let inbox = tempfile::tempdir().unwrap();
    for n in [1u16, 2, 5, 6] {
        let obj = DataSetBuilder::new()
            .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2")
            .text(tags::SOP_INSTANCE_UID, VR::UI, &format!("2.25.4242.1.{n}"))
            .text(tags::STUDY_INSTANCE_UID, VR::UI, "2.25.4242")
            .text(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.4242.1")
            .text(tags::SERIES_NUMBER, VR::IS, "3")
            .text(tags::INSTANCE_NUMBER, VR::IS, &n.to_string())
            .text(tags::MODALITY, VR::CS, "CT")
            .text(tags::PATIENT_NAME, VR::PN, "GAP^TEST")
            .text(tags::PATIENT_ID, VR::LO, "G1")
            .u16(tags::SAMPLES_PER_PIXEL, 1)
            .text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
            .u16(tags::ROWS, 16)
            .u16(tags::COLUMNS, 16)
            .u16(tags::BITS_ALLOCATED, 16)
            .u16(tags::BITS_STORED, 12)
            .u16(tags::HIGH_BIT, 11)
            .u16(tags::PIXEL_REPRESENTATION, 0)
            .pixels_u16(tags::PIXEL_DATA, (0..256).map(|v| v * n).collect())
            .build();
        let bytes = encode_part10(obj, Some("TEST")).unwrap();
        std::fs::write(inbox.path().join(format!("IM{n}.dcm")), bytes).unwrap();
    }
    let ws = tempfile::tempdir().unwrap();
    qcdesk_json(
        ws.path(),
        &["import", "--json", inbox.path().to_str().unwrap()],
    );
    let mut h = desk_with_thumbnails(ws.path());
    step_until(&mut h, "the study", |a| {
        a.rt.detail.is_some() && a.rt.running.is_empty()
    });
    images_settle(&mut h);
    assert_eq!(h.query_all_by_label("4 of 6 received").count(), 1);
    assert_eq!(
        h.query_all_by_label("Series 3 first image: shown").count(),
        1
    );
    // The viewer steps through what arrived: four images.
    h.key_press(egui::Key::Enter);
    h.step();
    assert_eq!(h.query_all_by_label("image 1 of 4").count(), 1);
}
