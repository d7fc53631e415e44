"""Stage 2, speak: clip files and their finishing: WAV in and out, resampling, trimming, loudness.

Used by the engines' worker processes, which finish each clip as they make it (so the work is
spread over the cores), and by `speak`, which reads the clips back.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from . import loudness
from ..recipe import SAMPLE_RATE
from . import clipfile
from .checks import check_clip

SILENCE_DBFS = -45.0  # below this, a clip's leading and trailing samples count as silence


EDGE_FADE_MS = 6


def finish_samples(samples: np.ndarray, rate: int, out: Path, text: str, words_per_minute: int) -> str:
    """Resample freshly synthesized audio to SAMPLE_RATE, check it and write it cleaned to `out`.

    Returns why the clip is unusable, or '' when `out` was written.
    """
    samples = resample(np.asarray(samples, dtype=np.float32), rate, SAMPLE_RATE)
    problem = check_clip(samples, SAMPLE_RATE, text, words_per_minute)
    if not problem:
        with open(out, "wb") as f:
            write_wav(f, clean_clip(samples), SAMPLE_RATE)
    return problem


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`samples` at `rate` Hz, resampled to `target` Hz (band-limited, through the FFT).

    Clips are a few seconds long, so one FFT of the whole clip is cheap and exact: the
    spectrum is cut (or zero-extended) at the lower Nyquist frequency. The clip is padded with
    silence to a whole number of periods of both rates, so the FFT's wrap-around joins
    silence to silence and the output length is exactly `size * target / rate`.
    """
    if rate == target or samples.size == 0:
        return samples
    step = rate // math.gcd(rate, target)  # input samples per whole number of output samples
    pad = -(-(rate // 20) // step) * step  # at least 50 ms of silence either side
    length = -(-(samples.size + 2 * pad) // step) * step
    padded = np.zeros(length, np.float64)
    padded[pad: pad + samples.size] = samples
    out_length = length * target // rate
    spectrum = np.fft.rfft(padded)
    bins = out_length // 2 + 1
    spectrum = spectrum[:bins] if bins <= spectrum.size else np.pad(spectrum, (0, bins - spectrum.size))
    if out_length % 2 == 0 and bins <= length // 2 + 1:
        spectrum[-1] = spectrum[-1].real  # the new Nyquist bin of a downsampled real signal
    resampled = np.fft.irfft(spectrum, out_length) * (out_length / length)
    start = pad * target // rate
    return resampled[start: start + samples.size * target // rate].astype(np.float32)


def prepare() -> None:
    """Finish a clip once before the first line, so the first line does not pay for what every
    clip reuses (the limiter's filters; each FFT length's filter responses are kept as lines
    need them, loudness._fft_length)."""
    clean_clip((0.3 * np.sin(np.arange(SAMPLE_RATE) * 0.1)).astype(np.float32))


def clean_clip(samples: np.ndarray) -> np.ndarray:
    """Trim leading and trailing silence (so onsets are exact), bring the clip to the target
    loudness under the true-peak ceiling, and fade the edges (no clicks)."""
    threshold = 10 ** (SILENCE_DBFS / 20)
    loud = np.flatnonzero(np.abs(samples) > threshold)
    samples = loudness.normalize(samples[loud[0]: loud[-1] + 1], SAMPLE_RATE)
    fade = min(EDGE_FADE_MS * SAMPLE_RATE // 1000, samples.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        samples[:fade] *= ramp
        samples[-fade:] *= ramp[::-1]
    return samples


def clip_ms(samples: np.ndarray) -> int:
    return round(samples.size * 1000 / SAMPLE_RATE)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit mono WAV file as float32 samples; raises ValueError if it is truncated."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("expected 16-bit mono")
        frames = w.getnframes()
        data = w.readframes(frames)
        rate = w.getframerate()
    if len(data) != frames * 2:
        raise ValueError(f"truncated: header says {frames} frames, found {len(data) // 2}")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0, rate


def write_wav(f, samples: np.ndarray, rate: int) -> None:
    """`samples` as a 16-bit mono WAV file; read_wav gives back exactly what was written."""
    pcm = clipfile.pcm16(samples)
    with wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
