"""The commands about routines themselves: list, new, schema, docs; and completing their names."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from ..errors import RoutineError, VoiceguideError
from ..routine.model import format_clock
from .options import ROUTINES_DIR, out_option, routines_option
from .output import echo_table


def complete_routine(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of a routine argument: the names `build NAME` finds, or YAML files
    once the word looks like a path."""
    from ..routine.files import available

    if incomplete.startswith((".", "/", "~")) or "/" in incomplete:
        return [CompletionItem(incomplete, type="file")]
    routines_dir = ctx.params.get("routines_dir") or ROUTINES_DIR
    names = dict.fromkeys(path.stem for path in available(Path(routines_dir)))
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


@click.command(name="list")
@out_option("Where built sessions are looked for: their exact lengths are shown.")
@routines_option()
def list_routines(out_dir, routines_dir):
    """List the routines: id, title, exercises, length, and where each one is.

    The routines directory's first, then the bundled ones it does not hide. A length is
    the built session's (in OUT, up to date); one marked ~ is estimated, without speech.
    A routine with a mistake is listed with its mistakes below it, and the exit code is 1.

    \b
    Example:
      voiceguide list
    """
    from ..build import Options, up_to_date
    from ..estimate import estimated_ms, too_long
    from ..routine.files import available, is_bundled
    from ..routine.load import load
    from ..speech.voices import problem

    paths = available(routines_dir)
    if not paths:
        raise click.ClickException(f"no routines (*.yaml) in {routines_dir}/")
    rows, problems, loaded = [("id", "title", "exercises", "length", "from")], {}, []
    for path in paths:
        where = "bundled" if is_bundled(path) else f"{path.parent}/"
        try:
            routine = load(path, voice_problem=problem, session_problem=too_long)
        except RoutineError as error:
            problems[len(rows)] = [str(p) for p in error.problems]
            rows.append((path.stem, "-", "-", "-", where))
            continue
        try:
            built = up_to_date(routine, out_dir, Options())
        except VoiceguideError:  # no speech engine to key the session with: estimate it
            built = None
        length = format_clock(built.duration_ms) if built else f"~{format_clock(estimated_ms(routine))}"
        rows.append((routine.id, routine.title, str(len(routine.exercises)), length, where))
        loaded.append(routine)
    printed = echo_table(rows, below=problems)
    if problems:
        sys.exit(1)
    from ..uptodate import remember_listing

    remember_listing(out_dir, routines_dir, loaded, printed)  # the next identical list: answered at once


@click.command()
@click.argument("name")
@routines_option("Where to write the routine.")
def new(name, routines_dir):
    """Write a commented starter routine, NAME.yaml, that builds as it is.

    NAME is the routine's id: lower-case letters and digits, words joined by hyphens.
    An existing file is never overwritten. The JSON Schema its first line names for
    editors, routine.schema.json, is written beside it.

    \b
    Example:
      voiceguide new evening-stretch && voiceguide build evening-stretch
    """
    from ..routine.starter import new as write_starter

    path = write_starter(name, routines_dir)
    click.echo(f"wrote {path}: edit it, then try 'voiceguide plan {name if routines_dir == ROUTINES_DIR else path}'")


@click.command()
def schema():
    """Print the JSON Schema of a routine file, for editors.

    A routine whose first line is '# yaml-language-server: $schema=routine.schema.json'
    is checked and completed while it is typed, in VS Code (with the YAML extension) and
    other editors that use yaml-language-server; 'voiceguide new' writes both.

    \b
    Example:
      voiceguide schema > routines/routine.schema.json
    """
    from ..routine.json_schema import schema_json

    click.echo(schema_json(), nl=False)


@click.command()
@click.argument("topic", type=click.Choice(["format"]), default="format")
def docs(topic):
    """Print a guide: 'format' is every key of a routine, its limits and its messages.

    \b
    Example:
      voiceguide docs format | less
    """
    from ..routine.files import FORMAT_DOC

    try:
        text = FORMAT_DOC.read_text(encoding="utf-8")
    except OSError as error:
        raise VoiceguideError(f"{FORMAT_DOC}: cannot read the guide: {error.strerror}") from None
    click.echo(text, nl=not text.endswith("\n"))


COMMANDS = (list_routines, new, schema, docs)
