"""Where voiceguide's cache lives: a module of its own, importing nothing heavy, so that what
an up-to-date check touches (the eSpeak NG library search, remembered there) starts fast."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$VOICEGUIDE_CACHE_DIR, else the user's cache directory."""
    override = os.environ.get("VOICEGUIDE_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voiceguide"
