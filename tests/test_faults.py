"""Faults with real processes: SIGKILL mid-build, two builds at once, unwritable output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voiceguide.measure import decode
from voiceguide.speak import SAMPLE_RATE

pytestmark = pytest.mark.integration

ROUTINE = """\
title: {title}
defaults:
  hold: 40
exercises:
  - name: Long hold
    steps: Lie still and breathe.
  - name: Another hold
    sides: both
"""


def start_build(workdir: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(workdir / "cache"))
    return subprocess.Popen(
        [sys.executable, "-m", "voiceguide.cli", "build", "long", "--out", "out", *args],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def assert_outputs_complete(out: Path) -> None:
    """Every session in `out` is whole: its MP3 decodes to the length its plan records."""
    records = list(out.glob("*.json"))
    records = [r for r in records if not r.name.endswith(".chapters.json")]
    assert records
    for record_path in records:
        record = json.loads(record_path.read_text())
        mp3 = out / record["files"]["mp3"]
        assert mp3.stat().st_size == record["mp3_bytes"]
        seconds = decode(mp3, SAMPLE_RATE).size / SAMPLE_RATE
        assert abs(seconds * 1000 - record["duration_ms"]) <= 100


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "long.yaml").write_text(ROUTINE.format(title="First Version"))
    build = start_build(tmp_path)
    assert build.wait() == 0, build.stderr.read()
    return tmp_path


def test_sigkill_at_any_moment_leaves_the_previous_session_whole(workdir):
    out = workdir / "out"
    (workdir / "routines" / "long.yaml").write_text(ROUTINE.format(title="Second Version"))
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 1.6):
        build = start_build(workdir, "--force")
        time.sleep(delay)
        build.send_signal(signal.SIGKILL)
        build.wait()
        assert_outputs_complete(out)
    finished = start_build(workdir)
    assert finished.wait() == 0, finished.stderr.read()
    assert_outputs_complete(out)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((out / "long.json").read_text())["title"] == "Second Version"


def test_two_builds_at_once_into_the_same_output_and_cache_both_succeed(workdir):
    builds = [start_build(workdir, "--force") for _ in range(2)]
    for build in builds:
        assert build.wait() == 0, build.stderr.read()
    assert_outputs_complete(workdir / "out")
    assert not [p.name for p in (workdir / "out").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_a_read_only_output_directory_is_a_clear_error(workdir):
    out = workdir / "out"
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    out.chmod(0o555)
    try:
        build = start_build(workdir, "--force")
        assert build.wait() == 1
        stderr = build.stderr.read()
        assert "cannot write" in stderr and "Traceback" not in stderr
    finally:
        out.chmod(0o755)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_a_missing_ffmpeg_is_a_clear_error(workdir, monkeypatch):
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(workdir / "cache"), PATH="/nonexistent",
               VOICEGUIDE_FFMPEG="/nonexistent/ffmpeg")
    build = subprocess.run([sys.executable, "-m", "voiceguide.cli", "build", "long", "--out", "out", "--force"],
                           cwd=workdir, env=env, capture_output=True, text=True)
    assert build.returncode == 1
    assert "ffmpeg" in build.stderr and "Traceback" not in build.stderr
    assert_outputs_complete(workdir / "out")


def test_an_output_path_that_is_a_file_is_a_clear_error(workdir):
    (workdir / "not-a-dir").write_text("x")
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(workdir / "cache"))
    build = subprocess.run([sys.executable, "-m", "voiceguide.cli", "build", "long", "--out", "not-a-dir/sessions"],
                           cwd=workdir, env=env, capture_output=True, text=True)
    assert build.returncode == 1
    assert "not-a-dir/sessions: cannot write: Not a directory" in build.stderr and "Traceback" not in build.stderr


def test_a_full_disk_is_a_clear_error_and_keeps_the_old_session(workdir):
    import resource

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(workdir / "cache"))
    build = subprocess.run([sys.executable, "-m", "voiceguide.cli", "build", "long", "--out", "out", "--force"],
                           cwd=workdir, env=env, capture_output=True, text=True, preexec_fn=small_disk)
    assert build.returncode == 1
    assert "cannot write" in build.stderr and "Traceback" not in build.stderr
    assert_outputs_complete(workdir / "out")
    assert not [p.name for p in (workdir / "out").iterdir() if p.name.endswith(".tmp")]
