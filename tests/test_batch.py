"""Batches: build --all, up to date, failures that stay alone, the playlist; new and list.

Speech comes from a fake engine; the tests that build sessions encode them with the real
ffmpeg, so they are integration tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide import tools

from voiceguide.speech import pyttsx3_engine
from voiceguide.cli import cli
from voiceguide.routine.load import load
from voiceguide.measure import decode
from voiceguide.plan import plan
from voiceguide.recipe import SAMPLE_RATE
from voiceguide.speech.clips import write_wav

from .conftest import fake_engine

ALPHA = """\
title: Alpha Session
exercises:
  - name: Reach
    steps: Reach up.
    hold: 2
"""
BETA = """\
title: Beta Session
exercises:
  - name: Fold
    steps: Fold forward.
    hold: 3
"""
BROKEN = """\
title: Broken Session
exercises:
  - name: Wobble
    steps: Wobble your knees.
    hold: 2
"""
# Under 3 hours as estimated before speech (a clearly longer routine is refused when it is
# loaded), over it once its twelve long steps are said by FakeWorker.
LONG_STEP = " ".join(["Breathe in slowly and let your whole back soften into the floor."] * 6)
TOO_LONG = f"""\
title: Far Too Long
exercises:
  - name: Lie still
    steps: [{", ".join([LONG_STEP] * 12)}]
    hold: 29m
    reps: 6
"""


class FakeWorker:
    """Says each line as a tone as long as the line (13 characters a second, like conftest.ToneWorker), and cannot say 'Wobble your knees.'."""

    said: list[str] = []

    def __init__(self, voice, rate):
        pass

    def synthesize(self, texts: list[str], paths: list[Path]) -> list[str]:
        problems = []
        for text, path in zip(texts, paths):
            if text == "Wobble your knees.":
                problems.append("the engine fell over")
                continue
            FakeWorker.said.append(text)
            t = np.arange(int(len(text) / 13 * SAMPLE_RATE)) / SAMPLE_RATE
            with open(path, "wb") as f:
                write_wav(f, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SAMPLE_RATE)
            problems.append("")
        return problems

    def stop(self) -> None:
        pass


@pytest.fixture
def said(tmp_path, monkeypatch):
    """A project in tmp_path with two tiny routines, a fresh cache and the fake engine."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch, FakeWorker)
    Path("routines").mkdir()
    Path("routines/alpha.yaml").write_text(ALPHA)
    Path("routines/beta.yaml").write_text(BETA)
    return FakeWorker.said  # the list fake_engine gave it, which FakeWorker appends to


def run(*args):
    return CliRunner().invoke(cli, list(args))


def planned_ms(name: str) -> int:
    return json.loads(Path(f"out/{name}.json").read_text())["duration_ms"]


def mtimes() -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in Path("out").iterdir()}


