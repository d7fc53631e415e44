"""How the built session sounds and what comes with it: loudness, clipping, chapters, sidecars."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from pathlib import Path

from voiceguide import tools
from voiceguide.build import Options, build
from voiceguide.routine.load import load
from voiceguide.measure import decode
from voiceguide.recipe import SAMPLE_RATE
from voiceguide.speech.cache import ClipCache

from .conftest import SHORT
from .pacing_checks import pacing_problems

pytestmark = pytest.mark.integration


def ebur128(mp3) -> dict[str, float]:
    """Integrated loudness and true peak as ffmpeg's own meter reads them."""
    result = subprocess.run(
        [tools.ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i", str(mp3), "-af", "ebur128=peak=true:framelog=quiet",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )
    summary = result.stderr[result.stderr.rindex("Summary:"):]
    return {
        "I": float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
        "TP": float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)),
    }


def ffmpeg_chapters(mp3) -> list[tuple[float, str]]:
    """Chapters in the order ffmpeg's demuxer (the one ffprobe uses) lists them."""
    result = subprocess.run([tools.ffmpeg(), "-hide_banner", "-nostdin", "-i", str(mp3)], capture_output=True, text=True)
    found = re.findall(r"Chapter #\d+:\d+: start (\d+\.\d+), end [\d.]+\n\s+Metadata:\n\s+title\s+: (.*)", result.stderr)
    return [(float(start), title) for start, title in found]


def test_loudness_meets_the_podcast_target(session):
    result, _, _ = session
    measured = ebur128(result.mp3)
    assert -17.0 <= measured["I"] <= -15.0, measured
    assert measured["TP"] <= -1.0, measured


def test_no_clipped_samples_and_no_clicks(session):
    result, timeline, _ = session
    audio = decode(result.mp3, SAMPLE_RATE)
    assert np.max(np.abs(audio)) < 0.95
    # Where the plan is silent, the decoded audio is silent too: no clicks at clip edges, and
    # nothing left in the silence spliced in as MP3 frames. The codec spreads an onset back
    # over up to one frame (576 samples, pre-echo, masked by the onset itself).
    sounding = np.zeros(audio.size, bool)
    for event in timeline.events:
        if event.kind in ("speech", "chime"):
            start = event.start_ms * SAMPLE_RATE // 1000 - 576
            sounding[max(0, start): event.end_ms * SAMPLE_RATE // 1000 + 2000] = True
    assert np.max(np.abs(audio[~sounding]), initial=0.0) < 0.001


def test_chapters_are_listed_in_time_order_with_exercise_names(session):
    result, timeline, _ = session
    chapters = ffmpeg_chapters(result.mp3)
    assert [title for _, title in chapters] == [c.title for c in timeline.chapters]
    assert [start for start, _ in chapters] == sorted(start for start, _ in chapters)
    assert [start for start, _ in chapters] == [c.start_ms / 1000 for c in timeline.chapters]


def test_id3_tags_chapters_toc_and_cover(session):
    from mutagen.id3 import ID3

    result, timeline, _ = session
    tags = ID3(result.mp3)
    assert tags.version[:2] == (2, 3)
    for frame in ("TIT2", "TPE1", "TALB", "TCON", "TDRC"):  # mutagen reads v2.3 TYER as TDRC
        assert tags.getall(frame), frame
    comment = str(tags.getall("COMM")[0])
    assert "A short session" in comment and "Source:" in comment
    toc = tags.getall("CTOC")[0]
    chapters = {c.element_id: c for c in tags.getall("CHAP")}
    assert [chapters[e].start_time for e in toc.child_element_ids] == [c.start_ms for c in timeline.chapters]
    assert tags.getall("APIC")[0].data[:8] == b"\x89PNG\r\n\x1a\n"


def test_transcript_cues_match_the_plan(session):
    result, timeline, _ = session
    text = result.mp3.with_suffix(".vtt").read_text()
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)\n(.+)$", text, re.M)
    speech = timeline.speech()
    assert len(cues) == len(speech)
    for cue, event in zip(cues, speech):
        h, m, s, ms = map(int, cue[:4])
        assert ((h * 60 + m) * 60 + s) * 1000 + ms == event.start_ms
        assert cue[8] == event.text


