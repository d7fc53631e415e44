"""Encoding only the sound: silence taken out before the encoder and spliced back as frames."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceguide.audio import export, mp3
from voiceguide.audio.export import Tags
from voiceguide.measure import decode
from voiceguide.audio.crc16 import crc16, crc16_frames
from voiceguide.audio.mp3 import frames
from voiceguide.audio.silence import MARGIN_CELLS, SilenceGaps

RATE = 22050
CELL = mp3.samples_per_frame(RATE)


def pcm_with_silences(layout: list[tuple[str, int]], seed: int = 1) -> np.ndarray:
    """16-bit PCM from ('tone' | 'silence', samples) pieces."""
    rng = np.random.default_rng(seed)
    pieces = []
    for kind, length in layout:
        if kind == "silence":
            pieces.append(np.zeros(length, dtype="<i2"))
        else:
            t = np.arange(length) / RATE
            tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 900) * t) * np.hanning(length)
            pieces.append(np.round(tone * 32767).astype("<i2"))
    return np.concatenate(pieces)


def sent_through(pcm: np.ndarray, block_sizes: list[int]) -> tuple[bytes, SilenceGaps]:
    gaps = SilenceGaps(CELL)
    out, position, index = [], 0, 0
    while position < pcm.size:
        size = block_sizes[index % len(block_sizes)]
        out.append(gaps.feed(pcm[position: position + size]))
        position += size
        index += 1
    out.append(gaps.finish())
    return b"".join(out), gaps


def put_back(sent: bytes, gaps: SilenceGaps) -> np.ndarray:
    """The sent PCM with the dropped silent cells restored where the gaps say."""
    cells = np.frombuffer(sent, dtype="<i2")
    pieces, taken = [], 0
    for sent_before, count in gaps.gaps:
        pieces += [cells[taken * CELL: sent_before * CELL], np.zeros(count * CELL, dtype="<i2")]
        taken = sent_before
    pieces.append(cells[taken * CELL:])
    return np.concatenate(pieces)


layouts = st.lists(
    st.tuples(st.sampled_from(["tone", "silence"]), st.integers(1, 40 * CELL)), min_size=1, max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(layout=layouts, block_sizes=st.lists(st.integers(1, 30_000), min_size=1, max_size=4))
def test_gaps_lose_nothing_but_silence_however_the_stream_is_cut(layout, block_sizes):
    pcm = pcm_with_silences(layout)
    sent, gaps = sent_through(pcm, block_sizes)
    assert np.array_equal(put_back(sent, gaps), pcm)
    assert len(sent) // 2 == pcm.size - CELL * sum(count for _, count in gaps.gaps)
    # Each gap sits in a run of silence with a full margin of it sent on both sides.
    cells = np.frombuffer(sent, dtype="<i2")
    for sent_before, _ in gaps.gaps:
        around = cells[(sent_before - MARGIN_CELLS) * CELL: (sent_before + MARGIN_CELLS) * CELL]
        assert around.size == 2 * MARGIN_CELLS * CELL and not around.any()


@settings(max_examples=100, deadline=None)
@given(layout=layouts, silence=st.integers(2 * MARGIN_CELLS + 1, 60), at=st.floats(0, 1), block=st.integers(1, 30_000))
def test_a_stream_cut_in_silence_and_resumed_sends_and_drops_what_one_stream_would(layout, silence, at, block):
    # The silence is `silence` cells at a cell boundary; the cut falls at a cell inside it,
    # with at least a margin of it on both sides.
    head = pcm_with_silences(layout + [("tone", 100)])
    head = np.concatenate([head, np.zeros(-head.size % CELL, dtype="<i2")])
    tail = pcm_with_silences([("tone", 100)] + layout, seed=2)
    pcm = np.concatenate([head, np.zeros(silence * CELL, dtype="<i2"), tail])
    cut = head.size + CELL * (MARGIN_CELLS + round(at * (silence - 2 * MARGIN_CELLS - 1)))
    whole_sent, whole = sent_through(pcm, [block])

    before, after = SilenceGaps(CELL), SilenceGaps(CELL, resumed=True)
    sent = [before.feed(pcm[i: min(i + block, cut)]) for i in range(0, cut, block)]
    before.cut()
    sent += [after.feed(pcm[i: i + block]) for i in range(cut, pcm.size, block)] + [after.finish()]
    assert b"".join(sent) == whole_sent
    assert after.gaps[0][0] == 0
    joined = [(before.sent_cells, before.dropped_at_cut + after.gaps[0][1])]
    joined += [(before.sent_cells + at, count) for at, count in after.gaps[1:]]
    assert before.gaps + joined == whole.gaps
    assert before.sent_samples + after.sent_samples == whole.sent_samples


def test_a_stream_is_cut_only_inside_silence():
    gaps = SilenceGaps(CELL)
    gaps.feed(pcm_with_silences([("tone", 10 * CELL), ("silence", 2 * CELL)]))
    with pytest.raises(ValueError):
        gaps.cut()  # not a whole margin of silence sent yet


def test_short_silences_are_all_sent():
    pcm = pcm_with_silences([("tone", 3000), ("silence", 2 * MARGIN_CELLS * CELL), ("tone", 3000)])
    sent, gaps = sent_through(pcm, [4096])
    assert gaps.gaps == [] and sent == pcm.tobytes()


def test_a_long_silence_leaves_only_its_margins():
    pcm = pcm_with_silences([("tone", 10 * CELL), ("silence", 1000 * CELL), ("tone", 10 * CELL)])
    sent, gaps = sent_through(pcm, [110_250])
    assert sum(count for _, count in gaps.gaps) >= 1000 - 2 * MARGIN_CELLS - 2
    assert len(sent) // 2 < 40 * CELL


def test_crc_of_frames_is_the_crc_of_their_bytes():
    rng = np.random.default_rng(3)
    pieces = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in (208, 209, 208, 1, 209)]
    pieces += [pieces[0]] * 5
    assert crc16_frames(pieces) == crc16(b"".join(pieces))
    assert crc16(b"123456789") == 0xBB3D  # CRC-16/ARC check value


def blocks_of(pcm: np.ndarray, start: int = 0, end: int | None = None) -> list[np.ndarray]:
    """pcm[start:end] as float blocks, as the renderer gives them (render.render's start, end)."""
    pcm = pcm[start:end]
    return [pcm[i: i + 110_250].astype(np.float32) / 32767.0 for i in range(0, pcm.size, 110_250)]


def encode(pcm: np.ndarray, path, skip_silence: bool, cut: int | None = None) -> None:
    if cut is None:
        export._encode(blocks_of(pcm), path, RATE, skip_silence=skip_silence)
    else:
        export._encode_in_two(lambda start=0, end=None: blocks_of(pcm, start, end), cut, [], path, RATE)


@pytest.mark.integration
@pytest.mark.parametrize("cut", [None, 200_448], ids=["one encoder", "two encoders"])
def test_spliced_mp3_decodes_like_a_whole_encode(tmp_path, cut):
    layout = [("silence", 5000), ("tone", 20_000), ("silence", 400_000), ("tone", 9000),
              ("silence", 30_000), ("tone", 15_000), ("silence", 250_001)]
    pcm = pcm_with_silences(layout)
    spliced, whole = tmp_path / "spliced.mp3", tmp_path / "whole.mp3"
    encode(pcm, spliced, skip_silence=True, cut=cut)  # 200,448: a frame's sample in the long silence
    encode(pcm, whole, skip_silence=False)
    assert spliced.stat().st_size < 1.02 * whole.stat().st_size

    a, b = decode(spliced, RATE), decode(whole, RATE)
    source = pcm.astype(np.float32) / 32767.0
    assert a.size == b.size == pcm.size  # gapless: the Info header's delay and padding hold
    # The same quality as a whole encode, and digital silence where the source is silent,
    # away from the sounds by more than the codec's window.
    error = lambda x: 10 * np.log10(np.sum(source ** 2) / np.sum((x - source) ** 2))  # noqa: E731
    assert error(a) > error(b) - 0.5
    quiet = np.convolve(pcm != 0, np.ones(4 * CELL), mode="same") == 0
    assert quiet.sum() > 500_000 and np.max(np.abs(a[quiet])) < 1e-4

    data = spliced.read_bytes()
    fmt, (info, *audio) = frames(data)
    at = fmt.info_offset
    assert int.from_bytes(info[at + 8: at + 12], "big") == len(audio)
    assert int.from_bytes(info[at + 12: at + 16], "big") == len(data)
    assert int.from_bytes(info[at + 152: at + 154], "big") == crc16(data[len(info):])
    zeroed = bytearray(info[:190])
    zeroed[at + 154: at + 156] = b"\0\0"
    assert int.from_bytes(info[at + 154: at + 156], "big") == crc16(bytes(zeroed))
    # Frame sizes keep the exact bitrate: 64 kbps over the whole file, to the byte.
    assert abs(len(data) - len(info) - len(audio) * 72 * 64000 / RATE) < 2

    from mutagen.mp3 import MP3

    assert MP3(spliced).info.length == pytest.approx(MP3(whole).info.length)


@pytest.mark.integration
def test_a_stream_that_cannot_be_spliced_is_encoded_whole(tmp_path, monkeypatch):
    pcm = pcm_with_silences([("tone", 9000), ("silence", 200_000), ("tone", 9000)])
    calls = []

    def refuse(path, gaps, samples):
        calls.append(gaps)
        if gaps:
            raise mp3.SpliceError("no silent frames around frame 12")

    monkeypatch.setattr(export, "splice_silence", refuse)
    path = tmp_path / "s.mp3"
    export.export(lambda: [pcm.astype(np.float32) / 32767.0], path, RATE, Tags(title="t"))
    assert [bool(gaps) for gaps in calls] == [True, False]
    assert decode(path, RATE).size == pcm.size


@pytest.mark.integration
def test_halves_encoded_at_once_or_in_turn_make_the_same_file(tmp_path):
    pcm = pcm_with_silences([("tone", 30_000), ("silence", 100_000), ("tone", 40_000), ("silence", 2000)])
    render = lambda start=0, end=None: blocks_of(pcm, start, end)  # noqa: E731
    paths = [tmp_path / "at-once.mp3", tmp_path / "in-turn.mp3"]
    for path, at_once in zip(paths, (True, False)):
        export._encode_in_two(render, 100_224, [], path, RATE, at_once)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert decode(paths[0], RATE).size == pcm.size


@pytest.mark.integration
def test_when_one_half_fails_the_other_stops_and_nothing_is_left_behind(tmp_path):
    pcm = np.tile(pcm_with_silences([("tone", 50_000), ("silence", 60_000)]), 20)
    cut = 110_000 * 19 + 55_000 // CELL * CELL  # in the last silence but one
    rendered = []

    def render(start=0, end=None):
        if start:
            raise RuntimeError("the second half failed")
        for block in blocks_of(pcm, start, end):
            rendered.append(block.size)
            yield block

    with pytest.raises(RuntimeError, match="second half"):
        export._encode_in_two(render, cut, [], tmp_path / "s.mp3", RATE)
    assert sum(rendered) < cut  # the first half stopped at a block, not at its end
    # Only the file it was asked to write, which export removes: the second half's is gone.
    assert [path.name for path in tmp_path.iterdir()] in ([], ["s.mp3"])


@pytest.mark.integration
def test_a_cut_that_is_not_in_silence_is_encoded_by_one_encoder(tmp_path, monkeypatch):
    pcm = pcm_with_silences([("tone", 9000), ("silence", 200_000), ("tone", 30_000), ("silence", 5000)])
    calls = []
    encode_in_two = export._encode_in_two

    def counted(*args):
        calls.append(args[1])
        return encode_in_two(*args)

    monkeypatch.setattr(export, "_encode_in_two", counted)
    path = tmp_path / "s.mp3"
    cut = 210_000 // CELL * CELL  # inside the second tone
    export.export(lambda start=0, end=None: blocks_of(pcm, start, end), path, RATE, Tags(title="t"), cut=cut)
    assert calls == [cut]
    decoded = decode(path, RATE)
    assert decoded.size == pcm.size
    error = np.sum((decoded - pcm / 32767.0) ** 2) / np.sum((pcm / 32767.0) ** 2)
    assert error < 0.01


@pytest.mark.integration
@pytest.mark.parametrize("length", [160_743, 31_718, 139_997])
def test_the_mp3_decodes_to_the_length_fed_in(tmp_path, length):
    # Lengths for which ffmpeg's own end padding is 8 to 18 samples short (measured): the
    # Info header voiceguide writes says the exact length, whatever ffmpeg wrote.
    rng = np.random.default_rng(length)
    pcm = (rng.standard_normal(length) * 0.1).astype(np.float32)
    path = tmp_path / "s.mp3"
    export.export(lambda: [pcm[:length // 3], pcm[length // 3:]], path, RATE, Tags(title="t"))
    assert decode(path, RATE).size == length


@pytest.mark.integration
def test_the_splice_streams_the_same_file_however_it_is_read(tmp_path, monkeypatch):
    # The file is read a megabyte at a time and its CRC taken a batch of frames at a time;
    # reads and batches far smaller than a frame run must give the very same bytes.
    pcm = pcm_with_silences([("tone", 30_000), ("silence", 300_000), ("tone", 20_000), ("silence", 90_000)])
    paths = []
    for read_bytes, batch in ((1 << 20, 4096), (1000, 7), (211, 1)):
        monkeypatch.setattr(mp3, "_READ_BYTES", read_bytes)
        monkeypatch.setattr(mp3, "_BATCH_FRAMES", batch)
        paths.append(tmp_path / f"{read_bytes}.mp3")
        encode(pcm, paths[-1], skip_silence=True)
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()
    assert decode(paths[1], RATE).size == pcm.size


@pytest.mark.integration
def test_a_stream_cut_inside_a_frame_is_left_as_it_was(tmp_path):
    path = tmp_path / "cut.mp3"
    encode(pcm_with_silences([("tone", 20_000), ("silence", 60_000)]), path, skip_silence=False)
    cut = path.read_bytes()[:-100]
    path.write_bytes(cut)
    with pytest.raises(mp3.SpliceError, match="ends inside a frame"):
        mp3.splice_silence(path, [(100, 10)], 85_760)
    with pytest.raises(mp3.SpliceError, match="byte count is not the file's size"):
        mp3.splice_silence(path, [], 80_000)
    assert path.read_bytes() == cut and list(tmp_path.iterdir()) == [path]


@pytest.mark.integration
def test_a_whole_encode_keeps_ffmpegs_file_but_for_the_end_padding(tmp_path, monkeypatch):
    # With nothing spliced, only the padding field and the tag's CRC are rewritten, in place.
    pcm = (np.random.default_rng(7).standard_normal(160_743) * 0.1 * 32767).astype("<i2")
    raw = {}

    def keep_then_splice(path, gaps, samples, splice=mp3.splice_silence):
        raw["mp3"] = path.read_bytes()
        splice(path, gaps, samples)

    monkeypatch.setattr(export, "splice_silence", keep_then_splice)
    path = tmp_path / "whole.mp3"
    encode(pcm, path, skip_silence=True)  # noise: no silence to drop
    data = path.read_bytes()
    fmt, (info, *audio) = frames(data)
    at = fmt.info_offset
    changed = [i for i in range(len(info)) if info[i] != raw["mp3"][i]]
    assert data[len(info):] == raw["mp3"][len(info):]
    assert set(changed) <= set(range(at + 141, at + 144)) | {at + 154, at + 155}
    zeroed = bytearray(info[:190])
    zeroed[at + 154: at + 156] = b"\0\0"
    assert int.from_bytes(info[at + 154: at + 156], "big") == crc16(bytes(zeroed))
    assert decode(path, RATE).size == pcm.size


@pytest.mark.integration
@pytest.mark.parametrize("batch_frames, read_bytes", [(256, 1 << 16), (1, 300)])
def test_the_meter_decodes_the_encoders_frames_in_batches_as_one_decode_would(tmp_path, monkeypatch, batch_frames, read_bytes):
    """The meter decodes the encoder's frames a batch at a time as they come; every sample it
    meters is the one a decode of the whole stream gives (the batches' warm-up frames work),
    batches of a frame or two (fewer than the warm-up) included."""
    from voiceguide.audio import encoder, peaks

    metered = []
    monkeypatch.setattr(peaks.Meter, "feed", lambda self, pcm: metered.append(pcm.copy()))
    monkeypatch.setattr(encoder._FollowingMeter, "BATCH_FRAMES", batch_frames)
    monkeypatch.setattr(encoder._FollowingMeter, "READ_BYTES", read_bytes)
    pcm = pcm_with_silences([("tone", 600_000), ("silence", 3000), ("tone", 700_000), ("tone", 200_000)], seed=4)
    path = tmp_path / "s.mp3"
    with encoder.Encoding(path, RATE) as encoding:
        encoding.run(iter([pcm.tobytes()]), whole=True)
    fmt, [info, *audio] = frames(path.read_bytes())
    assert len(metered) >= 3
    whole = encoder.decode_frames(b"".join(audio))
    assert np.array_equal(np.concatenate(metered), whole)
    assert whole.size == len(audio) * CELL


@pytest.mark.integration
def test_a_meter_that_cannot_decode_fails_the_encode_clearly_and_stops_the_encoder(tmp_path, monkeypatch):
    """More MP3 than the encoder's output pipe holds: the encoder can finish only because the
    failed meter closed the pipe."""
    import threading

    from voiceguide.audio import encoder
    from voiceguide.errors import ToolError

    def broken(frames: bytes):
        raise ToolError("the MP3 just encoded could not be decoded: broken")

    monkeypatch.setattr(encoder, "decode_frames", broken)
    pcm = pcm_with_silences([("tone", 4_000_000)], seed=5)  # 3 minutes: about 1.4 MB of MP3
    raised = []

    def encode():
        try:
            with encoder.Encoding(tmp_path / "s.mp3", RATE) as encoding:
                encoding.run(iter([pcm[i: i + 50_000].tobytes() for i in range(0, pcm.size, 50_000)]))
        except ToolError as error:
            raised.append(str(error))

    thread = threading.Thread(target=encode, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the encoder waited on a meter that had failed"
    assert len(raised) == 1 and "could not be decoded" in raised[0]
