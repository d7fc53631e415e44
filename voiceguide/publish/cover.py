"""Stage 6, publish: cover art, the routine's title on a calm gradient, as a PNG."""

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
    from PIL import Image, ImageDraw, ImageFont

    top, bottom = _PALETTES[sum(seed.encode()) % len(_PALETTES)]
    gradient = Image.linear_gradient("L").resize((SIZE, SIZE))
    image = Image.composite(Image.new("RGB", (SIZE, SIZE), bottom), Image.new("RGB", (SIZE, SIZE), top), gradient)
    draw = ImageDraw.Draw(image)
    # A soft circle, like a sun rising behind the title.
    draw.ellipse((SIZE * 0.2, SIZE * 0.12, SIZE * 0.8, SIZE * 0.72), fill=tuple(min(255, c + 18) for c in top))

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
