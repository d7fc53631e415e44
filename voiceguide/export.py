"""Stage 5, export: PCM blocks -> MP3 with ID3 tags, written atomically.

The encoder reads the rendered blocks as they come. The MP3 is written to a temporary file
beside its final name, tagged, flushed to disk and only then renamed over the old file, so a
crash or a full disk never leaves a broken session in the output directory.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from . import tools
from .errors import OutputError, ToolError

BITRATE = "64k"  # mono speech: clear at 64 kbps CBR, about 0.5 MB a minute


@dataclass(frozen=True)
class Tags:
    title: str
    artist: str = "voiceguide"
    album: str = "voiceguide sessions"
    genre: str = "Health & Fitness"
    year: str = ""
    comment: str = ""


def temporary_path(path: Path) -> Path:
    """A unique temporary name beside `path`; left-overs are swept by `sweep_temporaries`."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are meant to be shared
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sweep_temporaries(out_dir: Path, max_age_s: float = 3600) -> None:
    """Remove temporary files left by builds that were killed (older than max_age_s)."""
    import time

    now = time.time()
    for stray in out_dir.glob(".*.tmp"):
        try:
            if now - stray.stat().st_mtime > max_age_s:
                stray.unlink()
        except OSError:
            pass


def write_atomically(path: Path, data: bytes) -> None:
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None


def export(blocks: Iterable[np.ndarray], path: Path, sample_rate: int, tags: Tags) -> None:
    """Encode the blocks to `path` as a mono CBR MP3 with tags, atomically."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(path)
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write: {error.strerror}") from None
    try:
        _encode(blocks, tmp, sample_rate)
        _tag(tmp, tags)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _encode(blocks: Iterable[np.ndarray], tmp: Path, sample_rate: int) -> None:
    command = [
        tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
        "-c:a", "libmp3lame", "-b:a", BITRATE, "-ac", "1",
        "-id3v2_version", "0", "-write_id3v1", "0", "-f", "mp3", str(tmp),
    ]
    with tempfile.TemporaryFile() as errors:
        encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        assert encoder.stdin
        try:
            for block in blocks:
                encoder.stdin.write(to_pcm16(block))
            encoder.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            encoder.kill()
            encoder.wait()
            raise
        if encoder.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip().splitlines()
            detail = message[-1] if message else f"exit code {encoder.returncode}"
            if "No space left" in detail:
                raise OutputError(f"{tmp.parent}: cannot write: No space left on device")
            raise ToolError(f"ffmpeg failed to encode the MP3: {detail}")


def to_pcm16(block: np.ndarray) -> bytes:
    return np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2").tobytes()


def _tag(path: Path, tags: Tags) -> None:
    from mutagen.id3 import COMM, ID3, TALB, TCON, TDRC, TIT2, TPE1

    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    id3.add(TCON(encoding=3, text=tags.genre))
    if tags.year:
        id3.add(TDRC(encoding=3, text=tags.year))
    if tags.comment:
        id3.add(COMM(encoding=3, lang="eng", desc="", text=tags.comment))
    id3.save(path, v2_version=3)
