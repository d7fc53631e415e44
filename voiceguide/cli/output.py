"""What the commands print: progress while building, reports, tables, a QR code."""

from __future__ import annotations

import threading

import click

from ..routine.model import format_clock
from ..text import printable


def qr_code(text: str) -> str:
    import io

    import segno

    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def report_published(published) -> None:
    names = ", ".join(str(path) for path in published.written)
    click.echo(f"published: {names} ({session_count(published.sessions)})")
    from ..publish import FEED_NAME

    if any(path.name == FEED_NAME for path in published.written):
        origin = {"kept": " (the --base-url given before; a new --base-url changes it)", "given": " (kept for later runs)"}
        click.echo(printable(f"feed: its files are under {published.base_url}{origin.get(published.base_url_from, '')}"))


def report_skipped(published) -> None:
    for why in published.skipped:  # a broken session is left out; the others are published
        click.echo(printable(f"warning: {why}"), err=True)


def session_count(count: int) -> str:
    return f"{count} session{'' if count == 1 else 's'}"


class Progress:
    """Batch progress: a line redrawn in place on a terminal, plain log lines otherwise."""

    def __init__(self, live: bool, err: bool = False):
        self.live = live
        self.err = err
        """Everything on stderr, so what the command prints on stdout stays clean (plan --json)."""
        self.status = None
        self.lock = threading.Lock()
        self.closed = threading.Event()
        if live:  # keep the clock moving while long sessions encode
            threading.Thread(target=self._tick, daemon=True).start()

    def __call__(self, what, status, session) -> None:
        with self.lock:
            self.status = status
            self._erase()
            if what in ("built", "up to date"):
                took = f" in {session.seconds:.1f} s" if what == "built" else ""
                why = f"; rebuilt because {session.rebuilt}" if what == "built" and session.rebuilt else ""
                click.echo(printable(f"{what}: {session.mp3} ({format_clock(session.duration_ms)}){took}{why}"), err=self.err)
                for note in session.notes:
                    click.echo(f"note: {session.routine.id}: {note}", err=True)
            elif not self.live and what in ("speaking", "spoken", "writing"):  # a log line per phase
                self._log(what, status)
            self._draw()

    def _log(self, what, s) -> None:
        if what == "speaking" and s.phrases:
            click.echo(f"speaking: {s.phrases} phrases (each from the cache, or synthesized)", err=self.err)
        elif what == "spoken" and s.phrases:
            click.echo(f"speech: {s.phrases} phrases, {s.synthesized} synthesized, in {s.seconds:.1f} s", err=self.err)
        elif what == "writing":
            click.echo(f"encoding: {session_count(s.sessions - s.done)}", err=self.err)

    def _draw(self) -> None:
        if self.live and self.status and not self.closed.is_set():
            s = self.status
            click.echo(f"\r[{s.done}/{s.sessions} sessions] {s.synthesized} phrases synthesized, {s.seconds:.0f} s\x1b[K", nl=False, err=self.err)

    def _erase(self) -> None:
        if self.live:
            click.echo("\r\x1b[K", nl=False, err=self.err)

    def _tick(self) -> None:
        while not self.closed.wait(0.5):
            with self.lock:
                self._draw()

    def close(self) -> None:
        with self.lock:
            self.closed.set()
            self._erase()


def report_failures(failures) -> None:
    for failure in failures:
        message = "\n    ".join(printable(line) for line in failure.message.split("\n"))
        click.echo(f"failed: {failure.routine.id}: {message}", err=True)


def echo_table(rows: list[tuple[str, ...]], below: dict[int, list[str]] | None = None) -> list[str]:
    """Rows as aligned columns; the first row is the heading. `below` holds lines printed
    under a row (by its index), indented, outside the columns. Returns the lines printed."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    printed = []
    for index, row in enumerate(rows):
        printed.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        printed += [f"  {printable(line)}" for line in (below or {}).get(index, [])]
        click.echo("\n".join(printed[-1 - len((below or {}).get(index, [])):]))
    return printed
