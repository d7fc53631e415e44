"""The command line: a thin layer over the library; errors become one-line messages here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..errors import RoutineError, VoiceguideError
from ..routine.model import ENGINES
from ..text import printable
from .options import (
    base_url_option, build_options, jobs_default, narration_options, out_option, routines_option,
)
from .routines import COMMANDS, complete_routine
from .catalog import build_catalog_command, catalog_options, executor_for
from .output import Progress, echo_table, qr_code, report_failures, report_published, report_skipped, session_count


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
            click.echo(printable(f"error: {error}"), err=True)  # one line, whatever a name held
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
      voiceguide build --all             # every routine, and out/index.html, feed.xml
      voiceguide serve --lan             # listen on a phone on the same Wi-Fi
      voiceguide plan sore-back          # what is said, and when
      voiceguide new evening-stretch     # a starter routine to edit
      voiceguide list                    # routines and their lengths
      voiceguide voices --engine piper   # voices: eSpeak NG's, or Piper's natural ones
      voiceguide check                   # routines, speech engines and ffmpeg
    """


def _load(paths: list[Path], options=None) -> list:
    """The routines at `paths`, each checked whole (its voice against its engine's voices, and
    a --voice against the engine of each), before any work starts."""
    from ..estimate import too_long
    from ..routine.load import load_all
    from ..speech.voices import problem

    routines = load_all(paths, voice_problem=problem, session_problem=too_long)
    _check_music(routines, options)
    if options is None or options.voice is None:
        return routines
    for engine in dict.fromkeys(options.voice_for(routine).engine for routine in routines):
        why = problem(engine, options.voice)
        if why:
            raise VoiceguideError(f"--voice: {why}")
    return routines


def _check_music(routines: list, options) -> None:
    """--music, or else each routine's own music file, is audio ffmpeg can decode."""
    from ..audio.music_files import option_problem, routine_problems
    from ..recipe import SAMPLE_RATE

    chosen = options.music if options else None
    if chosen is not None and (why := option_problem(chosen, SAMPLE_RATE)):
        raise VoiceguideError(f"--music: {why}")
    if problems := routine_problems(routines, chosen, SAMPLE_RATE):
        raise RoutineError(problems)


def _check_music(routines: list, options) -> None:
    """--music, or else each routine's own music file, is audio ffmpeg can decode."""
    from ..audio.music_files import option_problem, routine_problems
    from ..recipe import SAMPLE_RATE

    chosen = options.music if options else None
    if chosen is not None and (why := option_problem(chosen, SAMPLE_RATE)):
        raise VoiceguideError(f"--music: {why}")
    if problems := routine_problems(routines, chosen, SAMPLE_RATE):
        raise RoutineError(problems)