@pytest.mark.integration
def test_build_all_builds_every_routine_in_parallel_and_publishes_them(said):
    result = run("build", "--all", "--jobs", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # not a terminal: a log line per phase
    assert lines[0] == f"speaking: {len(said)} phrases (each from the cache, or synthesized)"
    assert lines[1].startswith(f"speech: {len(said)} phrases, {len(said)} synthesized, in ")
    assert lines[2] == "encoding: 2 sessions"
    assert sorted(re.sub(r"\(\d+:\d\d\) in [\d.]+ s$", "", line) for line in lines[3:5]) == [
        "built: out/alpha.mp3 ", "built: out/beta.mp3 "]
    assert lines[5].startswith("published: out/playlist.m3u, out/index.html, out/feed.xml") and lines[5].endswith(" (2 sessions)")
    assert lines[6] == "feed: its files are under http://127.0.0.1:8000/"
    assert re.fullmatch(r"2 built, 0 up to date, 0 failed in [\d.]+ s", lines[7])
    assert len(said) == len(set(said))  # lines both routines share were said once
    assert Path("out/playlist.m3u").read_text() == (
        "#EXTM3U\n"
        f"#EXTINF:{round(planned_ms('alpha') / 1000)},Alpha Session\nalpha.mp3\n"
        f"#EXTINF:{round(planned_ms('beta') / 1000)},Beta Session\nbeta.mp3\n"
    )
    for name in ("alpha", "beta"):
        audio = decode(Path(f"out/{name}.mp3"), SAMPLE_RATE)
        assert abs(audio.size * 1000 / SAMPLE_RATE - planned_ms(name)) <= 100


@pytest.mark.integration
def test_a_second_batch_is_up_to_date_and_rewrites_nothing_until_forced(said, monkeypatch):
    assert run("build", "--all", "--jobs", "1").exit_code == 0
    before = mtimes()

    def no_ffmpeg():
        raise AssertionError("an up-to-date batch must not start ffmpeg")

    ffmpeg = tools.ffmpeg
    monkeypatch.setattr(tools, "ffmpeg", no_ffmpeg)
    monkeypatch.setattr(pyttsx3_engine, "Worker", None)  # nor the speech engine
    again = run("build", "--all")
    assert again.exit_code == 0, again.output
    assert re.sub(r"[\d.]+ s$", "T", again.output) == (
        f"up to date: out/alpha.mp3 (0:{round(planned_ms('alpha') / 1000):02d})\n"
        f"up to date: out/beta.mp3 (0:{round(planned_ms('beta') / 1000):02d})\n"
        "0 built, 2 up to date, 0 failed in T\n"
    )
    assert mtimes() == before

    monkeypatch.setattr(tools, "ffmpeg", ffmpeg)
    monkeypatch.setattr(pyttsx3_engine, "Worker", FakeWorker)
    forced = run("build", "--all", "--force", "--jobs", "1")
    assert forced.exit_code == 0, forced.output
    assert forced.output.count("built: ") == 2 and "speech: " in forced.output
    assert mtimes()["alpha.mp3"] > before["alpha.mp3"]


@pytest.mark.integration
def test_sessions_that_fail_at_build_time_do_not_stop_the_others(said):
    Path("routines/broken.yaml").write_text(BROKEN)
    Path("routines/long.yaml").write_text(TOO_LONG)
    result = run("build", "--all", "--jobs", "1")
    assert result.exit_code == 1
    failed = result.stderr.splitlines()
    assert failed[0] == 'failed: broken: pyttsx3 could not say "Wobble your knees." after 3 tries: the engine fell over'
    assert re.fullmatch(
        r"failed: long: routines/long\.yaml:6:11: exercises\[0\]\.reps: expected a session of at most 3h, "
        r"found 3h\d\dm once its speech is made \(exercises\[0\] takes 3h\d\dm of it: fewer reps\)", failed[1])
    assert len(failed) == 2
    assert re.fullmatch(r"2 built, 0 up to date, 2 failed in [\d.]+ s", result.stdout.splitlines()[-1])
    assert Path("out/alpha.mp3").exists() and Path("out/beta.mp3").exists()
    assert not Path("out/broken.mp3").exists() and not Path("out/long.mp3").exists()
    assert re.findall(r"^\w+\.mp3$", Path("out/playlist.m3u").read_text(), re.M) == ["alpha.mp3", "beta.mp3"]


def test_a_routine_with_a_mistake_still_stops_the_batch_before_anything_is_written(said):
    Path("routines/typo.yaml").write_text("title: Typo\nexercises:\n  - name: Reach\n    hodl: 2\n")
    result = run("build", "--all")
    assert result.exit_code == 1
    assert result.output.startswith("routines/typo.yaml:4:5: ")
    assert not Path("out").exists() and not said


def test_new_writes_a_starter_that_plans_cleanly_and_is_never_overwritten(said):
    result = run("new", "evening-stretch")
    assert result.exit_code == 0, result.output
    assert result.output == "wrote routines/evening-stretch.yaml: edit it, then try 'voiceguide plan evening-stretch'\n"
    routine = load(Path("routines/evening-stretch.yaml"))
    assert routine.title == "Evening stretch" and len(routine.exercises) == 3
    assert plan(routine, lambda text: 1000).duration_ms > 60_000
    planned = run("plan", "evening-stretch")
    assert planned.exit_code == 0 and "note:" not in planned.output

    text = Path("routines/evening-stretch.yaml").read_text()
    again = run("new", "evening-stretch")
    assert again.exit_code == 1
    assert again.output == "error: routines/evening-stretch.yaml: already exists; edit it, or choose another name\n"
    assert Path("routines/evening-stretch.yaml").read_text() == text

    bad = run("new", "Evening Stretch")
    assert bad.exit_code == 1
    assert "found 'Evening Stretch' (try 'evening-stretch')" in bad.output
    assert not Path("routines/Evening Stretch.yaml").exists()


def test_list_shows_every_routine_without_saying_anything(said):
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = re.sub(r"\d+:\d\d", "m:ss", result.output).splitlines()
    assert [line.split("  ")[0] for line in lines[:3]] == ["id", "alpha", "beta"]
    assert "Alpha Session" in lines[1] and lines[1].endswith("~m:ss   routines/")
    assert all(line.endswith("bundled") for line in lines[3:]) and len(lines) > 3  # the seed routines
    assert said == []  # lengths are estimated: no speech
