"""Stage 2, speak: which eSpeak NG library the pyttsx3 workers load, and where its data is.

Kept apart from the engine so that listing and checking voices (voices.py) and the engine's
identity for cache keys can find it without starting eSpeak NG.
"""

from __future__ import annotations

import ctypes.util
import json
import os
from functools import lru_cache
from pathlib import Path

from ..errors import SpeechError

LIBRARY_ENV = "VOICEGUIDE_ESPEAK_LIBRARY"


@lru_cache(maxsize=None)  # asked for per session
def library() -> tuple[str, str]:
    """Which eSpeak NG library the workers load: (path or soname, identity for cache keys).

    $VOICEGUIDE_ESPEAK_LIBRARY if set (a libespeak-ng.so file); else a system eSpeak NG;
    else the copy in the espeakng-loader wheel.
    """
    chosen = os.environ.get(LIBRARY_ENV)
    if chosen:
        if not Path(chosen).is_file():
            raise SpeechError(f"${LIBRARY_ENV}: expected an eSpeak NG library file, found no file {chosen}")
        return chosen, f"file-{os.path.realpath(chosen)}"
    system = _find_system_library()
    if system:
        return system, f"system-{_installed_file(system)}"
    try:
        import espeakng_loader
        from importlib.metadata import version
    except ImportError:
        raise SpeechError(
            "eSpeak NG not found: install it with 'pip install espeakng-loader' "
            "or 'sudo apt-get install espeak-ng'"
        ) from None
    return espeakng_loader.get_library_path(), f"espeakng-loader-{version('espeakng-loader')}"


FOUND_FILE = "espeak-library.json"
"""In the cache directory: what the last search for a system eSpeak NG found, and for what."""


def _find_system_library() -> str | None:
    """ctypes.util.find_library("espeak-ng"), which runs ldconfig and gcc (tens of ms in every
    build and every worker), remembered in the cache directory while the linker's cache, the
    library path and PATH (where gcc is found) stay as they were. Installing or removing a
    library with the package manager rewrites /etc/ld.so.cache."""
    from .cache_home import cache_dir

    key = [_stat("/etc/ld.so.cache"), os.environ.get("LD_LIBRARY_PATH", ""), os.environ.get("PATH", "")]
    memo = cache_dir() / FOUND_FILE
    try:
        saved = json.loads(memo.read_text(encoding="utf-8"))
        found = saved["found"]
        # Only what find_library gives: a soname or nothing, never a path to load from.
        if saved["for"] == key and (found is None or (isinstance(found, str) and "/" not in found)):
            return found
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = ctypes.util.find_library("espeak-ng")
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"for": key, "found": found}), encoding="utf-8")
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only cache: the search runs again next time
    return found


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def wheel_library(path: str) -> bool:
    """Whether `path` is the espeakng-loader wheel's copy of eSpeak NG."""
    return "espeakng_loader" in Path(path).parts


def _installed_file(soname: str) -> str:
    """The file a system soname points to (its name carries the version: ...so.1.51), so an
    upgrade of eSpeak NG makes new cache keys."""
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                      "/usr/local/lib", "/lib"):
        candidate = Path(directory) / soname
        if candidate.exists():
            return os.path.realpath(candidate)
    return soname
