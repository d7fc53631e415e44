"""Instruments for built sessions: decode the MP3 and find where each planned sound starts.

Used by the integration tests and `scripts/inspect`; nothing in the build depends on it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tools


def decode(mp3: Path, sample_rate: int) -> np.ndarray:
    """The MP3 decoded by ffmpeg to mono float32 (ffmpeg removes the encoder delay itself)."""
    result = subprocess.run(
        [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(mp3),
         "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "pipe:1"],
        capture_output=True, check=True,
    )
    return np.frombuffer(result.stdout, dtype="<f4")


def locate(sound: np.ndarray, audio: np.ndarray, expected: int, search: int) -> int:
    """Where `sound` starts in `audio`, searched within ±`search` samples of `expected`.

    Uses normalized cross-correlation of the sound's first 0.3 s, so a chime still ringing
    under a line of speech does not fool it.
    """
    head = sound[: min(sound.size, 6615)].astype(np.float64)
    lo = max(0, expected - search)
    hi = min(audio.size, expected + search + head.size)
    window = audio[lo:hi].astype(np.float64)
    if window.size < head.size:
        return -1
    correlation = np.correlate(window, head, mode="valid")
    energy = np.sqrt(np.convolve(window ** 2, np.ones(head.size), mode="valid")) + 1e-9
    return lo + int(np.argmax(correlation / energy))


@dataclass(frozen=True)
class Onset:
    kind: str
    label: str
    planned_ms: int
    measured_ms: float

    @property
    def error_ms(self) -> float:
        return self.measured_ms - self.planned_ms


def onsets(mp3: Path, timeline, clips, sample_rate: int, chimes: str = "soft", search_ms: int = 250) -> list[Onset]:
    """Measured start of every speech line and chime of the plan in the decoded MP3."""
    from .audio.chimes import chime

    audio = decode(mp3, sample_rate)
    found = []
    for event in timeline.events:
        if event.kind == "speech":
            sound, label = clips[event.text], event.text
        elif event.kind == "chime":
            sound, label = chime(event.sound, sample_rate, chimes), event.sound
        else:
            continue
        at = locate(sound, audio, event.start_ms * sample_rate // 1000, search_ms * sample_rate // 1000)
        found.append(Onset(event.kind, label, event.start_ms, at * 1000 / sample_rate))
    return found
