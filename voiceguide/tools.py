"""External programs: found when needed (never at import), system copies first."""

from __future__ import annotations

import os
import shutil
import threading
from functools import lru_cache

from .errors import ToolError

INSTALL_FFMPEG = "install it with 'pip install imageio-ffmpeg' or 'sudo apt-get install ffmpeg'"


_FINDING = threading.Lock()


def ffmpeg() -> str:
    """Path to ffmpeg: $VOICEGUIDE_FFMPEG if set, else the system's, else the imageio-ffmpeg wheel's."""
    with _FINDING:  # a session's two encoders ask at once: the wheel's binary is run (-version) once
        return _find_ffmpeg()


@lru_cache(maxsize=None)
def _find_ffmpeg() -> str:
    chosen = os.environ.get("VOICEGUIDE_FFMPEG")
    if chosen:
        if shutil.which(chosen):
            return shutil.which(chosen)
        raise ToolError(f"ffmpeg not found at {chosen} (from VOICEGUIDE_FFMPEG): {INSTALL_FFMPEG}")
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise ToolError(f"ffmpeg not found: {INSTALL_FFMPEG}") from None
