"""Running a batch's or a catalog's tasks on a Dask distributed cluster: `--executor dask://HOST:PORT`.

Dask does the scheduling, the queue and the wire (the optional `voiceguide[dask]` extra, for
dask.distributed); voiceguide only hands it tasks: speech batches and session renders
(batch.speak_ahead, catalog.build). Every worker must reach the clip cache and the output
directory at the same paths as this machine (a shared file system), and run the same
voiceguide. A worker that dies has its tasks run again on another (Dask's own retries);
outputs are swapped in whole (atomic.py), so a render killed half-way leaves nothing half
written, and the one run again writes the set.
"""

from __future__ import annotations

from typing import Callable, Iterator, TypeVar
from urllib.parse import urlsplit

from .errors import VoiceguideError

T = TypeVar("T")
SCHEME = "dask"
RETRIES = 2
"""Runs again of a task that raised (a worker that died is rescheduled by Dask anyway)."""


def scheduler_address(url: str) -> str:
    """dask://HOST:PORT -> tcp://HOST:PORT; a VoiceguideError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME or not parts.hostname or parts.path not in ("", "/"):
        raise VoiceguideError(f"--executor: expected dask://HOST:PORT (a Dask scheduler's address), found {url!r}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        raise VoiceguideError(f"--executor: expected dask://HOST:PORT with a port, found {url!r}")
    return f"tcp://{parts.hostname}:{port}"


class DaskExecutor:
    """The tasks of a batch as Dask futures; `each` yields them as they finish."""

    def __init__(self, url: str, timeout: float = 10):
        address = scheduler_address(url)
        try:
            from distributed import Client
        except ImportError:
            raise VoiceguideError("--executor dask://: dask.distributed is not installed (pip install 'voiceguide[dask]')") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise VoiceguideError(f"--executor: no Dask scheduler answers at {address}: {error}") from None

    def each(self, tasks: list[Callable[[], T]]) -> Iterator[tuple[int, T | BaseException]]:
        from distributed import as_completed

        futures = {self.client.submit(task, pure=False, retries=RETRIES): index for index, task in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as error:  # KilledWorker: it died on every worker it was given
                    yield futures[future], error
        finally:
            self.client.cancel([future for future in futures if not future.done()])

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
