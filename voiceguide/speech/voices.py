"""Voice names, checked before any engine starts: a routine's `voice:` and `--voice`.

eSpeak NG takes a voice name as a file to open: left to it, "bogus" quietly gives the
default voice, and "/dev/zero" or "../../etc/passwd" are read as voice files (/dev/zero
keeps it busy for minutes). So a name reaches it only if it is one of the voices it lists,
and that list is read here from its data directory, the way eSpeak NG builds it (files
under espeak-ng-data/voices/ and espeak-ng-data/lang/), without starting the engine.
Piper takes a bundled voice's id or a path to a .onnx file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from ..errors import SpeechError
from ..text import describe_character, shown

ESPEAK_DEFAULT = "gmw/en-us"
_SYSTEM_DATA_DIRS = (
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
    "/usr/lib64/espeak-ng-data", "/usr/share/espeak-ng-data", "/usr/local/share/espeak-ng-data",
)
_MAX_LISTED = 348  # eSpeak NG's voice list holds N_VOICES_LIST - 2 files and ignores the rest


LIST_TIMEOUT_S = 30.0
"""How long a worker may take to list eSpeak NG's voices."""


def problem(engine: str, voice: str) -> str | None:
    """Why `voice` is not a voice of `engine` ('expected ..., found ...'), or None if it is
    one ('' is the engine's default). Cheap: reads file names, starts no engine."""
    if not voice:
        return None
    for char in voice:
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or 0xD800 <= ord(char) <= 0xDFFF:
            return f"expected a voice name, found {describe_character(char)}"
    if engine == "piper":
        return _piper_problem(voice)
    return espeak_problem(voice)


def check_espeak(voice: str) -> None:
    """Raise SpeechError unless `voice` is '' or a voice eSpeak NG lists."""
    why = problem("pyttsx3", voice)
    if why:
        raise SpeechError(f"voice: {why}")


def espeak_problem(voice: str) -> str | None:
    voice, plus, variant = voice.partition("+")
    if plus:
        why = _variant_problem(variant)
        if why:
            return why
    if _path_like(voice):
        return f"expected an eSpeak NG voice id like {ESPEAK_DEFAULT} ('voiceguide voices' lists them), found the path {shown(voice)!r}"
    try:
        if is_espeak_voice(voice):
            return None
        known = espeak_voice_ids()
    except SpeechError:
        return None  # no eSpeak NG to ask: the build says how to install it
    return f"expected an eSpeak NG voice ('voiceguide voices' lists them), found unknown voice {shown(voice)!r}{_nearest(voice.lower(), known)}"


def _variant_problem(variant: str) -> str | None:
    """Why `variant` (after a voice's "+", as in gmw/en-us+klatt4) is not one of eSpeak NG's
    variants, the files of espeak-ng-data/voices/!v, or None if it is."""
    expected = "expected an eSpeak NG variant after '+' (like klatt4; 'voiceguide voices' lists them)"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_ -]*", variant):  # a file name in one folder, never a path
        return f"{expected}, found {shown(variant)!r}"
    try:
        data = espeak_data_dir()
    except SpeechError:
        return None  # no eSpeak NG to ask: the build says how to install it
    known = espeak_variants(data) if data else ()
    if variant in known or not known:
        return None
    return f"{expected}, found {shown(variant)!r}{_nearest(variant, known)}"


def espeak_variants(data: Path) -> tuple[str, ...]:
    """The variants eSpeak NG has (files of voices/!v whose language is "variant")."""
    folder = data / "voices" / "!v"
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ()
    return tuple(name for name in names if not name.startswith(".")
                 and (_first_language(str(folder / name)) or ("",))[0] == "variant")


def is_espeak_voice(voice: str) -> bool:
    """Whether eSpeak NG lists `voice` (case aside), looking only at the files its name can
    be: an up-to-date build checks its voice without reading every voice file."""
    data = espeak_data_dir()
    if data is None:
        return voice.lower() in espeak_voice_ids()
    wanted = voice.lower()
    if wanted.startswith("mb/") or _path_like(wanted):
        return False
    for kind in ("voices", "lang"):
        for path in _paths_without_case(data / kind, wanted.split("/")):
            language = _first_language(str(path))
            if language is not None and language[1] % 256 and language[0] != "variant":
                return True
    return False


def _paths_without_case(directory: Path, parts: list[str]) -> list[Path]:
    """Every path below `directory` whose parts are `parts`, compared without case."""
    try:
        names = [name for name in os.listdir(directory) if name.lower() == parts[0] and not name.startswith(".")]
    except OSError:
        return []
    if len(parts) == 1:
        return [directory / name for name in names]
    return [found for name in names for found in _paths_without_case(directory / name, parts[1:])]


