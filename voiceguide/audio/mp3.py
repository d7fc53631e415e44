"""MP3 frames: encode only the sound, and put the silence back as ready-made frames.

A session is mostly digital silence (the holds), yet an MP3 encoder spends real work on every
frame of it. The silence is taken out before encoding and spliced back afterwards:

1. `silence.SilenceGaps` passes the PCM on to the encoder, but of every run of silent frame-sized
   cells it keeps only `silence.MARGIN_CELLS` at each end and notes how many it dropped, and where.
2. The encoder (LAME, no bit reservoir, so every frame stands alone) turns the margins into
   frames of silence, identical byte for byte.
3. `splice_silence` copies one of those frames into each gap and rewrites the LAME/Info header
   (frame count, sizes, seek table, CRCs), so players see one ordinary CBR file that decodes
   to the whole PCM's length, to the sample.

The margins (4 frames, 104 ms) are wider than the reach of the encoder's filterbank and of
the decoder's overlap, so the frames on both sides of a gap are silent and every join falls
where the decoder's state is zero. Measured on a 17-minute session, the spliced file has the
same error against the source as an encode of the whole PCM (tests/test_mp3.py checks it).
"""

from __future__ import annotations

import io
import itertools
import os
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..atomic import temporary_path
from .crc16 import Crc16, crc16


def samples_per_frame(sample_rate: int) -> int:
    """Layer III: 1152 samples a frame for MPEG-1 rates (32 kHz and up), 576 below."""
    return 1152 if sample_rate >= 32000 else 576


class SpliceError(Exception):
    """The encoder's output is not what splicing needs (no Info header, or no silent frames
    where the gaps go); encoding the whole PCM is the way out."""


# MPEG audio frame header fields (Layer III).
_BITRATES_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2
    0: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2.5
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_PADDING_BIT = 1 << 9

# Fields of the Info tag (a Xing header and LAME's extension), from its start in the first frame.
_FLAGS, _FRAME_COUNT, _BYTE_COUNT, _TOC = 4, 8, 12, 16  # flags 0x0f: counts, TOC, quality present
_DELAY_PADDING = 141  # 12 bits of encoder delay, then 12 bits of end padding, in samples
_MUSIC_LENGTH, _MUSIC_CRC, _TAG_CRC = 148, 152, 154
_TAG_CRC_SPAN = 190  # ffmpeg's tag CRC covers the frame's first 190 bytes, its own field zeroed


@dataclass(frozen=True)
class _Format:
    version: int
    sample_rate: int
    kbps: int

    @property
    def slot_factor(self) -> int:
        return 144 if self.version == 3 else 72

    @property
    def samples(self) -> int:
        return self.slot_factor * 8

    @property
    def frame_bytes_unpadded(self) -> int:
        return self.slot_factor * self.kbps * 1000 // self.sample_rate

    def frame_sizes(self, first: int, count: int) -> list[int]:
        """Bytes of CBR frames `first` to `first + count`: padded just often enough to hold
        the bitrate exactly."""
        per_frame = self.slot_factor * self.kbps * 1000
        ends = np.arange(first, first + count + 1, dtype=np.int64) * per_frame // self.sample_rate
        return np.diff(ends).tolist()

    @property
    def info_offset(self) -> int:
        """Where the Info tag starts in the first frame: after the header and the side info
        of a mono frame (voiceguide encodes mono)."""
        return 4 + (17 if self.version == 3 else 9)


def _format(data: bytes) -> _Format:
    """The format of the Layer III frame at the start of `data`."""
    header = int.from_bytes(data[:4], "big")
    version, layer, bitrate, rate = (header >> 19) & 3, (header >> 17) & 3, (header >> 12) & 15, (header >> 10) & 3
    if header >> 21 != 0x7FF or layer != 1 or version == 1 or bitrate in (0, 15) or rate == 3:
        raise SpliceError("the stream does not start with a Layer III frame")
    return _Format(version, _SAMPLE_RATES[version][rate], _BITRATES_KBPS[version][bitrate])


