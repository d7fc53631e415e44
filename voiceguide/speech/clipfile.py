"""Stage 2, speak: the clip cache's entry format, a WAV file that says what it holds.

An entry is a plain 16-bit mono WAV file (any player opens it) with one more chunk, `vgcl`,
before its samples: a JSON record of the key, a hash of the text, the settings the clip was
made with, its length in samples and a hash of the samples. Parsing is strict: anything but
exactly this layout is a ValueError, which the cache treats as a miss.
"""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np

from ..recipe import SAMPLE_RATE

RECORD_CHUNK = b"vgcl"
_FMT = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)  # PCM, mono, 16-bit


def pcm16(samples: np.ndarray) -> np.ndarray:
    """float32 samples as 16-bit PCM; the exact inverse of `parse`'s scaling."""
    return np.clip(np.round(np.asarray(samples, np.float64) * 32768.0), -32768, 32767).astype("<i2")


def pcm_hash(pcm: np.ndarray) -> str:
    return hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest()


def entry(key: str, text_hash: str, settings: dict, samples: np.ndarray) -> bytes:
    """The bytes of a cache entry for `samples`."""
    pcm = pcm16(samples)
    record = {"key": key, "text": text_hash, "settings": settings, "samples": int(pcm.size), "pcm": pcm_hash(pcm)}
    body = json.dumps(record, sort_keys=True).encode()
    body += b" " * (len(body) % 2)  # chunks are padded to an even size
    data = pcm.tobytes()
    chunks = (b"fmt " + struct.pack("<I", len(_FMT)) + _FMT
              + RECORD_CHUNK + struct.pack("<I", len(body)) + body
              + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def parse(data: bytes) -> tuple[dict, np.ndarray]:
    """(record, 16-bit samples) of a cache entry; ValueError unless it is exactly one."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE" or struct.unpack_from("<I", data, 4)[0] + 8 != len(data):
        raise ValueError("not a whole WAV file")
    chunks, position = {}, 12
    while position < len(data):
        if position + 8 > len(data):
            raise ValueError("torn chunk header")
        name, size = data[position: position + 4], struct.unpack_from("<I", data, position + 4)[0]
        chunks[name] = data[position + 8: position + 8 + size]
        if len(chunks[name]) != size:
            raise ValueError("torn chunk")
        position += 8 + size + size % 2
    if chunks.get(b"fmt ") != _FMT or RECORD_CHUNK not in chunks or b"data" not in chunks:
        raise ValueError("not a voiceguide clip")
    record = json.loads(chunks[RECORD_CHUNK])
    if not isinstance(record, dict):
        raise ValueError("no record")
    return record, np.frombuffer(chunks[b"data"], dtype="<i2")
