"""Laying out a session: Routine -> Timeline, every cue, chime, hold and rest at an absolute ms. Pure.

The planner needs to know how long each line of speech lasts; it is handed a function for
that (the real one measures synthesized clips, tests pass a fake). Holds are never
stretched: speech inside a hold is laid over its silence, and a cue that does not fit is
dropped with a note. Rests and switches grow when their speech is longer, also with a note.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import RoutineError
from ..limits import MAX_SESSION_MS, too_long_problem
from ..routine import phrases as phrase_packs
from ..routine.model import STAY_MS, Exercise, Move, Narration, Routine, format_duration
from .timeline import CHIME_MS, Chapter, Event, SpeechMeasure, Timeline


LEAD_IN_MS = 600  # silence before the first word, so players don't clip it
LINE_GAP_MS = 450  # between two spoken lines
STEP_GAP_MS = 900  # after a setup step: time to move
SWITCH_QUIET_MS = 3000  # after the last word of a switch, before the next side's start chime
CUE_GAP_MS = 250  # minimum silence between lines laid over a hold
TAIL_MS = 1500  # silence after the final chime has rung out



def plan(routine: Routine, speech_ms: SpeechMeasure, narration: Narration | None = None) -> Timeline:
    """Lay out the whole session on one absolute timeline; RoutineError if it is too long."""
    timeline = lay_out(routine, speech_ms, narration)
    if timeline.duration_ms > MAX_SESSION_MS:
        raise RoutineError([too_long_problem(routine, timeline, "once its speech is made")])
    return timeline


def lay_out(routine: Routine, speech_ms: SpeechMeasure, narration: Narration | None = None,
            overlays: bool = True) -> Timeline:
    """The session's timeline, however long it is.

    Without `overlays`, the lines laid over holds (cues, countdown, "halfway") are left out:
    they never change the session's length, and a routine of thousands of cues on hundreds
    of holds takes seconds to lay out.
    """
    return _Planner(routine, narration or routine.narration, speech_ms, overlays=overlays).session()


def phrases(routine: Routine, narration: Narration | None = None) -> list[str]:
    """Every line the session may speak, in order of first use, without duplicates."""
    seen: dict[str, None] = {}

    def record(text: str) -> int:
        seen.setdefault(text, None)
        return 1000

    _Planner(routine, narration or routine.narration, record).session()
    return list(seen)


@dataclass
class _Planner:
    routine: Routine
    narration: Narration
    speech_ms: SpeechMeasure
    overlays: bool = True
    t: int = 0
    events: list[Event] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    explained: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.words = phrase_packs.pack(self.narration.language)
        """The fixed lines, in the session's language."""

    @property
    def full(self) -> bool:
        return self.narration.verbosity == "full"

    @property
    def minimal(self) -> bool:
        return self.narration.verbosity == "minimal"

    # -- primitives --------------------------------------------------------------------

    def say(self, text: str, gap_after: int = LINE_GAP_MS) -> None:
        """Speak at the cursor; the cursor moves past the line and a gap."""
        length = self.speech_ms(text)
        self.events.append(Event(self.t, self.t + length, "speech", text=text))
        self.t += length + gap_after

    def say_all(self, lines: Iterable[str], gap_after: int = LINE_GAP_MS) -> None:
        for line in lines:
            self.say(line, gap_after)

    def chime(self, sound: str, at: int | None = None) -> None:
        start = self.t if at is None else at
        self.events.append(Event(start, start + CHIME_MS[sound], "chime", sound=sound))

    def gap(self, kind: str, length: int, lines: list[str], label: str) -> None:
        """A rest or switch of `length` ms; its speech comes first and may make it grow."""
        start = self.t
        self.say_all(lines)
        end = max(start + length, self.t)
        if length and self.t > start + length:
            self.notes.append(
                f"{label}: the {kind} grew from {format_duration(length)} to "
                f"{format_duration(end - start)} to fit its speech"
            )
        self.events.append(Event(start, end, kind, text=label))
        self.t = end

    # -- the session -------------------------------------------------------------------

    def session(self) -> Timeline:
        self.opening()
        exercises = self.routine.exercises
        for index, exercise in enumerate(exercises):
            following = exercises[index + 1] if index + 1 < len(exercises) else None
            self.exercise(index, exercise, following)
        self.closing()
        events = sorted(self.events, key=lambda e: (e.start_ms, e.end_ms))
        duration = max(e.end_ms for e in events) + TAIL_MS
        chapters = [
            Chapter(c.start_ms, self.chapters[i + 1].start_ms if i + 1 < len(self.chapters) else duration, c.title)
            for i, c in enumerate(self.chapters)
        ]
        return Timeline(self.routine.title, duration, tuple(events), tuple(chapters), tuple(self.notes))

    def opening(self) -> None:
        self.chapters.append(Chapter(0, 0, self.words.word("introduction")))
        self.t = LEAD_IN_MS
        self.say(self.words.line("title", title=self.routine.title), gap_after=700)
        # Safety opens every session whatever the verbosity (briefly when it is minimal).
        form = self.routine.safety_form or ("brief" if self.minimal else "full")
        advice = self.routine.safety if form == "own" else self.words.spoken_safety(form)
        self.say_all(advice[:-1])
        self.say(advice[-1], gap_after=700)
        if not self.minimal:
            self.say_all(self.routine.intro)
        count = len(self.routine.exercises)
        self.say(self.words.line("exercises", count=count), gap_after=900)

    def closing(self) -> None:
        self.chapters.append(Chapter(self.t, 0, self.words.word("finish")))
        self.chime("end")
        self.t += CHIME_MS["end"]  # no word over a ringing chime
        self.say(self.words.line("closing"))
        if not self.minimal:
            self.say_all(self.routine.outro)
        # The end chime's tail and a little silence close the file.
        self.t = max(self.t, max(e.end_ms for e in self.events))

    def exercise(self, index: int, exercise: Exercise, following: Exercise | None) -> None:
        count = len(self.routine.exercises)
        self.chapters.append(Chapter(self.t, 0, exercise.name))
        self.chime("next")
        self.t += CHIME_MS["next"]
        heading = (self.words.line("heading", number=index + 1, count=count, name=exercise.name) if count > 1
                   else self.words.line("heading_alone", name=exercise.name))
        self.say(heading, gap_after=700)
        first_time = exercise.name not in self.explained
        self.explained.add(exercise.name)
        if self.full or (first_time and not self.minimal):
            self.say_all(exercise.steps, gap_after=STEP_GAP_MS)

        if exercise.flow:
            self.flow(exercise)
        else:
            self.holds(exercise)

        if following is not None:
            lines = [] if self.minimal else [self.words.line("rest")]
            lines.append(self.words.line("next", name=following.name))
            self.gap("rest", exercise.rest_ms, lines, f"rest before {following.name}")
        else:
            self.t += 600

    def holds(self, exercise: Exercise) -> None:
        """Each rep, each side: what to do, time to get there, the hold, the release.

        The time to get into position (`setup`) comes as silence after the last word and
        before the start chime, for the first hold and for each rep after a rest (the
        position was left); after a switch, the next side is named in the switch and at
        least SWITCH_QUIET_MS of silence follows it.
        """
        sides = exercise.sides or (None,)
        hold_ms = round(exercise.hold_ms * self.narration.hold_scale)
        first = True
        for rep in range(1, exercise.reps + 1):
            for side_index, side in enumerate(sides):
                if side_index == 0:  # a later side was named in the switch; its chime starts it
                    lines = [self.words.line("rep", rep=rep, reps=exercise.reps)] if exercise.reps > 1 else []
                    lines += [self.words.side(side)] if side else []
                    lines.append(self.words.line("hold_for", duration=self.words.duration(hold_ms)) if first
                                 else self.words.line("hold"))
                    self.say_all(lines[:-1])
                    self.say(lines[-1], gap_after=exercise.setup_ms if first or exercise.rest_ms else SWITCH_QUIET_MS)
                label = _label(exercise, side, rep)
                self.hold(exercise, hold_ms, label)
                first = False
                if not self.minimal:
                    self.say(self.words.line("release"))
                if side_index + 1 < len(sides):
                    self.switch(exercise, sides[side_index + 1], f"switch after {label}")
            if rep < exercise.reps:
                lines = [] if self.minimal else [self.words.line("rest")]
                self.gap("rest", exercise.rest_ms, lines, f"rest after {_label(exercise, None, rep)}")

    def switch(self, exercise: Exercise, side: str, label: str) -> None:
        """Switch sides: say so and name the next side at once, then leave the switch's time
        (at least SWITCH_QUIET_MS after the last word) to get into position."""
        start = self.t
        self.say_all([] if self.minimal else [self.words.line("switch")])
        self.say(self.words.side(side), gap_after=0)
        end = max(start + exercise.switch_ms, self.t + SWITCH_QUIET_MS)  # by design: no note
        self.events.append(Event(start, end, "switch", text=label))
        self.t = end

    def hold(self, exercise: Exercise, hold_ms: int, label: str) -> None:
        """A hold from the start chime to the end chime, exactly `hold_ms`; lines ride on top.

        Every hold keeps a quiet stretch of min(40% of it, 5 s) after the start chime has
        rung: the countdown shortens (or goes) to leave it, and when the cues and "Halfway."
        leave none, those that fall in the stretch just before the count are dropped, with a
        note.
        """
        start, end = self.t, self.t + hold_ms
        self.chime("hold_start", start)
        self.events.append(Event(start, end, "hold", text=label))

        ringing = start + CHIME_MS["hold_start"]  # no word begins over a ringing chime
        countdown = self.narration.countdown if self.overlays else 0
        quiet = min(hold_ms * 2 // 5, 5000)
        while countdown and end - countdown * 1000 < ringing + quiet:
            countdown -= 1
        if countdown == 1:
            countdown = 0  # "One." alone is no countdown
        lines = [(self.words.countdown(n), end - n * 1000) for n in range(countdown, 0, -1)]
        if self.overlays and not self.minimal:
            scale = self.narration.hold_scale
            lines += [(cue.text, start + round(cue.at_ms * scale)) for cue in exercise.cues]
            if self.narration.halfway and hold_ms >= 15_000:
                lines.append((self.words.line("halfway"), start + hold_ms // 2))
        placed, notes, longest = self.lay_over(lines, start, end, ringing, label)
        if longest < quiet:
            count = end - countdown * 1000 if countdown else end
            placed, notes, _ = self.lay_over(lines, start, end, ringing, label, keep_quiet=(count - quiet, count))
        self.events += placed
        self.notes += notes
        self.chime("hold_end", end)
        self.t = end + CHIME_MS["hold_end"]

    def lay_over(self, lines: list[tuple[str, int]], start: int, end: int, ringing: int, label: str,
                 keep_quiet: tuple[int, int] | None = None) -> tuple[list[Event], list[str], int]:
        """Lay lines over a hold's silence at their times, in order, each unless it would touch
        other speech, the ringing start chime or the `keep_quiet` stretch: (the lines laid,
        notes on those dropped, the longest quiet stretch left)."""
        taken: list[tuple[int, int]] = [(start, ringing)]  # apart, in time order
        placed, notes = [], []
        for text, at in lines:
            span = (at, at + self.speech_ms(text))
            # The spans taken are apart and in order, so only the two around this one can touch
            # it: a hold with thousands of cues is laid out in n log n, not n squared.
            place = bisect.bisect_left(taken, span)
            fits = (
                span[1] <= end - 100
                and (place == 0 or span[0] >= taken[place - 1][1] + CUE_GAP_MS)
                and (place == len(taken) or span[1] + CUE_GAP_MS <= taken[place][0])
            )
            if fits and keep_quiet and span[0] < keep_quiet[1] and span[1] > keep_quiet[0]:
                quiet = format_duration(keep_quiet[1] - keep_quiet[0])
                notes.append(f"{label}: dropped {text!r} at {format_duration(at - start)}: the hold keeps {quiet} quiet")
            elif not fits:
                notes.append(f"{label}: dropped {text!r} at {format_duration(at - start)}: no room in the hold")
            else:
                taken.insert(place, span)
                placed.append(Event(span[0], span[1], "speech", text=text))
        edges = [edge for span in taken for edge in span] + [end]
        longest = max(edges[i + 1] - edges[i] for i in range(1, len(edges) - 1, 2))
        return placed, notes, longest

    def flow(self, exercise: Exercise) -> None:
        """Each side: the rounds of moves, each move said at its start (in full the first
        round, by its short form after), then its time. Three kinds of move: paced by breath
        (each lasts its breath in or out), a stay (timed like a hold), or a move (its line,
        then its hold)."""
        sides = exercise.sides or (None,)
        # The setup time comes before the first move's line; a stay has its own, after its line.
        setup = LINE_GAP_MS if self.is_stay(exercise, exercise.flow[0]) else exercise.setup_ms
        for side_index, side in enumerate(sides):
            if side_index == 0:  # a later side is named in the switch, which leaves the setup time
                lines = [self.words.side(side)] if side else []
                if not self.minimal and exercise.reps > 1:
                    lines.append(self.words.line("rounds", count=exercise.reps))
                self.say_all(lines[:-1])
                if lines:
                    self.say(lines[-1], gap_after=setup)
                else:
                    self.t += setup
            breaths = 0
            for cycle in range(1, exercise.reps + 1):
                for number, move in enumerate(exercise.flow):
                    text = move.short if cycle > 1 and move.short else move.text
                    if exercise.reps > 1 and cycle == exercise.reps and number == 0:
                        text = self.words.line("last_round", move=text)
                    label = f"{exercise.name}: {move.text}"
                    if exercise.breath_ms:
                        self.breath(text, exercise.breath_ms[breaths % 2], label)
                        breaths += 1
                    elif self.is_stay(exercise, move):
                        self.stay(exercise, move, text, label)
                    else:
                        self.say(text, gap_after=0)
                        hold = round(move.hold_ms * self.narration.hold_scale)
                        self.events.append(Event(self.t, self.t + hold, "hold", text=label))
                        self.t += max(hold, LINE_GAP_MS)
            if not self.minimal:
                self.say(self.words.line("relax"))
            if side_index + 1 < len(sides):
                self.switch(exercise, sides[side_index + 1], f"switch in {exercise.name}")

    def breath(self, text: str, length: int, label: str) -> None:
        """A move paced by breath: its line starts the breath, which lasts `length` (it grows,
        with a note, only if the line is longer)."""
        start = self.t
        self.say(text, gap_after=0)
        end = max(start + length, self.t + LINE_GAP_MS)
        if end > start + length:
            self.notes.append(f"{label}: the breath grew from {format_duration(length)} to "
                              f"{format_duration(end - start)} to fit its line")
        self.events.append(Event(self.t, end, "hold", text=label))
        self.t = end

    @staticmethod
    def is_stay(exercise: Exercise, move: Move) -> bool:
        return not exercise.breath_ms and move.hold_ms >= STAY_MS

    def stay(self, exercise: Exercise, move: Move, text: str, label: str) -> None:
        """A move of STAY_MS or more: its line, time to move into it (the exercise's setup),
        then a timed hold."""
        self.say(text, gap_after=exercise.setup_ms)
        self.hold(exercise, round(move.hold_ms * self.narration.hold_scale), label)


def spoken_side(side: str) -> str:
    """'right' -> 'Right side.'; a side named in full ('right knee') is said as it is written."""
    if " " not in side.strip():
        return f"{side.capitalize()} side."
    return f"{side[0].upper()}{side[1:]}."


def _label(exercise: Exercise, side: str | None, rep: int) -> str:
    parts = [exercise.name]
    if side:
        parts.append(spoken_side(side).rstrip(".").lower())
    if exercise.reps > 1:
        parts.append(f"rep {rep} of {exercise.reps}")
    return ", ".join(parts)
