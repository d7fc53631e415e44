"""Stage 2, speak: the clip cache, content-addressed, each entry carrying its record.

Each phrase is synthesized once per voice: the key covers everything that changes its sound
(engine and library, voice or model, rate, text, clip format version). Entries are written
to a temporary file and renamed, and read back with checks, so a torn entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..recipe import CLIP_RECIPE
from ..routine.model import Voice
from . import clipfile
from .cache_home import cache_dir  # noqa: F401 (where the cache is, for the callers of this module)

log = logging.getLogger(__name__)

class ClipCache:
    """Clips as 16-bit mono WAV files named by the hash of what made them, each with its record.

    An entry carries a `vgcl` chunk before its samples: the clip's record (its key, a hash of
    its text, the settings it was made with, its length and a hash of its samples). An entry
    is used only when the record says it is the clip of the key and text asked for, and the
    samples are the ones recorded; anything else (torn, a directory, unreadable, another
    line's clip, changed samples) is a miss. A cache that cannot be written is used as it is,
    with one warning, and the build goes on.
    """

    def __init__(self, root: Path):
        self.root = root / "clips"
        self.writable = True

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.wav"

    def get(self, key: str, text: str) -> np.ndarray | None:
        """The cached clip of `text` under `key` as float32 samples, or None."""
        try:
            with open(self.path(key), "rb") as f:
                data = f.read(MAX_ENTRY_BYTES + 1)
            record, pcm = clipfile.parse(data)
        except (OSError, ValueError):
            return None
        if (record.get("key") != key or record.get("text") != text_hash(text)
                or record.get("samples") != pcm.size or record.get("pcm") != clipfile.pcm_hash(pcm)):
            log.info("cache entry %s is not the clip its key names: a miss", key)
            return None
        return pcm.astype(np.float32) / 32768.0

    def put(self, key: str, text: str, samples: np.ndarray, settings: dict) -> None:
        if not self.writable:
            return
        path = self.path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
            # No fsync: an entry a crash leaves torn fails its record's checks and is a miss.
            with os.fdopen(fd, "wb") as f:
                f.write(clipfile.entry(key, text_hash(text), settings, samples))
            os.replace(tmp, path)
        except OSError as error:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            if isinstance(error, IsADirectoryError):  # one entry is in the way: skip just it
                log.warning("warning: speech cache entry %s is a directory; not caching that line", path)
                return
            self.writable = False
            log.warning("warning: speech cache %s is not writable (%s); building without caching",
                        self.root, error.strerror or error)


MAX_ENTRY_BYTES = 64 << 20
"""No clip is near this (a minute of speech is 2.6 MB); a bigger entry is not read."""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def clip_settings(voice: Voice, identity: tuple[str, str]) -> dict:
    """Everything besides the text that makes a clip sound as it does; `identity` is the
    engine's (library, voice) identity."""
    library, voice_identity = identity
    return {**CLIP_RECIPE, "engine": voice.engine, "library": library, "voice": voice_identity, "rate": voice.rate}


def clip_key(voice: Voice, identity: tuple[str, str], text: str) -> str:
    """The cache key of a clip."""
    fields = {**clip_settings(voice, identity), "text": text}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
