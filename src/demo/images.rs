//! Synthetic but plausible pixel data for the demo: a CT chest slice, an MR head slice, a chest
//! radiograph and an ultrasound sector. Deterministic (seeded noise), so demo files are the same
//! bytes every time and re-importing them is a no-op.

/// xorshift64*: small, fast, deterministic noise.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Roughly normal, mean 0, standard deviation about `sd` (sum of uniforms).
    pub fn gauss(&mut self, sd: f32) -> f32 {
        let s: f32 = (0..4)
            .map(|_| (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
            .sum();
        (s - 2.0) * sd * 1.7
    }
}

fn inside_ellipse(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> bool {
    let dx = (x - cx) / rx;
    let dy = (y - cy) / ry;
    dx * dx + dy * dy <= 1.0
}

/// CT chest slice in stored values (HU + 1024), `z` in 0..1 along the scan.
pub fn ct_slice(size: usize, z: f32, seed: u64) -> Vec<u16> {
    let mut noise = Noise::new(seed);
    let s = size as f32;
    let mut out = Vec::with_capacity(size * size);
    let lung_ry = 0.26 * (1.0 - (z - 0.5).abs());
    for j in 0..size {
        for i in 0..size {
            let (x, y) = (i as f32 / s, j as f32 / s);
            let mut hu = -1000.0;
            if y > 0.86 && y < 0.9 && x > 0.1 && x < 0.9 {
                hu = 200.0; // table
            }
            if inside_ellipse(x, y, 0.5, 0.5, 0.42, 0.3) {
                hu = -90.0; // fat
                if inside_ellipse(x, y, 0.5, 0.5, 0.38, 0.26) {
                    hu = 45.0; // soft tissue
                }
                if inside_ellipse(x, y, 0.33, 0.47, 0.12, lung_ry)
                    || inside_ellipse(x, y, 0.67, 0.47, 0.12, lung_ry)
                {
                    hu = -820.0; // lungs
                }
                if inside_ellipse(x, y, 0.5, 0.45, 0.07, 0.08) {
                    hu = 60.0; // heart / mediastinum
                }
                if inside_ellipse(x, y, 0.5, 0.72, 0.04, 0.045) {
                    hu = 750.0; // vertebral body
                }
                if inside_ellipse(x, y, 0.5, 0.36, 0.02, 0.02) {
                    hu = 180.0; // aorta with contrast
                }
            }
            let v = hu + noise.gauss(12.0) + 1024.0;
            out.push(v.clamp(0.0, 4095.0) as u16);
        }
    }
    out
}

/// MR head slice (T2-like) in 12-bit stored values.
pub fn mr_slice(size: usize, z: f32, seed: u64) -> Vec<u16> {
    let mut noise = Noise::new(seed);
    let s = size as f32;
    let scale = 1.0 - 0.6 * (z - 0.5).abs();
    let mut out = Vec::with_capacity(size * size);
    for j in 0..size {
        for i in 0..size {
            let (x, y) = (i as f32 / s, j as f32 / s);
            let mut v = 0.0;
            if inside_ellipse(x, y, 0.5, 0.5, 0.36 * scale, 0.44 * scale) {
                v = 300.0; // skull / scalp
                if inside_ellipse(x, y, 0.5, 0.5, 0.32 * scale, 0.40 * scale) {
                    v = 700.0; // grey matter
                    let wobble = ((x * 40.0).sin() * (y * 33.0).cos()) * 0.02;
                    if inside_ellipse(x, y, 0.5, 0.5, 0.24 * scale + wobble, 0.31 * scale + wobble)
                    {
                        v = 520.0; // white matter
                    }
                    if inside_ellipse(x, y, 0.45, 0.48, 0.03, 0.09 * scale)
                        || inside_ellipse(x, y, 0.55, 0.48, 0.03, 0.09 * scale)
                    {
                        v = 1500.0; // ventricles (CSF bright on T2)
                    }
                }
            }
            let val = v + noise.gauss(18.0).abs();
            out.push(val.clamp(0.0, 4095.0) as u16);
        }
    }
    out
}

/// PA chest radiograph, 12-bit, MONOCHROME2 (bone bright).
pub fn cr_chest(size: usize, seed: u64) -> Vec<u16> {
    let mut noise = Noise::new(seed);
    let s = size as f32;
    let mut out = Vec::with_capacity(size * size);
    for j in 0..size {
        for i in 0..size {
            let (x, y) = (i as f32 / s, j as f32 / s);
            let mut v = 300.0;
            if inside_ellipse(x, y, 0.5, 0.55, 0.44, 0.5) {
                v = 2300.0; // soft tissue
                let lung_l = inside_ellipse(x, y, 0.32, 0.5, 0.13, 0.3);
                let lung_r = inside_ellipse(x, y, 0.68, 0.5, 0.13, 0.3);
                if lung_l || lung_r {
                    v = 900.0;
                    // ribs: bright arcs across the lung fields
                    let rib = ((y * 28.0 + (x - 0.5).abs() * 9.0).sin()).max(0.0);
                    v += rib * rib * 700.0;
                }
                if inside_ellipse(x, y, 0.47, 0.62, 0.12, 0.14) {
                    v = 2500.0; // heart shadow
                }
                if (x - 0.5).abs() < 0.035 {
                    v = 3000.0; // spine
                }
            }
            out.push((v + noise.gauss(25.0)).clamp(0.0, 4095.0) as u16);
        }
    }
    out
}

/// Ultrasound sector (8-bit speckle inside a fan).
pub fn us_sector(width: usize, height: usize, seed: u64) -> Vec<u8> {
    let mut noise = Noise::new(seed);
    let mut out = Vec::with_capacity(width * height);
    let (ax, ay) = (width as f32 / 2.0, 10.0);
    for j in 0..height {
        for i in 0..width {
            let dx = i as f32 - ax;
            let dy = j as f32 - ay;
            let r = (dx * dx + dy * dy).sqrt();
            let angle = dx.atan2(dy);
            let mut v = 0.0;
            if dy > 0.0 && angle.abs() < 0.7 && r < height as f32 * 0.95 {
                let depth = r / height as f32;
                v = 90.0 * (1.0 - 0.5 * depth) + noise.gauss(30.0).abs();
                // a dark cyst and a bright interface
                if ((i as f32 - ax - 20.0).powi(2) + (j as f32 - height as f32 * 0.55).powi(2))
                    .sqrt()
                    < 28.0
                {
                    v *= 0.15;
                }
                if (r - height as f32 * 0.3).abs() < 3.0 {
                    v += 90.0;
                }
            }
            out.push(v.clamp(0.0, 255.0) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        assert_eq!(ct_slice(32, 0.5, 7), ct_slice(32, 0.5, 7));
        assert_ne!(ct_slice(32, 0.5, 7), ct_slice(32, 0.5, 8));
        assert_eq!(us_sector(40, 30, 1).len(), 1200);
    }
}
