"""Stage 5, export: one ffmpeg encoding PCM to an MP3, with its output decoded and metered.

The encoder's output also goes, as it is made, to a second ffmpeg that decodes it on the other
core into a temporary file (a file, not a pipe, so the decoder never holds the encoder back),
and a thread meters the decoded audio as the file grows (peaks.Meter), while the blocks are
still being mixed and encoded.
"""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from . import peaks
from .. import tools
from ..errors import OutputError, ToolError
from .mp3 import SpliceError, encoder_delay

BITRATE = "64k"  # mono speech: clear at 64 kbps CBR, about 0.5 MB a minute
ENCODER_OPTIONS = (
    "-c:a", "libmp3lame", "-b:a", BITRATE, "-ac", "1",
    "-reservoir", "0",  # every frame stands alone, so frames of silence can be spliced in
)
MUXER_OPTIONS = "f=mp3:id3v2_version=0:write_id3v1=0"  # tags are written afterwards, by mutagen
DECODER_DELAY = 529
LAME_DELAY = 576  # what LAME's Info header says at 22.05 kHz, should a header be missing


class Encoding:
    """ffmpeg encoding 16-bit PCM to the MP3 at `path`, and its frames decoded and metered.

    Use it as a context manager: whatever happens, both processes are gone at its end.
    """

    def __init__(self, path: Path, sample_rate: int):
        self.path = path
        self.meter = peaks.Meter(peaks.LIMIT_DBTP)
        self.errors = tempfile.TemporaryFile()
        self.decoded = tempfile.NamedTemporaryFile(prefix="voiceguide-", suffix=".pcm")
        self.encoder = self.decoder = None
        self.metering: _FollowingMeter | None = None
        try:
            self._start(path, sample_rate)
        except BaseException:
            self._stop()
            raise
        self.metering = _FollowingMeter(Path(self.decoded.name), self.meter)

    def _start(self, path: Path, sample_rate: int) -> None:
        self.encoder = subprocess.Popen(
            [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0", "-map", "0:a", *ENCODER_OPTIONS,
             # tee: the file, with its Info header, and the bare frames on stdout for the decoder.
             "-f", "tee", f"[{MUXER_OPTIONS}]file:{_tee_escape(path.name)}|[{MUXER_OPTIONS}]pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, cwd=path.parent,
        )
        self.decoder = subprocess.Popen(
            [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(sample_rate), self.decoded.name],
            stdin=self.encoder.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert self.encoder.stdin and self.encoder.stdout
        self.encoder.stdout.close()  # the decoder holds it now
        _widen_pipe(self.encoder.stdin.fileno())

    def __enter__(self) -> Encoding:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._stop(failed=kind is not None)

    def _stop(self, failed: bool = True) -> None:
        """Both processes gone (killed, if `failed`), the meter stopped, pipes and temporary
        files closed."""
        for process in (self.encoder, self.decoder):
            if process is None:
                continue
            if failed:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stderr):
                if stream:
                    stream.close()
        if failed and self.metering is not None:
            self.metering.stop(raising=False)  # the error on its way out says more
        self.errors.close()
        self.decoded.close()

    def run(self, pcm: Iterable[bytes], whole: bool = False) -> list[tuple[int, int, float]]:
        """Encode every chunk of `pcm`, then wait for the encoder, the decoder and the meter.

        Returns the stretches over the true-peak limit (peaks.Meter), in samples of what was
        sent. `whole`: the PCM is the whole session, not cut for splicing, so an encode
        without an Info header is still of use.
        """
        assert self.encoder.stdin
        sent = 0
        try:
            for chunk in pcm:
                self.encoder.stdin.write(chunk)
                sent += len(chunk) // 2
            self.encoder.stdin.close()
        except BrokenPipeError:
            pass  # the encoder stopped: its errors say why
        self.encoder.wait()
        _, decoder_errors = self.decoder.communicate()
        self.metering.stop()  # the decoder has written all: the rest of the file is metered now
        if self.decoder.returncode != 0:  # first: the encoder then fails only for want of it
            _encoder_failed(self.decoder.returncode, decoder_errors.decode(errors="replace"), Path(self.decoded.name),
                            "ffmpeg could not decode the MP3 it had just encoded")
        if self.encoder.returncode != 0:
            self.errors.seek(0)
            _encoder_failed(self.encoder.returncode, self.errors.read().decode(errors="replace"), self.path)
        self.meter.finish()
        # The bare frames carry no Info header, so their decode starts with the encoder's delay
        # and the decoder's own (529 samples, as for every Layer III decoder).
        try:
            skip = encoder_delay(self.path) + DECODER_DELAY
        except SpliceError:
            if not whole:
                raise
            skip = LAME_DELAY + DECODER_DELAY
        return self.meter.stretches(skip, sent)


class _FollowingMeter:
    """Meters a file of 16-bit PCM as another process writes it, in a thread of its own,
    a few seconds at a time (memory stays flat); `stop` meters what is left and waits."""

    BLOCK_BYTES = 2 << 20
    POLL_S = 0.05

    def __init__(self, path: Path, meter: peaks.Meter):
        self.path, self.meter = path, meter
        self.written = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="voiceguide-meter", daemon=True)
        self.thread.start()

    def stop(self, raising: bool = True) -> None:
        """Meter the rest of the file (its writer has finished) and wait for it."""
        self.written.set()
        self.thread.join()
        if self.failure is not None and raising:
            raise self.failure

    def _run(self) -> None:
        try:
            with open(self.path, "rb") as f:
                held = b""
                while True:
                    last = self.written.is_set()  # before the read: all written by then is read
                    data = f.read(self.BLOCK_BYTES)
                    if data:
                        held += data
                        whole = len(held) // 2 * 2
                        if whole:
                            self.meter.feed(np.frombuffer(held[:whole], dtype="<i2"))
                            held = held[whole:]
                    elif last:
                        return
                    else:
                        time.sleep(self.POLL_S)
        except BaseException as failure:  # raised again by stop(), in the encoding thread
            self.failure = failure


def _tee_escape(name: str) -> str:
    """A file name as one output of ffmpeg's tee muxer, which splits on | and reads [ ] ' \\."""
    return re.sub(r"([\\'|\[\]])", r"\\\1", name)


def _encoder_failed(returncode: int, stderr: str, tmp: Path, what: str = "ffmpeg failed to encode the MP3") -> None:
    message = stderr.strip().splitlines()
    if returncode == -signal.SIGXFSZ:
        raise OutputError(f"{tmp.parent}: cannot write: the file size limit was reached")
    detail = message[-1] if message else f"exit code {returncode}"
    for problem in ("No space left on device", "File too large", "Permission denied", "Read-only file system"):
        if problem in detail:
            raise OutputError(f"{tmp.parent}: cannot write: {problem}")
    raise ToolError(f"{what}: {detail}")


def _widen_pipe(fd: int) -> None:
    """Let the encoder's input pipe hold about 20 s of audio (Linux), so the next blocks are
    mixed while the encoder works instead of the encoder waiting for them."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass  # another OS, or a lower pipe-max-size: the default pipe still works
