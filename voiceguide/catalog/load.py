"""A catalog file -> a checked `Catalog`; every problem at file:line:col, the routines' too.

The file is read as routines are (yaml_nodes.py: size, encoding, syntax, aliases; nodes only,
never Python objects); each routine it names is loaded once, with its own file's positions.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import RoutineError
from ..routine.files import NotAFile, read_regular_file
from ..routine.load import SessionProblem, load
from ..routine.schema import VoiceProblem
from ..routine.yaml_nodes import MAX_FILE_BYTES, Problems, parse
from .model import Catalog
from .schema import CatalogReader


def load_catalog(
    path: Path | str, routines_dir: Path, *,
    voice_problem: VoiceProblem | None = None, session_problem: SessionProblem | None = None,
) -> Catalog:
    """Read and check a catalog and every routine it names; raise RoutineError listing every
    problem found (the catalog's, then each routine's)."""
    path = Path(path)
    problems = Problems(str(path))

    def load_routine(routine_path: Path):
        try:
            return load(routine_path, voice_problem=voice_problem, session_problem=session_problem), []
        except RoutineError as error:
            return None, error.problems

    catalog = None
    try:
        data, size = read_regular_file(path, MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        problems.at(None, "expected a catalog file, found no such file")
    except NotAFile as error:
        problems.at(None, f"expected a catalog file, found {error}")
    except OSError as error:
        problems.at(None, f"expected a readable catalog file, found an error: {error.strerror}")
    else:
        root = parse(data, size, problems)
        if root is not None:
            reader = CatalogReader(problems, path, routines_dir, load_routine, voice_problem)
            catalog = reader.catalog(root)
    if problems or catalog is None:
        own = sorted((p for p in problems.found if p.path == str(path)), key=lambda p: (p.line, p.column))
        raise RoutineError(own + [p for p in problems.found if p.path != str(path)])
    return catalog
