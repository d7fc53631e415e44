"""Stage 5, export: the true peak of the MP3 itself, and gain corrections where it is over.

Lines are limited to CEILING_DBTP before encoding, but a 64 kbps encode can overshoot that by
2 dB or more on some lines, and by how much depends on where the line falls on the frame grid.
So the encoder's own output is decoded and metered, and every stretch whose true peak is over
the limit is turned down by what it is over (plus a margin) and encoded again.

Metering is kept cheap: only the sound is decoded (the stream before the silence is spliced
back), in process while the encoder runs (encoder.py), and the oversampled true peak
is computed only around samples loud enough that the peak between them could reach the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..recipe import SAMPLE_RATE
from ..speech.loudness import interpolators

PROMISE_DBTP = -1.0
"""What the README promises: the MP3's true peak is under this, by any BS.1770 meter."""
LIMIT_DBTP = -1.2
"""What this meter holds the MP3 to: meters differ a little by their interpolation filters,
so the limit keeps a margin from the promise."""
TARGET_DBTP = -1.6
"""Where a correction aims, so a re-encode's own overshoot stays under the limit."""
PASSES = 4
"""Encodes at most, the first included."""
RAMP_MS = 10
"""A correction fades in and out over this, so it does not click."""
MERGE_MS = 30
"""Overs closer than this are corrected as one stretch."""


OVERSAMPLE = 8
"""The meter looks at 8 points between two samples (BS.1770 asks for at least 4; with 4 it read
up to 0.15 dB under ffmpeg's ebur128 meter)."""


@dataclass(frozen=True)
class Correction:
    """Turn samples [start, end) down to `gain` (with ramps outside them)."""

    start: int
    end: int
    gain: float


class Meter:
    """Finds where a stream of decoded samples is over the true-peak limit, block by block.

    Memory stays flat: each block is metered with the few samples before it that its first
    interpolated points need, and only the points over the limit are kept.
    """

    def __init__(self, limit_dbtp: float):
        self.limit = 10 ** (limit_dbtp / 20)
        self.filters = interpolators(OVERSAMPLE)
        self.taps = self.filters[0].size
        # Between two samples the 4x interpolation can exceed them by at most the sum of its
        # taps' magnitudes: no true peak over the limit lies away from a sample over limit / that.
        self.loud = self.limit / max(float(np.abs(h).sum()) for h in self.filters)
        self.carry = np.zeros(self.taps, np.float64)  # the last samples seen
        self.seen = 0  # samples fed, skipped ones included
        self.points: list[np.ndarray] = []
        self.peaks: list[np.ndarray] = []

    def feed(self, pcm: np.ndarray) -> None:
        """Meter the next int16 samples of the stream."""
        x = np.concatenate((self.carry, pcm / 32768.0))
        origin = self.seen - self.taps  # stream position of x[0]
        self._meter(x, origin, self.taps // 2, x.size - self.taps // 2)
        self.carry = x[-self.taps:]
        self.seen += pcm.size

    def finish(self) -> None:
        x = np.concatenate((self.carry, np.zeros(self.taps)))
        self._meter(x, self.seen - self.taps, self.taps // 2, self.taps)

    def _meter(self, x: np.ndarray, origin: int, lo: int, hi: int) -> None:
        """Meter the points x[lo:hi]: each sample, and as in loudness.true_peak_envelope,
        the interpolated points sum(x[c-8+k] * h[k])."""
        half = self.taps // 2
        loud = np.flatnonzero(np.abs(x) > self.loud)
        if loud.size == 0:
            return
        near = np.zeros(x.size + self.taps, dtype=bool)
        for offset in range(self.taps):
            near[loud + offset] = True
        centers = np.flatnonzero(near[half - 1: half - 1 + x.size])
        centers = centers[(centers >= lo) & (centers < hi)]
        windows = np.lib.stride_tricks.sliding_window_view(x, self.taps)[centers - half]
        peak = np.abs(x[centers])
        for h in self.filters:
            np.maximum(peak, np.abs(windows @ h), out=peak)
        over = peak > self.limit
        self.points.append(centers[over] + origin)
        self.peaks.append(peak[over])

    def stretches(self, skip: int, length: int) -> list[tuple[int, int, float]]:
        """(start, end, true peak) of every stretch over the limit in the `length` samples
        after the first `skip` (the codec's delay), counted from there."""
        points = np.concatenate(self.points) - skip if self.points else np.zeros(0, np.int64)
        peaks = np.concatenate(self.peaks) if self.peaks else np.zeros(0)
        keep = (points >= 0) & (points < length)
        points, peaks = points[keep], peaks[keep]
        if points.size == 0:
            return []
        merge = MERGE_MS * SAMPLE_RATE // 1000
        breaks = np.flatnonzero(np.diff(points) > merge)
        firsts = np.concatenate(([0], breaks + 1))
        lasts = np.concatenate((breaks, [points.size - 1]))
        return [(int(points[f]), int(points[l]) + 1, float(peaks[f: l + 1].max())) for f, l in zip(firsts, lasts)]


def corrections(found: list[tuple[int, int, float]], sample_rate: int, target_dbtp: float = TARGET_DBTP) -> list[Correction]:
    target = 10 ** (target_dbtp / 20)
    pad = MERGE_MS * sample_rate // 1000
    return [Correction(start - pad, end + pad, target / peak) for start, end, peak in found]


def apply(blocks: Iterable[np.ndarray], fixes: list[Correction], sample_rate: int, start: int = 0) -> Iterator[np.ndarray]:
    """The blocks, the first starting at sample `start` of the session, with every correction
    applied (gains multiply where corrections overlap)."""
    ramp = RAMP_MS * sample_rate // 1000
    position = start
    for block in blocks:
        end = position + block.size
        touching = [fix for fix in fixes if fix.start - ramp < end and fix.end + ramp > position]
        if touching:
            block = block.copy()
            index = np.arange(position, end)
            for fix in touching:
                # 1 outside, `gain` inside [start, end), raised-cosine ramps of `ramp` between.
                distance = np.maximum(fix.start - index, index - (fix.end - 1)).clip(0, ramp) / ramp
                block *= (fix.gain + (1 - fix.gain) * (0.5 - 0.5 * np.cos(np.pi * distance))).astype(np.float32)
        yield block
        position = end
