"""Finding routines (the routines directory first, then the bundled ones) and reading a
routine file: only a regular file (or one a symlink points to), and only so much.

A FIFO would block until someone writes to it, and /dev/zero or /dev/urandom never end, so
anything but a regular file is refused before it is opened. O_NONBLOCK and a second look at
the opened file make a swap between the two looks harmless: opening a FIFO that way returns
at once, and it is refused then.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import Problem, RoutineError

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "routines"
"""The seed routines that come with voiceguide (in a checkout, a link to routines/)."""
FORMAT_DOC = BUNDLED.parent / "routine-format.md"
"""docs/routine-format.md, as `voiceguide docs format` prints it."""
SCHEMA_FILE = "routine.schema.json"
"""The JSON Schema beside the routines of a directory, for editors (`voiceguide schema`)."""

_FILE_KINDS = {
    stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket",
}


class NotAFile(OSError):
    """The path is a FIFO, a device, a directory or a socket; the text says which."""


def read_regular_file(path: Path, limit: int) -> tuple[bytes, int]:
    """At most `limit` bytes of the regular file at `path`, and its size.

    The size is the larger of what the file says and what was read: files in /proc say they
    are empty and are not.
    """
    _refuse_unless_regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        opened = os.fstat(fd)
        _refuse_unless_regular(opened.st_mode)
        chunks, left = [], limit
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data, max(opened.st_size, len(data))


def _refuse_unless_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotAFile(_FILE_KINDS.get(stat.S_IFMT(mode), "something that is not a regular file"))


def resolve(name: str, routines_dir: Path) -> Path:
    """A routine argument: a path to a YAML file, or a name in the routines directory or,
    failing that, among the bundled routines."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or os.sep in name:
        return candidate
    for directory in (routines_dir, BUNDLED):
        path = directory / f"{name}.yaml"
        if path.exists():
            return path
    path = routines_dir / f"{name}.yaml"
    known = ", ".join(sorted({p.stem for p in available(routines_dir)})) or "none"
    raise RoutineError([Problem(str(path), 0, 0, f"expected a routine named {name!r}, found no such file (routines: {known})")])


def all_routines(routines_dir: Path) -> list[Path]:
    """What `build --all` builds: every routine in the routines directory; the bundled ones
    when it has none."""
    return _yaml_files(routines_dir) or _yaml_files(BUNDLED)


def available(routines_dir: Path) -> list[Path]:
    """Every routine a name finds: the routines directory's, then the bundled ones that none
    of them hides."""
    own = _yaml_files(routines_dir)
    names = {path.stem for path in own}
    return own + [path for path in _yaml_files(BUNDLED) if path.stem not in names]


def is_bundled(path: Path) -> bool:
    return path.parent == BUNDLED


def _yaml_files(directory: Path) -> list[Path]:
    try:
        return sorted(directory.glob("*.yaml"))
    except OSError:
        return []
