"""Hold the README's promises for every routine, engine, chime style and rate.

    .venv/bin/python scripts/check_outputs.py [--rates 120,160,220] [--chimes soft,bright,none]

Builds every routine in routines/ with each speech engine this machine has (eSpeak NG from
the system and from the espeakng-loader wheel, Piper), each chime style and each rate, then
measures every MP3 with ffmpeg's own meter (ebur128, true peak) and decodes it:
- true peak under -1.0 dBTP,
- integrated loudness -16 +- 1 LUFS,
- the decoded length equal to the plan's, to the sample.
Prints one line per session and a summary; exits 1 if any promise is broken.
"""

from __future__ import annotations

import argparse
import ctypes.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceguide import tools  # noqa: E402
from voiceguide.measure import decode  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402


def engines() -> list[tuple[str, list[str], dict]]:
    """(label, build arguments, environment) for each engine this machine has."""
    found = []
    if ctypes.util.find_library("espeak-ng"):
        found.append(("espeak-system", ["--engine", "pyttsx3"], {}))
    try:
        import espeakng_loader

        found.append(("espeak-wheel", ["--engine", "pyttsx3"], {"VOICEGUIDE_ESPEAK_LIBRARY": espeakng_loader.get_library_path()}))
    except ImportError:
        pass
    try:
        import piper_onnx  # noqa: F401

        found.append(("piper", ["--engine", "piper"], {}))
    except ImportError:
        pass
    return found


def ebur128(mp3: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) by ffmpeg's own meter."""
    result = subprocess.run([tools.ffmpeg(), "-hide_banner", "-nostats", "-i", str(mp3),
                             "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"], capture_output=True, text=True)
    loudness = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)[-1])
    peak = float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", result.stderr)[-1])
    return loudness, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="120,160,220")
    parser.add_argument("--chimes", default="soft,bright,none")
    args = parser.parse_args()
    broken, sessions, worst_peak = 0, 0, -99.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="voiceguide-check-") as tmp:
        for label, engine_args, extra_env in engines():
            env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(Path(tmp) / f"cache-{label}"), **extra_env)
            for rate in args.rates.split(","):
                for chimes in args.chimes.split(","):
                    out = Path(tmp) / f"out-{label}-{rate}-{chimes}"
                    subprocess.run([sys.executable, "-m", "voiceguide.cli", "build", "--all", *engine_args,
                                    "--rate", rate, "--chimes", chimes, "--out", str(out), "--routines", str(ROOT / "routines")],
                                   check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
                    for mp3 in sorted(out.glob("*.mp3")):
                        record = json.loads(mp3.with_suffix(".json").read_text())
                        loudness, peak = ebur128(mp3)
                        length = decode(mp3, SAMPLE_RATE).size - record["duration_ms"] * SAMPLE_RATE // 1000
                        problems = [text for bad, text in (
                            (peak > -1.0, "true peak over -1.0 dBTP"),
                            (abs(loudness + 16) > 1, "loudness off -16 LUFS by more than 1 LU"),
                            (length != 0, f"decodes {length:+d} samples off its plan"),
                        ) if bad]
                        sessions += 1
                        broken += bool(problems)
                        worst_peak = max(worst_peak, peak)
                        print(f"{label:13s} {rate:>3s} wpm {chimes:6s} {mp3.stem:28s} {loudness:6.1f} LUFS {peak:5.1f} dBTP "
                              f"length {length:+d}  {'; '.join(problems) or 'ok'}", flush=True)
    print(f"{sessions} sessions, {broken} broken, worst true peak {worst_peak:.1f} dBTP, in {time.perf_counter() - started:.0f} s")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
