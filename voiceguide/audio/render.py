"""Stage 4, render: Timeline + clips -> PCM blocks in time order. The only place that mixes.

The session is rendered as a stream of fixed-size blocks, each holding only the sounds that
overlap it, so memory stays flat however long the session is and the encoder can start at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Mapping

import numpy as np

from .chimes import chime
from ..speech.loudness import CEILING_DBTP, limiter_gain
from ..plan import Timeline

if TYPE_CHECKING:
    from .music import Music

BLOCK_MS = 5000


def sounds(timeline: Timeline, clips: Mapping[str, np.ndarray], sample_rate: int, chimes: str) -> list[tuple[int, np.ndarray]]:
    """(start sample, samples) of everything audible, sorted by start."""
    placed = []
    for event in timeline.events:
        if event.kind == "speech":
            placed.append((event.start_ms * sample_rate // 1000, clips[event.text]))
        elif event.kind == "chime" and chimes != "none":
            placed.append((event.start_ms * sample_rate // 1000, chime(event.sound, sample_rate, chimes)))
    placed.sort(key=lambda item: item[0])
    return placed


QUIET_CELLS_AROUND_CUT = 16
"""Silent cells on each side of a cut: more than the margins SilenceGaps keeps on both sides
of a gap (silence.MARGIN_CELLS), so the cut falls inside a gap."""


def quiet_cut(placed: list[tuple[int, np.ndarray]], cell: int) -> int | None:
    """Where the session of the `placed` sounds (see `sounds`) can be cut in two for two
    encoders (export.export's `cut`): a multiple of `cell` with QUIET_CELLS_AROUND_CUT cells of
    silence on each side and sound on both, where the sound before it is nearest half of all
    the sound; None if there is no such place."""
    reach = QUIET_CELLS_AROUND_CUT * cell
    stretches = []  # (silence starts, silence ends, sound before it)
    heard, quiet_from = 0, 0
    for start, samples in placed:
        if start > quiet_from:
            stretches.append((quiet_from, start, heard))
        heard += max(0, start + samples.size - max(start, quiet_from))
        quiet_from = max(quiet_from, start + samples.size)
    cuts = [(abs(before - heard / 2), cut) for lo, hi, before in stretches
            for cut in [-(-(lo + reach) // cell) * cell] if cut + reach <= hi and before > 0]
    return min(cuts)[1] if cuts else None


def render(
    timeline: Timeline, clips: Mapping[str, np.ndarray], sample_rate: int, chimes: str = "soft",
    block_ms: int = BLOCK_MS, music: Music | None = None, start: int = 0, end: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield the session (samples [start, end) of it) as float32 blocks; sounds are added at
    their exact sample positions, over the music (music.py), if there is any (from the start)."""
    mixer = music.mixer(sample_rate) if music else None
    try:
        yield from _render(timeline, clips, sample_rate, chimes, block_ms, mixer, start, end)
    finally:
        if mixer:
            mixer.close()


def _render(timeline: Timeline, clips: Mapping[str, np.ndarray], sample_rate: int, chimes: str, block_ms: int,
            mixer, start: int, end: int | None) -> Iterator[np.ndarray]:
    placed = sounds(timeline, clips, sample_rate, chimes)
    total = timeline.duration_ms * sample_rate // 1000
    total = total if end is None else min(end, total)
    block = block_ms * sample_rate // 1000
    # Each block is mixed with a margin on both sides, so the limiter sees the same
    # neighbourhood of every sample as it would in one pass over the whole session.
    margin = int(0.02 * sample_rate)
    # Lines alone are already under the ceiling (to within a 16-bit step or two, which is not
    # worth limiting): only sums of sounds can be over it.
    trigger = 10 ** (CEILING_DBTP / 20) + 4 / 32768
    reach = int(0.01 * sample_rate)  # more than the limiter's window and its smoothing
    upcoming = 0
    active: list[tuple[int, np.ndarray]] = []
    for block_start in range(start, total, block):
        block_end = min(block_start + block, total)
        while upcoming < len(placed) and placed[upcoming][0] < block_end + margin:
            active.append(placed[upcoming])
            upcoming += 1
        out = _mix(active, block_start - margin, block_end + margin)
        overs = np.flatnonzero(np.abs(out) > trigger)  # where a chime's tail rings under a word
        if mixer:
            # Under the voice the music is 30 dB down: it may lift a peak by a tenth of a dB,
            # which the MP3's own meter still catches, but it does not make a stretch to limit.
            mixer.add_to(out, block_start - margin)
        if overs.size:
            # The limiter only lowers the gain within its window of an over: limit that stretch.
            lo, hi = max(0, overs[0] - reach), min(out.size, overs[-1] + reach)
            out[lo:hi] *= limiter_gain(out[lo:hi], sample_rate)
        active = [(s, x) for s, x in active if s + x.size > block_end - margin]
        yield out[margin: margin + block_end - block_start]


def _mix(active: list[tuple[int, np.ndarray]], lo: int, hi: int) -> np.ndarray:
    """Sum of the sounds over samples [lo, hi)."""
    out = np.zeros(hi - lo, dtype=np.float32)
    for start, samples in active:
        a, b = max(start, lo), min(start + samples.size, hi)
        if b > a:
            out[a - lo: b - lo] += samples[a - start: b - start]
    return out
