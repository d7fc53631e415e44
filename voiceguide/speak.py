"""Stage 3, speak: unique phrases -> verified, cleaned clips, through a content-addressed cache.

Each phrase is synthesized once per voice: the cache key covers everything that changes its
sound (engine and library, voice or model, rate, text, clip format version). Entries are
written to a temporary file and renamed, and read back with checks, so a torn entry is a
miss, not a clip. Which engine speaks is hidden behind `engines`: clips come back from its
worker processes checked, cleaned and resampled to SAMPLE_RATE, whatever the engine's rate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import engines, loudness
from .errors import SpeechError
from .model import Voice
from .recipe import CLIP_FORMAT_VERSION, CLIP_RECIPE, SAMPLE_RATE  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

ATTEMPTS = 3
SILENCE_DBFS = -45.0  # below this, a clip's leading and trailing samples count as silence
EDGE_FADE_MS = 6


def cache_dir() -> Path:
    """$VOICEGUIDE_CACHE_DIR, else the user's cache directory."""
    override = os.environ.get("VOICEGUIDE_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voiceguide"


@dataclass(frozen=True)
class SpeechStats:
    """What one `speak` call did."""

    phrases: int
    synthesized: int
    retries: int


class ClipCache:
    """Clips as 16-bit mono WAV files named by the hash of what made them."""

    def __init__(self, root: Path):
        self.root = root / "clips"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.wav"

    def get(self, key: str) -> np.ndarray | None:
        """The cached clip as float32 samples, or None if missing or unreadable."""
        try:
            samples, rate = read_wav(self.path(key))
        except (OSError, ValueError, EOFError, wave.Error):
            return None
        return samples if rate == SAMPLE_RATE and samples.size else None

    def put(self, key: str, samples: np.ndarray) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
        try:
            with os.fdopen(fd, "wb") as f:
                write_wav(f, samples, SAMPLE_RATE)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise




def clip_key(voice: Voice, identity: tuple[str, str], text: str) -> str:
    """The cache key of a clip; `identity` is the engine's (library, voice) identity."""
    library, voice_identity = identity
    fields = {
        **CLIP_RECIPE, "engine": voice.engine, "library": library,
        "voice": voice_identity, "rate": voice.rate, "text": text,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def speak(
    texts: Iterable[str],
    voice: Voice,
    cache: ClipCache,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, np.ndarray], SpeechStats]:
    """Clips for every text, from the cache or synthesized (in `jobs` parallel workers)."""
    engine = engines.get(voice.engine)
    texts = list(dict.fromkeys(texts))
    identity = engine.identity(voice)
    keys = {text: clip_key(voice, identity, text) for text in texts}
    clips: dict[str, np.ndarray] = {}
    missing = []
    for text in texts:
        clip = cache.get(keys[text])
        if clip is None:
            missing.append(text)
        else:
            clips[text] = clip
    retries = 0
    if missing:
        workers = max(1, min(engine.workers(jobs), len(missing)))
        # Requests of up to BATCH phrases, but never so few requests that a worker sits idle;
        # the longest lines first, so the workers finish together.
        size = max(1, min(engine.BATCH, math.ceil(len(missing) / workers)))
        longest_first = sorted(missing, key=len, reverse=True)
        batches = [longest_first[i: i + size] for i in range(0, len(longest_first), size)]
        synthesizer = _Synthesizer(engine, voice, workers)
        failures = []
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for said, failed in pool.map(synthesizer.say, batches):
                    for text, clip, tries in said:
                        cache.put(keys[text], clip)
                        clips[text] = clip
                        retries += tries - 1
                        if progress:
                            progress(text)
                    failures += failed
        finally:
            synthesizer.close()
        if failures:  # after the others are cached, so a retry of the batch has less to say
            text, problem = failures[0]
            raise SpeechError(f'{voice.engine} could not say "{text}" after {ATTEMPTS} tries: {problem}')
    return clips, SpeechStats(len(texts), len(missing), retries)


class _Synthesizer:
    """Hands each thread its own worker process; verifies and retries every clip."""

    def __init__(self, engine: engines.Engine, voice: Voice, workers: int):
        self.engine = engine
        self.voice = voice
        self.worker_count = workers
        self.local = threading.local()
        self.workers: list[engines.ProcessWorker] = []
        self.lock = threading.Lock()
        self.tmp = tempfile.TemporaryDirectory(prefix="voiceguide-speak-")

    def worker(self) -> engines.ProcessWorker:
        if not hasattr(self.local, "worker"):
            self.local.worker = self.engine.worker(self.voice, self.worker_count)
            with self.lock:
                self.workers.append(self.local.worker)
        return self.local.worker

    def say(self, texts: list[str]) -> tuple[list[tuple[str, np.ndarray, int]], list[tuple[str, str]]]:
        """(text, clip, tries) for each text said, and (text, why) for each that could not be."""
        worker = self.worker()
        said = []
        problems: dict[str, str] = {}
        pending = texts
        for attempt in range(1, ATTEMPTS + 1):
            paths = [Path(self.tmp.name) / f"{threading.get_ident()}-{i}-{attempt}.wav" for i in range(len(pending))]
            for path in paths:
                path.unlink(missing_ok=True)
            try:
                answers = worker.synthesize(pending, paths)
            except SpeechError as error:  # the worker could not start
                answers = [str(error)] * len(pending)
            again = []
            for text, path, problem in zip(pending, paths, answers):
                if not problem:
                    try:
                        samples, rate = read_wav(path)
                        problem = check_clip(samples, rate, text, self.voice.rate)
                    except (OSError, ValueError, EOFError, wave.Error) as error:
                        problem = f"unreadable clip ({error})"
                if problem:
                    log.info("retrying %r: %s", text, problem)
                    problems[text] = problem
                    again.append(text)
                else:
                    said.append((text, samples, attempt))
            pending = again
            if not pending:
                break
            worker.stop()  # a fresh engine for the retries
        return said, [(text, problems[text]) for text in pending]

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.tmp.cleanup()


def check_clip(samples: np.ndarray, rate: int, text: str, words_per_minute: int) -> str:
    """Why a synthesized clip is unusable, or '' if it looks like the whole phrase."""
    if rate != SAMPLE_RATE:
        return f"expected {SAMPLE_RATE} Hz audio, found {rate} Hz"
    if samples.size == 0:
        return "empty clip"
    peak = float(np.max(np.abs(samples)))
    if peak < 0.01:
        return "silent clip"
    # A truncated clip is much shorter than the phrase needs: about six characters a word.
    expected_s = len(text) / 6 / words_per_minute * 60
    seconds = samples.size / rate
    if seconds < 0.3 * expected_s or seconds < 0.1:
        return f"clip too short ({seconds:.2f} s for about {expected_s:.1f} s of speech)"
    if seconds > 4 * expected_s + 2:
        return f"clip too long ({seconds:.2f} s for about {expected_s:.1f} s of speech)"
    return ""


def finish_clip(raw: Path, out: Path, text: str, words_per_minute: int) -> str:
    """Check a freshly synthesized WAV file and write its cleaned version to `out`.

    Runs inside the speech worker processes, so the cleaning is spread over the cores.
    Returns why the clip is unusable, or '' when `out` was written.
    """
    try:
        samples, rate = read_wav(raw)
    except (OSError, ValueError, EOFError, wave.Error) as error:
        return f"unreadable clip ({error})"
    return finish_samples(samples, rate, out, text, words_per_minute)


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
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
