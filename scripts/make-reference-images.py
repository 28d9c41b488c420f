#!/usr/bin/env python3
"""Reference renderings of pydicom test files, made with pydicom (independent of qcdesk), that
tests/imaging.rs compares qcdesk's renderings with. Run again only when the set changes:

    pip install pydicom==3.0.2 numpy pillow pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg
    scripts/make-reference-images.py

Each file is rendered at full size, 8-bit, the way PS3.3 and PS3.4 define it:
- the representative frame of a multi-frame image is the middle one, (frames - 1) // 2;
- greyscale: Modality LUT (rescale slope/intercept), then the first window of the header with
  the linear function of PS3.3 C.11.2.1.2.1, or, without a usable one, a window of its own
  (qcdesk's rule, the same whatever the resolution): the means of power-of-two blocks on a grid
  of at most 64 a side, Pixel Padding Value and, for a CT, values outside -900..3000 HU left
  out; a CT whose means are at least a fifth soft tissue (-160..240 HU) gets centre 40 width
  400; otherwise the 1st to 99th percentile of the means, rounded to a power-of-two step of
  about a 256th of the width (widths of 512 and more); MONOCHROME1 inverted;
- PALETTE COLOR through its palette (pydicom's apply_color_lut);
- colour: YBR converted to RGB (pydicom's pixel_array does it, as_rgb=True), more than 8 bits
  scaled down.
"""

import math
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
    "CT_small.dcm": "signed CT, rescale, no window: soft tissue of its own",
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


def round_half_away(x):
    return math.copysign(math.floor(abs(x) + 0.5), x)


def block_means(values):
    h, w = values.shape
    longest = max(w, h, 1)
    k = 1
    while longest // (k * 2) >= 64:
        k *= 2
    means = []
    for by in range(-(-h // k)):
        for bx in range(-(-w // k)):
            block = values[by * k:(by + 1) * k, bx * k:(bx + 1) * k].astype(np.float64)
            block = block[np.isfinite(block)]
            if block.size:
                means.append(float(np.float32(block.mean())))
    return means


def own_window(values, ds):
    means = block_means(values)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    padding = None
    if "PixelPaddingValue" in ds:
        a = float(ds.PixelPaddingValue) * slope + intercept
        b = float(ds.get("PixelPaddingRangeLimit", ds.PixelPaddingValue)) * slope + intercept
        padding = (min(a, b), max(a, b))
    ct = str(ds.get("Modality", "")).upper() == "CT" and "RescaleIntercept" in ds
    kept = [m for m in means
            if not (padding and padding[0] <= m <= padding[1])
            and (not ct or -900.0 <= m <= 3000.0)]
    if len(kept) < max(1, -(-len(means) // 100)):
        kept = means
    if not kept:
        return 0.5, 1.0
    if ct:
        tissue = sum(1 for m in kept if -160.0 <= m <= 240.0)
        if tissue * 5 >= len(kept):
            return 40.0, 400.0
    kept.sort()
    at = lambda q: kept[int(round_half_away((len(kept) - 1) * q))]
    lo, hi = at(0.01), at(0.99)
    if hi <= lo:
        lo, hi = lo - 0.5, lo + 0.5
    c, w = (lo + hi) / 2, hi - lo
    if w >= 512:
        step = 2.0 ** math.floor(math.log2(w / 256))
        c, w = round_half_away(c / step) * step, round_half_away(w / step) * step
    return c, w


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
        window = own_window(values, ds)
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
