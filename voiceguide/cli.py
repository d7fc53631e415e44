"""The command line: a thin layer over the library; errors become one-line messages here."""

from __future__ import annotations

import json
import os
import sys
import time
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
      voiceguide plan sore-back          # what is said, and when
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
        click.option("--voice", help="Voice id of the engine (see 'voiceguide voices')."),
        click.option("--rate", type=click.IntRange(80, 400), help="Speaking rate in words per minute (default 160)."),
        click.option("--engine", type=click.Choice(["pyttsx3"]), help="Speech engine."),
        click.option("--routines", "routines_dir", type=click.Path(file_okay=False, path_type=Path), default=ROUTINES_DIR, show_default=True, help="Where routine names are looked up."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _options(verbosity, countdown, halfway, hold_scale, voice, rate, engine):
    from .build import Options

    return Options(
        verbosity=verbosity, countdown=int(countdown) if countdown else None, halfway=halfway,
        hold_scale=hold_scale, voice=voice, rate=rate, engine=engine,
    )


@cli.command()
@click.argument("routines", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every routine in the routines directory.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True, help="Output directory.")
@click.option("--force", is_flag=True, help="Rebuild even if the output is up to date.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=_jobs_default, help="Parallel speech workers (default: CPU cores).")
@narration_options
def build(routines, build_all, out_dir, force, jobs, routines_dir, **narration):
    """Build narrated MP3 sessions from routines.

    ROUTINES are names in the routines directory (sore-back) or paths to YAML files.
    Every routine is checked before anything is synthesized or written.

    \b
    Examples:
      voiceguide build sore-back
      voiceguide build --all --out public/
      voiceguide build sore-back --verbosity brief --hold-scale 1.5
    """
    from .build import all_routines, build as build_routine, resolve
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
    options = _options(**narration)
    started = time.perf_counter()
    counts = {"built": 0, "up to date": 0}
    for routine in loaded:
        result = build_routine(routine, out_dir, options, jobs=jobs, force=force)
        counts[result.status] += 1
        for note in result.notes:
            click.echo(f"note: {routine.id}: {note}", err=True)
        detail = f"{_clock(result.duration_ms)}"
        if result.speech:
            detail += f", {result.speech.synthesized} of {result.speech.phrases} phrases synthesized"
        click.echo(f"{result.status}: {result.mp3} ({detail}) in {result.seconds:.1f} s")
    click.echo(f"{counts['built']} built, {counts['up to date']} up to date in {time.perf_counter() - started:.1f} s")


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
    from .build import Options, all_routines, plan_routine
    from .load import load_all
    from .speak import ClipCache, cache_dir

    loaded = load_all(all_routines(routines_dir))
    cache = ClipCache(cache_dir())
    rows = []
    for routine in loaded:
        timeline, _, _ = plan_routine(routine, routine.narration, Options().voice_for(routine), cache, jobs=_jobs_default())
        rows.append((routine.id, routine.title, str(len(routine.exercises)), _clock(timeline.duration_ms)))
    widths = [max(len(row[i]) for row in rows + [("id", "title", "exercises", "duration")]) for i in range(4)]
    for row in [("id", "title", "exercises", "duration")] + rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


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
