"""Loudness: ITU-R BS.1770 measurement and a true-peak lookahead limiter, in numpy.

Speech clips are brought to the target loudness one by one (and cached that way), so the
session needs no second pass over its whole length: the render stage only adds a safety
limiter where a chime's tail rings under a word.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..recipe import CEILING_DBTP, LOWPASS_HZ, SPEECH_LUFS, TARGET_LUFS  # noqa: F401 (TARGET_LUFS for callers)

OVERSAMPLE = 4
LIMITER_WINDOW_MS = 4.0

# K-weighting: a high shelf (+4 dB above ~1.7 kHz) then a high pass at ~38 Hz (BS.1770-4),
# designed for any sample rate from their analogue parameters.
_SHELF = (3.99984385397, 0.7071752369554193, 1681.9744509555319)
_HIGHPASS = (0.5003270373253953, 38.13547087613982)


def _k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    gain_db, q, fc = _SHELF
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * fc / sample_rate
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    shelf = (
        np.array([a * ((a + 1) + (a - 1) * cos + 2 * np.sqrt(a) * alpha),
                  -2 * a * ((a - 1) + (a + 1) * cos),
                  a * ((a + 1) + (a - 1) * cos - 2 * np.sqrt(a) * alpha)]),
        np.array([(a + 1) - (a - 1) * cos + 2 * np.sqrt(a) * alpha,
                  2 * ((a - 1) - (a + 1) * cos),
                  (a + 1) - (a - 1) * cos - 2 * np.sqrt(a) * alpha]),
    )
    q, fc = _HIGHPASS
    w0 = 2 * np.pi * fc / sample_rate
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    highpass = (
        np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]),
        np.array([1 + alpha, -2 * cos, 1 - alpha]),
    )
    return [shelf, highpass]


@lru_cache(maxsize=64)
def _k_response(n: int, sample_rate: int) -> np.ndarray:
    """The K-weighting filters' frequency response at the bins of an n-point real FFT."""
    z = np.exp(-1j * np.pi * np.arange(n // 2 + 1) / (n // 2))
    response = np.ones(n // 2 + 1, dtype=complex)
    for b, a in _k_weighting(sample_rate):
        response *= np.polyval(b[::-1], z) / np.polyval(a[::-1], z)
    return response


def k_weighted(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The signal through the K-weighting filters (applied in the frequency domain)."""
    tail = sample_rate // 4  # room for the filters' ringing, so it does not wrap around
    n = 1 << int(np.ceil(np.log2(samples.size + tail)))
    spectrum = np.fft.rfft(samples.astype(np.float64), n) * _k_response(n, sample_rate)
    return np.fft.irfft(spectrum, n)[: samples.size]


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS (mono); -inf for silence."""
    return _gated_loudness(k_weighted(samples, sample_rate), sample_rate)


def _gated_loudness(weighted: np.ndarray, sample_rate: int) -> float:
    """BS.1770 gating over 400 ms blocks (75% overlap) of an already K-weighted signal."""
    return _gated_from_energies(_block_energies(np.square(weighted), sample_rate), weighted.size, sample_rate)


@lru_cache(maxsize=None)
def interpolators(oversample: int = OVERSAMPLE) -> list[np.ndarray]:
    """Polyphase FIR filters (windowed sinc, 16 taps each) for the points between two samples
    when oversampling `oversample` times (4, as BS.1770's true-peak meter does, by default)."""
    taps = np.arange(-8, 8)
    filters = []
    for phase in range(1, oversample):
        h = np.sinc(taps + phase / oversample) * np.kaiser(taps.size, 5.0)
        filters.append(h / h.sum())
    return filters


def true_peak_envelope(samples: np.ndarray) -> np.ndarray:
    """For each sample, the largest magnitude of the signal 4x oversampled around it."""
    x = samples.astype(np.float64)
    envelope = np.abs(x)
    for h in interpolators():
        # Output i is the signal between samples i and i+1; 'full' then trimmed to align.
        between = np.convolve(x, h[::-1], mode="full")[7: 7 + x.size]
        np.maximum(envelope, np.abs(between), out=envelope)
    return envelope


def true_peak_db(samples: np.ndarray) -> float:
    peak = float(true_peak_envelope(samples).max(initial=0.0))
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def _moving_min(values: np.ndarray, radius: int) -> np.ndarray:
    """Minimum over [i - radius, i + radius] for every i, in O(n) (van Herk / Gil-Werman)."""
    width = 2 * radius + 1
    padded = np.concatenate([np.ones(radius), values, np.ones(radius + width)])
    blocks = padded[: (padded.size // width) * width].reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    i = np.arange(values.size)
    return np.minimum(suffix[i], prefix[i + width - 1])


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over [i - radius, i + radius] (edges padded with 1: no gain change)."""
    padded = np.concatenate([np.ones(radius + 1), values, np.ones(radius)])
    sums = np.cumsum(padded)
    width = 2 * radius + 1
    return (sums[width:] - sums[:-width]) / width


def limiter_gain(samples: np.ndarray, sample_rate: int, ceiling_db: float = CEILING_DBTP) -> np.ndarray:
    """A smooth gain curve (≤ 1) that keeps the true peak under the ceiling."""
    return _gain_for_peaks(true_peak_envelope(samples), sample_rate, ceiling_db)


def _gain_for_peaks(peaks: np.ndarray, sample_rate: int, ceiling_db: float) -> np.ndarray:
    """The limiter's gain for a true-peak envelope."""
    radius = int(LIMITER_WINDOW_MS * sample_rate / 1000)
    return _gain_for_held_peaks(-_moving_min(-peaks, radius), sample_rate, ceiling_db)


def _gain_for_held_peaks(held_peaks: np.ndarray, sample_rate: int, ceiling_db: float) -> np.ndarray:
    """The limiter's gain, from the largest true peak within its window of each sample.

    The gain each sample needs is taken over a short window on both sides (lookahead, so the
    gain is already down when a peak arrives), then smoothed by two moving averages whose
    combined reach is no wider than that window, which keeps every sample at or under the
    gain it needs. Outside the reach of the samples that need less than 1, the gain is 1, so
    only the stretch between the first and the last of them is smoothed.
    """
    ceiling = 10 ** (ceiling_db / 20)
    over = np.flatnonzero(held_peaks > ceiling)
    gain = np.ones(held_peaks.shape)
    if over.size == 0:
        return gain
    radius = int(LIMITER_WINDOW_MS * sample_rate / 1000)
    lo, hi = max(0, over[0] - radius), min(held_peaks.size, over[-1] + radius + 1)
    need = np.minimum(1.0, ceiling / np.maximum(held_peaks[lo:hi], 1e-12))
    gain[lo:hi] = _box(_box(need, radius // 2), radius // 2)
    return gain


def _fft_length(n: int) -> int:
    """The FFT length used for `n` samples: the next of 8, 9, 10, 12 or 15 times a power of
    two (pocketfft is fast at these, and a clip wastes at most a quarter of its FFT on padding,
    against up to half with powers of two alone; few lengths, so their filters are cached)."""
    power = 1 << max(0, n.bit_length() - 4)
    while True:
        for m in (8, 9, 10, 12, 15, 16):
            if m * power >= n:
                return m * power
        power *= 2


@lru_cache(maxsize=64)
def _band_response(n: int, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """The band limit's slope at the bins of an n-point real FFT."""
    frequencies = np.fft.rfftfreq(n, 1 / sample_rate)
    slope = np.clip((frequencies - (cutoff_hz - 500)) / 1000, 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * slope)


def _band_limited_and_weighted(samples: np.ndarray, sample_rate: int,
                               cutoff_hz: float = LOWPASS_HZ) -> tuple[np.ndarray, np.ndarray]:
    """The clip without what lies above `cutoff_hz` (a 1 kHz raised-cosine slope), and that
    through the K-weighting filters, from one forward FFT (numpy's is no faster in float32).

    eSpeak NG puts energy right up to the Nyquist frequency. A 64 kbps MP3 encoder cuts
    below that, and cutting changes the shape of the peaks: measured on our sessions, true
    peaks rose by 2 to 3 dB through the encoder with content left up to 9 kHz, and by about
    1 dB with a 7.5 kHz band limit, which speech (telephone: 3.4 kHz) does not miss.
    """
    n = _fft_length(samples.size + sample_rate // 4)  # room for the filters' ringing: no wrap-around
    banded = np.fft.rfft(samples.astype(np.float64), n)
    banded *= _band_response(n, sample_rate, cutoff_hz)
    weighted = np.fft.irfft(banded * _k_response(n, sample_rate), n)[: samples.size]
    return np.fft.irfft(banded, n)[: samples.size], weighted


def _block_energies(squares: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sums of `squares` over the 100 ms steps of BS.1770's gating blocks (the last step
    partial), in float64."""
    step = int(0.1 * sample_rate)
    return np.add.reduceat(squares, np.arange(0, squares.size, step), dtype=np.float64)


def _gated_from_energies(energies: np.ndarray, size: int, sample_rate: int) -> float:
    """_gated_loudness of a signal of `size` samples from the energies of its 100 ms steps."""
    step = int(0.1 * sample_rate)
    block = 4 * step
    if size <= block:
        powers = np.array([energies.sum() / max(size, 1)])
    else:
        # A block is four whole steps: blocks start every step while a whole block fits.
        starts = (size - block) // step + 1
        sums = np.convolve(energies[: starts + 3], np.ones(4), mode="valid")[:starts]
        powers = sums / block
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(powers)
    powers = powers[loudness > -70.0]
    if powers.size == 0:
        return float("-inf")
    relative_gate = -0.691 + 10 * np.log10(np.mean(powers)) - 10.0
    with np.errstate(divide="ignore"):
        kept = powers[-0.691 + 10 * np.log10(powers) > relative_gate]
    return float(-0.691 + 10 * np.log10(np.mean(kept)))


def normalize(samples: np.ndarray, sample_rate: int, target_lufs: float = SPEECH_LUFS,
              ceiling_db: float = CEILING_DBTP) -> np.ndarray:
    """Bring a clip to the target loudness with its true peak under the ceiling.

    A gain G then the limiter: the limiter eats part of any gain added to a peaky clip, so
    G is found by a few secant steps. The K-weighted signal and the true-peak envelope are
    computed once: both scale with G, and the limiter's slow gain is applied to the
    K-weighted signal directly (K-weighting and a gain that changes over milliseconds
    commute closely enough for a 0.1 LU target). Where the limiter leaves the gain at G, a
    block's energy is G² times its energy at no gain, so each round sums again only the
    blocks the limiter touches.
    """
    x, weighted = _band_limited_and_weighted(samples, sample_rate)
    squares = np.square(weighted)
    energies = _block_energies(squares, sample_rate)
    loudness = _gated_from_energies(energies, x.size, sample_rate)
    if not np.isfinite(loudness):
        return samples
    # The window's largest peak scales with the gain, so it is found once for every round.
    held_peaks = -_moving_min(-true_peak_envelope(x), int(LIMITER_WINDOW_MS * sample_rate / 1000))
    step = int(0.1 * sample_rate)

    def limited(gain_db: float) -> tuple[float, np.ndarray | float]:
        gain = 10 ** (gain_db / 20)
        curve = _gain_for_held_peaks(held_peaks * gain, sample_rate, ceiling_db)
        touched = np.flatnonzero(np.minimum.reduceat(curve, np.arange(0, curve.size, step)) < 1.0)
        scaled = energies * gain ** 2
        if touched.size == 0:  # gated again: blocks cross the absolute gate as the gain moves
            return _gated_from_energies(scaled, x.size, sample_rate), gain
        for b in touched:
            lo, hi = b * step, (b + 1) * step
            scaled[b] = gain ** 2 * float(np.dot(squares[lo:hi], np.square(curve[lo:hi])))
        return _gated_from_energies(scaled, x.size, sample_rate), gain * curve

    gain_db = target_lufs - loudness
    result, curve = limited(gain_db)
    previous = (0.0, loudness)  # no gain: the clip as it is
    for _ in range(4):
        if abs(result - target_lufs) < 0.1:
            break
        slope = (result - previous[1]) / (gain_db - previous[0]) if gain_db != previous[0] else 1.0
        previous = (gain_db, result)
        gain_db += (target_lufs - result) / max(slope, 0.2)
        result, curve = limited(gain_db)
    return (x * curve).astype(np.float32)
