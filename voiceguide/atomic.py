"""Writing outputs so that a reader never sees half of one: temporary names, renames, sets.

Every file is written to a temporary name beside its final one (carrying the writer's pid,
so `sweep_temporaries` can tell a left-over of a killed build from a file another build is
still writing), flushed to disk, and renamed. A session's files are swapped in as one set
(`StagedSet`): all of them are written under temporary names first, and renamed one after
the other, the plan record last, while holding the output directory's lock, so builds of the
same session never interleave their files and a build that fails leaves the old set as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError

LOCK_NAME = ".voiceguide.lock"
"""In the output directory: held while a set of files is swapped in."""


def temporary_path(path: Path) -> Path:
    """A unique temporary name beside `path`."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are meant to be shared
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sweep_temporaries(out_dir: Path) -> None:
    """Remove temporary files left by builds that were killed (their process is gone)."""
    try:
        strays = list(out_dir.glob(".*.tmp"))
    except OSError:
        return
    for stray in strays:
        try:
            pid = int(stray.name.rsplit(".", 3)[-3])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not _running(pid):
            with contextlib.suppress(OSError):
                stray.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_dir(directory: Path) -> None:
    """Create the output directory, or say clearly why it cannot be."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{directory}: cannot write: {error.strerror}") from None


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all."""
    try:
        tmp = temporary_path(path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None
    try:
        _write(tmp, data)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None


def stamp(path: Path) -> list[int]:
    """What identifies one written file: its size and modification time (kept by a rename)."""
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the output directory's lock (an flock: released by the kernel if the holder dies)."""
    import fcntl

    fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class StagedSet:
    """A set of files written under temporary names, then swapped in together.

    Use as a context manager: whatever was staged and not committed is removed on the way out,
    so a failed build leaves nothing behind and changes nothing.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.staged: dict[Path, Path] = {}  # final path -> temporary path

    def __enter__(self) -> StagedSet:
        return self

    def __exit__(self, *exc) -> None:
        for tmp in self.staged.values():
            tmp.unlink(missing_ok=True)

    def path(self, final: Path) -> Path:
        """The temporary path to write `final` to."""
        try:
            self.staged[final] = temporary_path(final)
        except OSError as error:
            raise OutputError(f"{final.parent}: cannot write: {error.strerror}") from None
        return self.staged[final]

    def write(self, final: Path, data: bytes) -> None:
        tmp = self.path(final)
        try:
            _write(tmp, data)
        except OSError as error:
            raise OutputError(f"{final}: cannot write: {error.strerror}") from None

    def stamp(self, final: Path) -> list[int]:
        """The stamp `final` will have once it is swapped in."""
        return stamp(self.staged[final])

    def commit(self, last: Path) -> None:
        """Rename every staged file into place, `last` after all the others."""
        order = sorted(self.staged, key=lambda final: final == last)
        try:
            with locked(self.out_dir):
                for final in order:
                    os.replace(self.staged[final], final)
                    del self.staged[final]
        except OSError as error:
            raise OutputError(f"{self.out_dir}: cannot write: {error.strerror}") from None