def test_podcasting_chapters_json(session):
    result, timeline, _ = session
    chapters = json.loads(result.mp3.with_name(result.mp3.stem + ".chapters.json").read_text())
    assert chapters["version"] == "1.2.0"
    assert [c["title"] for c in chapters["chapters"]] == [c.title for c in timeline.chapters]
    assert chapters["chapters"][0]["startTime"] == 0
    assert result.mp3.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


SEED_ROUTINES = sorted(path.stem for path in (Path(__file__).parent.parent / "routines").glob("*.yaml"))
VARIANTS = {
    "default": Options(),
    "brief-slow-bright": Options(verbosity="brief", hold_scale=1.5, rate=120, chimes="bright"),
    "minimal-fast-silent": Options(verbosity="minimal", countdown=5, halfway=False, rate=220, chimes="none"),
}


@pytest.fixture(scope="module")
def speech_cache(tmp_path_factory):
    return ClipCache(tmp_path_factory.mktemp("seed-cache"))


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", SEED_ROUTINES)
def test_every_seed_session_keeps_its_promises(tmp_path, speech_cache, name, variant):
    """Length to the sample, true peak under -1 dBTP and -16 LUFS, measured on the MP3 itself."""
    routine = load(Path(__file__).parent.parent / "routines" / f"{name}.yaml")
    result = build(routine, tmp_path, VARIANTS[variant], cache=speech_cache, jobs=2)
    assert decode(result.mp3, SAMPLE_RATE).size == result.duration_ms * SAMPLE_RATE // 1000
    measured = ebur128(result.mp3)
    assert measured["TP"] <= -1.0 and -17.0 <= measured["I"] <= -15.0, measured
    # The pacing promises, on the real clips' lengths (the opening's 30 s at the default rate).
    events = json.loads(result.mp3.with_suffix(".json").read_text())["events"]
    assert pacing_problems(events, 30_000 if variant == "default" else None) == []
    if variant == "default":  # what `voiceguide list` shows before a session is built (README)
        from voiceguide.estimate import estimated_ms

        assert abs(estimated_ms(routine) - result.duration_ms) <= max(5000, result.duration_ms // 100)


def test_an_mp3_over_the_true_peak_limit_is_turned_down_where_it_is_over(tmp_path, monkeypatch):
    # The mechanism, made to work: hold the MP3 to -3.5 dBTP, under what the lines are limited to.
    from voiceguide.audio import export, peaks

    monkeypatch.setattr(peaks, "LIMIT_DBTP", -3.7)
    monkeypatch.setattr(peaks, "TARGET_DBTP", -4.1)
    encodes = []

    def counted(encode):
        def encode_and_count(*args, **kwargs):
            found = encode(*args, **kwargs)
            encodes.append(len(found))
            return found
        return encode_and_count

    # The session is encoded in two halves at once (export._encode_in_two), or, failing
    # that, by one encoder (export._encode).
    for name in ("_encode", "_encode_in_two"):
        monkeypatch.setattr(export, name, counted(getattr(export, name)))
    routine = load_text(tmp_path, SHORT)
    result = build(routine, tmp_path / "out", cache=ClipCache(tmp_path / "cache"), force=True)
    assert encodes[0] > 0 and encodes[-1] == 0  # over at first, then corrected
    measured = ebur128(result.mp3)
    assert measured["TP"] <= -3.5, measured
    assert decode(result.mp3, SAMPLE_RATE).size == result.duration_ms * SAMPLE_RATE // 1000


def load_text(tmp_path, text: str):
    path = tmp_path / "routine.yaml"
    path.write_text(text)
    return load(path)
