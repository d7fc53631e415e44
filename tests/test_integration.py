"""The real engine and the real MP3: decode it and check it against its plan."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.build import build
from voiceguide.cli import cli
from voiceguide.measure import decode, onsets
from voiceguide.recipe import SAMPLE_RATE
from voiceguide.speech.cache import ClipCache

from .conftest import SHORT

pytestmark = pytest.mark.integration



def test_the_mp3_lasts_what_the_plan_says(session):
    result, timeline, _ = session
    audio = decode(result.mp3, SAMPLE_RATE)
    assert abs(audio.size / SAMPLE_RATE * 1000 - timeline.duration_ms) <= 100


def test_speech_and_chimes_start_where_planned(session):
    result, timeline, clips = session
    found = onsets(result.mp3, timeline, clips, SAMPLE_RATE)
    assert len(found) == len([e for e in timeline.events if e.kind in ("speech", "chime")])
    delay = statistics.median(o.error_ms for o in found)  # the codec's delay, if any is left
    assert abs(delay) <= 30
    late = [o for o in found if abs(o.error_ms - delay) > 50]
    assert not late, late


def test_holds_are_exact_between_their_chimes(session):
    result, timeline, clips = session
    found = onsets(result.mp3, timeline, clips, SAMPLE_RATE)
    starts = [o.measured_ms for o in found if o.label == "hold_start"]
    ends = [o.measured_ms for o in found if o.label == "hold_end"]
    holds = [e for e in timeline.events if e.kind == "hold" and e.text.startswith("Knee hug")]
    assert len(starts) == len(ends) == len(holds) == 2
    for start, end, hold in zip(starts, ends, holds):
        assert abs((end - start) - (hold.end_ms - hold.start_ms)) <= 20


def test_the_mp3_has_tags_and_a_sidecar(session):
    from mutagen.mp3 import MP3

    result, timeline, _ = session
    mp3 = MP3(result.mp3)
    assert mp3.info.channels == 1 and mp3.info.sample_rate == SAMPLE_RATE
    assert mp3.info.bitrate_mode != 2  # not VBR
    assert str(mp3.tags["TIT2"]) == "Short Test Session"
    assert str(mp3.tags["TPE1"]) and str(mp3.tags["TALB"])
    record = json.loads(result.mp3.with_suffix(".json").read_text())
    assert record["duration_ms"] == timeline.duration_ms


def test_a_second_build_is_up_to_date_and_writes_nothing(session):
    result, _, _ = session
    before = result.mp3.stat().st_mtime_ns
    again = build(result.routine, result.mp3.parent, cache=ClipCache(result.mp3.parent.parent / "cache"))
    assert again.status == "up to date"
    assert result.mp3.stat().st_mtime_ns == before


def test_cli_build_and_plan(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    Path("routines").mkdir()
    Path("routines/short.yaml").write_text(SHORT)
    runner = CliRunner()
    built = runner.invoke(cli, ["build", "short", "--out", "public"])
    assert built.exit_code == 0, built.output
    assert "built: public/short.mp3" in built.output
    planned = runner.invoke(cli, ["plan", "short", "--json"])
    events = json.loads(planned.output)
    assert {"start_ms", "end_ms", "kind"} <= set(events[0])
    assert all("text" in e for e in events if e["kind"] == "speech")
    audio = decode(Path("public/short.mp3"), SAMPLE_RATE)
    assert abs(audio.size / SAMPLE_RATE * 1000 - json.loads(Path("public/short.json").read_text())["duration_ms"]) <= 100
    script = runner.invoke(cli, ["plan", "short"]).output
    assert "0:00.600  speak   Short Test Session." in script
