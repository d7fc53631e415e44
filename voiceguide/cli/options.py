"""The command line's options that several commands share, each declared once."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..routine.model import (
    CHIME_STYLES, COUNTDOWNS, ENGINES, HOLD_SCALE_RANGE, MUSIC_LEVEL_RANGE, RATE_RANGE, VERBOSITIES, Narration, Voice,
)

ROUTINES_DIR = Path("routines")
OUT_DIR = Path("out")
_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def jobs_default() -> int:
    """One worker per CPU core."""
    return os.cpu_count() or 1


def routines_option(help: str = "Where to look for routines."):
    """--routines: the routines directory, for every command that reads or writes routines."""
    return click.option("--routines", "routines_dir", type=_DIRECTORY, default=ROUTINES_DIR, show_default=True, help=help)


def out_option(help: str = "Output directory."):
    """--out: the directory sessions are built into, published in and served from."""
    return click.option("--out", "out_dir", type=_DIRECTORY, default=OUT_DIR, show_default=True, help=help)


def narration_options(command):
    """Options shared by build and plan; each overrides the routine's own default."""
    options = [
        click.option("--verbosity", type=click.Choice(VERBOSITIES), help=f"How much is said (default: the routine's, else {Narration.verbosity})."),
        click.option("--countdown", type=click.Choice([str(seconds) for seconds in COUNTDOWNS]), help="Seconds counted down at the end of each hold."),
        click.option("--halfway/--no-halfway", default=None, help="Say 'halfway' in the middle of holds."),
        click.option("--hold-scale", type=click.FloatRange(*HOLD_SCALE_RANGE), help="Multiply every hold, e.g. 1.5."),
        click.option("--chimes", type=click.Choice(CHIME_STYLES), help=f"Chime sound (default {Narration.chimes})."),
        click.option("--voice", help="Voice of the engine: an id from 'voiceguide voices', or a Piper .onnx file."),
        click.option("--rate", type=click.IntRange(*RATE_RANGE), help=f"Speaking rate in words per minute (default {Voice.rate})."),
        click.option("--engine", type=click.Choice(ENGINES), help="Speech engine: pyttsx3 (eSpeak NG, the default) or piper (a natural voice)."),
        click.option("--music", help="Music under the voice: none (the default), ambient (a calm pad), or an audio file."),
        click.option("--language", callback=_language, help="Language of the fixed lines, e.g. de, fr (default: the routine's, else en); it picks the eSpeak NG voice."),
        click.option("--music-level", type=click.FloatRange(*MUSIC_LEVEL_RANGE), help=f"The music's level in the holds, dB relative to the voice (default {Narration.music_level:g})."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _base_url(ctx, param, value):
    from urllib.parse import urlsplit

    if value is None:
        return None  # the one given last for the output directory, else the default
    if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise click.BadParameter(f"expected an absolute http(s) URL like https://example.org/stretches/, found {value!r}")
    return value.rstrip("/") + "/"


def _language(ctx, param, value):
    from ..routine.phrases import language_problem

    problem = value and language_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


base_url_option = click.option(
    "--base-url", callback=_base_url,
    help="Where the feed says the files are; kept for the output directory until changed "
         "(default: the one given last, else http://127.0.0.1:8000/, what 'voiceguide serve' prints).",
)


def build_options(verbosity, countdown, halfway, hold_scale, chimes, voice, rate, engine, music=None, music_level=None,
                  language=None):
    """The build's Options from the values of narration_options."""
    from ..build import Options

    return Options(
        verbosity=verbosity, countdown=int(countdown) if countdown else None, halfway=halfway,
        hold_scale=hold_scale, chimes=chimes, voice=voice, rate=rate, engine=engine,
        music=music, music_level=music_level, language=language,
    )
