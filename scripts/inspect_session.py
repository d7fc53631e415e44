"""Look at a built session: onsets against the plan, loudness, and a waveform PNG.

    .venv/bin/python scripts/inspect_session.py out/sore-back.mp3 [--start 0 --seconds 120] [--png wave.png]

Reads NAME.json beside the MP3 (the plan it was built from), decodes the MP3, finds where
every planned line and chime really starts, and prints the worst offsets, the holds measured
chime to chime, and the loudness. The PNG shows the waveform of a stretch of the session
with the plan drawn over it: speech spans in blue, chimes in orange, holds shaded green.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceguide.audio.chimes import chime  # noqa: E402
from voiceguide.speech.loudness import integrated_loudness, true_peak_db  # noqa: E402
from voiceguide.measure import decode, locate  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402

RATE = SAMPLE_RATE


def waveform_png(audio: np.ndarray, events: list[dict], start_s: float, seconds: float, path: Path) -> None:
    from PIL import Image, ImageDraw

    width, height = 1600, 360
    lo, hi = int(start_s * RATE), int(min(audio.size, (start_s + seconds) * RATE))
    clip = audio[lo:hi]
    image = Image.new("RGB", (width, height), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    x_of = lambda ms: (ms / 1000 - start_s) / seconds * width  # noqa: E731
    for event in events:
        x0, x1 = x_of(event["start_ms"]), x_of(event["end_ms"])
        if x1 < 0 or x0 > width:
            continue
        if event["kind"] == "hold":
            draw.rectangle((x0, 20, x1, height - 20), fill=(226, 242, 226))
        elif event["kind"] == "speech":
            draw.rectangle((x0, 8, x1, 16), fill=(70, 110, 200))
        elif event["kind"] == "chime":
            draw.line((x0, 0, x0, height), fill=(230, 140, 30), width=2)
    columns = np.array_split(clip, width)
    middle = height / 2
    for x, column in enumerate(columns):
        if column.size:
            top, bottom = float(column.max()), float(column.min())
            draw.line((x, middle - top * (middle - 24), x, middle - bottom * (middle - 24)), fill=(40, 40, 40))
    draw.text((8, height - 16), f"{start_s:.0f} s to {start_s + seconds:.0f} s", fill=(0, 0, 0))
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mp3", type=Path)
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    record = json.loads(args.mp3.with_suffix(".json").read_text())
    events = record["events"]
    audio = decode(args.mp3, RATE)
    chimes = record["settings"]["narration"].get("chimes", "soft")

    # Chimes are known exactly: find each one, then take it out of the audio, so that the
    # speech onsets can be read as the first loud 5 ms near each planned start.
    offsets = []
    residual = audio.copy()
    for event in events:
        if event["kind"] == "chime" and chimes != "none":
            at = event["start_ms"] * RATE // 1000
            sound = chime(event["sound"], RATE, chimes)
            found = locate(sound, audio, at, RATE // 4)
            offsets.append(((found - at) * 1000 / RATE, event))
            end = min(residual.size, found + sound.size)
            residual[found:end] -= sound[: end - found]
    frame = RATE // 200
    energy = np.sqrt(np.convolve(residual ** 2, np.ones(frame) / frame, mode="same"))
    for event in events:
        at = event["start_ms"] * RATE // 1000
        if event["kind"] == "speech":
            window = energy[max(0, at - RATE // 5): at + RATE // 5]
            loud = np.flatnonzero(window > 0.02)
            if not loud.size:
                continue
            found = max(0, at - RATE // 5) + int(loud[0])
        else:
            continue
        offsets.append(((found - at) * 1000 / RATE, event))
    errors = [offset for offset, _ in offsets]
    print(f"{args.mp3}: {audio.size / RATE:.3f} s decoded, plan says {record['duration_ms'] / 1000:.3f} s")
    print(f"onsets: {len(offsets)} measured, median offset {statistics.median(errors):+.1f} ms, "
          f"worst {max(errors, key=abs):+.1f} ms")
    for offset, event in sorted(offsets, key=lambda o: -abs(o[0]))[:5]:
        print(f"  {offset:+7.1f} ms  {event['kind']:<6} {event.get('text') or event.get('sound')}")
    chime_at = {e["start_ms"]: found for found, e in offsets if e["kind"] == "chime"}
    holds = [e for e in events if e["kind"] == "hold" and e["start_ms"] in chime_at and e["end_ms"] in chime_at]
    if holds:
        worst = max(abs(chime_at[h["end_ms"]] - chime_at[h["start_ms"]]) for h in holds)
        print(f"holds: {len(holds)} measured chime to chime, largest error {worst:.1f} ms")
    print(f"loudness: {integrated_loudness(audio, RATE):.1f} LUFS, true peak {true_peak_db(audio):.1f} dBTP "
          f"(this script's meter; ffmpeg -af ebur128=peak=true is the reference)")
    if args.png:
        waveform_png(audio, events, args.start, args.seconds, args.png)
        print(f"waveform: {args.png}")


if __name__ == "__main__":
    main()
