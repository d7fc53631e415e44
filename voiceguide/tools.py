"""External programs: found when needed (never at import), system copies first."""

from __future__ import annotations

import shutil
from functools import lru_cache

from .errors import ToolError


@lru_cache(maxsize=None)
def ffmpeg() -> str:
    """Path to ffmpeg: the system's, else the one in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise ToolError(
            "ffmpeg not found: install it with 'pip install imageio-ffmpeg' or 'sudo apt-get install ffmpeg'"
        ) from None
