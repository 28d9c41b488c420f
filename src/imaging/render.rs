//! Stored values to an 8-bit RGBA picture: the modality LUT (rescale), the VOI (a window the
//! user chose, the header's VOI LUT or window, or a robust window from the histogram when the
//! header has none or an absurd one), MONOCHROME1 inverted, PALETTE COLOR through its palette
//! (dicom-rs returns grey, its issue #124), YBR converted to RGB. Rows a truncated file lacks
//! are drawn hatched, so the missing part shows.

use image::RgbaImage;

use super::decode::Frame;
use super::info::ImageInfo;

/// Which window to apply to a greyscale image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Windowing {
    /// The header's VOI (LUT or first window), or an automatic one.
    Default,
    /// This centre and width, in modality units (Hounsfield for CT).
    Window { center: f64, width: f64 },
}

/// A rendered frame and how it was windowed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: RgbaImage,
    /// The window applied (greyscale), for the viewer to start right-drag from.
    pub window: Option<(f64, f64)>,
    /// Where the window came from: "header", "VOI LUT", "automatic", "chosen".
    pub window_source: &'static str,
    /// (rows present, rows): the file holds only part of the image.
    pub partial: Option<(u32, u32)>,
}

/// The colour the missing rows of a truncated image are hatched with.
const MISSING: [[u8; 4]; 2] = [[90, 20, 20, 255], [30, 30, 30, 255]];

/// Renders a decoded frame.
pub fn render(frame: &Frame, info: &ImageInfo, windowing: Windowing) -> Result<Rendered, String> {
    let (w, h) = (frame.columns, frame.rows);
    if w == 0 || h == 0 {
        return Err("empty image".into());
    }
    let present = frame.rows_present.min(h) as usize;
    let mut rgba = vec![0u8; w as usize * h as usize * 4];
    let spp = usize::from(frame.samples_per_pixel.max(1));
    let pixels = (present * w as usize).min(frame.values.len() / spp);
    let mut window = None;
    let mut source = "";
    if spp >= 3 {
        color(frame, &mut rgba[..pixels * 4]);
    } else if frame.photometric == "PALETTE COLOR" {
        let Some(palette) = &info.palette else {
            return Err(if info.segmented_palette {
                "segmented palette colour lookup tables are not supported".into()
            } else {
                "PALETTE COLOR without a palette".into()
            });
        };
        for (p, &v) in frame.values[..pixels].iter().enumerate() {
            for (c, lut) in palette.iter().enumerate() {
                rgba[p * 4 + c] = lut_value8(lut, v);
            }
            rgba[p * 4 + 3] = 255;
        }
    } else {
        let (slope, intercept) = (
            info.rescale_slope.filter(|s| *s != 0.0).unwrap_or(1.0) as f32,
            info.rescale_intercept.unwrap_or(0.0) as f32,
        );
        let values: Vec<f32> = frame.values[..pixels]
            .iter()
            .map(|&v| v * slope + intercept)
            .collect();
        let grey = grey_levels(&values, info, windowing, &mut window, &mut source);
        let invert = frame.photometric == "MONOCHROME1";
        for (p, g) in grey.into_iter().enumerate() {
            let g = if invert { 255 - g } else { g };
            rgba[p * 4..p * 4 + 4].copy_from_slice(&[g, g, g, 255]);
        }
    }
    // Hatch what the file does not hold.
    for y in present..h as usize {
        for x in 0..w as usize {
            let shade = MISSING[((x + y) / 6) % 2];
            let at = (y * w as usize + x) * 4;
            rgba[at..at + 4].copy_from_slice(&shade);
        }
    }
    let image = RgbaImage::from_raw(w, h, rgba).ok_or("image buffer of the wrong size")?;
    Ok(Rendered {
        image,
        window,
        window_source: source,
        partial: (present < h as usize).then_some((present as u32, h)),
    })
}

