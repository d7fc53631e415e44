"""Reading a routine file: only a regular file (or one a symlink points to), and only so much.

A FIFO would block until someone writes to it, and /dev/zero or /dev/urandom never end, so
anything but a regular file is refused before it is opened. O_NONBLOCK and a second look at
the opened file make a swap between the two looks harmless: opening a FIFO that way returns
at once, and it is refused then.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

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
