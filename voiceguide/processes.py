"""Child processes that die with their parent, however it dies (SIGKILL included).

Speech workers, their per-line forks and the batch's encoding processes are all children of
one `voiceguide` run. Linux's parent-death signal kills each of them when its parent goes;
elsewhere they still stop when their pipes close.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent exits.

    `parent` is the pid the caller expects as its parent: if that parent is already gone (it
    died before this call), exit at once rather than live on as an orphan.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent is not None and os.getppid() != parent:
        os._exit(1)
