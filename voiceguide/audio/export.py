"""Stage 5, export: PCM blocks -> MP3 with ID3 tags, chapters and cover, written atomically.

The encoder reads the rendered blocks as they come, minus the long silences, which are
spliced back in as ready-made MP3 frames (see mp3.py). The MP3 is written to a temporary file
beside its final name, tagged, flushed to disk and only then renamed over the old file, so a
crash or a full disk never leaves a broken session in the output directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import peaks
from .. import tools
from ..atomic import ensure_dir, temporary_path
from ..errors import OutputError, ToolError
from .mp3 import SilenceGaps, SpliceError, encoder_delay, samples_per_frame, splice_silence
from ..plan import Chapter

BITRATE = "64k"  # mono speech: clear at 64 kbps CBR, about 0.5 MB a minute
ENCODER_OPTIONS = (
    "-c:a", "libmp3lame", "-b:a", BITRATE, "-ac", "1",
    "-reservoir", "0",  # every frame stands alone, so frames of silence can be spliced in
)
MUXER_OPTIONS = "f=mp3:id3v2_version=0:write_id3v1=0"  # tags are written afterwards, by mutagen
DECODER_DELAY = 529
LAME_DELAY = 576  # what LAME's Info header says at 22.05 kHz, should a header be missing


@dataclass(frozen=True)
class Tags:
    title: str
    artist: str = "voiceguide"
    album: str = "voiceguide sessions"
    genre: str = "Health & Fitness"
    year: str = ""
    comment: str = ""
    language: str = "eng"
    """ISO 639-2 code of the session's language, for the comment and the lyrics."""
    lyrics: str = ""
    """The spoken lines, one a line (USLT): players that show lyrics show the transcript."""


def export(
    render: Callable[[], Iterable[np.ndarray]],
    path: Path,
    sample_rate: int,
    tags: Tags,
    chapters: Sequence[Chapter] = (),
    cover: Callable[[], bytes] | None = None,
    skip_silence: bool = True,
) -> None:
    """Encode the blocks `render()` yields to `path` as a mono CBR MP3 with tags, chapters and
    cover, atomically. `render` is called again only if the encoder's output cannot be spliced.

    `cover` gives the cover PNG; it is called once encoding is done, so it can be made meanwhile.
    Without `skip_silence` (music under the voice leaves no silence to skip) the whole PCM is
    encoded and not scanned for silence.
    """
    ensure_dir(path.parent)
    try:
        tmp = temporary_path(path)
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write: {error.strerror}") from None
    try:
        _encode_under_the_limit(render, tmp, sample_rate, skip_silence)
        write_tags(tmp, tags, chapters, cover() if cover else None)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_tags(path: Path, tags: Tags, chapters: Sequence[Chapter], cover: bytes | None) -> None:
    """ID3v2.3 (read by every player): text tags, a comment, cover art, and chapters as CHAP
    frames listed by a CTOC, in time order."""
    from mutagen.id3 import APIC, CHAP, COMM, CTOC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, USLT, CTOCFlags

    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TPE2(encoding=3, text=tags.artist))
    id3.add(TALB(encoding=3, text=tags.album))
    id3.add(TCON(encoding=3, text=tags.genre))
    if tags.year:
        id3.add(TDRC(encoding=3, text=tags.year))
    if tags.comment:
        id3.add(COMM(encoding=3, lang=tags.language, desc="", text=tags.comment))
    if tags.lyrics:
        id3.add(USLT(encoding=3, lang=tags.language, desc="", text=tags.lyrics))
    if cover:
        id3.add(APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=cover))
    ids = [f"ch{index:03d}" for index in range(len(chapters))]
    if chapters:
        id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                     sub_frames=[TIT2(encoding=3, text="Chapters")]))
    for element_id, chapter in zip(ids, chapters):
        id3.add(CHAP(element_id=element_id, start_time=chapter.start_ms, end_time=chapter.end_ms,
                     start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF, sub_frames=[TIT2(encoding=3, text=chapter.title)]))
    from mutagen import MutagenError

    try:
        id3.save(path, v2_version=3)
    except MutagenError as error:  # mutagen wraps the OSError of a full or read-only disk
        raise OutputError(f"{path.parent}: cannot write the tags: {error}") from None
    _put_chapters_in_time_order(path)


