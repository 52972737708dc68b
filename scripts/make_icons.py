"""Draw the installable app's icons into dispatch/static/ (run once by hand; the PNGs are committed).

Needs Pillow with FreeType (`.venv/bin/pip install pillow`); the text uses Pillow's bundled font, so
the output does not depend on the fonts of the machine that runs it.

    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

STATIC = Path(__file__).resolve().parent.parent / "dispatch" / "static"
NAVY = (0x14, 0x28, 0x4B)  # the pages' header bar (style.css .top), also the manifest's theme_color
WHITE = (0xFF, 0xFF, 0xFF)
SUPERSAMPLE = 4  # draw large, then scale down: smooth edges without anti-aliasing primitives


def _cross(draw: ImageDraw.ImageDraw, cx: float, cy: float, arm: float) -> None:
    """Draw a white medical cross centred on (cx, cy), `arm` from the centre to each end."""
    half = arm * 0.34  # half the bar width
    radius = half * 0.35
    draw.rounded_rectangle((cx - half, cy - arm, cx + half, cy + arm), radius=radius, fill=WHITE)
    draw.rounded_rectangle((cx - arm, cy - half, cx + arm, cy + half), radius=radius, fill=WHITE)


def _label(draw: ImageDraw.ImageDraw, cx: float, top: float, width: float) -> None:
    """Write "SNP" centred under the cross, as wide as `width`."""
    size = 100
    font = ImageFont.load_default(size=size)
    left, _, right, _ = draw.textbbox((0, 0), "SNP", font=font)
    font = ImageFont.load_default(size=int(size * width / (right - left)))
    stroke = max(1, font.size // 18)  # the bundled font is regular: a thin stroke reads as bold
    draw.text((cx, top), "SNP", font=font, fill=WHITE, anchor="mt", stroke_width=stroke, stroke_fill=WHITE)


def icon(size: int, *, content: float, rounded: bool, label: bool = True) -> Image.Image:
    """Return a square icon; the drawing fits a centred box `content` × size wide."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if rounded:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.18, fill=NAVY)
    else:
        draw.rectangle((0, 0, big, big), fill=NAVY)  # platforms apply their own mask
    box = big * content
    top = (big - box) / 2
    if label:
        arm = box * 0.31
        _cross(draw, big / 2, top + arm, arm)
        _label(draw, big / 2, top + 2 * arm + box * 0.09, box * 0.78)
    else:
        _cross(draw, big / 2, big / 2, box / 2)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> int:
    """Write every icon the manifest, the pages and iOS ask for."""
    STATIC.mkdir(parents=True, exist_ok=True)
    icon(192, content=0.78, rounded=True).save(STATIC / "icon-192.png", optimize=True)
    icon(512, content=0.78, rounded=True).save(STATIC / "icon-512.png", optimize=True)
    # Maskable: the platform may crop to a circle of 80 % of the side; the drawing stays inside it
    # (its corners at 0.56 × √2 / 2 ≈ 0.40 of the side from the centre).
    icon(512, content=0.56, rounded=False).convert("RGB").save(STATIC / "icon-maskable-512.png", optimize=True)
    # iOS rounds the corners itself and shows transparency as black: opaque, full bleed.
    icon(180, content=0.74, rounded=False).convert("RGB").save(STATIC / "apple-touch-icon.png", optimize=True)
    # Tiny sizes: the cross alone, text would be a smudge.
    icon(32, content=0.62, rounded=True, label=False).save(STATIC / "favicon.png", optimize=True)
    icon(48, content=0.62, rounded=True, label=False).save(STATIC / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    for name in ("icon-192.png", "icon-512.png", "icon-maskable-512.png", "apple-touch-icon.png", "favicon.png", "favicon.ico"):
        print(STATIC / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
