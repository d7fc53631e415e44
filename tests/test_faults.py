"""Faults with real processes: SIGKILL at each stage of a build, two builds at once, unwritable output."""

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
from voiceguide.recipe import SAMPLE_RATE

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


def start_build(workdir: Path, *args: str, launcher: tuple[str, ...] = ("-m", "voiceguide.cli"), **env: str) -> subprocess.Popen:
    """`voiceguide build long --out out ARGS` in `workdir`, with its own cache unless `env` says."""
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(workdir / "cache"), **env}
    return subprocess.Popen(
        [sys.executable, *launcher, "build", "long", "--out", "out", *args],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def assert_outputs_complete(out: Path) -> None:
    """Every session in `out` is whole: every file of its set is the one its record's build
    wrote (size and modification time), and its MP3 decodes to the length the plan records."""
    records = list(out.glob("*.json"))
    records = [r for r in records if not r.name.endswith(".chapters.json")]
    assert records
    for record_path in records:
        record = json.loads(record_path.read_text())
        assert set(record["stamps"]) == {name for kind, name in record["files"].items() if kind != "plan"}
        for name, (size, mtime_ns) in record["stamps"].items():
            info = (out / name).stat()
            assert (info.st_size, info.st_mtime_ns) == (size, mtime_ns), name
        seconds = decode(out / record["files"]["mp3"], SAMPLE_RATE).size / SAMPLE_RATE
        assert abs(seconds * 1000 - record["duration_ms"]) <= 100


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "long.yaml").write_text(ROUTINE.format(title="First Version"))
    build = start_build(tmp_path)
    assert build.wait() == 0, build.stderr.read()
    return tmp_path


# `voiceguide build` that stops just before its set is swapped in: every file of the set is
# staged whole under its temporary name, the plan record last, and the renames are next.
# A moment too short to catch by watching the directory, so the build itself says it is there.
STOP_BEFORE_SWAP = """import os, sys, time
from voiceguide import atomic
from voiceguide.cli import main

def commit(self, last):
    open(os.environ["STOPPED_BEFORE_SWAP"], "w").close()
    time.sleep(600)  # until the test kills it

atomic.StagedSet.commit = commit
sys.argv[0] = "voiceguide"
main()
"""


def kill_when(build: subprocess.Popen, moment: str, condition) -> None:
    """SIGKILL `build` once `condition()` holds; fail if the build ends first."""
    def reached():
        if build.poll() is not None:
            raise AssertionError(f"the build ended (exit {build.returncode}) before {moment}: {build.stderr.read()}")
        return condition()

    try:
        wait_for(reached)
    finally:
        build.send_signal(signal.SIGKILL)
        build.wait()


def test_sigkill_at_each_stage_leaves_the_previous_session_whole(workdir):
    out = workdir / "out"
    (workdir / "routines" / "long.yaml").write_text(ROUTINE.format(title="Second Version"))

    def previous_session_is_whole():
        assert_outputs_complete(out)
        assert json.loads((out / "long.json").read_text())["title"] == "First Version"

    # While speaking: with an empty cache every line is said, by eSpeak NG worker processes.
    mark = f"{os.getpid()}-sigkill-speaking"
    build = start_build(workdir, "--force", VOICEGUIDE_CACHE_DIR=str(workdir / "cold-cache"), VOICEGUIDE_TEST_MARK=mark)
    kill_when(build, "a speech worker ran", lambda: [
        line for line in cmdlines(marked_processes(mark)) if "voiceguide.speech.pyttsx3_engine" in line])
    previous_session_is_whole()

    # While encoding: the MP3 is being written under its temporary name, by ffmpeg.
    mark = f"{os.getpid()}-sigkill-encoding"
    left = set(out.glob(".long.mp3.*.tmp"))  # a killed build's, swept by the next build
    build = start_build(workdir, "--force", VOICEGUIDE_TEST_MARK=mark)
    kill_when(build, "the MP3 was being encoded", lambda: set(out.glob(".long.mp3.*.tmp")) - left and [
        line for line in cmdlines(marked_processes(mark)) if "libmp3lame" in line])
    previous_session_is_whole()

    # Just before the swap: the whole new set is staged, the record too.
    stopped = workdir / "stopped-before-swap"
    build = start_build(workdir, "--force", launcher=("-c", STOP_BEFORE_SWAP), STOPPED_BEFORE_SWAP=str(stopped))
    kill_when(build, "the set was staged", stopped.exists)
    assert list(out.glob(".long.json.*.tmp")) and list(out.glob(".long.mp3.*.tmp"))  # staged, not swapped in
    previous_session_is_whole()

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
    (workdir / "routines" / "long.yaml").write_text(ROUTINE.format(title="Second Version"))
    before = {p.name: p.read_bytes() for p in (workdir / "out").iterdir()}
    build = subprocess.run([sys.executable, "-m", "voiceguide.cli", "build", "long", "--out", "out", "--force"],
                           cwd=workdir, env=env, capture_output=True, text=True, preexec_fn=small_disk)
    assert build.returncode == 1
    assert "cannot write" in build.stderr and "Traceback" not in build.stderr
    assert {p.name: p.read_bytes() for p in (workdir / "out").iterdir()} == before  # the old set, exactly
    assert_outputs_complete(workdir / "out")
    assert not [p.name for p in (workdir / "out").iterdir() if p.name.endswith(".tmp")]


