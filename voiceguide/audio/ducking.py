"""Stage 4, render: the music's gain over time, worked out from the plan before any sample.

The music is lowered under every spoken line and every chime and comes back up in the
silences, as a radio producer rides a fader: it starts down `LEAD_MS` before the onset and is
`DUCK_DB` lower at the onset itself; it stays there until `AFTER_MS` after the sound ends,
then comes back over `RELEASE_MS`. Sounds whose ducked stretches would leave the music up for
less than `MIN_UP_MS` between them are ducked as one stretch, so close lines (a countdown, a
cue after a name) do not make it pump. Every move is a raised cosine in amplitude, and the
session fades in from silence and out to silence at its ends.

The envelope is a list of breakpoints (ms, dB relative to the bed level); it goes into the
plan record as it is, so what the renderer did can be checked against the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plan import Timeline
from ..recipe import MUSIC_RECIPE

DUCK_DB = MUSIC_RECIPE["duck_db"]
"""How far the music goes down under a line or a chime."""
LEAD_MS = MUSIC_RECIPE["lead_ms"]
"""The music starts down this long before an onset, and is down at the onset."""
AFTER_MS = MUSIC_RECIPE["after_ms"]
"""It stays down this long after a sound ends (speech trails off, the ear needs a moment)."""
RELEASE_MS = MUSIC_RECIPE["release_ms"]
"""Then it comes back up over this."""
MIN_UP_MS = MUSIC_RECIPE["min_up_ms"]
"""It is not brought up for less than this between two ducked stretches: no pumping."""
FADE_IN_MS = MUSIC_RECIPE["fade_in_ms"]
FADE_OUT_MS = MUSIC_RECIPE["fade_out_ms"]


@dataclass(frozen=True)
class Envelope:
    """The music's gain over the session, relative to its bed level."""

    points: tuple[tuple[int, float], ...]
    """Breakpoints (ms, dB); between two, the amplitude follows a raised cosine; before the
    first and after the last, it stays at theirs."""
    duration_ms: int
    fade_in_ms: int = FADE_IN_MS
    fade_out_ms: int = FADE_OUT_MS

    def to_json(self) -> dict:
        return {"points": [[ms, db] for ms, db in self.points], "duration_ms": self.duration_ms,
                "fade_in_ms": self.fade_in_ms, "fade_out_ms": self.fade_out_ms,
                "curve": "raised cosine in amplitude between points; fades multiply"}

    def gain_db(self, ms: int) -> float:
        """The gain at `ms`, fades included (-inf in silence); for checks and tests."""
        value = float(self.gains(ms, ms + 1, 1000)[0])
        return 20 * np.log10(value) if value > 0 else float("-inf")

    def gains(self, lo: int, hi: int, sample_rate: int) -> np.ndarray:
        """The amplitude factor for session samples [lo, hi) (float32; 0 before the start and
        after the end). Only the ramps cost more than a fill: most of a block is constant."""
        times, amplitudes = self._breakpoints(sample_rate)
        out = np.empty(hi - lo, dtype=np.float32)
        first, last = np.searchsorted(times, [lo, hi], side="right")
        edges = [lo, *times[first:last].tolist(), hi]
        for a, b in zip(edges, edges[1:]):
            if b <= a:
                continue
            i = int(np.searchsorted(times, a, side="right")) - 1  # the breakpoint at or before a
            if i < 0 or i == times.size - 1 or amplitudes[i] == amplitudes[i + 1]:
                out[a - lo: b - lo] = amplitudes[min(max(i, 0), times.size - 1)]
                continue
            x = (np.arange(a, b, dtype=np.float64) - times[i]) / (times[i + 1] - times[i])
            out[a - lo: b - lo] = amplitudes[i] + (amplitudes[i + 1] - amplitudes[i]) * (0.5 - 0.5 * np.cos(np.pi * x))
        _fade(out, lo, self.duration_ms * sample_rate // 1000, self.fade_in_ms * sample_rate // 1000,
              self.fade_out_ms * sample_rate // 1000)
        return out

    def _breakpoints(self, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """The points as (sample, amplitude) arrays; worked out once per sample rate."""
        cache = self.__dict__.setdefault("_cache", {})
        if sample_rate not in cache:
            cache[sample_rate] = (np.array([ms * sample_rate // 1000 for ms, _ in self.points], dtype=np.int64),
                                  np.array([10 ** (db / 20) for _, db in self.points]))
        return cache[sample_rate]


def _fade(out: np.ndarray, lo: int, total: int, fade_in: int, fade_out: int) -> None:
    """Multiply in the fades (raised cosine), and silence outside [0, total)."""
    hi = lo + out.size
    for start, end, rising in ((0, fade_in, True), (total - fade_out, total, False)):
        a, b = max(lo, start), min(hi, end)
        if b > a:
            x = (np.arange(a, b, dtype=np.float64) - start) / max(end - start, 1)
            shape = 0.5 - 0.5 * np.cos(np.pi * x)
            out[a - lo: b - lo] *= shape if rising else 1 - shape
    out[: max(0, min(out.size, -lo))] = 0
    out[max(0, total - lo):] = 0


def ducked_stretches(timeline: Timeline, chimes: str = "soft") -> list[tuple[int, int]]:
    """(first onset, last end) of each stretch the music is down for, close sounds merged."""
    sounds = sorted((event.start_ms, event.end_ms) for event in timeline.events
                    if event.kind == "speech" or (event.kind == "chime" and chimes != "none"))
    stretches: list[list[int]] = []
    for start, end in sounds:
        if stretches and start - LEAD_MS < stretches[-1][1] + AFTER_MS + RELEASE_MS + MIN_UP_MS:
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
    return [(start, end) for start, end in stretches]


def envelope(timeline: Timeline, chimes: str = "soft", duck_db: float = DUCK_DB) -> Envelope:
    """The music's envelope for the session of `timeline` (chimes: the style, 'none' rings nothing)."""
    points: list[tuple[int, float]] = [(0, 0.0)]
    for start, end in ducked_stretches(timeline, chimes):
        down = max(0, start - LEAD_MS)
        if down == 0:
            points = []  # the session opens with sound: the music starts down (and fades in)
        points += [(down, 0.0 if down else -duck_db), (start, -duck_db),
                   (end + AFTER_MS, -duck_db), (end + AFTER_MS + RELEASE_MS, 0.0)]
    return Envelope(tuple((ms, float(db)) for ms, db in points), timeline.duration_ms)


MAX_LOUDNESS_LOSS_LU = 0.5
"""How far the music may pull the session's integrated loudness down (see fitted_level)."""
LOUDER_DB = 3.0
"""Music is not steady: the pad's 400 ms blocks are 2.5 dB over its loudness one time in 20.
The prediction takes the music this much louder, so its louder moments are not missed."""


def fitted_level(timeline: Timeline, shape: Envelope, level_db: float, sounds: list[tuple[int, np.ndarray]],
                 sample_rate: int, speech_lufs: float) -> float:
    """The bed level to use: `level_db`, or lower if that would pull the session's integrated
    loudness down by more than MAX_LOUDNESS_LOSS_LU.

    BS.1770 gates out the 400 ms blocks 10 LU under the session's mean, so once the speech is
    sparse (a minimal narration: names, counts, chimes) a bed under every pause counts, and
    the session would measure under its -16 LUFS. The loss is predicted before rendering, in
    steps of 100 ms: the power of every sound where it is placed (`sounds`, render.sounds),
    the music's at its bed level times the envelope's gain, blocks gated as BS.1770 gates
    them. The power is not K-weighted, which puts speech under what the meter reads, and
    the music is taken LOUDER_DB over its level: both make the loss predicted more than the
    loss measured, so the bed is lowered only when it has to be, and then far enough.
    """
    step = sample_rate // 10
    steps = -(-timeline.duration_ms // 100)
    power = np.zeros(steps + 2)
    profiles: dict[int, np.ndarray] = {}
    for start, samples in sounds:
        if id(samples) not in profiles:
            profiles[id(samples)] = _step_powers(samples, step)
        profile = profiles[id(samples)]
        first = start // step
        power[first: first + profile.size] += profile[: power.size - first]
    power = power[:steps]
    gain = shape.gains(0, steps, 10).astype(np.float64) ** 2

    def loudness(bed_db: float | None) -> float:
        total = power + (0 if bed_db is None else gain * 10 ** ((speech_lufs + bed_db + LOUDER_DB + 0.691) / 10))
        return _gated(total)

    alone = loudness(None)
    level = level_db
    while level > -60 and alone - loudness(level) > MAX_LOUDNESS_LOSS_LU:
        level -= 1.0
    return level


def _step_powers(samples: np.ndarray, step: int) -> np.ndarray:
    """Mean power of each `step` of a sound."""
    padded = np.zeros(-(-samples.size // step) * step)
    padded[: samples.size] = samples
    return np.mean(padded.reshape(-1, step) ** 2, axis=1)


def _gated(power: np.ndarray) -> float:
    """BS.1770's gated loudness from powers in 100 ms steps (400 ms blocks, 75% overlap)."""
    blocks = np.convolve(power, np.full(4, 0.25), mode="valid") if power.size >= 4 else np.array([power.mean()])
    blocks = blocks[blocks > 10 ** ((-70 + 0.691) / 10)]
    if blocks.size == 0:
        return float("-inf")
    kept = blocks[blocks > np.mean(blocks) / 10]
    return float(-0.691 + 10 * np.log10(np.mean(kept)))
