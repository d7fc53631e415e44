"""Narration report: how much is said, and how the speech sits around and inside the holds.

    .venv/bin/python scripts/narration_report.py                  # every routine in routines/
    .venv/bin/python scripts/narration_report.py sore-back cobra  # some routines (names or files)
    .venv/bin/python scripts/narration_report.py --out out/       # the sessions already built in out/

By default each routine is built with the default options (voiceguide.build: speak_and_plan,
then write) into a temporary directory, its lines from the user's speech cache
($VOICEGUIDE_CACHE_DIR respected). With --out, the NAME.json records in DIR are read instead
(all of them, or those of the routines named), with their MP3s; the clips the chime margin
needs come from the speech cache, with the voice the record names.

Prints one Markdown table row per session, then where each session's worst value is, then a
legend. Every number but the chime margin comes from the plan (the record's events, in ms);
"speech" is the union of the speech events, "quiet" is time with no speech (and inside holds, no
chime ringing either: the start chime rings for 1.4 s).
Timed holds are the hold events that start with a hold_start chime; the other hold events are
the positions of flows.

Chime-to-speech margin, measured in the decoded MP3. For every line that starts while a chime
rings (chime start <= line start < chime end), take the decoded audio D over the first 100 ms
of the line. Two templates are known exactly: C, every chime sounding in that window rendered
alone at its place (voiceguide.audio.chimes.chime, placed where voiceguide.measure.locate
finds it in the MP3), and S, the line's own clip. D is fitted as a*C + b*S by least squares:
a and b are the gains the chime and the line really have in the file (the mix's limiter, the
true-peak turn-down and the encoder included), and the fit's residual (codec noise, anything
else in the window) is reported so a poor fit shows. The margin is the RMS of b*S over the RMS
of a*C, in dB: the line's level against the chime's level at the moment the line begins, as
heard. The "source" margin in the worst-place lines is the same ratio with a = b = 1 (the clips
and chimes before mixing); when the two differ, the mix or the encoder changed the balance.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceguide.audio.chimes import chime  # noqa: E402
from voiceguide.errors import VoiceguideError  # noqa: E402
from voiceguide.build import Options, all_routines, outputs, resolve, speak_and_plan, variant_name, write  # noqa: E402
from voiceguide.measure import decode, locate  # noqa: E402
from voiceguide.plan import Event, format_time  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402
from voiceguide.record import SessionRecord  # noqa: E402
from voiceguide.routine import phrases  # noqa: E402
from voiceguide.routine.load import load  # noqa: E402
from voiceguide.routine.model import Voice  # noqa: E402

RATE = SAMPLE_RATE
WINDOW = 100 * RATE // 1000  # the first 100 ms of a line
SHORT_HOLD_MS = 10_000

LEGEND = """\
- lines: speech events in the session; repeated: the share of them whose text was said before.
- hold speech max / median: speech inside a timed hold over the hold's length, over the holds.
- quiet before 1st hold: per exercise, from the end of the last line to the start chime of its
  first hold (for a flow, to the start of its first move's line); the minimum over exercises.
- quiet after switch: after each switch, the silence between the last line before the next
  side starts (its start chime, or for a flow its first move's line) and that start; the minimum.
- hold quiet min: the longest stretch of a timed hold with no speech and no chime ringing, over
  the hold's length; the minimum over holds. short of target: the holds whose longest quiet
  stretch is under min(40% of the hold, 5 s), of all timed holds.
- <10 s hold speech: the spoken share of timed holds under 10 s; the maximum ("-": none).
- chime margin: the minimum over lines that start under a ringing chime of line level over chime
  level in the first 100 ms of the line, in the decoded MP3 (see the docstring); "-": no such line.
- flow speech (4+ rounds): speech over the span from a flow's first move line to the end of its
  last move (each side apart), over flows of 4 or more rounds; the maximum ("-": none).
- safety opening: from the start of the built-in safety opening's first line to the end of its
  last, and how many times it is said ("-": the routine has its own)."""


@dataclass
class Session:
    name: str
    events: list[Event]
    chapters: list[dict]
    duration_ms: int
    mp3: Path
    clips: dict[str, np.ndarray]
    chimes: str


def built_sessions(names: list[str], routines_dir: Path, jobs: int) -> Iterator[Session]:
    """Each routine built with the default options into a temporary directory."""
    paths = [resolve(name, routines_dir) for name in names] or all_routines(routines_dir)
    with tempfile.TemporaryDirectory(prefix="narration-report-") as tmp:
        for path in paths:
            planned = speak_and_plan(load(path), Options(), jobs=jobs)  # the user's speech cache
            write(planned, Path(tmp))
            stem = variant_name(planned.routine, planned.narration, planned.voice)
            yield from_record(outputs(Path(tmp), stem)["plan"], planned.clips)


def read_sessions(out_dir: Path, names: list[str], jobs: int) -> Iterator[Session]:
    """The sessions whose records are in `out_dir`, their clips from the speech cache."""
    from voiceguide.speech.cache import ClipCache, cache_dir
    from voiceguide.speech.speak import speak

    for path in sorted(out_dir.glob("*.json")):
        if path.name.endswith(".chapters.json"):
            continue
        record = SessionRecord.from_json(path.read_text())
        if not record.events or (names and record.routine not in names):
            continue
        texts = [e["text"] for e in record.events if e["kind"] == "speech"]
        clips, _ = speak(texts, Voice(**record.settings["voice"]), ClipCache(cache_dir()), jobs)
        yield from_record(path, clips)


def from_record(path: Path, clips: dict[str, np.ndarray]) -> Session:
    record = SessionRecord.from_json(path.read_text())
    events = [Event(**e) for e in record.events]
    return Session(path.stem, events, record.chapters, record.duration_ms, path.parent / record.files["mp3"],
                   clips, record.settings["narration"].get("chimes", "soft"))


# -- the plan ----------------------------------------------------------------------------


def speech_in(speech: list[Event], lo: int, hi: int) -> int:
    """Milliseconds of [lo, hi) covered by speech (the lines never overlap each other)."""
    return sum(max(0, min(e.end_ms, hi) - max(e.start_ms, lo)) for e in speech)


def longest_quiet(sounding: list[Event], lo: int, hi: int) -> int:
    """The longest stretch of [lo, hi) with none of `sounding` (in order of start)."""
    longest, cursor = 0, lo
    for e in sounding:
        if e.end_ms > lo and e.start_ms < hi:
            longest, cursor = max(longest, e.start_ms - cursor), max(cursor, e.end_ms)
    return max(longest, hi - cursor)


def quiet_before(speech: list[Event], at: int) -> int:
    ends = [e.end_ms for e in speech if e.start_ms < at]
    return at - max(ends) if ends else at


def line_into(speech: list[Event], hold: Event) -> Event:
    """The move line that leads into a flow position (the last line starting before it)."""
    return [e for e in speech if e.start_ms < hold.start_ms][-1]


def plan_figures(s: Session) -> dict:
    speech = [e for e in s.events if e.kind == "speech"]
    starts = {e.start_ms for e in s.events if e.kind == "chime" and e.sound == "hold_start"}
    holds = [e for e in s.events if e.kind == "hold"]
    timed = [h for h in holds if h.start_ms in starts]
    moves = [h for h in holds if h.start_ms not in starts]
    f = {"lines": len(speech), "repeated": 1 - len({e.text for e in speech}) / len(speech), "holds": len(timed)}
    hold_len = lambda h: h.end_ms - h.start_ms  # noqa: E731

    shares = [(speech_in(speech, h.start_ms, h.end_ms) / hold_len(h), h) for h in timed]
    sounding = [e for e in s.events if e.kind == "speech" or (e.kind == "chime" and s.chimes != "none")]
    quiets = [(longest_quiet(sounding, h.start_ms, h.end_ms) / hold_len(h), h) for h in timed]
    short = [(share, h) for share, h in shares if hold_len(h) < SHORT_HOLD_MS]
    f["hold max"] = max(shares, key=lambda x: x[0], default=None)
    f["hold median"] = statistics.median(x for x, _ in shares) if shares else None
    f["hold quiet"] = min(quiets, key=lambda x: x[0], default=None)
    f["short of target"] = sum(q * hold_len(h) < min(0.4 * hold_len(h), 5000) for q, h in quiets)
    f["short max"] = max(short, key=lambda x: x[0], default=None)

    firsts, flows = [], []
    for chapter in s.chapters[1:-1]:  # the exercises, between the introduction and the finish
        inside = lambda e: chapter["start_ms"] <= e.start_ms < chapter["end_ms"]  # noqa: E731
        mine_timed, mine_moves = [h for h in timed if inside(h)], [h for h in moves if inside(h)]
        if mine_timed:
            firsts.append((quiet_before(speech, mine_timed[0].start_ms) / 1000, chapter["title"]))
        elif mine_moves:
            firsts.append((quiet_before(speech, line_into(speech, mine_moves[0]).start_ms) / 1000, chapter["title"]))
        switches = [e.start_ms for e in s.events if e.kind == "switch" and inside(e)]
        runs: list[list[Event]] = []
        for h in mine_moves:  # the positions of one side, apart from the other's
            if not runs or any(runs[-1][-1].end_ms <= t < h.start_ms for t in switches):
                runs.append([])
            runs[-1].append(h)
        for run in runs:
            lo, hi = line_into(speech, run[0]).start_ms, run[-1].end_ms
            rounds = sum(h.text == run[0].text for h in run)
            flows.append((speech_in(speech, lo, hi) / (hi - lo), rounds, chapter["title"]))
    f["first"] = min(firsts, default=None)
    after = []
    for switch in (e for e in s.events if e.kind == "switch"):
        begins = min(x.start_ms for x in speech + holds if x.start_ms >= switch.end_ms)  # the next side
        last = max((e.end_ms for e in speech if e.end_ms <= begins), default=switch.start_ms)
        after.append(((begins - last) / 1000, switch.text))
    f["switch"] = min(after, default=None)
    f["flow"] = max((x for x in flows if x[1] >= 4), default=None)
    openings = {line for code in phrases.languages() for form in ("full", "brief")
                for line in phrases.pack(code).spoken_safety(form)}
    advice = [e for e in speech if e.text in openings]
    f["safety"] = (advice[-1].end_ms - advice[0].start_ms, len(advice) // len({e.text for e in advice})) if advice else None
    return f


# -- the decoded MP3 ---------------------------------------------------------------------


def chime_margins(s: Session) -> list[tuple[float, float, float, Event, str]]:
    """(margin dB, source margin dB, fit residual dB, line, chime) for each line under a chime."""
    if s.chimes == "none":
        return []
    audio = decode(s.mp3, RATE)
    chimes = [e for e in s.events if e.kind == "chime"]
    sound = {c: chime(c.sound, RATE, s.chimes) for c in chimes}
    found: dict[Event, int] = {}

    def at(c: Event) -> int:  # where the chime really is in the MP3, within 10 ms of the plan
        if c not in found:
            found[c] = locate(sound[c], audio, c.start_ms * RATE // 1000, RATE // 100)
        return found[c]

    out = []
    for line in (e for e in s.events if e.kind == "speech"):
        ringing = [c for c in chimes if c.start_ms <= line.start_ms < c.end_ms]
        if not ringing:
            continue
        clip = s.clips[line.text]
        lo = locate(clip, audio, line.start_ms * RATE // 1000, RATE // 100)
        d = audio[lo: lo + WINDOW].astype(np.float64)
        c_track = np.zeros(d.size)
        for c in chimes:  # every chime sounding in the window, not only the one that rang first
            a, b = max(lo, at(c)), min(lo + d.size, at(c) + sound[c].size)
            if b > a:
                c_track[a - lo: b - lo] += sound[c][a - at(c): b - at(c)]
        s_track = np.zeros(d.size)
        s_track[: min(d.size, clip.size)] = clip[: d.size]
        (gain_c, gain_s), *_ = np.linalg.lstsq(np.stack([c_track, s_track], 1), d, rcond=None)
        rms = lambda x: float(np.sqrt(np.mean(x ** 2))) + 1e-12  # noqa: E731
        margin = 20 * np.log10(rms(gain_s * s_track) / rms(gain_c * c_track))
        source = 20 * np.log10(rms(s_track) / rms(c_track))
        residual = 20 * np.log10(rms(d - gain_c * c_track - gain_s * s_track) / rms(d))
        out.append((margin, source, residual, line, "+".join(c.sound for c in ringing)))
    return out


# -- the report --------------------------------------------------------------------------

COLUMNS = ["session", "length", "lines", "repeated", "hold speech max", "hold speech median",
           "quiet before 1st hold", "quiet after switch", "hold quiet min", "short of target",
           "<10 s hold speech max", "chime margin", "flow speech (4+ rounds)", "safety opening"]


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def report(s: Session) -> tuple[str, list[str]]:
    f = plan_figures(s)
    margins = chime_margins(s)
    worst = min(margins, key=lambda m: m[0], default=None)
    first_of = lambda x: None if x is None else x[0]  # noqa: E731
    row = [s.name, format_time(s.duration_ms)[:-4], str(f["lines"]), pct(f["repeated"]),
           pct(first_of(f["hold max"])), pct(f["hold median"]),
           "-" if f["first"] is None else f"{f['first'][0]:.2f} s",
           "-" if f["switch"] is None else f"{f['switch'][0]:.2f} s",
           pct(first_of(f["hold quiet"])), f"{f['short of target']}/{f['holds']}",
           pct(first_of(f["short max"])), "-" if worst is None else f"{worst[0]:.1f} dB",
           pct(first_of(f["flow"])),
           "-" if f["safety"] is None else f"{f['safety'][0] / 1000:.1f} s, {f['safety'][1]}x"]
    where = []
    if f["hold max"]:
        where.append(f"most spoken hold: {f['hold max'][1].text} ({pct(f['hold max'][0])})")
    if f["first"]:
        where.append(f"least quiet before a first hold: {f['first'][1]} ({f['first'][0]:.2f} s)")
    if f["switch"]:
        where.append(f"least quiet after a switch: {f['switch'][1]} ({f['switch'][0]:.2f} s)")
    if f["hold quiet"]:
        q, h = f["hold quiet"]
        where.append(f"least quiet hold: {h.text} (longest quiet {q * (h.end_ms - h.start_ms) / 1000:.2f} s"
                     f" of {(h.end_ms - h.start_ms) / 1000:g} s); {f['short of target']} of {f['holds']} holds"
                     f" have no quiet stretch of min(40%, 5 s)")
    if f["short max"]:
        where.append(f"most spoken short hold: {f['short max'][1].text} ({pct(f['short max'][0])})")
    if worst:
        under = {c: sum(m[4] == c for m in margins) for c in dict.fromkeys(m[4] for m in margins)}
        counts = ", ".join(f"{n} under {c}" for c, n in under.items())
        where.append(f"chime margin: {len(margins)} lines start under a chime ({counts}); worst "
                     f"{worst[3].text!r} at {format_time(worst[3].start_ms)} over {worst[4]}: {worst[0]:.1f} dB "
                     f"(source {worst[1]:.1f} dB, fit residual {worst[2]:.1f} dB; at most {max(m[2] for m in margins):.1f} dB)")
    if f["flow"]:
        where.append(f"most spoken flow: {f['flow'][2]} ({f['flow'][1]} rounds, {pct(f['flow'][0])})")
    return "| " + " | ".join(row) + " |", where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("routines", nargs="*", help="routine names or files (default: every routine)")
    parser.add_argument("--out", type=Path, help="read the sessions already built in this directory")
    parser.add_argument("--routines-dir", type=Path, default=ROOT / "routines")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.out:
        sessions = read_sessions(args.out, [Path(n).stem for n in args.routines], args.jobs)
    else:
        sessions = built_sessions(args.routines, args.routines_dir, args.jobs)
    rows, places = [], []
    try:
        for session in sessions:
            row, where = report(session)
            rows.append(row)
            places.append((session.name, where))
            print(f"measured {session.name}", file=sys.stderr)
    except VoiceguideError as error:
        sys.exit(f"error: {error}")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    print("\n".join(rows))
    print()
    for name, where in places:
        print(f"{name}:")
        print("\n".join(f"  {line}" for line in where))
    print()
    print(LEGEND)


if __name__ == "__main__":
    main()