/// 8-bit grey levels of modality values.
fn grey_levels(
    values: &[f32],
    info: &ImageInfo,
    windowing: Windowing,
    window: &mut Option<(f64, f64)>,
    source: &mut &'static str,
) -> Vec<u8> {
    let function = info.voi_lut_function.as_str();
    let (c, w) = match windowing {
        Windowing::Window { center, width } => {
            *source = "chosen";
            (center, width)
        }
        Windowing::Default => {
            if let Some(lut) = info.voi_lut.as_ref().filter(|l| !l.data.is_empty()) {
                *source = "VOI LUT";
                let top = lut.data.iter().copied().max().unwrap_or(1).max(1) as f32;
                return values
                    .iter()
                    .map(|&v| {
                        let i =
                            (v as i64 - i64::from(lut.first)).clamp(0, lut.data.len() as i64 - 1);
                        (f32::from(lut.data[i as usize]) / top * 255.0).round() as u8
                    })
                    .collect();
            }
            let (lo, hi) = range(values);
            match info
                .windows
                .first()
                .copied()
                .filter(|&(c, w)| sane(c, w, lo, hi))
            {
                Some(cw) => {
                    *source = "header";
                    cw
                }
                None => {
                    *source = "automatic";
                    auto_window(values)
                }
            }
        }
    };
    *window = Some((c, w));
    let (c, w) = (c as f32, w.max(1.0) as f32);
    values
        .iter()
        .map(|&x| {
            let y = match function {
                "SIGMOID" => 1.0 / (1.0 + (-4.0 * (x - c) / w).exp()),
                "LINEAR_EXACT" => (x - c) / w + 0.5,
                // PS3.3 C.11.2.1.2.1
                _ if w <= 1.0 => {
                    if x <= c - 0.5 {
                        0.0
                    } else {
                        1.0
                    }
                }
                _ => (x - (c - 0.5)) / (w - 1.0) + 0.5,
            };
            (y.clamp(0.0, 1.0) * 255.0).round() as u8
        })
        .collect()
}

fn range(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// A header window that shows something of this image: positive width, overlapping the
/// values present, and not so wide that the image is one flat grey.
fn sane(c: f64, w: f64, lo: f32, hi: f32) -> bool {
    if !(w > 0.0 && c.is_finite() && w.is_finite()) || lo > hi {
        return false;
    }
    let (wlo, whi) = (c - w / 2.0, c + w / 2.0);
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    let span = (hi - lo).max(1.0);
    whi > lo && wlo < hi && w < span * 1000.0
}

/// A robust window: from the 0.5th to the 99.5th percentile of the values (sampled).
fn auto_window(values: &[f32]) -> (f64, f64) {
    let step = (values.len() / 65_536).max(1);
    let mut sample: Vec<f32> = values
        .iter()
        .step_by(step)
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if sample.is_empty() {
        return (0.5, 1.0);
    }
    sample.sort_by(f32::total_cmp);
    let at = |q: f64| f64::from(sample[((sample.len() - 1) as f64 * q) as usize]);
    let (lo, hi) = (at(0.005), at(0.995));
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    ((lo + hi) / 2.0, hi - lo)
}

/// A palette entry for a stored value, as 8 bits.
fn lut_value8(lut: &super::info::Lut, v: f32) -> u8 {
    let i = (v as i64 - i64::from(lut.first)).clamp(0, lut.data.len() as i64 - 1) as usize;
    let x = lut.data[i];
    if lut.bits > 8 {
        (x >> 8) as u8
    } else {
        x as u8
    }
}

/// RGB or YBR_FULL samples to RGBA.
fn color(frame: &Frame, rgba: &mut [u8]) {
    let scale = 255.0 / frame.max_value.max(1.0);
    let ybr = frame.photometric.starts_with("YBR");
    let half = (frame.max_value + 1.0) / 2.0;
    let spp = usize::from(frame.samples_per_pixel);
    for (p, px) in frame.values.chunks(spp).enumerate() {
        if p * 4 + 3 >= rgba.len() + 3 || px.len() < 3 {
            break;
        }
        let (r, g, b) = if ybr {
            let (y, cb, cr) = (px[0], px[1] - half, px[2] - half);
            (
                y + 1.402 * cr,
                y - 0.344_136 * cb - 0.714_136 * cr,
                y + 1.772 * cb,
            )
        } else {
            (px[0], px[1], px[2])
        };
        let q = |v: f32| (v * scale).round().clamp(0.0, 255.0) as u8;
        if let Some(out) = rgba.get_mut(p * 4..p * 4 + 4) {
            out.copy_from_slice(&[q(r), q(g), q(b), 255]);
        }
    }
}
