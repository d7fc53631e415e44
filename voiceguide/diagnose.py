"""`voiceguide check`: are the routines valid, and do the speech engines and ffmpeg work?"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from . import tools
from .speech import engines, voices
from .errors import VoiceguideError
from .estimate import too_long
from .routine.load import load
from .routine.model import Voice
from .text import printable


def diagnose(routine_paths: list[Path]) -> Iterator[tuple[bool | None, str]]:
    """(passed, message) for each routine and each external piece the build needs.

    passed is None for an optional engine that is not installed and no routine asks for.
    """
    wanted = set()
    for path in routine_paths:
        try:
            routine = load(path, voice_problem=voices.problem, session_problem=too_long)
            wanted.add(routine.voice.engine)
            yield True, printable(f"{path}: {len(routine.exercises)} exercises")
        except VoiceguideError as error:
            for line in str(error).splitlines():
                yield False, line
    for name in engines.NAMES:
        yield _check_speech(name, name in wanted)
    yield _check_ffmpeg()


def _check_speech(name: str, wanted: bool) -> tuple[bool | None, str]:
    from .recipe import SAMPLE_RATE
    from .speech.cache import ClipCache
    from .speech.speak import speak

    engine = engines.get(name)
    if not engine.installed():
        needed = " (a routine asks for it)" if wanted else ""
        return (False if wanted else None), f"speech engine {name}: not installed{needed}: {engine.INSTALL}"
    voice = Voice(engine=name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clips, _ = speak(["Testing one two three."], voice, ClipCache(Path(tmp)))
        seconds = next(iter(clips.values())).size / SAMPLE_RATE
        return True, f"speech engine {name} works (voice {engine.identity(voice)[1]}, {seconds:.1f} s test phrase)"
    except VoiceguideError as error:
        return False, f"speech engine {name}: {error} (fix: {engine.INSTALL})"


def _check_ffmpeg() -> tuple[bool, str]:
    try:
        path = tools.ffmpeg()
        encoders = subprocess.run([path, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30).stdout
    except (VoiceguideError, OSError, subprocess.SubprocessError) as error:
        return False, f"ffmpeg: {error}"  # the error says how to install it
    if "libmp3lame" not in encoders:
        return False, f"ffmpeg at {path} has no MP3 encoder (fix: 'sudo apt-get install ffmpeg libmp3lame0')"
    return True, f"ffmpeg works ({path})"
