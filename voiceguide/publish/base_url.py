"""Stage 6, publish: where the feed says the files are, remembered for each output directory.

`publish --base-url URL` (or `build --all --base-url URL`) writes URL to a hidden file in
the directory, which `serve` never serves; later runs without --base-url keep it, so a
feed published once at its real address is not rewritten to point elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from .sessions import DEFAULT_BASE_URL

BASE_URL_NAME = ".voiceguide-base-url"


def base_url_for(out_dir: Path, given: str | None) -> tuple[str, str]:
    """The base URL to publish `out_dir` with, and where it comes from: 'given', 'kept'
    (given before, and remembered) or 'default'."""
    if given:
        return given, "given"
    kept = remembered(out_dir)
    return (kept, "kept") if kept else (DEFAULT_BASE_URL, "default")


def remembered(out_dir: Path) -> str | None:
    """The base URL last given for `out_dir`, if it is a plausible one."""
    try:
        text = (out_dir / BASE_URL_NAME).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if text.startswith(("http://", "https://")) and text.endswith("/") and text.isprintable() and " " not in text:
        return text
    return None


def remember(out_dir: Path, base_url: str) -> None:
    """Keep `base_url` for later publishing of `out_dir` (unless it is kept already)."""
    from ..atomic import write_atomically

    if remembered(out_dir) != base_url:
        write_atomically(out_dir / BASE_URL_NAME, f"{base_url}\n".encode())
