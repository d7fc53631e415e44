"""Speech reliability under load: N syntheses with every core busy, checked against a calm run.

    .venv/bin/python scripts/stress_speech.py [--count 1000] [--jobs 2]

Each phrase is synthesized through `speak` (workers, verification, retries) into an empty
cache while busy-loop processes keep every core at 100%. Then every phrase is synthesized
again, one at a time on a quiet machine, into a second cache. A clip whose length differs
from its calm twin by more than 3% + 50 ms was cut short or ran on: that is a bad clip.
(The samples are not compared: eSpeak NG's pitch flutter carries state from one utterance
to the next, so the same line differs by a few ms depending on what was said before it.)
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceguide.routine.model import Voice  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402
from voiceguide.speech.cache import ClipCache  # noqa: E402
from voiceguide.speech.speak import speak  # noqa: E402


def burn(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def phrases(count: int) -> list[str]:
    moves = ["Hold", "Breathe out", "Relax your shoulders", "Reach a little further", "Keep your hips down"]
    return [f"{moves[i % len(moves)]} for {i // len(moves) + 1} more seconds, number {i}." for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    texts = phrases(args.count)
    voice = Voice()
    with tempfile.TemporaryDirectory() as tmp:
        burners = [multiprocessing.Process(target=burn, args=(time.time() + 3600,)) for _ in range(multiprocessing.cpu_count())]
        for p in burners:
            p.start()
        started = time.perf_counter()
        try:
            loaded, stats = speak(texts, voice, ClipCache(Path(tmp) / "loaded"), jobs=args.jobs)
        finally:
            for p in burners:
                p.terminate()
        seconds = time.perf_counter() - started
        calm, _ = speak(texts, voice, ClipCache(Path(tmp) / "calm"), jobs=1)
    bad = [t for t in texts if abs(loaded[t].size - calm[t].size) > 0.03 * calm[t].size + 0.05 * SAMPLE_RATE]
    worst = max(abs(loaded[t].size - calm[t].size) / calm[t].size for t in texts)
    print(f"{args.count} syntheses with {len(burners)} busy cores and {args.jobs} workers in {seconds:.1f} s")
    print(f"retries after a failed check: {stats.retries}")
    print(f"largest length difference from the calm run: {worst:.2%}")
    print(f"bad clips (cut short or run on): {len(bad)}")
    for text in bad[:10]:
        print(f"  {text!r}: {loaded[text].size} vs {calm[text].size} samples")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
