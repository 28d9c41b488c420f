#!/usr/bin/env python3
"""Builds assets/fonts/NotoSansCJK-subset.otf: the CJK glyphs patient names need.

Covers GB2312 level 1, JIS X 0208 level 1, KS X 1001 Hangul, kana (full and half width),
CJK punctuation and full-width forms, arrows and geometric shapes, plus every character of the given extra files.
Run: python3 scripts/make-cjk-font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
(needs `pip install fonttools`; Debian package fonts-noto-cjk provides the source font).
"""
import sys, pathlib
from fontTools import subset

def decode_range(enc, lead, trail):
    out = set()
    for a in range(lead[0], lead[1] + 1):
        for b in range(trail[0], trail[1] + 1):
            try:
                out.update(bytes([a, b]).decode(enc))
            except UnicodeDecodeError:
                pass
    return out

chars = set()
chars |= decode_range("gb2312", (0xB0, 0xD7), (0xA1, 0xFE))   # GB2312 level 1 hanzi
chars |= decode_range("euc_jp", (0xB0, 0xCF), (0xA1, 0xFE))   # JIS X 0208 level 1 kanji
chars |= decode_range("euc_kr", (0xB0, 0xC8), (0xA1, 0xFE))   # KS X 1001 Hangul syllables
# CJK punctuation, kana, Hangul jamo, full-width forms; arrows and shapes for the UI's own marks.
for lo, hi in [(0x3000, 0x30FF), (0x3130, 0x318F), (0xFF00, 0xFFEF), (0x2190, 0x21FF), (0x25A0, 0x25FF)]:
    chars |= {chr(c) for c in range(lo, hi + 1)}
root = pathlib.Path(__file__).resolve().parent.parent
for extra in [root / "src/demo/department.rs"]:
    chars |= {c for c in extra.read_text(encoding="utf-8") if ord(c) > 0x2E80}
src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
opts = subset.Options()
opts.font_number = 0
opts.layout_features = []
opts.name_IDs = ["*"]
opts.notdef_outline = True
font = subset.load_font(src, opts)
sub = subset.Subsetter(opts)
sub.populate(unicodes=[ord(c) for c in chars])
sub.subset(font)
out = root / "assets/fonts/NotoSansCJK-subset.otf"
subset.save_font(font, str(out), opts)
print(f"{len(chars)} characters -> {out} ({out.stat().st_size} bytes)")
