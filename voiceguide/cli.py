"""The command line: a thin layer over the library; errors become one-line messages here."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import click

from . import __version__
from .errors import RoutineError, VoiceguideError

ROUTINES_DIR = Path("routines")


def _jobs_default() -> int:
    return os.cpu_count() or 1


class _Group(click.Group):
    """Turns every VoiceguideError into its message on stderr and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RoutineError as error:
            for problem in error.problems:  # already "file:line:col: ..."
                click.echo(str(problem), err=True)
            ctx.exit(1)
        except VoiceguideError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voiceguide")
def cli() -> None:
    """Turn exercise routines (YAML) into narrated, exactly timed MP3 sessions.

    \b
    Examples:
      voiceguide build sore-back         # out/sore-back.mp3
      voiceguide build --all             # every routine, and out/playlist.m3u
      voiceguide plan sore-back          # what is said, and when
      voiceguide new evening-stretch     # a starter routine to edit
      voiceguide list                    # routines and their lengths
      voiceguide check                   # routines, speech engine and ffmpeg
    """


def narration_options(command):
    """Options shared by build and plan; each overrides the routine's own default."""
    options = [
        click.option("--verbosity", type=click.Choice(["full", "brief", "minimal"]), help="How much is said (default: the routine's, else full)."),
        click.option("--countdown", type=click.Choice(["0", "3", "5"]), help="Seconds counted down at the end of each hold."),
        click.option("--halfway/--no-halfway", default=None, help="Say 'halfway' in the middle of holds."),
        click.option("--hold-scale", type=click.FloatRange(0.25, 4.0), help="Multiply every hold, e.g. 1.5."),
        click.option("--chimes", type=click.Choice(["soft", "bright", "none"]), help="Chime sound (default soft)."),
        click.option("--voice", help="Voice id of the engine (see 'voiceguide voices')."),
        click.option("--rate", type=click.IntRange(80, 400), help="Speaking rate in words per minute (default 160)."),
        click.option("--engine", type=click.Choice(["pyttsx3"]), help="Speech engine."),
        click.option("--routines", "routines_dir", type=click.Path(file_okay=False, path_type=Path), default=ROUTINES_DIR, show_default=True, help="Where routine names are looked up."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _options(verbosity, countdown, halfway, hold_scale, chimes, voice, rate, engine):
    from .build import Options

    return Options(
        verbosity=verbosity, countdown=int(countdown) if countdown else None, halfway=halfway,
        hold_scale=hold_scale, chimes=chimes, voice=voice, rate=rate, engine=engine,
    )


@cli.command()
@click.argument("routines", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every routine in the routines directory.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True, help="Output directory.")
@click.option("--force", is_flag=True, help="Rebuild even if the output is up to date.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=_jobs_default, help="Parallel speech and encoding workers (default: CPU cores).")
@narration_options
def build(routines, build_all, out_dir, force, jobs, routines_dir, **narration):
    """Build narrated MP3 sessions from routines.

    ROUTINES are names in the routines directory (sore-back) or paths to YAML files.
    Every routine is checked before anything is synthesized or written. Sessions that are
    up to date are skipped; one that fails does not stop the others (exit code 1).
    With --all, OUT/playlist.m3u lists every session.

    \b
    Examples:
      voiceguide build sore-back
      voiceguide build --all --out public/
      voiceguide build sore-back --verbosity brief --hold-scale 1.5
    """
    from .batch import build_batch
    from .build import all_routines, resolve
    from .load import load_all

    if build_all:
        paths = all_routines(routines_dir)
        if not paths:
            raise click.UsageError(f"no routines (*.yaml) in {routines_dir}/")
    elif routines:
        paths = [resolve(name, routines_dir) for name in routines]
    else:
        raise click.UsageError("name a routine (e.g. 'voiceguide build sore-back') or use --all")
    loaded = load_all(paths)  # every routine is checked before any work starts
    progress = _Progress(live=sys.stdout.isatty())
    try:
        result = build_batch(
            loaded, out_dir, _options(**narration), jobs=jobs, force=force, playlist=build_all, progress=progress
        )
    finally:
        progress.close()
    if result.playlist:
        count = len(result.results)
        click.echo(f"playlist: {result.playlist} ({count} session{'' if count == 1 else 's'})")
    _report_failures(result.failures)
    if result.playlist_error:
        click.echo(f"failed: playlist: {result.playlist_error}", err=True)
    click.echo(result.summary())
    if result.failures or result.playlist_error:
        sys.exit(1)


class _Progress:
    """Batch progress: a line redrawn in place on a terminal, plain log lines otherwise."""

    def __init__(self, live: bool):
        self.live = live
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
                click.echo(f"{what}: {session.mp3} ({_clock(session.duration_ms)}){took}")
                for note in session.notes:
                    click.echo(f"note: {session.routine.id}: {note}", err=True)
            elif what == "spoken" and not self.live:
                click.echo(f"speech: {status.phrases} phrases, {status.synthesized} synthesized, in {status.seconds:.1f} s")
            self._draw()

    def _draw(self) -> None:
        if self.live and self.status and not self.closed.is_set():
            s = self.status
            click.echo(f"\r[{s.done}/{s.sessions} sessions] {s.synthesized} phrases synthesized, {s.seconds:.0f} s\x1b[K", nl=False)

    def _erase(self) -> None:
        if self.live:
            click.echo("\r\x1b[K", nl=False)

    def _tick(self) -> None:
        while not self.closed.wait(0.5):
            with self.lock:
                self._draw()

    def close(self) -> None:
        with self.lock:
            self.closed.set()
            self._erase()


def _report_failures(failures) -> None:
    for failure in failures:
        message = failure.message.replace("\n", "\n    ")
        click.echo(f"failed: {failure.routine.id}: {message}", err=True)


@cli.command()
@click.argument("routine")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON events (start_ms, end_ms, kind, text).")
@narration_options
def plan(routine, as_json, routines_dir, **narration):
    """Print the plan of a session: what the listener hears, and when.

    \b
    Examples:
      voiceguide plan sore-back
      voiceguide plan sore-back --json > plan.json
    """
    from .build import load_routine, plan_routine
    from .plan import plan_json, script
    from .speak import ClipCache, cache_dir

    loaded = load_routine(routine, routines_dir)
    options = _options(**narration)
    timeline, _, _ = plan_routine(loaded, options.narration(loaded), options.voice_for(loaded), ClipCache(cache_dir()), jobs=_jobs_default())
    click.echo(plan_json(timeline) if as_json else script(timeline))


@cli.command(name="list")
@click.option("--routines", "routines_dir", type=click.Path(file_okay=False, path_type=Path), default=ROUTINES_DIR, show_default=True, help="Where to look for routines.")
def list_routines(routines_dir):
    """List the routines with their exercise counts and durations.

    \b
    Example:
      voiceguide list
    """
    from .batch import Failure, plan_all
    from .build import all_routines
    from .load import load_all

    loaded = load_all(all_routines(routines_dir))
    if not loaded:
        raise click.ClickException(f"no routines (*.yaml) in {routines_dir}/")
    timelines = plan_all(loaded, jobs=_jobs_default())  # each phrase spoken once, for all of them
    rows = [("id", "title", "exercises", "duration")]
    for routine, timeline in zip(loaded, timelines):
        duration = "-" if isinstance(timeline, Failure) else _clock(timeline.duration_ms)
        rows.append((routine.id, routine.title, str(len(routine.exercises)), duration))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    failures = [timeline for timeline in timelines if isinstance(timeline, Failure)]
    _report_failures(failures)
    if failures:
        sys.exit(1)


@cli.command()
@click.argument("name")
@click.option("--routines", "routines_dir", type=click.Path(file_okay=False, path_type=Path), default=ROUTINES_DIR, show_default=True, help="Where to write the routine.")
def new(name, routines_dir):
    """Write a commented starter routine, NAME.yaml, that builds as it is.

    NAME is the routine's id: lower-case letters and digits, words joined by hyphens.
    An existing file is never overwritten.

    \b
    Example:
      voiceguide new evening-stretch && voiceguide build evening-stretch
    """
    from .new import new as write_starter

    path = write_starter(name, routines_dir)
    click.echo(f"wrote {path}: edit it, then try 'voiceguide plan {name if routines_dir == ROUTINES_DIR else path}'")


@cli.command()
@click.option("--routines", "routines_dir", type=click.Path(file_okay=False, path_type=Path), default=ROUTINES_DIR, show_default=True, help="Where to look for routines.")
def check(routines_dir):
    """Check every routine, the speech engine and ffmpeg, and say how to fix what fails.

    \b
    Example:
      voiceguide check
    """
    from .build import all_routines
    from .diagnose import diagnose

    ok = True
    for good, line in diagnose(all_routines(routines_dir)):
        click.echo(f"{'ok  ' if good else 'FAIL'}  {line}")
        ok = ok and good
    if not ok:
        sys.exit(1)


def _clock(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def main() -> None:
    cli(prog_name="voiceguide")


if __name__ == "__main__":
    main()
