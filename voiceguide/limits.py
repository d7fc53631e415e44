"""Stage 3, plan: the longest session voiceguide makes, and what to say of one over it.

Every message points at the exercise that takes longest: at its reps if it has several, else
at its hold (or flow), with how long it takes, so the writer knows what to change.
"""

from __future__ import annotations

from .errors import Problem
from .routine.model import Routine

MAX_SESSION_MS = 3 * 3600_000

_CHANGE = {"reps": "fewer reps", "hold": "a shorter hold", "flow": "fewer or shorter moves"}


def too_long_problem(routine: Routine, timeline, how: str, path: str | None = None,
                     bound: str = "") -> Problem:
    """The message for a planned session (a plan.Timeline) over the limit, at its longest exercise."""
    exercise_chapters = timeline.chapters[1: 1 + len(routine.exercises)]  # after the introduction
    spans = [chapter.end_ms - chapter.start_ms for chapter in exercise_chapters]
    return over_limit_problem(routine, spans, timeline.duration_ms, bound, how, path)


def over_limit_problem(routine: Routine, spans: list[int], total: int, bound: str, how: str, path: str | None) -> Problem:
    path = path if path is not None else str(routine.path)
    found = f"found {bound + ' ' if bound else ''}{hours(total)} {how}"
    expected = f"expected a session of at most {hours(MAX_SESSION_MS)}"
    if not spans:
        return Problem(path, 1, 1, f"{expected}, {found}")
    index = max(range(len(spans)), key=spans.__getitem__)
    exercise = routine.exercises[index]
    key = "reps" if exercise.reps > 1 else "flow" if exercise.flow else "hold"
    places = {place[0]: place[1:] for place in exercise.places}
    where, line, column = places.get(key, (f"exercises[{index}]", exercise.line, 0))
    share = f"exercises[{index}] takes {hours(spans[index])} of it: {_CHANGE[key]}"
    return Problem(path, line, column, f"{where}: {expected}, {found} ({share})")


def hours(ms: int) -> str:
    """10_800_000 -> '3h', 11_100_000 -> '3h05m', 2_700_000 -> '45m'."""
    whole_hours, minutes = divmod(round(ms / 60_000), 60)
    if not whole_hours:
        return f"{minutes}m"
    return f"{whole_hours}h{minutes:02d}m" if minutes else f"{whole_hours}h"
