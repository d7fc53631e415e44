"""Benchmark: build times against ffmpeg encoding the same audio, measured in the same run.

    .venv/bin/python scripts/bench.py [ROUTINE] [--runs N]

Cold  = empty speech cache, no output.  Warm = cache full, output deleted.
No-op = everything up to date.          Encode = ffmpeg alone turning the session's PCM
into the same MP3 (the floor of any build). Each case is run N times; the median is shown,
with peak RSS of the build process. Ratios are against the encode measured here, now.
"""

from __future__ import annotations

import argparse
import os
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
from voiceguide.export import BITRATE  # noqa: E402
from voiceguide.measure import decode  # noqa: E402
from voiceguide.speak import SAMPLE_RATE  # noqa: E402


def timed(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def median_of(runs: int, prepare, command, env=None) -> tuple[float, float]:
    results = []
    for _ in range(runs):
        prepare()
        results.append(timed(command, env))
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("routine", nargs="?", default="sore-back")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="voiceguide-bench-"))
    cache, out = work / "cache", work / "out"
    env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(cache))
    build = [sys.executable, "-m", "voiceguide.cli", "build", args.routine, "--out", str(out)]

    def empty_all():
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)

    def delete_output():
        shutil.rmtree(out, ignore_errors=True)

    cold = median_of(args.runs, empty_all, build, env)
    warm = median_of(args.runs, delete_output, build, env)
    noop = median_of(args.runs, lambda: None, build, env)

    mp3 = next(out.glob("*.mp3"))
    pcm = work / "session.pcm"
    pcm.write_bytes((decode(mp3, SAMPLE_RATE) * 32767).astype("<i2").tobytes())
    encode_cmd = [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                  "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", str(pcm),
                  "-c:a", "libmp3lame", "-b:a", BITRATE, str(work / "encoded.mp3")]
    encode = median_of(args.runs, lambda: None, encode_cmd)
    minutes = pcm.stat().st_size / 2 / SAMPLE_RATE / 60

    print(f"{args.routine}: {minutes:.1f} min session, median of {args.runs} runs, ffmpeg {tools.ffmpeg()}")
    print(f"{'case':<28}{'wall s':>8}{'peak MB':>9}{'x encode':>10}")
    for name, (seconds, rss) in [
        ("encode alone (floor)", encode), ("cold build (empty cache)", cold),
        ("warm build (output deleted)", warm), ("no-op build (up to date)", noop),
    ]:
        print(f"{name:<28}{seconds:>8.2f}{rss:>9.0f}{seconds / encode[0]:>10.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
