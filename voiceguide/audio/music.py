"""Stage 4, render: music under the voice: an ambient pad made here, or an audio file, looped.

The music is a stream like the rest of the mix: the renderer asks for the samples of each
block (with its margins) in time order, and gets them with the bed level and the ducking
envelope (ducking.py) applied. Nothing as long as the session is held:

- `ambient` is a calm pad of four slow chords, synthesized once per process as one loop of
  48 s (every partial makes a whole number of cycles in it, so the loop has no seam) and
  read around and around; the same numbers every time, so two builds give the same MP3.
- A file is decoded by ffmpeg, as a stream, to the session's rate, mono. A file shorter than
  the session loops: each pass is decoded again and its last `crossfade_ms` are crossfaded
  into the first of the next (equal power), so the join has neither a gap nor a click.
  A file of up to `IN_MEMORY_S` seconds is decoded once and kept: it loops too often to
  start ffmpeg for each pass.

Levels: the music is brought to `level_db` relative to the voice (each line's loudness,
recipe.SPEECH_LUFS) from its own integrated loudness: measured once for the pad, by
ffmpeg's BS.1770 meter (ebur128) for a file.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ToolError
from ..recipe import MUSIC_RECIPE, SPEECH_LUFS
from .ducking import Envelope
from .music_files import AMBIENT, NONE, decoder as _decoder, last_line as _last_line

CROSSFADE_MS = MUSIC_RECIPE["crossfade_ms"]
IN_MEMORY_S = 120
"""A music file decoding to at most this many seconds is kept in memory (10 MB at 22.05 kHz)."""
PAD_PERIOD_S = 48
READ_SAMPLES = 1 << 16
"""Samples read from the decoder at a time."""

# The pad: (start in s, notes in Hz) of each chord, 12 s apart and crossfaded over 4 s:
# D major with an added ninth, B minor seventh, G major seventh, A suspended; all low and soft.
_CHORDS = (
    (0, (146.83, 220.00, 329.63, 369.99)),
    (12, (123.47, 185.00, 220.00, 293.66)),
    (24, (98.00, 146.83, 185.00, 246.94)),
    (36, (110.00, 164.81, 220.00, 293.66)),
)
_CHORD_FADE_S = 4
_DETUNE_HZ = (0.07, 0.11, 0.15, 0.19)
"""Each note of a chord is two sines this far apart, one stronger than the other: a slow
beat, like a string section, at a rate of its own, so the chord's level never dips as one."""
_SECOND_HARMONIC = 0.18


@dataclass(frozen=True)
class Music:
    """What plays under the voice in one session: the source, its level and its envelope."""

    source: str
    """'ambient', or the path of an audio file."""
    level_db: float
    """The bed's loudness in the holds, in dB relative to the voice."""
    envelope: Envelope
    file: FileInfo | None = None
    """For a file: what probing it found."""
    content: str = ""
    """For a file: the SHA-256 of its bytes."""
    asked_db: float | None = None
    """The level asked for, when `level_db` had to be lower (ducking.fitted_level)."""

    def to_json(self, credit: str = "") -> dict:
        """What the plan record says of the music: enough to check the mix against."""
        from .ducking import DUCK_DB

        return {
            "source": self.source if self.file is None else Path(self.source).name, "sha256": self.content,
            "credit": credit, "level_db": self.level_db, "ducked_db": self.level_db - DUCK_DB,
            "asked_db": self.level_db if self.asked_db is None else self.asked_db,
            "bed_lufs": SPEECH_LUFS + self.level_db, "envelope": self.envelope.to_json(),
        }

    def gain(self, sample_rate: int) -> float:
        """The factor that brings the source to its bed level."""
        lufs = self.file.lufs if self.file else PAD_LUFS
        return 10 ** ((SPEECH_LUFS + self.level_db - lufs) / 20)

    def mixer(self, sample_rate: int) -> Mixer:
        """A fresh stream of this music from the session's first sample."""
        if self.file is None:
            source: _Source = _Periodic(ambient_pad(sample_rate))
        elif self.file.samples <= IN_MEMORY_S * sample_rate:
            whole, crossfade = _decode_whole(Path(self.source), sample_rate), _crossfade(self.file, sample_rate)
            source = _Periodic(_loop_period(whole, crossfade), whole[:crossfade])
        else:
            source = _Streamed(_looped(Path(self.source), _crossfade(self.file, sample_rate), sample_rate))
        return Mixer(source, self.gain(sample_rate), self.envelope, sample_rate)


