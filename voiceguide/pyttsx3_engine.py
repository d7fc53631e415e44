"""The pyttsx3 speech engine (eSpeak NG on Linux), run in worker processes.

pyttsx3's eSpeak driver can return before its file is complete, cancel queued work, and
print to stdout. So each worker process owns one pyttsx3 engine and says one phrase at a
time to a file; the parent waits for an answer with a time limit, kills a hung worker, and
`speak` verifies every clip it gets back (see engines.py for the protocol). The worker is
this module run as a program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
import time
import types
from functools import lru_cache
from pathlib import Path

from .engines import ProcessWorker, Say, VoiceInfo, serve
from .errors import SpeechError
from .model import Voice

NAME = "pyttsx3"
SAMPLE_RATE = 22050  # what the eSpeak driver writes
DEFAULT_VOICE = "gmw/en-us"
STARTUP_TIMEOUT_S = 30.0


@lru_cache(maxsize=None)  # find_library runs ldconfig and gcc: tens of ms, asked for per session
def library() -> tuple[str, str]:
    """Which eSpeak NG library the workers load: (path or soname, identity for cache keys).

    A system eSpeak NG is preferred; otherwise the copy in the espeakng-loader wheel.
    """
    system = ctypes.util.find_library("espeak-ng")
    if system:
        return system, f"system-{_installed_file(system)}"
    try:
        import espeakng_loader
        from importlib.metadata import version
    except ImportError:
        raise SpeechError(
            "eSpeak NG not found: install it with 'pip install espeakng-loader' "
            "or 'sudo apt-get install espeak-ng'"
        ) from None
    return espeakng_loader.get_library_path(), f"espeakng-loader-{version('espeakng-loader')}"


class Worker(ProcessWorker):
    """One worker process saying phrases to WAV files, one at a time."""

    name = NAME
    startup_timeout = STARTUP_TIMEOUT_S

    def __init__(self, voice: str, rate: int):
        super().__init__()
        self.voice = voice or DEFAULT_VOICE
        self.rate = rate

    def command(self) -> list[str]:
        return [sys.executable, "-m", "voiceguide.pyttsx3_engine", self.voice, str(self.rate)]


# -- the engine interface (see engines.Engine) -------------------------------------------

INSTALL = "pip install pyttsx3 espeakng-loader, or sudo apt-get install espeak-ng"
BATCH = 1  # eSpeak says a line in milliseconds: batching would save nothing, and a hang costs one line


def installed() -> bool:
    return True  # a dependency of voiceguide itself


def _installed_file(soname: str) -> str:
    """The file a system soname points to (its name carries the version: ...so.1.51), so an
    upgrade of eSpeak NG makes new cache keys."""
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                      "/usr/local/lib", "/lib"):
        candidate = Path(directory) / soname
        if candidate.exists():
            return os.path.realpath(candidate)
    return soname


def identity(voice: Voice) -> tuple[str, str]:
    from importlib.metadata import version

    from .voice_names import check_espeak

    check_espeak(voice.voice)  # eSpeak NG would open a path, and say "bogus" in its default voice
    return f"{library()[1]} pyttsx3-{version('pyttsx3')}", voice.voice or DEFAULT_VOICE


def workers(jobs: int) -> int:
    return jobs  # eSpeak NG is light: a worker per job


def worker(voice: Voice, workers: int) -> Worker:
    return Worker(voice.voice, voice.rate)


def voices() -> list[VoiceInfo]:
    return [VoiceInfo(NAME, id, language, SAMPLE_RATE) for id, language in list_voices()]


def list_voices() -> list[tuple[str, str]]:
    """(voice id, language) for each eSpeak NG voice, read by a short-lived worker."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "voiceguide.pyttsx3_engine", "--voices"],
            capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SpeechError(f"pyttsx3 did not list its voices within {STARTUP_TIMEOUT_S:.0f} s") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise SpeechError(f"pyttsx3 could not list voices: {last}")
    return [tuple(v) for v in json.loads(result.stdout)]


# -- the worker process ----------------------------------------------------------------


def _init_engine(voice: str | None, rate: int | None):
    path, _ = library()
    if os.sep in path:  # the wheel's copy: point eSpeak NG at the wheel's data too
        import espeakng_loader

        os.environ.setdefault("ESPEAK_DATA_PATH", espeakng_loader.get_data_path())
    # Loaded globally under its soname, so pyttsx3's own dlopen("libespeak-ng.so.1") finds it.
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    import pyttsx3

    engine = pyttsx3.init("espeak")
    _poll_quickly()
    if voice:
        engine.setProperty("voice", voice)
    if rate:
        engine.setProperty("rate", rate)
    return engine


POLL_S = 0.0005


def _poll_quickly() -> None:
    """Make pyttsx3's eSpeak driver look at its loop every 0.5 ms instead of every 10 ms.

    Its loop sleeps 10 ms between looks, while eSpeak NG says a typical line in about 3 ms:
    two thirds of every line was spent asleep. Its module's only use of `time` is that
    sleep (pyttsx3 is pinned below 3), and the clip is still awaited and verified as before.
    """
    import pyttsx3.drivers.espeak as driver

    driver.time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(min(seconds, POLL_S)))


def _wait_idle(deadline: float) -> None:
    """Wait until eSpeak NG is done with the previous line.

    Its file is written from inside eSpeak's last callback, so eSpeak can still report itself
    busy for a moment after the file is complete. pyttsx3 cancels eSpeak when it starts a
    line while eSpeak is busy, and that cancel can cut the new line short. Measured with both
    cores busy: 4 of 1,000 lines came out more than 5% short without this wait, 0 with it.
    """
    from pyttsx3.drivers import _espeak

    while _espeak.IsPlaying() and time.monotonic() < deadline:
        time.sleep(POLL_S)


def _wait_complete(path: Path, deadline: float) -> None:
    """Wait until the WAV file is closed: its header (patched last, on close) matches its size."""
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                header = f.read(44)
                size = os.fstat(f.fileno()).st_size
        except FileNotFoundError:
            header, size = b"", 0
        if (len(header) == 44 and header[:4] == b"RIFF" and header[36:40] == b"data"
                and int.from_bytes(header[4:8], "little") + 8 == size
                and int.from_bytes(header[40:44], "little") + 44 == size):
            return
        time.sleep(0.002)


def _start(voice: str, rate: int) -> Say:
    engine = _init_engine(voice, rate)
    from .speak import finish_clip

    def say(text: str, path: Path) -> str:
        raw = path.with_suffix(".raw.wav")
        try:
            _wait_idle(time.monotonic() + 2.0)
            engine.save_to_file(text, str(raw))
            engine.runAndWait()
            _wait_complete(raw, time.monotonic() + 2.0)
            return finish_clip(raw, path, text, rate)
        finally:
            raw.unlink(missing_ok=True)

    return say


if __name__ == "__main__":
    if sys.argv[1:] == ["--voices"]:
        found = _init_engine(None, None).getProperty("voices")
        out = [(v.id, (v.languages or [""])[0]) for v in found]
        sys.stdout.write(json.dumps(out))
    else:
        serve(lambda: _start(sys.argv[1], int(sys.argv[2])))
