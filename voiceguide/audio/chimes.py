"""Stage 4, render: chimes, bell-like tones synthesized from decaying partials; nothing is downloaded.

Their lengths are the planner's (plan.CHIME_MS), so chimes are placed without making any audio.
"""

from __future__ import annotations

from functools import lru_cache

from ..plan import CHIME_MS

# (note onset in ms, fundamental Hz) for each chime and style: one strike to start a hold, a
# lower one to end it, a rising pair for the next exercise, a falling triad to close.
_NOTES = {
    "soft": {
        "hold_start": [(0, 659.25)],
        "hold_end": [(0, 440.0)],
        "next": [(0, 523.25), (180, 783.99)],
        "end": [(0, 659.25), (260, 523.25), (520, 392.0)],
    },
    "bright": {
        "hold_start": [(0, 880.0)],
        "hold_end": [(0, 587.33)],
        "next": [(0, 659.25), (180, 987.77)],
        "end": [(0, 783.99), (260, 659.25), (520, 523.25)],
    },
}

# Partials: (frequency ratio, relative level, decay time constant in s). "soft" is harmonic
# and warm, like a singing bowl; "bright" has a small bell's inharmonic overtones.
_PARTIALS = {
    "soft": [(1.0, 1.0, 0.70), (2.0, 0.30, 0.40), (3.0, 0.12, 0.25)],
    "bright": [(1.0, 1.0, 0.60), (2.0, 0.45, 0.35), (2.76, 0.25, 0.22), (5.40, 0.10, 0.12), (8.93, 0.05, 0.07)],
}
_LEVEL = 0.35  # peak of a chime, well under speech (about -9 dBFS)


@lru_cache(maxsize=None)
def chime(name: str, sample_rate: int, style: str = "soft"):
    """The chime as float32 samples in [-1, 1], exactly CHIME_MS[name] long (silent for "none")."""
    import numpy as np

    length = CHIME_MS[name] * sample_rate // 1000
    out = np.zeros(length, dtype=np.float64)
    if style == "none":
        return out.astype(np.float32)
    for onset_ms, fundamental in _NOTES[style][name]:
        start = onset_ms * sample_rate // 1000
        t = np.arange(length - start) / sample_rate
        note = sum(level * np.exp(-t / decay) * np.sin(2 * np.pi * fundamental * ratio * t)
                   for ratio, level, decay in _PARTIALS[style] if fundamental * ratio < sample_rate / 2)
        attack = np.minimum(t / 0.004, 1.0)  # 4 ms attack: a soft strike, no click
        out[start:] += note * attack
    release = np.minimum((length - 1 - np.arange(length)) / (0.05 * sample_rate), 1.0)
    out *= release  # the tail reaches exact zero at the chime's planned end
    out *= _LEVEL / max(np.max(np.abs(out)), 1e-9)
    return out.astype(np.float32)