class Mixer:
    """Adds the music to the blocks of a session, in time order."""

    def __init__(self, source: _Source, gain: float, envelope: Envelope, sample_rate: int):
        self.source, self.gain, self.envelope, self.sample_rate = source, gain, envelope, sample_rate

    def add_to(self, out: np.ndarray, lo: int) -> None:
        """Add the music of session samples [lo, lo + out.size) to `out`."""
        hi = lo + out.size
        gains = self.envelope.gains(lo, hi, self.sample_rate)
        gains *= np.float32(self.gain)
        out += self.source.samples(lo, hi) * gains

    def close(self) -> None:
        self.source.close()


class _Source:
    def samples(self, lo: int, hi: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Periodic(_Source):
    """A loop held in memory, read around and around (zeros before the session starts);
    the first `head.size` samples are `head` instead (a file plays its own start first)."""

    def __init__(self, period: np.ndarray, head: np.ndarray | None = None):
        self.period = period
        self.head = np.zeros(0, np.float32) if head is None else head

    def samples(self, lo: int, hi: int) -> np.ndarray:
        out = np.zeros(hi - lo, dtype=np.float32)
        at = max(lo, 0)
        if at < min(hi, self.head.size):
            take = min(hi, self.head.size) - at
            out[at - lo: at - lo + take] = self.head[at: at + take]
            at += take
        while at < hi:
            offset = at % self.period.size
            take = min(hi - at, self.period.size - offset)
            out[at - lo: at - lo + take] = self.period[offset: offset + take]
            at += take
        return out


class _Streamed(_Source):
    """A stream read forward, keeping only what the next requests may still ask for."""

    def __init__(self, blocks: Iterator[np.ndarray]):
        self.blocks = blocks
        self.buffer = np.zeros(0, dtype=np.float32)
        self.start = 0  # session sample of buffer[0]

    def samples(self, lo: int, hi: int) -> np.ndarray:
        out = np.zeros(hi - lo, dtype=np.float32)
        if hi <= 0:
            return out
        keep = max(lo, 0) - self.start
        if keep > 0:
            self.buffer, self.start = self.buffer[keep:], self.start + keep
        pieces = [self.buffer]
        have = self.buffer.size
        while self.start + have < hi:
            block = next(self.blocks)
            pieces.append(block)
            have += block.size
        self.buffer = np.concatenate(pieces) if len(pieces) > 1 else self.buffer
        a = max(lo, 0)
        out[a - lo:] = self.buffer[a - self.start: hi - self.start]
        return out

    def close(self) -> None:
        close = getattr(self.blocks, "close", None)
        if close:
            close()


# -- the ambient pad ---------------------------------------------------------------------


PAD_LUFS = -13.99
"""The loudness of `ambient_pad` as made (peak 1.0); a test measures it against this."""
_PAD_DECIMATION = 8
"""The pad is synthesized at 1/8 of the rate (nothing in it is above 750 Hz), then brought
up to the session's rate through the FFT: exact for a loop, and 8 times less work."""


@lru_cache(maxsize=None)
def ambient_pad(sample_rate: int) -> np.ndarray:
    """One loop of the pad (float32, peak 1.0), whose loudness is PAD_LUFS."""
    n = PAD_PERIOD_S * sample_rate // _PAD_DECIMATION
    rate = n / PAD_PERIOD_S
    pad = np.zeros(n, dtype=np.float64)
    fade = int(_CHORD_FADE_S * rate)
    span = n // len(_CHORDS)
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)  # equal power with its neighbours
    for start_s, notes in _CHORDS:
        # The chord sounds from half a fade before its start to half a fade after its end.
        first = int(start_s * rate) - fade // 2
        index = np.arange(first, first + span + fade)
        envelope = np.ones(index.size)
        envelope[:fade], envelope[-fade:] = ramp, ramp[::-1]
        sound = np.zeros(index.size)
        for rank, note in enumerate(notes):
            level = 1.0 / (1 + 0.35 * rank)  # the root fullest, the upper notes softer
            detune = _DETUNE_HZ[rank]
            for hz, weight in ((note - detune / 2, 0.6), (note + detune / 2, 0.4), (2 * note, _SECOND_HARMONIC)):
                cycles = round(hz * PAD_PERIOD_S)  # a whole number of cycles in the loop: no seam
                phase = (index * cycles % n) / n  # exact in integers, then a fraction of a cycle
                sound += level * weight * np.sin(2 * np.pi * phase + rank)
        np.add.at(pad, index % n, sound * envelope)
    spectrum = np.zeros(PAD_PERIOD_S * sample_rate // 2 + 1, dtype=complex)
    spectrum[: n // 2 + 1] = np.fft.rfft(pad)
    full = np.fft.irfft(spectrum, PAD_PERIOD_S * sample_rate)
    return (full / np.max(np.abs(full))).astype(np.float32)


# -- music files -------------------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    samples: int
    """Its length at the session's rate."""
    lufs: float
    """Its integrated loudness, mono, at the session's rate."""


@lru_cache(maxsize=None)
def probe(path: Path, sample_rate: int, stamp: tuple[int, int] = (0, 0)) -> FileInfo:
    """Decode the whole file once: its length and loudness. ToolError if ffmpeg cannot.

    `stamp` (size, mtime) keys the cache, so a file changed in between is probed again."""
    process = subprocess.Popen(_decoder(path, sample_rate, ",ebur128=framelog=quiet", "info"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout and process.stderr
    import threading

    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    samples = 0
    while data := process.stdout.read(4 * READ_SAMPLES):
        samples += len(data) // 4
    process.wait()
    reader.join()
    text = b"".join(errors).decode(errors="replace")
    found = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", text)
    if process.returncode != 0 or not found:
        raise ToolError(f"{path}: ffmpeg could not decode it as music: {_last_line(b''.join(errors), 'no audio')}")
    lufs = float(found[-1])
    if samples == 0 or lufs <= -69:
        raise ToolError(f"{path}: expected music, found silence")
    return FileInfo(samples, lufs)


def _crossfade(info: FileInfo, sample_rate: int) -> int:
    """The loop's crossfade: CROSSFADE_MS, or a quarter of a short file."""
    return min(CROSSFADE_MS * sample_rate // 1000, info.samples // 4)


def _passes(path: Path, sample_rate: int) -> Iterator[np.ndarray]:
    """One pass over the decoded file, in blocks."""
    process = subprocess.Popen(_decoder(path, sample_rate), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout and process.stderr
    try:
        while data := process.stdout.read(4 * READ_SAMPLES):
            yield np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4")
        if process.wait() != 0:
            raise ToolError(f"{path}: ffmpeg could not decode it as music: {_last_line(process.stderr.read(), 'no audio')}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def _decode_whole(path: Path, sample_rate: int) -> np.ndarray:
    blocks = list(_passes(path, sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _joined(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The end of one pass crossfaded into the start of the next, at equal power."""
    x = (np.arange(tail.size) + 0.5) / max(tail.size, 1)
    return (tail * np.cos(0.5 * np.pi * x) + head * np.sin(0.5 * np.pi * x)).astype(np.float32)


def _loop_period(whole: np.ndarray, crossfade: int) -> np.ndarray:
    """One period of the looped file: the join, then the rest up to the next join. Read from
    its start (its first `crossfade` samples replaced by the file's own), it is what
    `_looped` streams."""
    if crossfade == 0 or whole.size < 2 * crossfade:
        return whole
    return np.concatenate((_joined(whole[-crossfade:], whole[:crossfade]), whole[crossfade:-crossfade]))


def _looped(path: Path, crossfade: int, sample_rate: int) -> Iterator[np.ndarray]:
    """The file over and over, each pass decoded as a stream, the joins crossfaded.

    The first pass plays from its start; each pass holds back its last `crossfade` samples,
    which are crossfaded with the first `crossfade` of the next (skipped there)."""
    head = np.zeros(0, np.float32)
    first = True
    while True:
        held = np.zeros(0, np.float32)
        skip = 0 if first else crossfade
        for block in _passes(path, sample_rate):
            if first and head.size < crossfade:
                head = np.concatenate((head, block[: crossfade - head.size]))
            if skip:
                cut = min(skip, block.size)
                block, skip = block[cut:], skip - cut
            held = np.concatenate((held, block))
            if held.size > crossfade:
                yield held[: held.size - crossfade]
                held = held[held.size - crossfade:]
        if held.size < crossfade:
            raise ToolError(f"{path}: ffmpeg decoded it shorter than it did a moment before")
        yield _joined(held, head)
        first = False


def music_for(source: str, level_db: float, envelope: Envelope, sample_rate: int,
              asked_db: float | None = None) -> Music | None:
    """The Music of a session (None for 'none'); a file is probed (ToolError if it is not music)."""
    if source == NONE:
        return None
    if source == AMBIENT:
        return Music(source, level_db, envelope, asked_db=asked_db)
    path = Path(source)
    try:
        stat = path.stat()
    except OSError as error:
        raise ToolError(f"{path}: cannot read the music: {error.strerror}") from None
    info = probe(path, sample_rate, (stat.st_size, stat.st_mtime_ns))
    import hashlib

    return Music(source, level_db, envelope, info, hashlib.sha256(path.read_bytes()).hexdigest(), asked_db)

