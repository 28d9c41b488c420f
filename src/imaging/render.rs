//! Stored values to an 8-bit RGBA picture: the modality LUT (rescale), the VOI (a window the
//! user chose, the header's VOI LUT or window, or, when the header has none or an absurd one,
//! a window of its own: soft tissue for a CT, else percentiles of the image), MONOCHROME1
//! inverted, PALETTE COLOR through its palette (dicom-rs returns grey, its issue #124), YBR
//! converted to RGB. Rows a truncated file lacks are drawn hatched, so the missing part shows.
//!
//! A window of its own must not depend on how the image was encoded or at what resolution it
//! was decoded (a JPEG 2000 thumbnail comes from a reduced resolution level, a native one from
//! the full image): its statistics are taken on one coarse grid of block means (at most 64 a
//! side) whatever the frame's size, padding and air left out, and it is rounded.

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
        let grid = Grid {
            columns: w as usize,
            rows: present,
        };
        let grey = grey_levels(&values, grid, info, windowing, &mut window, &mut source);
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

/// The shape of the values rendered: `columns` per row, `rows` rows.
#[derive(Debug, Clone, Copy)]
struct Grid {
    columns: usize,
    rows: usize,
}

/// 8-bit grey levels of modality values.
fn grey_levels(
    values: &[f32],
    grid: Grid,
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
                    let (cw, from) = own_window(values, grid, info);
                    *source = from;
                    cw
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

/// The side of the grid the statistics of a window of its own are taken on.
const STATS_GRID: usize = 64;

/// Block means of `values` on a grid of at most [`STATS_GRID`] a side (blocks of a power of
/// two, so frames of one image decoded at different resolutions land on the same grid).
fn block_means(values: &[f32], grid: Grid) -> Vec<f32> {
    let longest = grid.columns.max(grid.rows).max(1);
    let mut k = 1usize;
    while longest / (k * 2) >= STATS_GRID {
        k *= 2;
    }
    let (nw, nh) = (grid.columns.div_ceil(k), grid.rows.div_ceil(k));
    let mut sums = vec![0f64; nw * nh];
    let mut counts = vec![0u32; nw * nh];
    for (y, row) in values
        .chunks(grid.columns.max(1))
        .take(grid.rows)
        .enumerate()
    {
        for (x, &v) in row.iter().enumerate() {
            if v.is_finite() {
                let b = (y / k) * nw + x / k;
                sums[b] += f64::from(v);
                counts[b] += 1;
            }
        }
    }
    sums.iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (s / f64::from(*n)) as f32)
        .collect()
}

/// Whether the image is a CT in Hounsfield units (its modality says so and it is rescaled).
fn is_ct(info: &ImageInfo) -> bool {
    info.overlay.modality.eq_ignore_ascii_case("CT") && info.rescale_intercept.is_some()
}

/// A window for an image whose header gives none that can be used, and what it is. A CT gets
/// the soft tissue window (centre 40, width 400), readable for any body part, when most of
/// what it shows is tissue; otherwise, and for other images, the 1st to 99th percentile of the
/// block means, padding (Pixel Padding Value) and, for a CT, air and the space outside the
/// field of view left out.
fn own_window(values: &[f32], grid: Grid, info: &ImageInfo) -> ((f64, f64), &'static str) {
    let means = block_means(values, grid);
    let (slope, intercept) = (
        info.rescale_slope.filter(|s| *s != 0.0).unwrap_or(1.0),
        info.rescale_intercept.unwrap_or(0.0),
    );
    let padding = info.padding.map(|(lo, hi)| {
        let (a, b) = (lo * slope + intercept, hi * slope + intercept);
        (a.min(b) as f32, a.max(b) as f32)
    });
    let ct = is_ct(info);
    let mut kept: Vec<f32> = means
        .iter()
        .copied()
        .filter(|v| !padding.is_some_and(|(lo, hi)| *v >= lo && *v <= hi))
        .filter(|v| !ct || (-900.0..=3000.0).contains(v))
        .collect();
    if kept.len() < means.len().div_ceil(100).max(1) {
        kept = means;
    }
    if kept.is_empty() {
        return ((0.5, 1.0), "automatic");
    }
    if ct {
        let tissue = kept
            .iter()
            .filter(|v| (-160.0..=240.0).contains(*v))
            .count();
        if tissue * 5 >= kept.len() {
            return ((40.0, 400.0), "soft tissue (the file has no window)");
        }
    }
    kept.sort_by(f32::total_cmp);
    let at = |q: f64| f64::from(kept[((kept.len() - 1) as f64 * q).round() as usize]);
    let (lo, hi) = (at(0.01), at(0.99));
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    (rounded((lo + hi) / 2.0, hi - lo), "automatic")
}

/// A window rounded to a step of about a 256th of its width (a power of two), so that two
/// decodings of one image whose statistics differ a little get the same window.
fn rounded(center: f64, width: f64) -> (f64, f64) {
    if width < 512.0 {
        return (center, width);
    }
    let step = 2f64.powi((width / 256.0).log2().floor() as i32);
    (
        (center / step).round() * step,
        (width / step).round() * step,
    )
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
