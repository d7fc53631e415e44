"""Stage 2, speak: engine worker processes, and the protocol between them and `speak`.

Every engine runs in worker processes that load it once and answer over the same protocol:
the parent writes one JSON line per request (a list of phrases and the file each clip goes
to), the worker answers one JSON line per phrase, in order, once the clip is checked,
cleaned and resampled to the session's rate (`clips.finish_samples`). A worker dies with
its parent (processes.py), and says each line in a fork of itself as it was set up
(`in_fork`), so no line depends on the one before.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import SpeechError
from ..processes import die_with_parent

if TYPE_CHECKING:
    import numpy as np


class ProcessWorker:
    """The parent's side of one worker process: requests, answers within time limits, restarts.

    A worker that hangs is killed, one that dies is noticed; either way the phrases it had
    not answered get the error, and the next request starts a fresh process.
    """

    name = "engine"
    startup_timeout = 30.0

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.unread = bytearray()  # answer bytes read from the pipe, not yet a whole line

    def command(self) -> list[str]:
        """The worker's command line: a module of this package run as a program."""
        raise NotImplementedError

    def timeout(self, text: str) -> float:
        """How long saying `text` may take before the worker counts as hung."""
        return 10.0 + 0.05 * len(text)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,  # answers are read from the raw pipe: see _read_reply
            # One BLAS thread: numpy's own threads would fight the other workers for the cores,
            # and the sums of a product would depend on how many there were.
            env={**os.environ, PARENT_ENV: str(os.getpid()), "OPENBLAS_NUM_THREADS": "1"},
        )
        self.unread = bytearray()
        reply = self._read_reply(self.startup_timeout)
        if not reply.get("ok"):
            self.stop()
            raise SpeechError(f"{self.name} could not start: {reply.get('error', 'no answer from the engine')}")

    def synthesize(self, texts: list[str], paths: list[Path]) -> list[str]:
        """Say each text into its path: a checked, cleaned clip at the session's rate.

        Returns why each phrase failed, '' where its clip was written. Raises SpeechError
        only when the worker cannot be started.
        """
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process and self.process.stdin
        try:
            request = {"texts": texts, "paths": [str(path) for path in paths]}
            self.process.stdin.write((json.dumps(request) + "\n").encode())
        except (BrokenPipeError, OSError):
            self.stop()
            return [f"the {self.name} worker stopped"] * len(texts)
        problems = []
        for text in texts:
            reply = self._read_reply(self.timeout(text))
            if self.process is None:  # hung or exited: nothing more will come
                problems += [reply.get("error", f"no answer from {self.name}")] * (len(texts) - len(problems))
                break
            problems.append("" if reply.get("ok") else reply.get("error") or f"{self.name} failed")
        return problems

    def _read_reply(self, timeout: float) -> dict:
        """The next answer line. Read from the raw pipe into our own buffer: a buffered
        readline could swallow a second answer that select() would then never see."""
        assert self.process and self.process.stdout
        deadline = time.monotonic() + timeout
        while b"\n" not in self.unread:
            with selectors.DefaultSelector() as selector:
                selector.register(self.process.stdout, selectors.EVENT_READ)
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    self.stop()
                    return {"ok": False, "error": f"{self.name} did not answer within {timeout:.0f} s (hung engine, killed)"}
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                self.stop()
                return {"ok": False, "error": f"the {self.name} worker exited"}
            self.unread += chunk
        line, _, rest = bytes(self.unread).partition(b"\n")
        self.unread = bytearray(rest)
        try:
            return json.loads(line)
        except ValueError:
            self.stop()
            return {"ok": False, "error": f"the {self.name} worker answered nonsense: {line[:80]!r}"}

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


PARENT_ENV = "VOICEGUIDE_WORKER_PARENT"
"""The pid a worker process was started by; it dies with that process (processes.py)."""

Say = Callable[[str, Path], str]
"""In a worker: say a text into a finished clip file; return why it failed, or ''."""


Synthesize = Callable[[str], "tuple[np.ndarray, int]"]
"""In a worker: a text's raw samples (float32) and their sample rate."""


def in_fork(synthesize: Synthesize) -> Synthesize:
    """`synthesize`, run for each line in a fork of this worker as it is now.

    Engines keep state from one line to the next (eSpeak NG its wave generator and clause
    state, onnxruntime the state of its random number generators), so the same line came out
    differently depending on what the worker had said before. A fork starts every line from
    the same state, so the same text, voice, rate and library always give the same samples,
    whatever the worker, the order of the lines or the load. The fork only synthesizes and
    hands the raw samples back; finishing them (pure numpy) happens in the worker. The engine
    must run no threads of its own at this point (a fork keeps only the calling thread).
    """
    import numpy as np

    def synthesize_in_fork(text: str) -> tuple[np.ndarray, int]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: synthesize, send the samples back, exit, whatever happens
            try:
                os.close(read_end)
                die_with_parent()
                try:
                    samples, rate = synthesize(text)
                    answer = b"ok %d\n" % rate + np.asarray(samples, dtype="<f4").tobytes()
                except BaseException as error:
                    answer = f"error {type(error).__name__}: {error}".encode()[:4000]
                with os.fdopen(write_end, "wb") as out:
                    out.write(answer)
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as answer:
            data = answer.read()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            raise SpeechError(f"the engine crashed (signal {os.WTERMSIG(status)})")
        head, _, body = data.partition(b"\n")
        if not head.startswith(b"ok "):
            raise SpeechError(data.decode(errors="replace").removeprefix("error ") or "the engine said nothing")
        return np.frombuffer(body, dtype="<f4"), int(head[3:])

    return synthesize_in_fork


def serve(start: Callable[[], Say]) -> None:
    """The worker process's side of the protocol: load the engine once, then answer requests."""
    if os.environ.get(PARENT_ENV):
        die_with_parent(int(os.environ[PARENT_ENV]))
    # The protocol runs on a private copy of stdout; anything the engine prints goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        say = start()
    except Exception as error:  # reported to the parent, which raises SpeechError
        protocol.write(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}) + "\n")
        return
    protocol.write(json.dumps({"ok": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        for text, path in zip(request["texts"], request["paths"]):
            try:
                problem = say(text, Path(path))
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
            protocol.write(json.dumps({"ok": not problem, "error": problem}) + "\n")
