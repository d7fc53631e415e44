"""Stage 5, export: one ffmpeg encoding PCM to an MP3, with its output decoded and metered.

The encoder writes the file and, as it makes them, the same frames bare on its stdout. A
thread decodes those in this process (dr_mp3, through miniaudio) a batch at a time and meters
them (peaks.Meter), while the blocks are still being mixed and encoded.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from . import peaks
from .. import tools
from ..errors import OutputError, ToolError
from .mp3 import SpliceError, encoder_delay, frame_ends, samples_per_frame

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

    Use it as a context manager: whatever happens, the encoder is gone at its end.
    """

    def __init__(self, path: Path, sample_rate: int):
        self.path = path
        self.meter = peaks.Meter(peaks.LIMIT_DBTP)
        self.errors = tempfile.TemporaryFile()
        self.encoder: subprocess.Popen | None = None
        self.metering: _FollowingMeter | None = None
        try:
            self.encoder = subprocess.Popen(
                [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                 "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0", "-map", "0:a", *ENCODER_OPTIONS,
                 # tee: the file, with its Info header, and the bare frames on stdout for the meter.
                 "-f", "tee", f"[{MUXER_OPTIONS}]file:{_tee_escape(path.name)}|[{MUXER_OPTIONS}]pipe:1"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, cwd=path.parent,
            )
            assert self.encoder.stdin and self.encoder.stdout
            _widen_pipe(self.encoder.stdin.fileno())
            _widen_pipe(self.encoder.stdout.fileno())
            self.metering = _FollowingMeter(self.encoder.stdout, self.meter, samples_per_frame(sample_rate))
        except BaseException:
            self._stop()
            raise

    def __enter__(self) -> Encoding:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._stop(failed=kind is not None)

    def _stop(self, failed: bool = True) -> None:
        """The encoder gone (killed, if `failed`), the meter stopped, pipes and temporary
        files closed."""
        if self.encoder is not None:
            if failed:
                self.encoder.kill()
            self.encoder.wait()
            if self.encoder.stdin:
                try:
                    self.encoder.stdin.close()
                except BrokenPipeError:
                    pass  # what the encoder had not read yet: the error on its way out says more
        if failed and self.metering is not None:
            self.metering.stop(raising=False)  # the error on its way out says more
        if self.encoder is not None and self.encoder.stdout:
            self.encoder.stdout.close()
        self.errors.close()

    def run(self, pcm: Iterable[bytes], whole: bool = False) -> list[tuple[int, int, float]]:
        """Encode every chunk of `pcm`, then wait for the encoder and the meter.

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
        self.metering.stop(raising=False)
        if self.metering.failure is not None and not self.metering.cut_short:
            raise self.metering.failure  # first: the encoder then fails only for want of its reader
        if self.encoder.returncode != 0:
            self.errors.seek(0)
            _encoder_failed(self.encoder.returncode, self.errors.read().decode(errors="replace"), self.path)
        if self.metering.failure is not None:
            raise self.metering.failure
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
    """Decodes the encoder's bare frames as they come and meters them, in a thread of its own.

    Batches of frames are decoded one by one, each after the last WARM_UP_FRAMES frames of the
    batch before it, whose sound is dropped: without a bit reservoir a frame's sound depends
    only on the frames just before it, so the batches decode, sample for sample, as the whole
    stream does (tests/test_mp3.py). Memory stays flat: a batch is a few seconds.
    """

    BATCH_FRAMES = 256
    READ_BYTES = 1 << 16
    POLL_S = 0.02
    WARM_UP_FRAMES = 3
    """Two are enough for dr_mp3 to decode every sample as in one pass; one is not."""

    def __init__(self, frames: BinaryIO, meter: peaks.Meter, frame_samples: int):
        self.frames, self.meter, self.frame_samples = frames, meter, frame_samples
        self.failure: BaseException | None = None
        self.cut_short = False  # the frames ended inside one: the encoder stopped (its errors say why)
        self.thread = threading.Thread(target=self._run, name="voiceguide-meter", daemon=True)
        self.thread.start()

    def stop(self, raising: bool = True) -> None:
        """Wait for the meter, which ends with the encoder's output."""
        self.thread.join()
        if self.failure is not None and raising:
            raise self.failure

    def _run(self) -> None:
        try:
            held, ends = bytearray(), []  # bytes from a frame's start, and where its whole frames end
            warm: deque[bytes] = deque(maxlen=self.WARM_UP_FRAMES)  # the last frames decoded, decoded again
            while True:
                chunk = os.read(self.frames.fileno(), self.READ_BYTES)
                if 0 < len(chunk) < self.READ_BYTES // 4:
                    time.sleep(self.POLL_S)  # let frames gather: a read a frame costs the mixer the GIL
                held += chunk
                if len(held) >= 4:
                    ends += frame_ends(held, ends[-1] if ends else 0)
                if ends and (len(ends) >= self.BATCH_FRAMES or not chunk):
                    batch = bytes(held[:ends[-1]])
                    pcm = decode_frames(b"".join(warm) + batch)
                    if pcm.size != (len(warm) + len(ends)) * self.frame_samples:
                        raise ToolError("the MP3 just encoded decoded to the wrong length")
                    self.meter.feed(pcm[len(warm) * self.frame_samples:])
                    starts = [0, *ends[:-1]]
                    warm.extend(batch[a:b] for a, b in zip(starts[-self.WARM_UP_FRAMES:], ends[-self.WARM_UP_FRAMES:]))
                    del held[:ends[-1]]
                    ends = []
                if not chunk:
                    if held:
                        self.cut_short = True
                        raise ToolError("the MP3 just encoded ends inside a frame")
                    return
        except BaseException as failure:  # raised again by stop(), in the encoding thread
            self.failure = ToolError(f"the MP3 just encoded is not a stream of frames: {failure}") \
                if isinstance(failure, SpliceError) else failure
            self.frames.close()  # the encoder then stops too, instead of waiting on a full pipe


def decode_frames(frames: bytes) -> np.ndarray:
    """Bare MP3 frames decoded to 16-bit samples, in this process (dr_mp3, through miniaudio),
    as ffmpeg decodes them to within one step."""
    import miniaudio

    try:
        decoded = miniaudio.mp3_read_s16(frames)
    except miniaudio.DecodeError as error:
        raise ToolError(f"the MP3 just encoded could not be decoded: {error}") from None
    if decoded.nchannels != 1:
        raise ToolError(f"the MP3 just encoded has {decoded.nchannels} channels, not one")
    return np.frombuffer(decoded.samples, dtype=np.int16)


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
    """Let a pipe of the encoder hold a megabyte (Linux): its input, about 20 s of audio, so the
    next blocks are mixed while the encoder works instead of the encoder waiting for them; its
    output, so the encoder never waits while the meter lets frames gather."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass  # another OS, or a lower pipe-max-size: the default pipe still works
