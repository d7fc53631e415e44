"""Stage 2, speak: unique phrases -> verified, cleaned clips, from the cache or synthesized.

Which engine speaks is hidden behind `engines`: clips come back from its worker processes
checked, cleaned and resampled to SAMPLE_RATE, whatever the engine's rate, and are checked
again here, one by one and (their pace) worker by worker, before they are cached.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import SpeechError
from ..routine.model import Voice
from . import engines
from .cache import ClipCache, clip_key, clip_settings
from .checks import check_clip, check_pace
from .interface import Engine
from .lexicon import Pronounce, spoken_forms
from .clips import read_wav
from .workers import ProcessWorker

log = logging.getLogger(__name__)

ATTEMPTS = 3


@dataclass(frozen=True)
class SpeechStats:
    """What one `speak` call did."""

    phrases: int
    synthesized: int
    retries: int


def speak(
    texts: Iterable[str],
    voice: Voice,
    cache: ClipCache,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    pronounce: Pronounce = (),
) -> tuple[dict[str, np.ndarray], SpeechStats]:
    """Clips for every text, from the cache or synthesized (in `jobs` parallel workers).

    Each text is said in its spoken form (lexicon.py: the routine's `pronounce` entries and
    the shipped lexicon applied); the clips come back under the texts as written.
    Synthesized clips are cached only once every worker's clips have passed the pace check
    (checks.check_pace), so a worker at the wrong rate leaves nothing behind.
    """
    written = spoken_forms(dict.fromkeys(texts), pronounce)
    clips, stats = _speak(list(dict.fromkeys(written.values())), voice, cache, jobs, progress)
    return {text: clips[said] for text, said in written.items()}, stats


def _speak(
    texts: list[str], voice: Voice, cache: ClipCache, jobs: int, progress: Callable[[str], None] | None,
) -> tuple[dict[str, np.ndarray], SpeechStats]:
    """Clips for every text as it is to be said."""
    engine = engines.get(voice.engine)
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

    def __init__(self, engine: Engine, voice: Voice, workers: int):
        self.engine = engine
        self.voice = voice
        self.worker_count = workers
        self.local = threading.local()
        self.workers: list[ProcessWorker] = []
        self.lock = threading.Lock()
        self.tmp = tempfile.TemporaryDirectory(prefix="voiceguide-speak-")

    def worker(self) -> ProcessWorker:
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