def _path_like(voice: str) -> bool:
    """A name eSpeak NG would open outside its voice directories, or that names no file."""
    parts = voice.split("/")
    return voice.startswith(("/", "~")) or "\\" in voice or any(part in ("", ".", "..") for part in parts)


def _nearest(voice: str, known: tuple[str, ...]) -> str:
    import difflib  # only when a name is wrong

    close = difflib.get_close_matches(voice, known, n=3, cutoff=0.6)
    return f" (nearest: {', '.join(close)})" if close else ""


@lru_cache(maxsize=None)
def espeak_voice_ids() -> tuple[str, ...]:
    """Every voice id `voiceguide voices` lists for eSpeak NG, lower-cased as pyttsx3 gives them.

    As espeak_ListVoices(NULL) makes them: each regular file under voices/ then lang/ (names
    starting with '.' skipped) with a `language` line is a voice, its id the path below that
    directory; variants (language "variant"), MBROLA voices (mb/) and first languages of
    priority 0 are left out of the list. If the data directory cannot be found, a worker
    asks eSpeak NG itself (slower, and right).
    """
    data = espeak_data_dir()
    if data is None:
        return tuple(sorted(voice_id.lower() for voice_id, _ in list_espeak_voices()))
    files: list[tuple[str, str, int]] = []
    for kind in ("voices", "lang"):
        root = data / kind
        for directory, subdirectories, names in os.walk(root, followlinks=True):
            subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
            for name in sorted(names):
                path = os.path.join(directory, name)
                language = _first_language(path) if not name.startswith(".") else None
                if language is not None:
                    files.append((os.path.relpath(path, root).replace(os.sep, "/"), *language))
    listed = files[:_MAX_LISTED]
    return tuple(sorted(
        voice_id.lower() for voice_id, language, priority in listed
        if priority % 256 and language != "variant" and not voice_id.startswith("mb/")
    ))


def _first_language(path: str) -> tuple[str, int] | None:
    """(language, priority) of a voice file's first `language` line; None for a file that is
    not a voice (no such line, or not a regular file)."""
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            lines = f.read(64 * 1024).decode("latin-1").splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split("//")[0].split() if not line.startswith("#") else []
        if len(words) >= 2 and words[0] == "language":
            priority = words[2] if len(words) > 2 and words[2].lstrip("-").isdigit() else "5"
            return words[1], int(priority)
    return None


def espeak_data_dir() -> Path | None:
    """The espeak-ng-data directory the pyttsx3 workers' eSpeak NG reads, found as it finds it.

    The workers point a wheel's library at the wheel's data through ESPEAK_DATA_PATH (unless
    it is set already); eSpeak NG takes $ESPEAK_DATA_PATH/espeak-ng-data or else the directory
    itself, then ~/espeak-ng-data, then the directory it was built for (a system library's,
    which is one of _SYSTEM_DATA_DIRS on the usual systems).
    """
    from .espeak_library import library, wheel_library

    path, _ = library()  # SpeechError without eSpeak NG
    setting = os.environ.get("ESPEAK_DATA_PATH")
    if not setting and wheel_library(path):  # the wheel's copy, as pyttsx3_engine loads it
        import espeakng_loader

        setting = espeakng_loader.get_data_path()
    candidates = [Path(setting) / "espeak-ng-data", Path(setting)] if setting else []
    candidates.append(Path.home() / "espeak-ng-data")
    candidates += [Path(directory) for directory in _SYSTEM_DATA_DIRS]
    return next((directory for directory in candidates if (directory / "lang").is_dir()), None)


def _piper_problem(voice: str) -> str | None:
    from . import piper_engine

    if voice.endswith(".onnx"):
        model = Path(voice).expanduser()
        config = model.with_name(model.name + ".json")
        missing = next((path for path in (model, config) if not path.is_file()), None)
        if missing is not None:
            return f"expected a Piper voice: a .onnx file with its .onnx.json beside it, found no file {shown(str(missing))}"
        return None
    if not piper_engine.installed():
        return None  # the build says how to install it
    known = tuple(candidate.id for candidate in piper_engine.bundled())
    if voice in known:
        return None
    bundled = ", ".join(known) or "none installed"
    return (f"expected a bundled Piper voice ({bundled}) or a path to a .onnx file, "
            f"found unknown voice {shown(voice)!r}{_nearest(voice, known)}")


def list_espeak_voices() -> list[tuple[str, str]]:
    """(voice id, language) for each eSpeak NG voice, read by a short-lived worker."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "voiceguide.speech.pyttsx3_engine", "--voices"],
            capture_output=True, text=True, timeout=LIST_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SpeechError(f"pyttsx3 did not list its voices within {LIST_TIMEOUT_S:.0f} s") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise SpeechError(f"pyttsx3 could not list voices: {last}")
    return [tuple(v) for v in json.loads(result.stdout)]