@cli.command()
@click.argument("routines", nargs=-1, shell_complete=complete_routine)
@click.option("--all", "build_all", is_flag=True, help="Build every routine in the routines directory (the bundled ones when it has none).")
@out_option()
@click.option("--force", is_flag=True, help="Rebuild even if the output is up to date.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=jobs_default, help="Parallel speech and encoding workers (default: CPU cores).")
@base_url_option
@catalog_options
@narration_options
@routines_option()
def build(routines, build_all, out_dir, force, jobs, base_url, catalog, rotate, executor, routines_dir, **narration):
    """Build narrated MP3 sessions from routines.

    ROUTINES are names in the routines directory or, failing that, among the routines that
    come with voiceguide (sore-back), or paths to YAML files.
    Every routine is checked before anything is synthesized or written. Sessions that are
    up to date are skipped; one that fails does not stop the others (exit code 1).
    With --all, OUT/index.html (a page to listen on), OUT/feed.xml (a podcast feed) and
    OUT/playlist.m3u list every session in OUT.

    \b
    Examples:
      voiceguide build sore-back
      voiceguide build --all --out public/
      voiceguide build sore-back --verbosity brief --hold-scale 1.5
      voiceguide build --catalog catalogs/clinic.yaml
    """
    from ..batch import build_batch
    from ..build import all_routines, resolve

    if catalog:
        if routines or build_all:
            raise click.UsageError("give routines, --all or --catalog, not several")
        return build_catalog_command(catalog, out_dir, force, jobs, base_url, routines_dir, executor, rotate, narration)
    if rotate:
        raise click.UsageError("--rotate-token is for --catalog")
    if build_all:
        paths = all_routines(routines_dir)
        if not paths:
            raise click.UsageError(f"no routines (*.yaml) in {routines_dir}/")
    elif routines:
        paths = [resolve(name, routines_dir) for name in routines]
    else:
        raise click.UsageError("name a routine (e.g. 'voiceguide build sore-back') or use --all")
    loaded = _load(paths, build_options(**narration))  # every routine is checked before any work starts
    progress = Progress(live=sys.stdout.isatty())
    running = executor_for(executor)  # None: this machine's processes
    try:
        result = build_batch(
            loaded, out_dir, build_options(**narration), jobs=jobs, force=force,
            publish=build_all, base_url=base_url, progress=progress, executor=running,
        )
    finally:
        progress.close()
        if running:
            running.close()
    if result.published:
        report_skipped(result.published)
    if result.published and result.published.written:
        report_published(result.published)
    report_failures(result.failures)
    if result.publish_error:
        click.echo(f"failed: publish: {result.publish_error}", err=True)
    click.echo(result.summary())
    if result.failures or result.publish_error:
        sys.exit(1)
    from ..uptodate import remember

    remember(out_dir, routines_dir, loaded, build_options(**narration), result)  # the next identical build: answered at once


@cli.command()
@out_option()
@base_url_option
def publish(out_dir, base_url):
    """Write OUT/index.html, OUT/feed.xml and OUT/playlist.m3u for the sessions in OUT.

    'build --all' does this too; this command builds nothing. Files that would not change
    are not rewritten.

    \b
    Examples:
      voiceguide publish
      voiceguide publish --out public/ --base-url https://example.org/stretches/
    """
    from ..errors import OutputError
    from ..publish import publish as publish_sessions

    if not out_dir.is_dir():
        raise OutputError(f"{out_dir}: no such directory (build the sessions first: voiceguide build --all)")
    published = publish_sessions(out_dir, base_url)
    report_skipped(published)
    if published.written:
        report_published(published)
    else:
        click.echo(f"up to date: {out_dir / 'index.html'}, {out_dir / 'feed.xml'}, {out_dir / 'playlist.m3u'} ({session_count(published.sessions)})")


@cli.command()
@out_option("The directory to serve.")
@click.option("--host", help="Address to listen on (default 127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8000, or a free one if 8000 is taken; 0: any free one).")
@click.option("--lan", is_flag=True, help="Listen on this machine's local network address and show a QR code for a phone.")
def serve(out_dir, host, port, lan):
    """Serve the sessions over HTTP, to listen on a phone on the same Wi-Fi.

    Read-only: only the files in OUT, with byte ranges so players can seek and resume.
    /feed.xml is the podcast feed with this server's address in it. Ctrl-C stops.

    \b
    Examples:
      voiceguide serve            # http://127.0.0.1:8000/ on this machine
      voiceguide serve --lan      # a URL and QR code to open on a phone
    """
    from ..publish.serve import lan_address, make_server

    if lan and host:
        raise click.UsageError("--lan picks the address to listen on; give --lan or --host, not both")
    server = make_server(out_dir, lan_address() if lan else host or "127.0.0.1", port, log=click.echo)
    try:
        click.echo(f"serving {out_dir}/ at {server.url}")
        if lan:
            click.echo(qr_code(server.url), nl=False)
        click.echo(f"podcast feed: {server.url}feed.xml")
        click.echo("Ctrl-C stops")
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


@cli.command()
@click.argument("routine", shell_complete=complete_routine)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON events (start_ms, end_ms, kind, text).")
@narration_options
@routines_option()
def plan(routine, as_json, routines_dir, **narration):
    """Print the plan of a session: what the listener hears, and when.

    \b
    Examples:
      voiceguide plan sore-back
      voiceguide plan sore-back --json > plan.json
    """
    from ..batch import Status
    from ..build import resolve, speak_and_plan
    from ..plan import phrases, plan_json, script

    options = build_options(**narration)
    (loaded,) = _load([resolve(routine, routines_dir)], options)
    # Progress on stderr (a line redrawn on a terminal, else a line per phase): stdout is the plan.
    status = Status(1, phrases=len(set(phrases(loaded, options.narration(loaded)))))
    progress = Progress(live=sys.stderr.isatty(), err=True)

    def synthesized(text: str) -> None:
        if not status.synthesized:  # speech starts: the wait is about to be long
            progress("speaking", status, None)
        status.synthesized += 1
        progress("phrase", status, None)

    try:
        progress("planning", status, None)  # on a terminal, the line is there from the start
        timeline = speak_and_plan(loaded, options, jobs=jobs_default(), synthesized=synthesized).timeline
        if status.synthesized:  # a plan whose speech was all cached prints nothing but itself
            progress("spoken", status, None)
    finally:
        progress.close()
    click.echo(plan_json(timeline) if as_json else script(timeline))


@cli.command()
@routines_option()
def check(routines_dir):
    """Check every routine, the speech engines and ffmpeg, and say how to fix what fails.

    An optional engine that is not installed (Piper) is reported, not failed.

    \b
    Example:
      voiceguide check
    """
    from ..build import all_routines
    from ..diagnose import diagnose

    ok = True
    for good, line in diagnose(all_routines(routines_dir)):
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[good]  # None: optional, not installed
        click.echo(f"{mark}  {line}")
        ok = ok and good is not False
    if not ok:
        sys.exit(1)


@cli.command()
@click.option("--engine", type=click.Choice(ENGINES), help="Only this engine's voices.")
def voices(engine):
    """List the voices of the speech engines: id (for --voice), language, sample rate.

    Piper also speaks with any Piper voice file: --voice path/to/voice.onnx (with its
    .onnx.json beside it). Clips are resampled to the session's 22050 Hz.

    \b
    Examples:
      voiceguide voices --engine piper
      voiceguide build sore-back --engine piper --voice en_US-joe-medium
    """
    from ..speech import engines

    rows = [("engine", "voice", "language", "sample rate")]
    for name in [engine] if engine else ENGINES:
        module = engines.get(name)
        if not engine and not module.installed():
            click.echo(f"{name}: not installed ({module.INSTALL})", err=True)
            continue
        rows += [(v.engine, v.id, v.language, f"{v.sample_rate} Hz") for v in module.voices()]
    echo_table(rows)
    if engine in (None, "pyttsx3"):
        from ..errors import SpeechError
        from ..speech.voices import espeak_data_dir, espeak_variants

        try:
            data = espeak_data_dir()
        except SpeechError:
            data = None
        variants = espeak_variants(data) if data else ()
        if variants:
            click.echo(f"\neSpeak NG variants, after a '+' (--voice gmw/en-us+klatt4): {', '.join(variants)}")
    if not engine:
        click.echo(f"\n{engines.CLEARER}")


for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="voiceguide")
