"""Benchmark: voiceguide's build times and memory against floors measured in the same run.

    .venv/bin/python scripts/bench.py [--runs N] [--quick] [--only music|targets]

The floor of a session is what any tool must do: eSpeak NG speaking all of the session's
unique text in one process (`espeak-ng` from the system), plus ffmpeg encoding the same PCM
to the same MP3 settings. Cases:

  cold     empty speech cache, no output           target <= 1.5x the floor
  warm     cache full, output deleted              target <= 1.15x the encode alone
  no-op    everything up to date                   target <= 0.3 s
  length   synthetic 10/20/40/60-minute sessions   40 min <= 4.4x the 10 min; 60 min <= 150 MB
  batch    build --all, 2 jobs vs 1 (cold)         target >= 1.7x faster
  music    --music ambient, sore-back and 60 min,  target <= 1.3x the floor: ffmpeg encoding
           cold and warm                           the whole session (nothing is silent under
                                                   music), plus for cold builds the speech
                                                   of the same build without music

`--only music` runs the music rows alone. They need no espeak-ng program: their speech floor
is voiceguide's own speech time, cold minus warm without music, measured in the same run.

Each time is the median of N runs; memory is the peak RSS of the build process (ffmpeg
and speech workers are separate processes and not included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceguide import tools  # noqa: E402
from voiceguide.audio.encoder import ENCODER_OPTIONS  # noqa: E402
from voiceguide.routine.load import load  # noqa: E402
from voiceguide.measure import decode  # noqa: E402
from voiceguide.plan import phrases  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402


# Commands are started by a small launcher process: a child's peak RSS counts the memory of
# the process it was forked from, and this script holds decoded sessions in memory.
_LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    started = time.perf_counter()
    child = subprocess.Popen(job["command"], env=job["env"], cwd=job["cwd"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    print(json.dumps([seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status),
                      child.stderr.read().decode(errors="replace")]), flush=True)
"""
_launcher = subprocess.Popen([sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def run(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command."""
    assert _launcher.stdin and _launcher.stdout
    _launcher.stdin.write(json.dumps({"command": command, "env": env or dict(os.environ), "cwd": str(cwd)}) + "\n")
    _launcher.stdin.flush()
    seconds, rss, code, errors = json.loads(_launcher.stdout.readline())
    if code != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{errors}")
    return seconds, rss


def median(runs: int, prepare, command, env=None, cwd: Path = ROOT) -> tuple[float, float]:
    results = []
    for _ in range(runs):
        prepare()
        results.append(run(command, env, cwd))
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


class Workspace:
    """A scratch directory with its own speech cache and output directory."""

    def __init__(self, root: Path, name: str, routines: Path = ROOT / "routines"):
        self.dir = root / name
        self.dir.mkdir()
        self.cache, self.out, self.routines = self.dir / "cache", self.dir / "out", routines
        self.env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(self.cache))

    def build(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "voiceguide.cli", "build", *args, "--out", str(self.out),
                "--routines", str(self.routines)]

    def empty(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)

    def delete_output(self) -> None:
        shutil.rmtree(self.out, ignore_errors=True)


def encode_command(pcm: Path, mp3: Path) -> list[str]:
    return [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", str(pcm),
            *ENCODER_OPTIONS, str(mp3)]


def at_once(runs: int, prepare, jobs: list[tuple[list[str], dict]]) -> float:
    """Median wall time of running the (command, env) pairs all at once."""
    runner = [sys.executable, "-c",
              "import json, subprocess, sys; ps = [subprocess.Popen(c, env=e, stdout=subprocess.DEVNULL) "
              "for c, e in json.loads(sys.argv[1])]; sys.exit(max(p.wait() for p in ps))", json.dumps(jobs)]
    return median(runs, prepare, runner)[0]


def two_core_scaling(pcm: Path, work: Path, runs: int) -> float:
    """How much faster two encodes run at once than one after the other, on this machine."""
    one = median(runs, lambda: None, encode_command(pcm, work / "one.mp3"))[0]
    together = at_once(runs, lambda: None, [(encode_command(pcm, work / f"{n}.mp3"), dict(os.environ)) for n in "ab"])
    return 2 * one / together


def floor(routine_path: Path, mp3: Path, work: Path, runs: int) -> tuple[float, float, float]:
    """(espeak-ng speaking all unique text, ffmpeg encoding the session's PCM, both)."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        raise SystemExit("the floor needs the espeak-ng program: sudo apt-get install espeak-ng")
    text = work / f"{routine_path.stem}.txt"
    text.write_text("\n".join(phrases(load(routine_path))) + "\n")
    speak = median(runs, lambda: None, [espeak, "-s", "160", "-f", str(text), "-w", str(work / "all.wav")])[0]
    encode = encode_floor(mp3, work, runs)
    return speak, encode, speak + encode


def encode_floor(mp3: Path, work: Path, runs: int) -> float:
    """ffmpeg encoding the decoded session's whole PCM (work/session.pcm) with our settings."""
    pcm = work / "session.pcm"
    pcm.write_bytes((decode(mp3, SAMPLE_RATE) * 32767).astype("<i2").tobytes())
    return median(runs, lambda: None, encode_command(pcm, work / "encoded.mp3"))[0]


def music_rows(root: Path, runs: int) -> list[tuple[str, float, float, str, str]]:
    """sore-back and a 60-minute session with --music ambient, cold and warm, against ffmpeg
    encoding the whole session; cold builds also against that plus their speech (the same
    build's cold minus warm time without music)."""
    synthetic = root / "music-routines"
    synthetic.mkdir()
    shutil.copy(ROOT / "routines" / "sore-back.yaml", synthetic / "sore-back.yaml")
    synthetic_routine(synthetic, 60)
    rows = []
    for name in ("sore-back", "synthetic-60"):
        space = Workspace(root, f"music-{name}", routines=synthetic)
        mp3 = space.out / f"{name}--ambient.mp3"
        subprocess.run(space.build(name, "--music", "ambient"), env=space.env, check=True, stdout=subprocess.DEVNULL)
        pcm = space.dir / "session.pcm"
        pcm.write_bytes((decode(mp3, SAMPLE_RATE) * 32767).astype("<i2").tobytes())
        minutes = pcm.stat().st_size / 2 / SAMPLE_RATE / 60
        # The runs of every case taken in turn, so a machine that speeds up or slows down
        # during the bench moves the floor as much as the builds.
        times = interleaved(runs, {
            "plain cold": (space.empty, space.build(name), space.env),
            "plain warm": (space.delete_output, space.build(name), space.env),
            "cold": (space.empty, space.build(name, "--music", "ambient"), space.env),
            "warm": (space.delete_output, space.build(name, "--music", "ambient"), space.env),
            "encode": (lambda: None, encode_command(pcm, space.dir / "encoded.mp3"), None),
        })
        encode, cold, warm = times["encode"][0], times["cold"], times["warm"]
        speech = max(times["plain cold"][0] - times["plain warm"][0], 0.0)
        label = "sore-back" if name == "sore-back" else f"{minutes:.0f}-min session"
        rows += [
            (f"floor: ffmpeg encode {minutes:.1f} min whole", encode, 0, "", ""),
            (f"{label} no music cold / warm", *times["plain cold"], f"warm {times['plain warm'][0]:.2f} s", ""),
            (f"{label} --music ambient cold", *cold, f"{cold[0] / (encode + speech):.2f}x floor + speech", "<= 1.3x"),
            (f"{label} --music ambient warm", *warm, f"{warm[0] / encode:.2f}x floor", "<= 1.3x"),
        ]
    return rows


def interleaved(runs: int, cases: dict[str, tuple]) -> dict[str, tuple[float, float]]:
    """Median wall seconds and peak RSS of each case (prepare, command, env), its runs taken in
    turn with the others'."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (prepare, command, env) in cases.items():
            prepare()
            results[name].append(run(command, env))
    return {name: (statistics.median(r[0] for r in found), max(r[1] for r in found)) for name, found in results.items()}


def synthetic_routine(directory: Path, minutes: int) -> Path:
    """A routine of about `minutes`, with new wording in every exercise (as real ones have)."""
    count = max(1, round(minutes * 60 / 243))  # an exercise lasts about 4 minutes with 45 s holds
    hold = round(45 * minutes * 60 / (count * 243))
    lines = [f"title: Synthetic {minutes} minutes", "defaults:", f"  hold: {hold}", "  reps: 2", "  rest: 10", "exercises:"]
    for n in range(count):
        lines += [
            f"  - name: Stretch number {n + 1}",
            "    sides: both",
            "    steps:",
            f"      - Move slowly into position {n + 1}, keeping your breath long and even.",
            f"      - Settle into stretch {n + 1} and let your shoulders drop.",
            "    cues:",
            "      - at: 10",
            f"        say: Soften a little more into stretch {n + 1}.",
        ]
    path = directory / f"synthetic-{minutes}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run each, lengths 10 and 40 only")
    parser.add_argument("--only", choices=["music", "targets"],
                        help="only these rows (neither needs an espeak-ng program; targets: scripts/bench_targets.py)")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    root = Path(tempfile.mkdtemp(prefix="voiceguide-bench-"))
    if args.only in ("music", "targets"):
        from bench_targets import target_rows

        report(music_rows(root, runs) if args.only == "music" else target_rows(root, runs), runs)
        shutil.rmtree(root, ignore_errors=True)
        return
    rows: list[tuple[str, float, float, str, str]] = []

    # sore-back: cold, warm, no-op, against the floor measured now
    space = Workspace(root, "sore-back")
    cold = median(runs, space.empty, space.build("sore-back"), space.env)
    warm = median(runs, space.delete_output, space.build("sore-back"), space.env)
    noop = median(runs, lambda: None, space.build("sore-back"), space.env)
    speak, encode, both = floor(ROOT / "routines" / "sore-back.yaml", space.out / "sore-back.mp3", space.dir, runs)
    minutes = decode(space.out / "sore-back.mp3", SAMPLE_RATE).size / SAMPLE_RATE / 60
    planned = json.loads((space.out / "sore-back.json").read_text())["duration_ms"] / 60_000
    if abs(minutes - planned) > 0.002:
        print(f"warning: sore-back.mp3 decodes to {minutes:.3f} min, its plan says {planned:.3f} min")
    rows += [
        (f"floor: espeak-ng all text", speak, 0, "", ""),
        (f"floor: ffmpeg encode {minutes:.1f} min", encode, 0, "", ""),
        ("sore-back cold", *cold, f"{cold[0] / both:.2f}x floor", "<= 1.5x"),
        ("sore-back warm", *warm, f"{warm[0] / encode:.2f}x encode", "<= 1.15x"),
        ("sore-back no-op", *noop, f"{noop[0]:.2f} s", "<= 0.3 s"),
    ]

    # session length: warm builds (cache filled first), so the cost is render + encode
    synthetic = root / "synthetic"
    synthetic.mkdir()
    lengths = (10, 40) if args.quick else (10, 20, 40, 60)
    for minutes_wanted in lengths:
        synthetic_routine(synthetic, minutes_wanted)
    space = Workspace(root, "lengths", routines=synthetic)
    times = {}
    for minutes_wanted in lengths:
        name = f"synthetic-{minutes_wanted}"
        run(space.build(name), space.env)  # fill the cache
        times[minutes_wanted] = median(runs, space.delete_output, space.build(name, "--force"), space.env)
        length = decode(space.out / f"{name}.mp3", SAMPLE_RATE).size / SAMPLE_RATE / 60
        ratio = f"{times[minutes_wanted][0] / times[10][0]:.2f}x 10-min"
        target = {40: "<= 4.4x", 60: "<= 150 MB"}.get(minutes_wanted, "")
        rows.append((f"{length:.0f}-min session warm", *times[minutes_wanted], ratio, target))

    # batch: every routine, cold, 2 jobs against 1; and what 2 cores give here at all: two
    # independent --jobs 1 batches at once against one after the other
    space = Workspace(root, "batch")
    one = median(runs, space.empty, space.build("--all", "--jobs", "1"), space.env)
    two = median(runs, space.empty, space.build("--all", "--jobs", "2"), space.env)
    twins = [Workspace(root, f"batch-{n}") for n in "ab"]
    together = at_once(runs, lambda: [twin.empty() for twin in twins],
                       [(twin.build("--all", "--jobs", "1"), twin.env) for twin in twins])
    scaling = two_core_scaling(root / "sore-back" / "session.pcm", root, runs)
    rows += [
        ("build --all --jobs 1 cold", *one, "", ""),
        ("build --all --jobs 2 cold", *two, f"{one[0] / two[0]:.2f}x faster", ">= 1.7x"),
        ("two --jobs 1 batches at once", together, 0, f"{2 * one[0] / together:.2f}x faster than in turn",
         "(this machine's ceiling for the batch)"),
        ("two ffmpeg encodes at once", 0, 0, f"{scaling:.2f}x faster than in turn", "(the same for the encoder)"),
    ]

    rows += music_rows(root, runs)
    report(rows, runs)
    shutil.rmtree(root, ignore_errors=True)


def report(rows: list[tuple[str, float, float, str, str]], runs: int) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; ffmpeg {tools.ffmpeg()}")
    print(f"median of {runs} run(s); peak RSS of the voiceguide process\n")
    print(f"| case | wall s | peak MB | ratio | target |\n| --- | ---: | ---: | --- | --- |")
    for name, seconds, rss, ratio, target in rows:
        print(f"| {name} | {seconds:.2f} | {rss:.0f} | {ratio} | {target} |")


if __name__ == "__main__":
    main()
