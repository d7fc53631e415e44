"""The pyttsx3 speech engine: eSpeak NG through pyttsx3's bindings, run in worker processes.

Each worker process sets eSpeak NG up once, in synchronous mode, confirms the voice and rate
it reports, and says each line in a fork of that untouched set-up (see `Espeak` and
`_start` for why). The parent waits for each answer with a time limit, kills a hung worker,
and `speak` verifies every clip it gets back (see engines.py for the protocol). The worker
is this module run as a program.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys

from .espeak_library import library, wheel_library
from .interface import VoiceInfo
from .workers import ProcessWorker, Say, in_fork, serve
from ..errors import SpeechError
from ..routine.model import Voice

NAME = "pyttsx3"
SAMPLE_RATE = 22050  # what the eSpeak driver writes
DEFAULT_VOICE = "gmw/en-us"
STARTUP_TIMEOUT_S = 30.0
RATE_FACTOR = 0.865
"""eSpeak NG's own rate for a --rate: at its rate r it says 1.15r to 1.16r words per minute
(measured within the seed lines of six words or more at 120, 160 and 220), so --rate is the
pace as measured."""


def espeak_rate(rate: int) -> int:
    """The rate eSpeak NG is set to, for `rate` words per minute as measured."""
    return round(rate * RATE_FACTOR)


class Worker(ProcessWorker):
    """One worker process saying phrases to WAV files, one at a time."""

    name = NAME
    startup_timeout = STARTUP_TIMEOUT_S

    def __init__(self, voice: str, rate: int):
        super().__init__()
        self.voice = voice or DEFAULT_VOICE
        self.rate = rate

    def command(self) -> list[str]:
        return [sys.executable, "-m", "voiceguide.speech.pyttsx3_engine", self.voice, str(self.rate)]


# -- the engine interface (see engines.Engine) -------------------------------------------

INSTALL = "pip install pyttsx3 espeakng-loader, or sudo apt-get install espeak-ng"
BATCH = 1  # eSpeak says a line in milliseconds: batching would save nothing, and a hang costs one line


def installed() -> bool:
    return True  # a dependency of voiceguide itself


def identity(voice: Voice) -> tuple[str, str]:
    from importlib.metadata import version

    from .voices import check_espeak

    check_espeak(voice.voice)  # eSpeak NG would open a path, and say "bogus" in its default voice
    return f"{library()[1]} pyttsx3-{version('pyttsx3')}", voice.voice or DEFAULT_VOICE


def english(voice: Voice) -> bool:
    return re.search(r"(^|/)en($|-)", (voice.voice or DEFAULT_VOICE).lower()) is not None


def workers(jobs: int) -> int:
    return jobs  # eSpeak NG is light: a worker per job


def worker(voice: Voice, workers: int) -> Worker:
    return Worker(voice.voice, voice.rate)


def voices() -> list[VoiceInfo]:
    from .voices import list_espeak_voices

    return [VoiceInfo(NAME, id, language, SAMPLE_RATE) for id, language in list_espeak_voices()]


# -- the worker process ----------------------------------------------------------------


def _load_espeak():
    """pyttsx3's ctypes bindings of eSpeak NG, bound to the library `library()` chose."""
    path, _ = library()
    if wheel_library(path):  # point eSpeak NG at the wheel's data too
        import espeakng_loader

        os.environ.setdefault("ESPEAK_DATA_PATH", espeakng_loader.get_data_path())
    # Loaded globally under its soname, so pyttsx3's own dlopen("libespeak-ng.so.1") finds it.
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    from pyttsx3.drivers import _espeak

    return _espeak


class Espeak:
    """eSpeak NG in synchronous mode, set to one voice and rate, saying one line at a time.

    pyttsx3's own driver runs eSpeak NG asynchronously: parameter changes wait in eSpeak's
    command queue, and the driver's end of loop cancels that queue when eSpeak still looks
    busy. Under load the rate change was cancelled with it, and a worker spoke all its lines
    at the driver's 200 wpm instead of the rate asked for. In synchronous mode a setting takes
    effect when it is made, `Synth` returns when the line is complete, and no eSpeak thread
    runs, so nothing depends on timing.
    """

    def __init__(self, voice: str, rate: int):
        self.lib = _load_espeak()
        self.voice, self.rate = voice, rate
        self.pcm: list[bytes] = []
        if self.lib.Initialize(self.lib.AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0) != SAMPLE_RATE:
            raise SpeechError("eSpeak NG could not start (no voice data?)")
        self.lib.SetSynthCallback(self._collect)
        if self.lib.SetVoiceByName(voice.encode()) != self.lib.EE_OK:
            raise SpeechError(f"eSpeak NG has no voice {voice!r}")
        self.lib.SetParameter(self.lib.RATE, espeak_rate(rate), 0)
        # pyttsx3 binds espeak_GetParameter without its `current` argument.
        self.get_parameter = self.lib.dll.espeak_GetParameter
        self.get_parameter.argtypes = (ctypes.c_int, ctypes.c_int)
        self.get_parameter.restype = ctypes.c_int
        self.confirm()

    def settings(self) -> tuple[str, int]:
        """The voice and rate eSpeak NG itself reports, not the ones asked for."""
        current = self.lib.GetCurrentVoice()
        voice = current.contents.identifier.decode() if current and current.contents.identifier else ""
        return voice.lower(), self.get_parameter(self.lib.RATE, 1)  # voice ids are listed lower case

    def confirm(self) -> None:
        if self.settings() != (self.voice.lower(), espeak_rate(self.rate)):
            found, rate = self.settings()
            raise SpeechError(f"eSpeak NG is set to {found!r} at {rate} wpm, expected {self.voice!r} at {self.rate} wpm")

    def _collect(self, wav, count, events) -> int:
        if count > 0:
            self.pcm.append(ctypes.string_at(wav, count * 2))
        return 0

    def synthesize(self, text: str):
        """`text` spoken, as float32 samples at SAMPLE_RATE."""
        self.confirm()
        self.pcm = []
        if self.lib.Synth(text.encode(), flags=self.lib.ENDPAUSE | self.lib.CHARS_UTF8) != self.lib.EE_OK:
            raise SpeechError("eSpeak NG refused the line")
        import numpy as np

        return np.frombuffer(b"".join(self.pcm), dtype="<i2").astype(np.float32) / 32768.0


def _start(voice: str, rate: int) -> Say:
    """Set eSpeak NG up once; say every line from that set-up, untouched (workers.in_fork).

    Without the fork, the same line came out up to 200 samples longer or shorter, with other
    samples, depending on what the worker had said before. A fork costs about 2 ms; eSpeak NG
    says a line in about 5.
    """
    import numpy  # noqa: F401  (imported before the forks, so no line pays for it)

    espeak = Espeak(voice, rate)
    from .clips import finish_samples, prepare

    prepare()

    synthesize = in_fork(lambda text: (espeak.synthesize(text), SAMPLE_RATE))
    return lambda text, path: finish_samples(*synthesize(text), path, text, rate)


if __name__ == "__main__":
    if sys.argv[1:] == ["--voices"]:
        lib = _load_espeak()
        lib.Initialize(lib.AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
        from pyttsx3.drivers.espeak import EspeakDriver

        out = [(v.id, (v.languages or [""])[0]) for v in EspeakDriver.getProperty("voices")]
        sys.stdout.write(json.dumps(out))
    else:
        serve(lambda: _start(sys.argv[1], int(sys.argv[2])))
