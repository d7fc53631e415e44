"""`voiceguide check`: are the routines valid, and do the speech engine and ffmpeg work?"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from . import tools
from .errors import VoiceguideError
from .load import load
from .model import Voice


def diagnose(routine_paths: list[Path]) -> Iterator[tuple[bool, str]]:
    """(passed, message) for each routine and each external piece the build needs."""
    for path in routine_paths:
        try:
            routine = load(path)
            yield True, f"{path}: {len(routine.exercises)} exercises"
        except VoiceguideError as error:
            for line in str(error).splitlines():
                yield False, line
    yield _check_speech()
    yield _check_ffmpeg()


def _check_speech() -> tuple[bool, str]:
    from .speak import ClipCache, speak

    try:
        with tempfile.TemporaryDirectory() as tmp:
            clips, _ = speak(["Testing one two three."], Voice(), ClipCache(Path(tmp)))
        seconds = next(iter(clips.values())).size / 22050
        return True, f"speech engine pyttsx3 works ({seconds:.1f} s test phrase)"
    except VoiceguideError as error:
        return False, f"speech engine: {error} (fix: 'pip install pyttsx3 espeakng-loader' or 'sudo apt-get install espeak-ng')"


def _check_ffmpeg() -> tuple[bool, str]:
    try:
        path = tools.ffmpeg()
        encoders = subprocess.run([path, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30).stdout
    except (VoiceguideError, OSError, subprocess.SubprocessError) as error:
        return False, f"ffmpeg: {error} (fix: 'pip install imageio-ffmpeg' or 'sudo apt-get install ffmpeg')"
    if "libmp3lame" not in encoders:
        return False, f"ffmpeg at {path} has no MP3 encoder (fix: 'sudo apt-get install ffmpeg libmp3lame0')"
    return True, f"ffmpeg works ({path})"