def marked_processes(mark: str) -> list[int]:
    """Live (not zombie) processes whose environment carries `mark`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"VOICEGUIDE_TEST_MARK={mark}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(condition, timeout: float = 60.0):
    """Poll until `condition()` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out waiting")


def cmdlines(pids: list[int]) -> list[str]:
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return lines


@pytest.mark.parametrize("moment", ["speaking", "encoding"])
def test_workers_die_with_the_build_even_when_it_is_killed(tmp_path, moment):
    (tmp_path / "routines").mkdir()
    for name in ("one", "two", "three"):
        (tmp_path / "routines" / f"{name}.yaml").write_text(ROUTINE.format(title=f"Session {name}"))
    mark = f"{os.getpid()}-{moment}"
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(tmp_path / "cache"), VOICEGUIDE_TEST_MARK=mark)
    build = subprocess.Popen([sys.executable, "-m", "voiceguide.cli", "build", "--all", "--jobs", "2", "--out", "out"],
                             cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Speaking: an eSpeak NG worker is running. Encoding: a batch process runs its encoder.
    child = "voiceguide.speech.pyttsx3_engine" if moment == "speaking" else "libmp3lame"
    wait_for(lambda: [line for line in cmdlines(marked_processes(mark)) if child in line])
    build.send_signal(signal.SIGKILL)
    build.wait()
    try:
        wait_for(lambda: not marked_processes(mark))  # the kernel kills them; reaping can lag
    except AssertionError:
        assert cmdlines(marked_processes(mark)) == []  # which ones lived on


def clock_ms(cue: str) -> int:
    hours, minutes, seconds = cue.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)


def test_builds_of_one_session_at_once_never_mix_their_files(tmp_path):
    for version, reps in (("verA", 30), ("verB", 1)):  # A takes a while to encode, B does not
        (tmp_path / version).mkdir()
        (tmp_path / version / "same.yaml").write_text(ROUTINE.format(title=f"Version {version}").replace("hold: 40", f"hold: 30\n  reps: {reps}"))
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(tmp_path / "cache"))

    def start(version: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "voiceguide.cli", "build", f"{version}/same.yaml", "--out", "out"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    a = start("verA")
    wait_for(lambda: list((tmp_path / "out").glob(".same.mp3.*.tmp")) if (tmp_path / "out").exists() else [])
    b = start("verB")  # while A is encoding
    assert b.wait() == 0, b.stderr.read()
    assert a.wait() == 0, a.stderr.read()
    out = tmp_path / "out"
    record = json.loads((out / "same.json").read_text())
    spoken = [event for event in record["events"] if event["kind"] == "speech"]
    cues = [line.split(" --> ")[0] for line in (out / "same.vtt").read_text().splitlines() if " --> " in line]
    assert [clock_ms(cue) for cue in cues] == [event["start_ms"] for event in spoken]  # A's and B's differ
    chapters = json.loads((out / "same.chapters.json").read_text())["chapters"]
    assert [round(c["startTime"] * 1000) for c in chapters] == [c["start_ms"] for c in record["chapters"]]
    assert_outputs_complete(out)
    again = start(record["title"].split()[-1])  # the version the record says: up to date
    assert again.wait() == 0 and "up to date" in again.stdout.read()


def test_every_build_sweeps_what_killed_builds_left_even_when_up_to_date(workdir):
    out = workdir / "out"
    stale = out / ".long.json.999999.abcdefg.tmp"
    for command in (["build", "long"], ["build", "--all"]):
        stale.write_text("left by a build that was killed")
        build = subprocess.run([sys.executable, "-m", "voiceguide.cli", *command, "--out", "out"], cwd=workdir,
                               env=dict(os.environ, VOICEGUIDE_CACHE_DIR=str(workdir / "cache")), capture_output=True, text=True)
        assert build.returncode == 0 and "up to date" in build.stdout
        assert not stale.exists()
