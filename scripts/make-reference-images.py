#!/usr/bin/env python3
"""Reference renderings of pydicom test files, made with pydicom (independent of qcdesk), that
tests/imaging.rs compares qcdesk's renderings with. Run again only when the set changes:

    pip install pydicom==3.0.2 numpy pillow pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg
    scripts/make-reference-images.py

Each file is rendered at full size, 8-bit, the way PS3.3 and PS3.4 define it:
- the representative frame of a multi-frame image is the middle one, (frames - 1) // 2;
- greyscale: Modality LUT (rescale slope/intercept), then the first window of the header with
  the linear function of PS3.3 C.11.2.1.2.1, or, without a usable one, a window from the 0.5th to
  the 99.5th percentile of the values (every n-th value, n = max(1, count // 65536)); MONOCHROME1
  inverted;
- PALETTE COLOR through its palette (pydicom's apply_color_lut);
- colour: YBR converted to RGB (pydicom's pixel_array does it, as_rgb=True), more than 8 bits
  scaled down.
"""

import os
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import apply_color_lut, apply_modality_lut

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "data")
SOURCE = os.path.join(ROOT, "pydicom", "test_files")
OUT = os.path.join(ROOT, "reference")

# file -> what it checks
FILES = {
    "dicomdirtests/77654033/CR1/6154": "MONOCHROME1 inverted, header window, rescale",
    "examples_palette.dcm": "PALETTE COLOR with its palette applied",
    "examples_rgb_color.dcm": "RGB, not swapped",
    "SC_ybr_full_422_uncompressed.dcm": "native YBR_FULL_422 expanded and converted",
    "examples_ybr_color.dcm": "JPEG YBR_FULL_422, multi-frame: the middle frame",
    "CT_small.dcm": "signed CT, rescale, automatic window",
    "MR_small_bigendian.dcm": "big endian, header window",
    "SC_rgb_small_odd_big_endian.dcm": "8-bit RGB in OW words of a big endian file",
    "rtdose_1frame.dcm": "32-bit unsigned",
    "SC_rgb_rle_32bit.dcm": "RLE with 32 bits allocated",
    "SC_jpeg_no_color_transform.dcm": "JPEG RGB without colour transform and without markers",
    "JPGExtended.dcm": "12-bit JPEG (lossy extended)",
    "examples_jpeg2k.dcm": "JPEG 2000 colour",
    "liver_1frame.dcm": "1 bit allocated",
    "examples_overlay.dcm": "first of two header windows",
}


def percentile_window(values):
    flat = values.ravel().astype(np.float64)
    flat = flat[np.isfinite(flat)]
    step = max(1, len(flat) // 65536)
    sample = np.sort(flat[::step])
    at = lambda q: sample[int((len(sample) - 1) * q)]
    lo, hi = at(0.005), at(0.995)
    if hi <= lo:
        lo, hi = lo - 0.5, lo + 0.5
    return (lo + hi) / 2, hi - lo


def linear(x, c, w):
    if w <= 1:
        return np.where(x <= c - 0.5, 0.0, 1.0)
    return np.clip((x - (c - 0.5)) / (w - 1) + 0.5, 0.0, 1.0)


def render(ds):
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    index = (frames - 1) // 2
    arr = ds.pixel_array
    if frames > 1:
        arr = arr[index]
    pmi = ds.PhotometricInterpretation
    if pmi == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        if rgb.dtype != np.uint8:
            rgb = (rgb >> 8).astype(np.uint8)
        return rgb
    if ds.SamplesPerPixel == 3:
        bits = int(ds.BitsStored)
        scale = 255.0 / (2**bits - 1)
        return np.clip(np.round(arr.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    values = apply_modality_lut(arr, ds).astype(np.float64)
    lo, hi = np.nanmin(values), np.nanmax(values)
    window = None
    centers = ds.get("WindowCenter")
    widths = ds.get("WindowWidth")
    if centers is not None and widths is not None:
        c = float(centers[0] if isinstance(centers, pydicom.multival.MultiValue) else centers)
        w = float(widths[0] if isinstance(widths, pydicom.multival.MultiValue) else widths)
        span = max(hi - lo, 1.0)
        if w > 0 and c + w / 2 > lo and c - w / 2 < hi and w < span * 1000:
            window = (c, w)
    if window is None:
        window = percentile_window(values)
    grey = np.round(linear(values, *window) * 255).astype(np.uint8)
    if pmi == "MONOCHROME1":
        grey = 255 - grey
    return grey


def main():
    os.makedirs(OUT, exist_ok=True)
    index = []
    for name, what in FILES.items():
        ds = pydicom.dcmread(os.path.join(SOURCE, name))
        image = render(ds)
        out = name.replace("/", "_").removesuffix(".dcm") + ".png"
        Image.fromarray(image).save(os.path.join(OUT, out))
        index.append(f"{out}\t{name}\t{what}")
        print(f"{name} -> {out} ({what})")
    with open(os.path.join(OUT, "INDEX.tsv"), "w") as f:
        f.write("png\tsource\tchecks\n" + "\n".join(index) + "\n")


if __name__ == "__main__":
    sys.exit(main())
