"""Stage 2, speak: what an engine module is, for `speak`, `build`, `check` and `voices`.

An engine is a module (`pyttsx3_engine`, `piper_engine`) with the functions of `Engine`; its
sample rate, libraries, models and quirks stay inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..routine.model import Voice
from .workers import ProcessWorker


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine can speak with."""

    engine: str
    id: str
    """What --voice (or a routine's `voice:`) takes."""
    language: str
    sample_rate: int
    """The engine's own rate; clips are resampled to the session's rate."""


class Engine(Protocol):
    """What `speak`, `build`, `check` and `voices` need from an engine module."""

    NAME: str
    INSTALL: str
    """How to install the engine, for messages."""
    BATCH: int
    """Phrases handed to a worker in one request (1 where the engine needs one at a time)."""

    def installed(self) -> bool: ...

    def identity(self, voice: Voice) -> tuple[str, str]:
        """(library, voice) identities for cache and build keys: everything besides the
        rate and the text that changes the sound. Cheap: starts no engine. Raises
        SpeechError when the engine or the voice is not available."""

    def english(self, voice: Voice) -> bool:
        """Whether `voice` speaks English (the pace check's syllable estimate is English's)."""

    def workers(self, jobs: int) -> int:
        """How many worker processes to run for `jobs` parallel jobs."""

    def worker(self, voice: Voice, workers: int) -> ProcessWorker:
        """A new (not yet started) worker process speaking with `voice`, one of `workers`."""

    def voices(self) -> list[VoiceInfo]: ...
