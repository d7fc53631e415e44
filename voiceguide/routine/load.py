"""Stage 1, load: routine YAML -> validated, frozen `Routine`; every problem has file:line:col.

Reading goes file -> nodes (yaml_nodes.py) -> values (fields.py) -> the routine's keys
(schema.py). Duplicate keys, unknown keys and wrong types are all reported, not just the first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from ..errors import Problem, RoutineError
from ..estimate import too_long
from .files import NotAFile, read_regular_file
from .model import Routine
from .schema import RoutineReader, VoiceProblem
from .yaml_nodes import MAX_FILE_BYTES, Problems, parse

__all__ = ["VoiceProblem", "load", "load_all", "routine_id"]

_ID_CHARS = re.compile(r"[^a-z0-9]+")


def routine_id(path: Path) -> str:
    """The output name for a routine file: its stem, lower-cased, only letters, digits and '-'."""
    return _ID_CHARS.sub("-", path.stem.lower()).strip("-")


def load(path: Path | str, display_path: str | None = None, voice_problem: VoiceProblem | None = None) -> Routine:
    """Read and validate one routine file; raise RoutineError listing every problem found.

    `voice_problem` checks a `voice:` against its engine's voices (`speech.voices.problem`);
    without it, any voice name is taken, for the engine to refuse when it is asked to speak.
    """
    path = Path(path)
    problems = Problems(display_path or str(path))
    routine = _read(path, problems, voice_problem)
    if problems:
        raise RoutineError(sorted(problems.found, key=lambda p: (p.line, p.column)))
    assert routine is not None
    return routine


def load_all(paths: list[Path], voice_problem: VoiceProblem | None = None) -> list[Routine]:
    """Load many routines, collecting the problems of all of them before raising."""
    routines, problems = [], []
    for path in paths:
        try:
            routines.append(load(path, voice_problem=voice_problem))
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


def _read(path: Path, problems: Problems, voice_problem: VoiceProblem | None) -> Routine | None:
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
    over = too_long(routine, path=problems.path)
    if over is not None:
        problems.add(over)
        return None
    # The digest of the bytes validated here, so a build keys exactly what it planned.
    return replace(routine, digest=hashlib.sha256(data).hexdigest())
