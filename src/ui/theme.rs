//! Look: bundled fonts (Latin from egui, CJK subset of Noto Sans CJK), state colours, themes.

use std::sync::Arc;

use egui::{Color32, FontData, FontDefinitions, FontFamily, RichText};

use crate::model::StudyState;

/// Noto Sans CJK subset (GB2312 level 1, JIS level 1, KS X 1001 Hangul, kana): patient names.
static CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJK-subset.otf");

/// egui's own fonts plus the CJK subset as a fallback in both families, so rendering is the
/// same on every machine, whatever fonts it has installed.
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::default();
    fonts
        .font_data
        .insert("noto-cjk".into(), Arc::new(FontData::from_static(CJK_FONT)));
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push("noto-cjk".into());
    }
    ctx.set_fonts(fonts);
}

pub fn apply_theme(ctx: &egui::Context, dark: bool) {
    ctx.set_theme(if dark {
        egui::Theme::Dark
    } else {
        egui::Theme::Light
    });
    ctx.all_styles_mut(readable_text);
}

/// No text under 12 points: egui's small style (9 points) carried file paths, the header
/// panel and the same/differs tags, too small to read at a reading-room distance.
fn readable_text(style: &mut egui::Style) {
    use egui::{FontFamily as F, FontId, TextStyle as T};
    for (text_style, size, family) in [
        (T::Small, 12.0, F::Proportional),
        (T::Body, 13.5, F::Proportional),
        (T::Button, 13.5, F::Proportional),
        (T::Monospace, 12.5, F::Monospace),
        (T::Heading, 19.0, F::Proportional),
    ] {
        style
            .text_styles
            .insert(text_style, FontId::new(size, family));
    }
}

/// The smallest text size the desk draws (tests hold the desk to it).
pub const MIN_TEXT_SIZE: f32 = 12.0;

pub fn state_color(state: StudyState, dark: bool) -> Color32 {
    match (state, dark) {
        (StudyState::Broken, false) => Color32::from_rgb(190, 30, 45),
        (StudyState::Broken, true) => Color32::from_rgb(255, 95, 95),
        (StudyState::Inconsistent, false) => Color32::from_rgb(200, 90, 0),
        (StudyState::Inconsistent, true) => Color32::from_rgb(255, 150, 60),
        (StudyState::Mismatch, false) => Color32::from_rgb(150, 110, 0),
        (StudyState::Mismatch, true) => Color32::from_rgb(235, 200, 70),
        (StudyState::Nonconformant, false) => Color32::from_rgb(120, 70, 160),
        (StudyState::Nonconformant, true) => Color32::from_rgb(190, 150, 240),
        (StudyState::Unmatched, false) => Color32::from_rgb(30, 90, 190),
        (StudyState::Unmatched, true) => Color32::from_rgb(110, 165, 255),
        (StudyState::Matched, false) => Color32::from_rgb(30, 130, 60),
        (StudyState::Matched, true) => Color32::from_rgb(100, 200, 120),
    }
}

/// How a field compared with the order, as a colour (with a word beside it where drawn).
pub fn verdict_color(verdict: crate::model::Verdict, dark: bool) -> Option<Color32> {
    use crate::model::Verdict;
    match verdict {
        Verdict::Mismatch => Some(if dark {
            Color32::from_rgb(255, 110, 90)
        } else {
            Color32::from_rgb(200, 60, 40)
        }),
        Verdict::Equivalent => Some(state_color(StudyState::Mismatch, dark)),
        Verdict::Match | Verdict::NotCompared => None,
    }
}

/// The state as a coloured word (colour is never the only cue: the word is there).
pub fn state_chip(ui: &mut egui::Ui, state: StudyState) -> egui::Response {
    let color = state_color(state, ui.visuals().dark_mode);
    ui.label(RichText::new(state.as_str()).color(color).strong())
}

/// The age of an open exception past the site's marks: amber, then red.
pub fn urgency_color(u: crate::model::Urgency, dark: bool) -> Color32 {
    match u {
        crate::model::Urgency::Fresh => {
            if dark {
                Color32::from_gray(200)
            } else {
                Color32::from_gray(40)
            }
        }
        crate::model::Urgency::Old => {
            if dark {
                Color32::from_rgb(255, 190, 60)
            } else {
                Color32::from_rgb(170, 95, 0)
            }
        }
        crate::model::Urgency::Overdue => {
            if dark {
                Color32::from_rgb(255, 110, 100)
            } else {
                Color32::from_rgb(190, 20, 20)
            }
        }
    }
}
