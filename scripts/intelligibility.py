"""Intelligibility benchmark: how well an offline recogniser follows the voice of a built session.

    .venv/bin/python scripts/intelligibility.py                         # every routine, eSpeak NG
    .venv/bin/python scripts/intelligibility.py sore-back --engine piper
    .venv/bin/python scripts/intelligibility.py sore-back --voice gmw/en-us+klatt4 --rate 185
    .venv/bin/python scripts/intelligibility.py sore-back --out out/    # the session already in out/
    .venv/bin/python scripts/intelligibility.py sore-back --json r.json # the figures as JSON too

Each routine is built with the default options (and --engine, --rate) into a temporary
directory, its lines from the user's speech cache ($VOICEGUIDE_CACHE_DIR respected); with
--out, the session of those options already built in DIR is read instead.

Every spoken line of the plan record is cut from the decoded MP3 (150 ms either side of its
planned span), resampled to 16 kHz by ffmpeg, and transcribed by pocketsphinx (its wheel's
en-US acoustic model, language model and dictionary; no grammar, nothing told about the text).
The transcript is aligned word by word with the line as written (lower case, digits read out
as words, punctuation dropped) by edit distance: word error rate = (substituted + deleted +
inserted words) / words of the text.

Each word of a text is of one kind:
- name: a word of an exercise's name, wherever the name is said (the heading, "Next: ...");
- number: a number, written in digits or as a word ("Three." of the countdown);
- fixed: the rest of the phrases voiceguide itself says (not the routine's own text);
- text: the rest of the routine's own lines (title, intro, steps, cues, moves, outro).
A word is "wrong" when the alignment does not match it to the same word heard.

Also printed: the pace, in words per minute, measured over the lines of six words or more
(their words over their clips' length, the clip trimmed of silence at both ends).

pocketsphinx is a test dependency (pip install 'voiceguide[test]'); it is not needed to build.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceguide import tools  # noqa: E402
from voiceguide.build import Options, all_routines, outputs, resolve, speak_and_plan, variant_name, write  # noqa: E402
from voiceguide.record import SessionRecord  # noqa: E402
from voiceguide.routine.load import load  # noqa: E402
from voiceguide.routine.model import Routine  # noqa: E402
from voiceguide.speech.checks import number_words  # noqa: E402

RATE = 16_000  # the acoustic model's
MARGIN_MS = 150
PACE_MIN_WORDS = 6
KINDS = ("name", "number", "fixed", "text")
NUMBER_WORDS = set(" ".join(number_words(n) for n in range(0, 100)).split()) | {"hundred"}


# -- words -------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """`text` as the recogniser's words: lower case, digits read out, no punctuation."""
    spelled = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()[:9]))} ", text.lower())
    spelled = spelled.replace("\u2019", "'")
    return [w.strip("'") for w in re.findall(r"[a-z']+", spelled) if w.strip("'")]


def kinds(text: str, names: list[list[str]], routine_text: bool) -> list[str]:
    """The kind of each of `words(text)` (see the module's docstring)."""
    said = words(text)
    found = ["text" if routine_text else "fixed"] * len(said)
    for name in names:
        for start in range(len(said) - len(name) + 1):
            if said[start: start + len(name)] == name:
                found[start: start + len(name)] = ["name"] * len(name)
    digits = set(words(" ".join(re.findall(r"\d+", text))))
    for i, word in enumerate(said):
        if found[i] != "name" and (word in NUMBER_WORDS or word in digits):
            found[i] = "number"
    return found


def align(reference: list[str], heard: list[str]) -> tuple[list[bool], int]:
    """(for each reference word, whether it was heard as itself; the number of errors)."""
    n, m = len(reference), len(heard)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j - 1] + (reference[i - 1] != heard[j - 1]),
                             cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    right = [False] * n
    i, j = n, m
    while i and j:
        if cost[i, j] == cost[i - 1, j - 1] + (reference[i - 1] != heard[j - 1]):
            right[i - 1] = reference[i - 1] == heard[j - 1]
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return right, int(cost[n, m])


# -- the recogniser ----------------------------------------------------------------------


class Recogniser:
    """pocketsphinx with its bundled en-US model, one utterance at a time."""

    def __init__(self):
        try:
            from pocketsphinx import Decoder
        except ImportError:
            sys.exit("intelligibility: pocketsphinx is not installed: pip install 'voiceguide[test]'")
        self.decoder = Decoder(samprate=RATE, loglevel="FATAL")

    def hear(self, samples: np.ndarray) -> str:
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp else ""


def decode_16k(mp3: Path) -> np.ndarray:
    result = subprocess.run(
        [tools.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(mp3),
         "-f", "f32le", "-ac", "1", "-ar", str(RATE), "pipe:1"],
        capture_output=True, check=True,
    )
    return np.frombuffer(result.stdout, dtype="<f4")


# -- a session ---------------------------------------------------------------------------


@dataclass
class Line:
    text: str
    heard: str
    words: int
    errors: int
    ms: int


