"""Two cold builds of every routine, each with its own empty speech cache: same samples?

    .venv/bin/python scripts/reproduce.py [--engine pyttsx3|piper] [--jobs N] [--stress N] [ROUTINE ...]

Builds every routine (or the ones named) twice into two fresh output directories with two
fresh caches, the second build with a different number of jobs and with both cores busy, so
the lines are said by other workers, in another order, under load. Then decodes each pair of
MP3s and compares them sample by sample, and compares the cached clips of the two caches.
With `--stress N`, N more cold builds follow, each with a fresh cache, `--jobs` workers and
every core busy, and every clip they make is compared with the first build's. Exits 1 if any
session or clip differs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceguide.speech import clipfile  # noqa: E402
from voiceguide.measure import decode  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402


def burn(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def build(routines: list[str], engine: str, jobs: int, work: Path, name: str) -> tuple[Path, Path]:
    out, cache = work / f"out-{name}", work / f"cache-{name}"
    targets = routines or ["--all"]
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(cache))
    subprocess.run([sys.executable, "-m", "voiceguide.cli", "build", *targets, "--engine", engine,
                    "--jobs", str(jobs), "--out", str(out), "--routines", str(ROOT / "routines")],
                   check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out, cache


def clips(cache: Path) -> dict[str, np.ndarray]:
    found = {}
    for path in (cache / "clips").rglob("*.wav"):
        _, pcm = clipfile.parse(path.read_bytes())
        found[path.stem] = pcm
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("routines", nargs="*")
    parser.add_argument("--engine", default="pyttsx3")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--stress", type=int, default=0, help="more cold builds under load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voiceguide-reproduce-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        first = build(args.routines, args.engine, 1, work, "a")
        load = [multiprocessing.Process(target=burn, args=(time.monotonic() + 36000,)) for _ in range(os.cpu_count() or 2)]
        for process in load:
            process.start()
        try:
            second = build(args.routines, args.engine, args.jobs, work, "b")
            stressed = [build(args.routines, args.engine, args.jobs, work, f"stress{i}")[1] for i in range(args.stress)]
        finally:
            for process in load:
                process.terminate()
        print(f"two cold builds ({args.engine}; --jobs 1 and --jobs {args.jobs} with every core busy) "
              f"in {time.perf_counter() - started:.1f} s")
        differ = 0
        for mp3 in sorted(first[0].glob("*.mp3")):
            a, b = decode(mp3, SAMPLE_RATE), decode(second[0] / mp3.name, SAMPLE_RATE)
            same = a.shape == b.shape and np.array_equal(a, b)
            differ += not same
            detail = "identical" if same else (
                f"DIFFER: {a.size} vs {b.size} samples" if a.size != b.size
                else f"DIFFER: {int(np.count_nonzero(a != b))} samples, largest {float(np.max(np.abs(a - b))):.5f}")
            print(f"  {mp3.name}: {a.size} samples ({a.size / SAMPLE_RATE / 60:.1f} min), {detail}")
        clips_a, clips_b = clips(first[1]), clips(second[1])
        same_clips = sum(np.array_equal(pcm, clips_b.get(key)) for key, pcm in clips_a.items())
        print(f"  cached clips: {len(clips_a)} and {len(clips_b)}, {same_clips} identical")
        differ += same_clips != len(clips_a) or len(clips_a) != len(clips_b)
        if args.stress:
            wrong = 0
            for cache in stressed:
                made = clips(cache)
                wrong += sum(not np.array_equal(pcm, made.get(key)) for key, pcm in clips_a.items())
            print(f"  {args.stress} more cold builds under load: {args.stress * len(clips_a)} clips, {wrong} wrong")
            differ += wrong
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
