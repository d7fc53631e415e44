"""Stage 5, export: PCM blocks -> MP3 with ID3 tags, chapters and cover, written atomically.

The encoder reads the rendered blocks as they come, minus the long silences, which are
spliced back in as ready-made MP3 frames (see mp3.py). Given a cut in a long silence, the two
halves of the session are encoded at once, on two cores, and joined there. The MP3 is written to a temporary file
beside its final name, tagged, flushed to disk and only then renamed over the old file, so a
crash or a full disk never leaves a broken session in the output directory.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import peaks
from ..atomic import ensure_dir, temporary_path
from ..errors import OutputError, ToolError
from .encoder import Encoding
from .mp3 import SpliceError, join_at_gap, samples_per_frame, splice_silence
from .silence import SilenceGaps
from ..plan import Chapter


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
    render: Callable[..., Iterable[np.ndarray]],
    path: Path,
    sample_rate: int,
    tags: Tags,
    chapters: Sequence[Chapter] = (),
    cover: Callable[[], bytes] | None = None,
    skip_silence: bool = True,
    cut: int | None = None,
    at_once: bool = True,
) -> None:
    """Encode the blocks `render()` yields to `path` as a mono CBR MP3 with tags, chapters and
    cover, atomically. `render` is called again only if the encoder's output cannot be spliced.

    `cover` gives the cover PNG; it is called once encoding is done, so it can be made meanwhile.
    Without `skip_silence` (music under the voice leaves no silence to skip) the whole PCM is
    encoded and not scanned for silence. `cut`: a whole frame's sample in a long silence
    (render.quiet_cut), where the session is encoded in two halves, `at_once` on two cores or
    one after the other (the same MP3 either way); `render(start, end)` then yields samples
    [start, end) (end None: to the end).
    """
    ensure_dir(path.parent)
    try:
        tmp = temporary_path(path)
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write: {error.strerror}") from None
    try:
        _encode_under_the_limit(render, tmp, sample_rate, skip_silence, cut if skip_silence else None, at_once)
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


def _encode_under_the_limit(render: Callable[..., Iterable[np.ndarray]], tmp: Path, sample_rate: int,
                            skip_silence: bool = True, cut: int | None = None, at_once: bool = True) -> None:
    """Encode, meter the encoder's output, and encode again with the stretches that are over
    the true-peak limit turned down, until none is (see peaks.py)."""
    fixes: list[peaks.Correction] = []
    for _ in range(peaks.PASSES):
        try:
            if cut is not None:
                try:
                    found = _encode_in_two(render, cut, fixes, tmp, sample_rate, at_once)
                except SpliceError:
                    cut = None  # one encoder, still spared the silence
            if cut is None:
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
    Returns the stretches over the limit (peaks.Meter), in samples of the whole session."""
    gaps = SilenceGaps(samples_per_frame(sample_rate) if skip_silence else 0)
    with Encoding(tmp, sample_rate) as encoding:
        found = encoding.run(_sent(blocks, gaps), whole=not skip_silence)
    try:
        splice_silence(tmp, gaps.gaps, gaps.samples)
    except SpliceError:
        if skip_silence:
            raise
        # A whole encode needs no splicing; its length is then the encoder's own.
    return [(gaps.full_position(a), gaps.full_position(b - 1) + 1, peak) for a, b, peak in found]


def _encode_in_two(render: Callable[..., Iterable[np.ndarray]], cut: int, fixes: list[peaks.Correction], tmp: Path,
                   sample_rate: int, at_once: bool = True) -> list[tuple[int, int, float]]:
    """Encode the session before sample `cut` and the session from it, `at_once` on two cores
    or one after the other, and join the two MP3s where `cut` falls in a long silence
    (mp3.join_at_gap); the silence is spliced back as in `_encode`. Each half is encoded by a
    fresh encoder either way, so the file is the same either way."""
    cell = samples_per_frame(sample_rate)
    before, after = SilenceGaps(cell), SilenceGaps(cell, resumed=True)
    second = temporary_path(tmp)

    def encode(blocks: Iterable[np.ndarray], gaps: SilenceGaps, path: Path) -> list[tuple[int, int, float]]:
        with Encoding(path, sample_rate) as encoding:
            return encoding.run(_sent(blocks, gaps))

    stop = threading.Event()  # the second half failed: the first stops at its next block

    def encode_before() -> list[tuple[int, int, float]]:
        return encode(_until_cut(peaks.apply(render(start=0, end=cut), fixes, sample_rate), before, stop), before, tmp)

    def encode_after() -> list[tuple[int, int, float]]:
        return encode(peaks.apply(render(start=cut), fixes, sample_rate, start=cut), after, second)

    try:
        if at_once:
            with ThreadPoolExecutor(max_workers=1) as pool:
                first = pool.submit(encode_before)
                try:
                    found_after = encode_after()
                except BaseException:
                    stop.set()
                    raise
                found_before = first.result()
        else:
            found_before, found_after = encode_before(), encode_after()
        if not after.gaps or after.gaps[0][0] != 0:
            raise SpliceError(f"sample {cut} is not in a long silence")
        join_at_gap(tmp, second, before.sent_cells)
    finally:
        second.unlink(missing_ok=True)
    joined = [(before.sent_cells, before.dropped_at_cut + after.gaps[0][1])]
    joined += [(before.sent_cells + sent, count) for sent, count in after.gaps[1:]]
    splice_silence(tmp, before.gaps + joined, before.samples + after.samples)
    return ([(before.full_position(a), before.full_position(b - 1) + 1, peak) for a, b, peak in found_before]
            + [(cut + after.full_position(a), cut + after.full_position(b - 1) + 1, peak) for a, b, peak in found_after])


class _Stopped(Exception):
    """The other half of the session failed: this one is not finished."""


def _until_cut(blocks: Iterable[np.ndarray], gaps: SilenceGaps, stop: threading.Event) -> Iterator[np.ndarray]:
    """The blocks, then the cut of `gaps` at their end (SilenceGaps.cut) instead of its finish;
    `stop` set ends them early."""
    for block in blocks:
        if stop.is_set():
            raise _Stopped()
        yield block
    try:
        gaps.cut()
    except ValueError as error:
        raise SpliceError(str(error)) from None


def _sent(blocks: Iterable[np.ndarray], gaps: SilenceGaps) -> Iterator[bytes]:
    """What the encoder is sent of `blocks`: their 16-bit PCM, spared the silence `gaps` drops."""
    for block in blocks:
        yield gaps.feed(to_pcm16(block))
    yield gaps.finish()  # nothing, after a cut


def to_pcm16(block: np.ndarray) -> np.ndarray:
    return np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2")
