"""Stage 1, load: routine YAML -> validated, frozen `Routine`; every problem has file:line:col.

Reading goes file -> nodes (yaml_nodes.py) -> values (fields.py) -> the routine's keys
(schema.py). Duplicate keys, unknown keys and wrong types are all reported, not just the first.

Two checks need what later stages know: whether a voice is one of its engine's (speech) and
whether the session would be too long (the plan's estimate). Whoever runs the pipeline hands
them in (`voice_problem`, `session_problem`), so they are reported with the routine's other
problems, and load never imports a later stage.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ..errors import Problem, RoutineError
from .files import NotAFile, read_regular_file
from .model import Routine
from .schema import RoutineReader, VoiceProblem
from .yaml_nodes import MAX_FILE_BYTES, Problems, parse

__all__ = ["SessionProblem", "VoiceProblem", "load", "load_all", "routine_id"]

_ID_CHARS = re.compile(r"[^a-z0-9]+")


class SessionProblem(Protocol):
    """Why the session of a routine that reads without a problem would be too long, or None
    (`estimate.too_long`); `path` names the file as the messages do."""

    def __call__(self, routine: Routine, *, path: str) -> Problem | None: ...


def routine_id(path: Path) -> str:
    """The output name for a routine file: its stem, lower-cased, only letters, digits and '-'."""
    return _ID_CHARS.sub("-", path.stem.lower()).strip("-")


def load(
    path: Path | str, display_path: str | None = None, *,
    voice_problem: VoiceProblem | None = None, session_problem: SessionProblem | None = None,
) -> Routine:
    """Read and validate one routine file; raise RoutineError listing every problem found.

    Without `voice_problem` any voice name is taken, for the engine to refuse when it is
    asked to speak; without `session_problem` the length is left to the plan.
    """
    path = Path(path)
    problems = Problems(display_path or str(path))
    routine = _read(path, problems, voice_problem, session_problem)
    if problems:
        raise RoutineError(sorted(problems.found, key=lambda p: (p.line, p.column)))
    assert routine is not None
    return routine


def load_all(
    paths: list[Path], *, voice_problem: VoiceProblem | None = None, session_problem: SessionProblem | None = None,
) -> list[Routine]:
    """Load many routines, collecting the problems of all of them before raising."""
    routines, problems = [], []
    for path in paths:
        try:
            routines.append(load(path, voice_problem=voice_problem, session_problem=session_problem))
        except RoutineError as error:
            problems.extend(error.problems)
    owners: dict[str, Routine] = {}
    for routine in routines:
        first = owners.setdefault(routine.id, routine)
        if first is not routine:  # e.g. "Sore Back.yaml" and "sore-back.yaml"
            problems.append(Problem(
                str(routine.path), 0, 0,
                f"expected a file name of its own, found one that writes {routine.id}.mp3 like {first.path}",
            ))
    if problems:
        raise RoutineError(problems)
    return routines


def _read(
    path: Path, problems: Problems, voice_problem: VoiceProblem | None, session_problem: SessionProblem | None,
) -> Routine | None:
    try:
        data, size = read_regular_file(path, MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        problems.at(None, "expected a routine file, found no such file")
        return None
    except NotAFile as error:
        problems.at(None, f"expected a routine file, found {error}")
        return None
    except OSError as error:
        problems.at(None, f"expected a readable routine file, found an error: {error.strerror}")
        return None
    root = parse(data, size, problems)
    if root is None:
        return None
    routine = RoutineReader(problems, voice_problem).routine(root, path, routine_id(path))
    if routine is None:
        return None
    # Refused here, before anything speaks: saying a session of many hours takes minutes.
    over = session_problem(routine, path=problems.path) if session_problem else None
    if over is not None:
        problems.add(over)
        return None
    # The digest of the bytes validated here, so a build keys exactly what it planned.
    return replace(routine, digest=hashlib.sha256(data).hexdigest())
