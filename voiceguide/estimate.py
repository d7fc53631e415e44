"""Is a session too long? Known before any of its speech is synthesized.

A session over MAX_SESSION_MS is refused. Saying its lines first would take minutes for a
routine of a hundred reps on two sides, so two cheap looks come before any speech:

- the floor: its holds, rests and switches alone, which no speech shortens, added up from
  the routine without planning (a hostile routine can make the planner itself slow);
- its plan with each clip's length estimated from its words and the rate, on the short
  side, so that a session estimated over the limit is over it once spoken.

`plan()` still checks the real length once the speech is made. Every message points at the
exercise that takes longest: at its reps if it has several, else at its hold (or flow).
"""

from __future__ import annotations

from .errors import Problem
from .routine.model import Exercise, Narration, Routine
from .limits import MAX_SESSION_MS, over_limit_problem, too_long_problem
from .plan import LINE_GAP_MS, SpeechMeasure, lay_out

ESTIMATE_SHARE = 0.5
"""An estimated clip lasts this share of words x 60 / rate seconds. Measured on the shipped
routines' 337 lines, clips last 0.60 to 2 times words x 60 / rate with eSpeak NG at 160 wpm
(0.89 in the middle), 0.56 and up with Piper's joe voice at 160 wpm, 0.71 and up at 250:
the estimate stays under every one of them, and a whole session under it by far."""



def too_long(routine: Routine, narration: Narration | None = None, rate: int | None = None,
             path: str | None = None) -> Problem | None:
    """Why the session of `routine` would be over the limit, or None if it may not be.

    `narration` and `rate` are the build's (the routine's own by default); `path` names the
    file in the message (the routine's path by default).
    """
    narration = narration or routine.narration
    floors = [exercise_floor_ms(exercise, narration) for exercise in routine.exercises]
    floor = sum(floors) + sum(exercise.rest_ms for exercise in routine.exercises[:-1])
    if floor > MAX_SESSION_MS:
        return over_limit_problem(routine, floors, floor, "at least", "in holds, rests and switches alone", path)
    timeline = lay_out(routine, estimated_speech(rate or routine.voice.rate), narration, overlays=False)
    if timeline.duration_ms > MAX_SESSION_MS:
        return too_long_problem(routine, timeline, "with its speech estimated, before any is made", path, "at least")
    return None


def estimated_speech(rate: int) -> SpeechMeasure:
    """A clip's length from its words, on the short side (see ESTIMATE_SHARE)."""
    per_word_ms = ESTIMATE_SHARE * 60_000 / rate
    return lambda text: round(len(text.split()) * per_word_ms)


def exercise_floor_ms(exercise: Exercise, narration: Narration) -> int:
    """An exercise's holds, rests between reps and switches between sides, as the planner
    lays them out, without its speech (and without the rest after it)."""
    sides = len(exercise.sides) or 1
    scale = narration.hold_scale
    if exercise.flow:
        round_ms = sum(max(round(move.hold_ms * scale), LINE_GAP_MS) for move in exercise.flow)
        return sides * exercise.reps * round_ms + (sides - 1) * exercise.switch_ms
    holds = exercise.reps * sides * round(exercise.hold_ms * scale)
    return holds + (exercise.reps - 1) * exercise.rest_ms + exercise.reps * (sides - 1) * exercise.switch_ms


TYPICAL_SHARE = 1.03
"""The middle of the measured clip lengths (see ESTIMATE_SHARE): for a length to show, not
for a limit. Fitted when --rate became the pace as measured: the seed sessions' estimates are
within 1 to 7 s of their built lengths (0.89, before, is 24 to 87 s short now)."""


def estimated_ms(routine: Routine, narration: Narration | None = None, rate: int | None = None) -> int:
    """About how long the session of `routine` lasts, without making any of its speech."""
    per_word_ms = TYPICAL_SHARE * 60_000 / (rate or routine.voice.rate)
    timeline = lay_out(routine, lambda text: round(len(text.split()) * per_word_ms), narration or routine.narration, overlays=False)
    return timeline.duration_ms
