"""The pyttsx3 speech engine (eSpeak NG on Linux), run in worker processes.

pyttsx3's eSpeak driver can return before its file is complete, cancel queued work, and
print to stdout. So each worker process owns one pyttsx3 engine and says one phrase at a
time to a file; the parent waits for an answer with a time limit, kills a hung worker, and
`speak` verifies every clip it gets back. The worker is this module run as a program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import selectors
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

from .errors import SpeechError

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
        return system, f"system-{system}"
    try:
        import espeakng_loader
        from importlib.metadata import version
    except ImportError:
        raise SpeechError(
            "eSpeak NG not found: install it with 'pip install espeakng-loader' "
            "or 'sudo apt-get install espeak-ng'"
        ) from None
    return espeakng_loader.get_library_path(), f"espeakng-loader-{version('espeakng-loader')}"


def phrase_timeout(text: str) -> float:
    """Generous: eSpeak says a line in milliseconds; only a hung engine takes this long."""
    return 10.0 + 0.05 * len(text)


class Worker:
    """One worker process speaking phrases to WAV files, one at a time."""

    def __init__(self, voice: str, rate: int):
        self.voice = voice or DEFAULT_VOICE
        self.rate = rate
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voiceguide.pyttsx3_engine", self.voice, str(self.rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        reply = self._read_reply(STARTUP_TIMEOUT_S)
        if not reply.get("ok"):
            self.stop()
            raise SpeechError(f"pyttsx3 could not start: {reply.get('error', 'no answer from the engine')}")

    def synthesize(self, text: str, path: Path) -> None:
        """Say `text` into the WAV file `path`, checked and cleaned by `speak.finish_clip`;
        raise SpeechError if the engine fails, hangs or makes a bad clip."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process and self.process.stdin
        try:
            self.process.stdin.write(json.dumps({"text": text, "path": str(path)}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.stop()
            raise SpeechError("the pyttsx3 worker stopped") from None
        reply = self._read_reply(phrase_timeout(text))
        if not reply.get("ok"):
            self.stop()
            raise SpeechError(reply.get("error", "no answer from pyttsx3"))

    def _read_reply(self, timeout: float) -> dict:
        assert self.process and self.process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                return {"ok": False, "error": f"pyttsx3 did not answer within {timeout:.0f} s (hung engine, killed)"}
        line = self.process.stdout.readline()
        if not line:
            self.stop()
            return {"ok": False, "error": "the pyttsx3 worker exited"}
        return json.loads(line)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass
            self.process = None


def list_voices() -> list[tuple[str, str]]:
    """(voice id, language) for each eSpeak NG voice, read by a short-lived worker."""
    result = subprocess.run(
        [sys.executable, "-m", "voiceguide.pyttsx3_engine", "--voices"],
        capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise SpeechError(f"pyttsx3 could not list voices: {result.stderr.strip().splitlines()[-1:]}")
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
    if voice:
        engine.setProperty("voice", voice)
    if rate:
        engine.setProperty("rate", rate)
    return engine


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


def _worker_main(voice: str, rate: int) -> None:
    # The protocol runs on a private copy of stdout; anything the engine prints goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        engine = _init_engine(voice, rate)
    except Exception as error:  # reported to the parent, which raises SpeechError
        protocol.write(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}) + "\n")
        return
    protocol.write(json.dumps({"ok": True}) + "\n")
    from .speak import finish_clip

    for line in sys.stdin:
        request = json.loads(line)
        path = Path(request["path"])
        raw = path.with_suffix(".raw.wav")
        try:
            engine.save_to_file(request["text"], str(raw))
            engine.runAndWait()
            _wait_complete(raw, time.monotonic() + 2.0)
            problem = finish_clip(raw, path, request["text"], rate)
            reply = {"ok": not problem, "error": problem}
        except Exception as error:
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        finally:
            raw.unlink(missing_ok=True)
        protocol.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--voices"]:
        voices = _init_engine(None, None).getProperty("voices")
        out = [(v.id, (v.languages or [""])[0]) for v in voices]
        sys.stdout.write(json.dumps(out))
    else:
        _worker_main(sys.argv[1], int(sys.argv[2]))