@dataclass
class Result:
    session: str
    engine: str
    voice: str
    rate: int
    lines: list[Line] = field(default_factory=list)
    total: dict[str, int] = field(default_factory=dict)
    """Words of each kind."""
    wrong: dict[str, int] = field(default_factory=dict)
    """Words of each kind not heard as themselves."""

    @property
    def wer(self) -> float:
        return sum(line.errors for line in self.lines) / max(1, sum(line.words for line in self.lines))

    @property
    def wpm(self) -> float:
        long = [line for line in self.lines if line.words >= PACE_MIN_WORDS]
        return 60_000 * sum(line.words for line in long) / max(1, sum(line.ms for line in long))

    def to_json(self) -> dict:
        return {**asdict(self), "wer": self.wer, "wpm": self.wpm}


def routine_lines(routine: Routine) -> set[str]:
    """Every line of the routine's own text, as the plan says it."""
    lines = {f"{routine.title}.", *routine.intro, *routine.outro}
    for exercise in routine.exercises:
        lines.update(exercise.steps)
        lines.update(cue.text for cue in exercise.cues)
        lines.update(move.text for move in exercise.flow)
        lines.update(move.short for move in exercise.flow if move.short)
    return lines


def measure(routine: Routine, record_path: Path, recogniser: Recogniser, unique: bool = False) -> Result:
    record = SessionRecord.from_json(record_path.read_text())
    voice = record.settings["voice"]
    result = Result(record_path.stem, voice["engine"], voice["voice"], voice["rate"])
    audio = decode_16k(record_path.parent / record.files["mp3"])
    names = [words(exercise.name) for exercise in routine.exercises]
    own = routine_lines(routine)
    result.total = dict.fromkeys(KINDS, 0)
    result.wrong = dict.fromkeys(KINDS, 0)
    heard_before: dict[object, str] = {}
    for event in record.events:
        if event["kind"] != "speech":
            continue
        start, end = event["start_ms"], event["end_ms"]
        span = (max(0, (start - MARGIN_MS) * RATE // 1000), min(audio.size, (end + MARGIN_MS) * RATE // 1000))
        said = event["text"] if unique else span  # with --unique, a line is heard where it is first said
        if said not in heard_before:
            heard_before[said] = recogniser.hear(audio[span[0]: span[1]])
        heard = heard_before[said]
        reference = words(event["text"])
        right, errors = align(reference, words(heard))
        for kind, ok in zip(kinds(event["text"], names, event["text"] in own), right):
            result.total[kind] += 1
            result.wrong[kind] += not ok
        result.lines.append(Line(event["text"], heard, len(reference), errors, end - start))
    return result


# -- the report --------------------------------------------------------------------------


HEADER = ("| session | engine | lines | words | word error rate | names wrong | numbers wrong "
          "| fixed phrases wrong | routine text wrong | wpm (lines of 6+ words) |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def row(result: Result) -> str:
    wrong = [f"{result.wrong[k]} of {result.total[k]}" for k in KINDS]
    engine = f"{result.engine} {result.voice or 'default'} {result.rate}"
    return (f"| {result.session} | {engine} | {len(result.lines)} | {sum(l.words for l in result.lines)} "
            f"| {result.wer:.1%} | {' | '.join(wrong)} | {result.wpm:.0f} |")


def worst(result: Result, count: int) -> list[str]:
    unique: dict[str, Line] = {}
    for line in result.lines:
        if line.text not in unique or line.errors > unique[line.text].errors:
            unique[line.text] = line
    ranked = sorted(unique.values(), key=lambda l: (-l.errors / max(1, l.words), -l.words))[:count]
    return [f'- {l.errors / max(1, l.words):.0%}  "{l.text}" heard as "{l.heard}"' for l in ranked]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("routines", nargs="*", help="routine names or files (default: every routine)")
    parser.add_argument("--engine", choices=("pyttsx3", "piper"))
    parser.add_argument("--voice", help="the engine's voice (eSpeak NG: an id, with a +variant if wanted)")
    parser.add_argument("--rate", type=int)
    parser.add_argument("--out", type=Path, help="read the sessions already built in this directory")
    parser.add_argument("--routines-dir", type=Path, default=ROOT / "routines")
    parser.add_argument("--worst", type=int, default=8, help="lines heard worst to print per session")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--unique", action="store_true",
                        help="hear each line once, where it is first said (about 4x faster; for tuning)")
    args = parser.parse_args(argv)
    options = Options(engine=args.engine, voice=args.voice, rate=args.rate)
    paths = [resolve(name, args.routines_dir) for name in args.routines] or all_routines(args.routines_dir)
    recogniser = Recogniser()
    results = []
    with tempfile.TemporaryDirectory(prefix="intelligibility-") as tmp:
        for path in paths:
            routine = load(path)
            if args.out:
                narration, voice = options.narration(routine), options.voice_for(routine)
                record = outputs(args.out, variant_name(routine, narration, voice))["plan"]
            else:
                planned = speak_and_plan(routine, options, jobs=args.jobs)
                write(planned, Path(tmp))
                record = outputs(Path(tmp), variant_name(routine, planned.narration, planned.voice))["plan"]
            results.append(measure(routine, record, recogniser, args.unique))
    print(HEADER)
    for result in results:
        print(row(result))
    for result in results:
        print(f"\n{result.session} ({result.engine}), heard worst:")
        print("\n".join(worst(result, args.worst)))
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