def frames(data: bytes) -> tuple[_Format, list[bytes]]:
    """The frames of a bare CBR MP3 stream (no ID3 tags), Info frame first."""
    fmt = _format(data)
    return fmt, [frame for chunk in _frame_chunks(io.BytesIO(data)) for frame in chunk]


def frame_ends(data: bytes | bytearray, start: int = 0, origin: int = 0) -> list[int]:
    """Where each whole frame of the bare CBR MP3 stream in `data` ends, from the frame at
    `start` on; a frame cut short at the end is left out. Every frame must be like the first
    in `data` (`origin`: where `data` starts in the stream, for the error)."""
    head = bytes(data[:4])
    sync, rate_byte, unpadded = head[:2], head[2] & ~2, _format(head).frame_bytes_unpadded
    ends = []
    while start + 4 <= len(data):
        # Every frame has the first one's sync, version, layer, bitrate and rate; padding varies.
        if data[start: start + 2] != sync or data[start + 2] & ~2 != rate_byte:
            raise SpliceError(f"no frame like the first at byte {origin + start}")
        end = start + unpadded + (data[start + 2] >> 1 & 1)
        if end > len(data):
            break
        ends.append(end)
        start = end
    return ends


def encoder_delay(path: Path) -> int:
    """The encoder delay (samples) that the Info header of the MP3 at `path` gives."""
    with open(path, "rb") as f:
        head = f.read(4096)
    fmt = _format(head)
    at = fmt.info_offset
    if head[at: at + 4] not in (b"Info", b"Xing"):
        raise SpliceError("the encoder wrote no Info header")
    return int.from_bytes(head[at + _DELAY_PADDING: at + _DELAY_PADDING + 3], "big") >> 12


def splice_silence(path: Path, gaps: list[tuple[int, int]], samples: int) -> None:
    """Put the dropped silence back into the MP3 at `path`, as copies of its own silent frames,
    and make its Info header say it decodes to exactly `samples` samples.

    The file is read and written as a stream (a megabyte at a time), so memory stays flat
    however long the session; the spliced copy replaces `path` only once it is whole.
    The end padding is written here, not taken from ffmpeg: ffmpeg's own is sometimes a few
    samples short (1,105 where 1,113 to 1,123 were needed), and the file then decoded that many
    samples longer than its PCM.
    """
    if not gaps:
        _set_end_padding(path, samples)
        return
    spliced_path = temporary_path(path)
    try:
        with open(path, "rb") as source, open(spliced_path, "wb") as out:
            fmt = _format(source.read(4))
            source.seek(0)
            chunks = _frame_chunks(source)
            info, *first = next(chunks, [b""])
            delay = _delay(info, fmt)
            delay_cells = delay // fmt.samples
            out.write(bytes(len(info)))  # the Info frame's place, written last
            spliced = _SplicedFrames(out, len(info))
            pending = ((sent_before + delay_cells, count) for sent_before, count in gaps)
            gap, index, previous = next(pending, None), 0, b""  # index: of chunk[0] among the audio frames
            for chunk in itertools.chain([first], chunks):
                taken = 0
                while gap is not None and gap[0] < index + len(chunk):
                    at = gap[0] - index
                    before = chunk[at - 1] if at > 0 else previous
                    if gap[0] <= 0 or _payload(before) != _payload(chunk[at]):
                        raise SpliceError(f"no silent frames around frame {gap[0]}")
                    spliced.write(chunk[taken:at])
                    spliced.write(_copies(chunk[at], fmt, spliced.count, gap[1]))
                    taken, gap = at, next(pending, None)
                spliced.write(chunk[taken:])
                index, previous = index + len(chunk), chunk[-1] if chunk else previous
            if gap is not None:
                raise SpliceError(f"no silent frames around frame {gap[0]}")
            spliced.flush()
            padding = spliced.count * fmt.samples - delay - samples
            if not 0 <= padding < 1 << 12:
                raise SpliceError(f"the encoder wrote {spliced.count} frames for {samples} samples")
            out.seek(0)
            out.write(_info_frame(info, fmt, spliced, delay, padding))
        os.replace(spliced_path, path)
    finally:
        spliced_path.unlink(missing_ok=True)


