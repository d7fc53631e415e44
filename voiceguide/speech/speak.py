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

from . import clipfile, engines
from ..audio import loudness
from .checks import check_clip, check_pace
from ..errors import SpeechError
from ..routine.model import Voice
from ..recipe import CLIP_FORMAT_VERSION, CLIP_RECIPE, SAMPLE_RATE  # noqa: F401 (re-exported)

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
    """Clips as 16-bit mono WAV files named by the hash of what made them, each with its record.

    An entry carries a `vgcl` chunk before its samples: the clip's record (its key, a hash of
    its text, the settings it was made with, its length and a hash of its samples). An entry
    is used only when the record says it is the clip of the key and text asked for, and the
    samples are the ones recorded; anything else (torn, a directory, unreadable, another
    line's clip, changed samples) is a miss. A cache that cannot be written is used as it is,
    with one warning, and the build goes on.
    """

    def __init__(self, root: Path):
        self.root = root / "clips"
        self.writable = True

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.wav"

    def get(self, key: str, text: str) -> np.ndarray | None:
        """The cached clip of `text` under `key` as float32 samples, or None."""
        try:
            with open(self.path(key), "rb") as f:
                data = f.read(MAX_ENTRY_BYTES + 1)
            record, pcm = clipfile.parse(data)
        except (OSError, ValueError):
            return None
        if (record.get("key") != key or record.get("text") != text_hash(text)
                or record.get("samples") != pcm.size or record.get("pcm") != clipfile.pcm_hash(pcm)):
            log.info("cache entry %s is not the clip its key names: a miss", key)
            return None
        return pcm.astype(np.float32) / 32768.0

    def put(self, key: str, text: str, samples: np.ndarray, settings: dict) -> None:
        if not self.writable:
            return
        path = self.path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
            with os.fdopen(fd, "wb") as f:
                f.write(clipfile.entry(key, text_hash(text), settings, samples))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as error:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            if isinstance(error, IsADirectoryError):  # one entry is in the way: skip just it
                log.warning("warning: speech cache entry %s is a directory; not caching that line", path)
                return
            self.writable = False
            log.warning("warning: speech cache %s is not writable (%s); building without caching",
                        self.root, error.strerror or error)


MAX_ENTRY_BYTES = 64 << 20
"""No clip is near this (a minute of speech is 2.6 MB); a bigger entry is not read."""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def clip_settings(voice: Voice, identity: tuple[str, str]) -> dict:
    """Everything besides the text that makes a clip sound as it does; `identity` is the
    engine's (library, voice) identity."""
    library, voice_identity = identity
    return {**CLIP_RECIPE, "engine": voice.engine, "library": library, "voice": voice_identity, "rate": voice.rate}


def clip_key(voice: Voice, identity: tuple[str, str], text: str) -> str:
    """The cache key of a clip."""
    fields = {**clip_settings(voice, identity), "text": text}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def speak(
    texts: Iterable[str],
    voice: Voice,
    cache: ClipCache,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, np.ndarray], SpeechStats]:
    """Clips for every text, from the cache or synthesized (in `jobs` parallel workers).

    Synthesized clips are cached only once every worker's clips have passed the pace check
    (checks.check_pace), so a worker at the wrong rate leaves nothing behind.
    """
    engine = engines.get(voice.engine)
    texts = list(dict.fromkeys(texts))
    identity = engine.identity(voice)
    settings = clip_settings(voice, identity)
    keys = {text: clip_key(voice, identity, text) for text in texts}
    clips: dict[str, np.ndarray] = {}
    missing = []
    for text in texts:
        clip = cache.get(keys[text], text)
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
        said: dict[int, list[tuple[str, np.ndarray]]] = {}  # by worker
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for worker, done, failed in pool.map(synthesizer.say, batches):
                    for text, clip, tries in done:
                        said.setdefault(worker, []).append((text, clip))
                        retries += tries - 1
                        if progress:
                            progress(text)
                    failures += failed
        finally:
            synthesizer.close()
        english = engine.english(voice)
        for lines in said.values():
            problem = check_pace(voice.engine, english, [(text, clip.size) for text, clip in lines], voice.rate)
            if problem:
                raise SpeechError(f"{voice.engine} worker failed its pace check: {problem}")
        for lines in said.values():
            for text, clip in lines:
                cache.put(keys[text], text, clip, settings)
                clips[text] = clip
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

    def say(self, texts: list[str]) -> tuple[int, list[tuple[str, np.ndarray, int]], list[tuple[str, str]]]:
        """Which worker said them, (text, clip, tries) for each text said, and (text, why)
        for each that could not be."""
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
        return id(worker), said, [(text, problems[text]) for text in pending]

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.tmp.cleanup()


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
    """`samples` as a 16-bit mono WAV file; read_wav gives back exactly what was written."""
    pcm = clipfile.pcm16(samples)
    with wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
