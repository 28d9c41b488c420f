//! JPEG frames (baseline, extended 12-bit, lossless up to 16 bits) through libjpeg-turbo 3,
//! built from source by `turbojpeg-sys`: dicom-rs's pure-Rust decoder has no 12-bit lossy
//! support, and libjpeg-turbo is the faster of the two.

use turbojpeg_sys as tj;

use super::decode::Frame;
use super::info::ImageInfo;

/// A TurboJPEG decompressor, destroyed on drop.
struct Handle(tj::tjhandle);

impl Handle {
    fn new() -> Result<Handle, String> {
        // SAFETY: tj3Init has no preconditions; a null handle is checked below.
        let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as libc_int) };
        if h.is_null() {
            Err("cannot start the JPEG decoder".into())
        } else {
            Ok(Handle(h))
        }
    }

    fn error(&self) -> String {
        // SAFETY: the handle is valid; the returned string is owned by libjpeg-turbo and
        // copied before the next call.
        unsafe {
            let p = tj::tj3GetErrorStr(self.0);
            if p.is_null() {
                "JPEG decoding failed".into()
            } else {
                std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }

    /// After a call returned -1: whether it was only a warning (the image is decoded; libjpeg
    /// warns about streams DCMTK and others also accept, such as odd SOS parameters).
    fn only_warned(&self) -> bool {
        // SAFETY: a valid handle.
        unsafe { tj::tj3GetErrorCode(self.0) == tj::TJERR_TJERR_WARNING as libc_int }
    }

    fn get(&self, param: tj::TJPARAM) -> i32 {
        // SAFETY: a valid handle and a parameter id from the bindings.
        unsafe { tj::tj3Get(self.0, param as libc_int) }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

#[allow(non_camel_case_types)]
type libc_int = std::os::raw::c_int;

/// The three components of an 8-bit JPEG without colour conversion, upsampled by repetition
/// when subsampled.
fn raw_components(h: &Handle, data: &[u8], w: usize, hgt: usize) -> Result<Frame, String> {
    let subsamp = h.get(tj::TJPARAM_TJPARAM_SUBSAMP);
    let mut planes: Vec<Vec<u8>> = Vec::new();
    let mut dims = Vec::new();
    for c in 0..3 {
        // SAFETY: pure functions of their arguments.
        let (pw, ph) = unsafe {
            (
                tj::tj3YUVPlaneWidth(c, w as libc_int, subsamp),
                tj::tj3YUVPlaneHeight(c, hgt as libc_int, subsamp),
            )
        };
        if pw <= 0 || ph <= 0 {
            return Err("JPEG with an unknown subsampling".into());
        }
        planes.push(vec![0u8; pw as usize * ph as usize]);
        dims.push((pw as usize, ph as usize));
    }
    let mut ptrs: Vec<*mut u8> = planes.iter_mut().map(|p| p.as_mut_ptr()).collect();
    let mut strides: Vec<libc_int> = dims.iter().map(|d| d.0 as libc_int).collect();
    // SAFETY: three planes sized by tj3YUVPlaneWidth/Height for this image, with their strides.
    let rc = unsafe {
        tj::tj3DecompressToYUVPlanes8(
            h.0,
            data.as_ptr(),
            data.len() as _,
            ptrs.as_mut_ptr(),
            strides.as_mut_ptr(),
        )
    };
    if rc != 0 && !h.only_warned() {
        return Err(format!("JPEG components: {}", h.error()));
    }
    let mut values = Vec::with_capacity(w * hgt * 3);
    for y in 0..hgt {
        for x in 0..w {
            for (c, plane) in planes.iter().enumerate() {
                let (pw, ph) = dims[c];
                let (px, py) = (x * pw / w, y * ph / hgt);
                values.push(f32::from(plane[py * pw + px]));
            }
        }
    }
    Ok(Frame {
        rows: hgt as u32,
        columns: w as u32,
        samples_per_pixel: 3,
        photometric: "RGB".into(),
        values,
        rows_present: hgt as u32,
        max_value: 255.0,
    })
}

/// Decodes one JPEG frame to stored values.
pub fn decode(info: &ImageInfo, data: &[u8]) -> Result<Frame, String> {
    let h = Handle::new()?;
    // SAFETY: `data` outlives the call; libjpeg-turbo reads `data.len()` bytes.
    let rc = unsafe { tj::tj3DecompressHeader(h.0, data.as_ptr(), data.len() as _) };
    if rc != 0 && !h.only_warned() {
        return Err(format!("JPEG header: {}", h.error()));
    }
    let width = h.get(tj::TJPARAM_TJPARAM_JPEGWIDTH);
    let height = h.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT);
    let precision = h.get(tj::TJPARAM_TJPARAM_PRECISION);
    let colorspace = h.get(tj::TJPARAM_TJPARAM_COLORSPACE);
    if width <= 0 || height <= 0 {
        return Err("JPEG without a size".into());
    }
    // The stream's own size decides what libjpeg-turbo fills: it must be the header's (a
    // stream declaring 60000 x 60000 in a 512 x 512 image would ask for gigabytes).
    if (width as u32, height as u32) != (info.columns, info.rows) {
        return Err(format!(
            "the JPEG stream is {width} x {height}, the image {} x {}",
            info.columns, info.rows
        ));
    }
    let gray = colorspace == tj::TJCS_TJCS_GRAY as i32;
    let (pf, channels) = if gray {
        (tj::TJPF_TJPF_GRAY, 1usize)
    } else {
        (tj::TJPF_TJPF_RGB, 3usize)
    };
    let (w, hgt) = (width as usize, height as usize);
    // DICOM says RGB (no colour transform) where libjpeg would take the components for YCbCr
    // (no JFIF or Adobe marker to tell it otherwise): take the components as they are.
    if !gray
        && precision <= 8
        && info.photometric == "RGB"
        && colorspace == tj::TJCS_TJCS_YCbCr as i32
    {
        return raw_components(&h, data, w, hgt);
    }
    let n = w * hgt * channels;
    let pitch = (w * channels) as libc_int;
    // The three precisions differ only in the sample type and the libjpeg-turbo entry point.
    macro_rules! decompress {
        ($f:ident, $t:ty, $what:literal) => {{
            let mut out: Vec<$t> = vec![0; n];
            // SAFETY: `data` outlives the call; `out` holds width x height x channels samples
            // of the requested pixel format and sample type.
            let rc = unsafe {
                tj::$f(
                    h.0,
                    data.as_ptr(),
                    data.len() as _,
                    out.as_mut_ptr(),
                    pitch,
                    pf as libc_int,
                )
            };
            if rc != 0 && !h.only_warned() {
                return Err(format!("{}: {}", $what, h.error()));
            }
            out.into_iter().map(f32::from).collect::<Vec<f32>>()
        }};
    }
    let values = if precision <= 8 {
        decompress!(tj3Decompress8, u8, "JPEG")
    } else if precision <= 12 {
        // 12-bit samples in 16-bit words.
        decompress!(tj3Decompress12, i16, "JPEG (12-bit)")
    } else {
        decompress!(tj3Decompress16, u16, "JPEG (16-bit lossless)")
    };
    let values = if info.signed && gray {
        // Signed samples are stored in two's complement within Bits Stored.
        let bits = i32::from(info.bits_stored.clamp(1, 16));
        let half = 2f32.powi(bits - 1);
        values
            .into_iter()
            .map(|v| if v >= half { v - 2.0 * half } else { v })
            .collect()
    } else {
        values
    };
    Ok(Frame {
        rows: hgt as u32,
        columns: w as u32,
        samples_per_pixel: channels as u16,
        photometric: if gray {
            info.photometric.clone()
        } else {
            "RGB".into()
        },
        values,
        rows_present: hgt as u32,
        max_value: (2f64.powi(precision.clamp(1, 16)) - 1.0) as f32,
    })
}