def _set_end_padding(path: Path, samples: int) -> None:
    """With nothing to splice, the file is ffmpeg's own, counts and seek table right: only
    the end padding is written, in place, and the tag's CRC again."""
    with open(path, "r+b") as f:
        head = f.read(4)
        fmt = _format(head)
        f.seek(0)
        info = bytearray(f.read(fmt.frame_bytes_unpadded + (head[2] >> 1 & 1)))
        at = _info_tag(info, fmt)
        field = lambda offset, width: int.from_bytes(info[at + offset: at + offset + width], "big")  # noqa: E731
        if field(_BYTE_COUNT, 4) != os.fstat(f.fileno()).st_size:
            raise SpliceError("the Info header's byte count is not the file's size")
        delay = field(_DELAY_PADDING, 3) >> 12
        padding = field(_FRAME_COUNT, 4) * fmt.samples - delay - samples
        if not 0 <= padding < 1 << 12:
            raise SpliceError(f"the encoder wrote {field(_FRAME_COUNT, 4)} frames for {samples} samples")
        info[at + _DELAY_PADDING: at + _DELAY_PADDING + 3] = (delay << 12 | padding).to_bytes(3, "big")
        info[at + _TAG_CRC: at + _TAG_CRC + 2] = bytes(2)
        info[at + _TAG_CRC: at + _TAG_CRC + 2] = crc16(bytes(info[:_TAG_CRC_SPAN])).to_bytes(2, "big")
        f.seek(0)
        f.write(info)


def join_at_gap(first: Path, second: Path, cells: int) -> None:
    """Make `first` the encode of its stream followed by `second`'s, as one encoder would have
    made it: the frames of `first`'s encoder delay and of its `cells` sent cells (its flush is
    dropped), then `second`'s frames after its own delay. The two streams must meet in silence
    (silence.SilenceGaps.cut): the join is then a gap for `splice_silence`, which checks that
    the frames on both sides of it are silent and writes the Info header anew."""
    joined = temporary_path(first)
    try:
        with open(first, "rb") as a, open(second, "rb") as b, open(joined, "wb") as out:
            fmt = _format(a.read(4))
            if _format(b.read(4)) != fmt:
                raise SpliceError("the two encodes differ in format")
            a.seek(0)
            b.seek(0)
            first_chunks, second_chunks = _frame_chunks(a), _frame_chunks(b)
            info, *first_frames = next(first_chunks, [b""])
            other_info, *second_frames = next(second_chunks, [b""])
            delay = _delay(info, fmt)
            if _delay(other_info, fmt) != delay or delay % fmt.samples:
                raise SpliceError(f"the two encodes' delays ({delay}, {_delay(other_info, fmt)}) do not join")
            out.write(info)
            keep = delay // fmt.samples + cells
            for chunk in itertools.chain([first_frames], first_chunks):
                out.writelines(chunk[:keep])
                keep -= min(keep, len(chunk))
                if not keep:
                    break
            if keep:
                raise SpliceError("the first encode has fewer frames than it was sent cells")
            skip = delay // fmt.samples
            for chunk in itertools.chain([second_frames], second_chunks):
                out.writelines(chunk[skip:])
                skip -= min(skip, len(chunk))
        os.replace(joined, first)
    finally:
        joined.unlink(missing_ok=True)


def _delay(info: bytes, fmt: _Format) -> int:
    """The encoder delay, in samples, that the Info frame `info` gives."""
    at = _info_tag(info, fmt)
    return int.from_bytes(info[at + _DELAY_PADDING: at + _DELAY_PADDING + 3], "big") >> 12


