"""`build --catalog FILE` and `--executor dask://HOST:PORT`: the options, the run, what it prints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..text import printable
from .output import Progress, report_failures, session_count


def catalog_options(command):
    """--catalog, --rotate-token and --executor, for `build`."""
    options = [
        click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path),
                     help="Build every audience of a catalog (docs/catalog-format.md), each into OUT/<token>/."),
        click.option("--rotate-token", "rotate", multiple=True, metavar="AUDIENCE",
                     help="With --catalog: give the audience a new token (its directory moves, the old address stops working)."),
        click.option("--executor", metavar="dask://HOST:PORT",
                     help="Run speech and sessions on a Dask cluster whose workers share the cache and OUT at the same paths."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def executor_for(url: str | None):
    """The cluster `url` names (cluster.DaskExecutor), or None for this machine's processes."""
    if not url:
        return None
    from ..cluster import DaskExecutor

    return DaskExecutor(url)


def build_catalog_command(path: Path, out_dir: Path, force: bool, jobs: int, base_url: str | None, routines_dir: Path,
                          executor: str | None, rotate: tuple[str, ...], narration: dict) -> None:
    from ..catalog.build import build_catalog
    from ..catalog.load import load_catalog
    from ..estimate import too_long
    from ..speech.voices import problem

    given = [f"--{name.replace('_', '-')}" for name, value in narration.items() if value is not None]
    if given:
        raise click.UsageError(f"{', '.join(given)}: with --catalog, options are set per audience or session in the catalog")
    catalog = load_catalog(path, routines_dir, voice_problem=problem, session_problem=too_long)
    unknown = [name for name in rotate if name not in {audience.name for audience in catalog.audiences}]
    if unknown:
        raise click.UsageError(f"--rotate-token: no audience {unknown[0]!r} in {path}")
    progress = CatalogProgress(live=sys.stdout.isatty())
    running = executor_for(executor)
    try:
        result = build_catalog(catalog, out_dir, jobs=jobs, force=force, executor=running, base_url=base_url,
                               rotate=rotate, progress=progress)
    finally:
        progress.close()
        if running:
            running.close()
    for done in result.audiences:
        count = session_count(done.published.sessions) if done.published else "not published"
        click.echo(printable(f"{done.audience.name}: {done.directory}/ ({count}); feed: {done.base_url}feed.xml"))
        for name in done.removed:
            click.echo(printable(f"  removed: {name} (no longer in the catalog for {done.audience.name})"))
    if rotate:
        click.echo(f"new token for {', '.join(rotate)}: the old address no longer works")
    report_failures(result.failures)
    for error in result.publish_errors:
        click.echo(printable(f"failed: publish: {error}"), err=True)
    click.echo(f"speech: {result.unique_lines} unique lines for {result.lines} lines said, {result.synthesized} synthesized")
    click.echo(result.summary())
    if result.failures or result.publish_errors:
        sys.exit(1)


class CatalogProgress(Progress):
    """Progress with an estimate of the time left, from the pace of the sessions written."""

    writing: tuple[float, int] | None = None
    """(seconds, sessions done) when writing began."""

    def __call__(self, what, status, session) -> None:
        if what == "writing":
            self.writing = (status.seconds, status.done)
        super().__call__(what, status, session)

    def _draw(self) -> None:
        if self.live and self.status and not self.closed.is_set():
            s = self.status
            click.echo(f"\r[{s.done}/{s.sessions} sessions] {s.synthesized} phrases synthesized, {s.seconds:.0f} s{self.eta(s)}\x1b[K",
                       nl=False, err=self.err)

    def eta(self, s) -> str:
        if self.writing is None or s.done <= self.writing[1] or s.done >= s.sessions:
            return ""
        began, before = self.writing
        left = (s.seconds - began) / (s.done - before) * (s.sessions - s.done)
        minutes, seconds = divmod(round(left), 60)
        return f", about {minutes}m{seconds:02d}s left" if minutes else f", about {seconds} s left"
