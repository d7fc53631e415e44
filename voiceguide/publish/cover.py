"""Stage 6, publish: cover art, the routine's title on a calm gradient, as a PNG; the web app's
icon is the same picture without words."""

from __future__ import annotations

import io
import textwrap

SIZE = 1400  # podcast directories ask for 1400-3000 px squares

# Calm palettes (top colour, bottom colour), picked by the routine id so each looks its own.
_PALETTES = [
    ((32, 78, 96), (108, 160, 150)),
    ((48, 62, 104), (128, 150, 190)),
    ((60, 90, 70), (160, 190, 150)),
    ((92, 64, 88), (196, 150, 160)),
]


def cover_png(title: str, subtitle: str, seed: str) -> bytes:
    """A square PNG with the title, wrapped and centred, and a smaller subtitle below it."""
    from PIL import ImageDraw, ImageFont

    image = _background(SIZE, _PALETTES[sum(seed.encode()) % len(_PALETTES)])
    draw = ImageDraw.Draw(image)

    title_font = ImageFont.load_default(size=120)
    lines = textwrap.wrap(title, width=16)[:4]
    line_height = 140
    y = SIZE // 2 - len(lines) * line_height // 2
    for line in lines:
        width = draw.textlength(line, font=title_font)
        draw.text(((SIZE - width) / 2, y), line, font=title_font, fill=(250, 248, 240))
        y += line_height
    small = ImageFont.load_default(size=56)
    width = draw.textlength(subtitle, font=small)
    draw.text(((SIZE - width) / 2, SIZE - 180), subtitle, font=small, fill=(235, 235, 228))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def icon_png(size: int) -> bytes:
    """The web app's square icon: a cover's gradient and sun, without the title (unreadable
    that small). The sun sits inside the middle 80%, so a round or squircle mask keeps it."""
    from PIL import ImageDraw

    top, bottom = _PALETTES[0]
    image = _background(size, (top, bottom), sun=(0.22, 0.16, 0.78, 0.72))
    draw = ImageDraw.Draw(image)
    # A horizon: someone lying down to stretch, seen from far away.
    draw.rounded_rectangle((size * 0.2, size * 0.64, size * 0.8, size * 0.675), radius=size * 0.02,
                           fill=(226, 236, 228))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _background(size: int, palette, sun=(0.2, 0.12, 0.8, 0.72)):
    """A vertical gradient from the palette's top colour to its bottom one, with a soft circle,
    like a sun rising, at `sun` (left, top, right, bottom as fractions of the size)."""
    from PIL import Image, ImageDraw

    top, bottom = palette
    gradient = Image.linear_gradient("L").resize((size, size))
    image = Image.composite(Image.new("RGB", (size, size), bottom), Image.new("RGB", (size, size), top), gradient)
    ImageDraw.Draw(image).ellipse([size * f for f in sun], fill=tuple(min(255, c + 18) for c in top))
    return image