def _info_tag(info: bytes | bytearray, fmt: _Format) -> int:
    """Where the Info tag starts in the first frame, which must hold one with every field."""
    at = fmt.info_offset
    if info[at: at + 4] not in (b"Info", b"Xing") or info[at + _FLAGS: at + _FRAME_COUNT] != b"\0\0\0\x0f":
        raise SpliceError("the encoder wrote no Info header")
    return at


_READ_BYTES = 1 << 20
_BATCH_FRAMES = 4096


def _frame_chunks(source: BinaryIO) -> Iterator[list[bytes]]:
    """The frames of the bare CBR MP3 stream in `source`, a megabyte of them at a time."""
    data, at, offset = b"", 0, 0
    while True:
        more = source.read(_READ_BYTES)
        data, offset, at = data[at:] + more, offset + at, 0
        ends = frame_ends(data, origin=offset) if len(data) >= 4 else []
        if ends:
            yield [data[a:b] for a, b in zip([0, *ends[:-1]], ends)]
            at = ends[-1]
        if not more:
            if at != len(data):
                raise SpliceError("the stream ends inside a frame")
            return


class _SplicedFrames:
    """The audio frames of the spliced file as they are written: where each starts (for the
    seek table), how many bytes, and the CRC of them all, a batch at a time."""

    def __init__(self, out: BinaryIO, info_bytes: int):
        self.out = out
        self.starts = array("q")
        self.size = info_bytes
        self.crc = Crc16()
        self._batch: list[bytes] = []

    @property
    def count(self) -> int:
        return len(self.starts)

    def write(self, frame_list: list[bytes]) -> None:
        sizes = [len(frame) for frame in frame_list]
        self.starts.extend(itertools.accumulate(sizes[:-1], initial=self.size) if sizes else ())
        self.size += sum(sizes)
        self._batch += frame_list
        if len(self._batch) >= _BATCH_FRAMES:
            self.flush()

    def flush(self) -> None:
        self.crc.update(self._batch)
        self.out.writelines(self._batch)
        self._batch = []


def _payload(frame: bytes) -> bytes:
    """A frame without its header and the filler at its end."""
    return frame[4:].rstrip(b"\0")


def _copies(frame: bytes, fmt: _Format, first: int, count: int) -> list[bytes]:
    """`count` copies of `frame` to stand at `first`, each padded or not as its place needs."""
    payload, unpadded = _payload(frame), fmt.frame_bytes_unpadded
    if 4 + len(payload) > unpadded:
        raise SpliceError("the silent frame fills the whole frame")
    header = int.from_bytes(frame[:4], "big") & ~_PADDING_BIT
    plain = header.to_bytes(4, "big") + payload + bytes(unpadded - 4 - len(payload))
    padded = (header | _PADDING_BIT).to_bytes(4, "big") + payload + bytes(unpadded + 1 - 4 - len(payload))
    return [padded if size > unpadded else plain for size in fmt.frame_sizes(first, count)]


def _info_frame(info: bytes, fmt: _Format, audio: _SplicedFrames, delay: int, padding: int) -> bytes:
    """The Info frame for the frames written, as ffmpeg writes it: counts, seek table, delay
    and padding, music CRC, tag CRC."""
    at, count, size = fmt.info_offset, audio.count, audio.size
    toc = [min(255, 256 * audio.starts[i * count // 100] // size) for i in range(100)]
    toc[0] = 0  # where the audio starts, by definition

    def put(field: int, value: int, width: int) -> None:
        out[at + field: at + field + width] = value.to_bytes(width, "big")

    out = bytearray(info)
    put(_FRAME_COUNT, count, 4)
    put(_DELAY_PADDING, delay << 12 | padding, 3)
    put(_BYTE_COUNT, size, 4)
    out[at + _TOC: at + _TOC + 100] = bytes(toc)
    put(_MUSIC_LENGTH, size, 4)
    put(_MUSIC_CRC, audio.crc.value, 2)
    put(_TAG_CRC, 0, 2)
    put(_TAG_CRC, crc16(bytes(out[:_TAG_CRC_SPAN])), 2)
    return bytes(out)