def _put_chapters_in_time_order(path: Path) -> None:
    """mutagen writes frames sorted by size, but ffmpeg (and so ffprobe and some players)
    list CHAP frames in file order. Reorder them by start time, in place: same bytes, same size."""
    with open(path, "rb+") as f:
        header = f.read(10)
        if header[:3] != b"ID3" or header[3] != 3 or header[5] & 0x80:  # v2.3, not unsynchronised
            return
        size = sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(header[6:10]))
        body = f.read(size)
        frames, position = [], 0
        while position + 10 <= len(body) and body[position:position + 4].strip(b"\0"):
            length = int.from_bytes(body[position + 4: position + 8], "big")
            frames.append(body[position: position + 10 + length])
            position += 10 + length
        chapters = [frame for frame in frames if frame[:4] == b"CHAP"]

        def start_time(frame: bytes) -> int:
            id_end = frame.index(b"\0", 10)
            return int.from_bytes(frame[id_end + 1: id_end + 5], "big")

        ordered = iter(sorted(chapters, key=start_time))
        frames = [next(ordered) if frame[:4] == b"CHAP" else frame for frame in frames]
        f.seek(10)
        f.write(b"".join(frames))


def _encode_under_the_limit(render: Callable[[], Iterable[np.ndarray]], tmp: Path, sample_rate: int,
                            skip_silence: bool = True) -> None:
    """Encode, meter the encoder's output, and encode again with the stretches that are over
    the true-peak limit turned down, until none is (see peaks.py)."""
    fixes: list[peaks.Correction] = []
    for _ in range(peaks.PASSES):
        try:
            found = _encode(peaks.apply(render(), fixes, sample_rate), tmp, sample_rate, skip_silence)
        except SpliceError:
            skip_silence = False
            found = _encode(peaks.apply(render(), fixes, sample_rate), tmp, sample_rate, skip_silence)
        if not found:
            return
        fixes += peaks.corrections(found, sample_rate, peaks.TARGET_DBTP)
    raise ToolError(f"the MP3's true peak stayed over {peaks.LIMIT_DBTP} dBTP after {peaks.PASSES} encodes")


def _encode(blocks: Iterable[np.ndarray], tmp: Path, sample_rate: int, skip_silence: bool) -> list[tuple[int, int, float]]:
    """Encode with ffmpeg; with `skip_silence`, long silences are left out and spliced back in.

    The encoder's output also goes, as it is made, to a second ffmpeg that decodes it on the
    other core into a temporary file (a file, not a pipe, so the decoder never holds the
    encoder back), and a thread meters the decoded audio as the file grows, while the
    blocks are still being mixed and encoded. Returns the stretches over the limit
    (peaks.Meter), in samples of the whole session.
    """
    gaps = SilenceGaps(samples_per_frame(sample_rate) if skip_silence else 0)
    meter = peaks.Meter(peaks.LIMIT_DBTP)
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile(prefix="voiceguide-", suffix=".pcm") as decoded:
        encoder = subprocess.Popen(
            [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0", "-map", "0:a", *ENCODER_OPTIONS,
             # tee: the file, with its Info header, and the bare frames on stdout for the decoder.
             "-f", "tee", f"[{MUXER_OPTIONS}]file:{_tee_escape(tmp.name)}|[{MUXER_OPTIONS}]pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, cwd=tmp.parent,
        )
        decoder = subprocess.Popen(
            [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(sample_rate), decoded.name],
            stdin=encoder.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert encoder.stdin and encoder.stdout
        encoder.stdout.close()  # the decoder holds it now
        _widen_pipe(encoder.stdin.fileno())
        metering = _FollowingMeter(Path(decoded.name), meter)
        try:
            for block in blocks:
                encoder.stdin.write(gaps.feed(to_pcm16(block)))
            encoder.stdin.write(gaps.finish())
            encoder.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            for process in (encoder, decoder):
                process.kill()
                process.wait()
            metering.stop(raising=False)  # the error on its way out says more
            raise
        encoder.wait()
        _, decoder_errors = decoder.communicate()
        metering.stop()  # the decoder has written all: the rest of the file is metered now
        if decoder.returncode != 0:  # first: the encoder then fails only for want of it
            _encoder_failed(decoder.returncode, decoder_errors.decode(errors="replace"), Path(decoded.name),
                            "ffmpeg could not decode the MP3 it had just encoded")
        if encoder.returncode != 0:
            errors.seek(0)
            _encoder_failed(encoder.returncode, errors.read().decode(errors="replace"), tmp)
        meter.finish()
    # The bare frames carry no Info header, so their decode starts with the encoder's delay
    # and the decoder's own (529 samples, as for every Layer III decoder).
    try:
        skip = encoder_delay(tmp) + DECODER_DELAY
    except SpliceError:
        if skip_silence:
            raise
        skip = LAME_DELAY + DECODER_DELAY
    found = meter.stretches(skip, gaps.sent_samples)
    try:
        splice_silence(tmp, gaps.gaps, gaps.samples)
    except SpliceError:
        if skip_silence:
            raise
        # A whole encode needs no splicing; its length is then the encoder's own.
    return [(gaps.full_position(a), gaps.full_position(b - 1) + 1, peak) for a, b, peak in found]


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


def to_pcm16(block: np.ndarray) -> np.ndarray:
    return np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2")
