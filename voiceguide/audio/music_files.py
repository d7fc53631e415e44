"""Stage 4, render: whether a music file is audio ffmpeg can decode, and how it is decoded.

Apart from music.py, and without numpy, so that the commands can check a routine's music
before anything is built, and an up-to-date build stays light.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .. import tools

NONE = "none"
AMBIENT = "ambient"


def _filter(sample_rate: int) -> str:
    return f"aformat=sample_fmts=flt:sample_rates={sample_rate}:channel_layouts=mono"


def decoder(path: Path, sample_rate: int, extra: str = "", loglevel: str = "error") -> list[str]:
    return [tools.ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", loglevel, "-i", str(path),
            "-map", "0:a:0", "-vn", "-af", _filter(sample_rate) + extra, "-f", "f32le", "pipe:1"]


def check(path: Path, sample_rate: int) -> str | None:
    """Why `path` is not music ffmpeg can play (its first seconds are decoded), or None."""
    command = decoder(path, sample_rate)
    command[-3:-3] = ["-t", "2"]
    try:
        result = subprocess.run(command, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "ffmpeg took over a minute to read its first seconds"
    if result.returncode != 0:
        return last_line(result.stderr, f"ffmpeg exit code {result.returncode}")
    if not result.stdout:
        return "no audio in it"
    return None


def last_line(stderr: bytes, otherwise: str) -> str:
    """What ffmpeg said went wrong, in one line."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    if any("matches no streams" in line for line in lines):
        return "no audio stream in it"
    errors = [line for line in lines if "rror" in line or "nvalid" in line or "No such" in line or "not" in line]
    return (errors or lines or [otherwise])[-1]


def option_problem(value: str, sample_rate: int) -> str | None:
    """Why `--music VALUE` names no music ('expected ..., found ...'), or None."""
    if value in (NONE, AMBIENT):
        return None
    path = Path(value)
    if not path.is_file():
        found = "no such file" if not path.exists() else "not a regular file"
        return f"expected none, ambient or an audio file, found {found}: {value}"
    why = check(path, sample_rate)
    return f"expected an audio file ffmpeg can decode, found {value}: {why}" if why else None


def routine_problems(routines: list, override: str | None, sample_rate: int) -> list:
    """A Problem for every routine whose own music file ffmpeg cannot decode (at the line of
    its `music:`); none when `override` (--music) replaces them. The loader has already
    checked that each file is there and readable."""
    from ..errors import Problem

    problems = []
    for routine in routines if override is None else ():
        music = routine.narration.music
        if music in (NONE, AMBIENT):
            continue
        why = check(Path(music), sample_rate)
        if why:
            problems.append(Problem(str(routine.path), *routine.music_place,
                                    f"defaults.music: expected an audio file ffmpeg can decode, found {music}: {why}"))
    return problems
