"""An up-to-date `build` answered from one small manifest in the output directory, before
click, numpy, YAML or a speech engine is imported: the `voiceguide` program's first step.

After a `build` succeeds, the command line remembers it (`remember`): the exact arguments,
the working directory, the environment variables that can change a session, and the state
(inode, size, modification and change time) of every file whose change could alter one:
the routines and their directories, the phrase packs beside them, music files, the speech
engine's library and voice model, every file of voiceguide itself, the directories Python
imports packages from (installing or upgrading one changes them), and every file in the
output directory. With them it keeps what an up-to-date run of the same command prints.

The next run of the same command, with every one of those files as recorded, prints that
and stops (`answer`, from voiceguide/__main__.py). Anything else, or any doubt, runs the full command line, whose own
check (each session's build key and file stamps) decides; it remembers anew.
"""

from __future__ import annotations

import os
import sys
import time

MANIFEST = ".voiceguide-up-to-date"
"""In the output directory; a dot file, so serve never gives it and publish never lists it.
Its fields are separated by NUL, which no path, argument or variable can hold, and every
list starts with its length: read with str.split, as json (and the re module it loads)
would take longer to import than the whole check takes."""
FORMAT = "voiceguide-up-to-date 1"
KEPT = 8
"""Commands remembered per output directory (the latest ones)."""
_NOT_OUTPUTS = {MANIFEST, ".voiceguide.lock"}
_ENV_PREFIXES = ("VOICEGUIDE_", "VG_", "ESPEAK", "PIPER", "ORT_", "OMP_", "PYTHON", "LD_", "LC_")
_ENV_NAMES = ("PATH", "HOME", "LANG", "XDG_CACHE_HOME")
HELP = (["--help"], ["-h"])
"""The program's own help, answered from the cache directory."""
_UNCACHEABLE = ("--force", "--catalog", "--executor", "--rotate-token", "--help", "-h", "--version")
STARTED = time.time_ns()
"""When this process started to look at its inputs: a file changed since may not be what
the build read, so a command that saw one is not remembered."""
_PACKAGE = os.path.dirname(os.path.abspath(__file__))

invocation: list[str] | None = None
"""The arguments of this process's command, when it came in through `answer` (else nothing is remembered)."""


def answer(args: list[str]) -> bool:
    """Print the answer to `voiceguide ARGS` and say True, if it is an up-to-date build whose
    every input is as its manifest says; else False (and the CLI is to run it)."""
    global invocation
    invocation = args
    started = time.perf_counter()
    entry = _current_help() if args in HELP else _current_entry(args)
    if entry is None:
        return False
    for line in entry["stderr"]:
        print(line, file=sys.stderr)
    for line in entry["stdout"]:
        print(line)
    if args[0] == "build":
        print(f"0 built, {entry['sessions']} up to date, 0 failed in {time.perf_counter() - started:.1f} s")
    return True


# -- the check: os and stat calls only ---------------------------------------------------


def _stat(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return "-"
    return f"{info.st_ino},{info.st_size},{info.st_mtime_ns},{info.st_ctime_ns}"


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES}


def _out_dir(args: list[str]) -> str:
    """Where `build ARGS` writes (the --out option as click reads it; the last one given)."""
    out = "out"
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--out" and index + 1 < len(args):
            out = args[index + 1]
        elif arg.startswith("--out="):
            out = arg[len("--out="):]
    return out


def _states(pairs) -> str:
    """(name, state) pairs as one field: each name prefixed by its length, so any name reads back."""
    return "".join(f"{len(name)}:{name}={state};" for name, state in pairs)


def _outputs(directory: str, names: list[str]) -> str:
    """The files `names` of `directory` with their state; with no names, every entry of it
    but the manifest and the lock (what publishing reads)."""
    listed = os.listdir(directory)
    if any(name.startswith(".") and name.endswith(".tmp") for name in listed):
        raise ValueError("a build is writing here, or was killed: the full command sweeps what it left")
    names = names or sorted(name for name in listed if name not in _NOT_OUTPUTS)
    return _states((name, _stat(os.path.join(directory, name))) for name in names)


def _package_files() -> list[tuple[str, str]]:
    """voiceguide's own files (code, phrase packs, lexicon, page assets) with their state."""
    found = []
    for directory, subdirectories, files in os.walk(_PACKAGE):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
        found += [(os.path.join(directory, name), _stat(os.path.join(directory, name))) for name in sorted(files)]
    return found


def _key(args: list[str]) -> str:
    return repr((args, os.getcwd(), sorted(_environment().items()), sys.executable, sys.version))


def _entries(text: str) -> list[dict]:
    """The entries of a manifest's text; ValueError or IndexError if it is not one."""
    fields = text.split("\0")
    if fields[0] != FORMAT:
        raise ValueError("not a manifest of this version")
    at, entries = 1, []

    def take(count: int = 1) -> list[str]:
        nonlocal at
        if at + count > len(fields):
            raise ValueError("a manifest cut short")
        at += count
        return fields[at - count:at]

    while at < len(fields) - 1:
        key, out, package, outputs, sessions = take(5)
        watched = take(int(take()[0]))
        stdout = take(int(take()[0]))
        stderr = take(int(take()[0]))
        files = take(2 * int(take()[0]))
        entries.append({"key": key, "out": out, "package": package, "outputs": outputs, "sessions": int(sessions),
                        "watched": watched, "stdout": stdout, "stderr": stderr, "files": dict(zip(files[::2], files[1::2]))})
    return entries


def _text(entries: list[dict]) -> str:
    fields = [FORMAT]
    for e in entries:
        fields += [e["key"], e["out"], e["package"], e["outputs"], str(e["sessions"]),
                   str(len(e["watched"])), *e["watched"], str(len(e["stdout"])), *e["stdout"], str(len(e["stderr"])), *e["stderr"],
                   str(len(e["files"])), *(field for pair in e["files"].items() for field in pair)]
    return "\0".join(fields) + "\0"


def _cacheable(args: list[str] | None) -> bool:
    return bool(args) and args[0] in ("build", "list") and not any(a in _UNCACHEABLE or a.startswith("--catalog") for a in args)


def _help_file() -> str:
    """Where the program's help is kept: the speech cache's directory (speech/cache.py)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.environ.get("VOICEGUIDE_CACHE_DIR") or os.path.join(base, "voiceguide"), "help")


def _help_key() -> str:
    """What click's help depends on besides the code: the width it wraps to (as
    shutil.get_terminal_size finds it, at most 80 columns) and the environment."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return repr((min(columns or 80, 80), sorted(_environment().items()), sys.executable, sys.version))


def _current_help() -> dict | None:
    try:
        with open(_help_file(), encoding="utf-8") as file:
            (entry,) = _entries(file.read())
    except (OSError, ValueError, IndexError, UnicodeError):
        return None
    return entry if entry["key"] == _help_key() and entry["package"] == _states(_package_files()) else None


def remember_help(text: str) -> None:
    """Keep the program's help, as the full command line printed it, for the next --help."""
    from .atomic import write_atomically

    entry = {"key": _help_key(), "out": "", "package": _states(_package_files()), "outputs": "", "sessions": 0,
             "watched": [], "stdout": text.split("\n"), "stderr": [], "files": {}}
    try:
        os.makedirs(os.path.dirname(_help_file()), exist_ok=True)
        write_atomically(_path(_help_file()), _text([entry]).encode())
    except Exception:  # noqa: BLE001 - kept only to save time
        pass


def _current_entry(args: list[str]) -> dict | None:
    """The remembered run of `build ARGS` if nothing it depends on changed since, else None."""
    if not _cacheable(args):
        return None
    out = os.path.abspath(_out_dir(args))
    try:
        with open(os.path.join(out, MANIFEST), encoding="utf-8") as file:
            entries = _entries(file.read())
        key = _key(args)
        entry = next(e for e in entries if e["key"] == key)
        current = (
            entry["out"] == out
            and all(_stat(path) == state for path, state in entry["files"].items())
            and _outputs(out, entry["watched"]) == entry["outputs"]
            and _states(_package_files()) == entry["package"]
        )
    except (OSError, ValueError, IndexError, StopIteration, UnicodeError):
        return None
    return entry if current else None


# -- remembering: in the full command line, after a build that succeeded --------------------


def remember(out_dir, routines_dir, routines: list, options, result) -> None:
    """Keep the build just run (the batch `result` of `routines`) in OUT's manifest, with
    what an up-to-date run of it prints, for the next identical command.

    Nothing is kept for a command that did not come in through `answer`, that failed, forced
    a rebuild, or whose inputs changed while it ran.
    """
    if invocation and invocation[0] == "build" and not (result.failures or result.publish_error) \
            and len(result.results) == len(routines):
        watched = [] if "--all" in invocation else _session_files(out_dir, result)
        _remember(out_dir, routines_dir, routines, options, watched, len(routines), **_printed(routines, result))


def remember_listing(out_dir, routines_dir, routines: list, printed: list[str]) -> None:
    """Keep `list`'s table (`printed`) of `routines`, all loaded without a mistake."""
    from .build import Options

    if invocation and invocation[0] == "list":
        _remember(out_dir, routines_dir, routines, Options(), [], 0, printed, [])


def _remember(out_dir, routines_dir, routines: list, options, watched: list[str], sessions: int,
              stdout: list[str], stderr: list[str]) -> None:
    from .atomic import write_atomically

    args = invocation
    if not _cacheable(args):
        return
    out = os.path.abspath(_out_dir(args))
    if out != os.path.abspath(out_dir):
        return
    try:
        files = {path: _stat(path) for path in sorted(_inputs(routines_dir, routines, options))}
    except Exception:  # noqa: BLE001 - an input that cannot be found is simply not remembered
        return
    package = _package_files()
    package = _package_files()
    if any(state != "-" and int(state.rsplit(",", 1)[1]) >= STARTED - 20_000_000
           for state in [*files.values(), *(state for _, state in package)]):
        return  # changed while this build ran (or within a clock tick of its start)
    entry = {"key": _key(args), "out": out, "files": files, "package": _states(package), "sessions": sessions,
             "watched": watched, "stdout": stdout, "stderr": stderr}
    path = os.path.join(out, MANIFEST)
    try:
        with open(path, encoding="utf-8") as file:
            kept = [e for e in _entries(file.read()) if e["key"] != entry["key"]]
    except (OSError, ValueError, IndexError, UnicodeError):
        kept = []
    try:
        entry["outputs"] = _outputs(out, entry["watched"])
        write_atomically(_path(path), _text([entry, *kept][:KEPT]).encode())
    except Exception:  # noqa: BLE001 - the manifest only saves time; the build itself succeeded
        pass


def _printed(routines: list, result) -> dict[str, list[str]]:
    """What an up-to-date run of the build prints before its summary (cli.output.Progress
    and report_skipped): a line per session in the order given, and publish's warnings."""
    from .routine.model import format_clock
    from .text import printable

    sessions = {session.routine.id: session for session in result.results}
    stdout = [printable(f"up to date: {sessions[r.id].mp3} ({format_clock(sessions[r.id].duration_ms)})") for r in routines]
    skipped = result.published.skipped if result.published else []
    return {"stdout": stdout, "stderr": [printable(f"warning: {why}") for why in skipped]}


def _session_files(out_dir, result) -> list[str]:
    """The files of the sessions built: all that an up-to-date check of them looks at."""
    from .build import outputs

    return sorted({path.name for session in result.results for path in outputs(out_dir, session.mp3.stem).values()})


def _path(name: str):
    from pathlib import Path

    return Path(name)


def _inputs(routines_dir, routines: list, options) -> set[str]:
    """Every file and directory whose change could change what `build` makes of `routines`."""
    from .routine.files import BUNDLED
    from .routine.phrases import USER_DIR

    found = {os.path.abspath(routines_dir), str(BUNDLED), os.path.abspath(USER_DIR), "/etc/ld.so.cache"}
    found |= {os.path.abspath(entry) for entry in sys.path if entry and os.path.isdir(entry)}
    for routine in routines:
        found.add(os.path.abspath(routine.path))
        found.add(os.path.realpath(routine.path))
        narration, voice = options.narration(routine), options.voice_for(routine)
        found.add(os.path.abspath(os.path.join(USER_DIR, f"{narration.language}.yaml")))
        if narration.music not in ("none", "ambient"):
            found.add(os.path.abspath(narration.music))
        found |= _engine_files(voice)
    return found


def _engine_files(voice) -> set[str]:
    """The files that say which engine library and voice model a build uses."""
    if voice.engine == "piper":
        from .speech.piper_engine import resolve

        chosen = resolve(voice.voice)
        return {os.path.abspath(chosen.model), os.path.abspath(chosen.config)}
    from .speech.espeak_library import library

    path = library()[0]
    return {os.path.abspath(path), os.path.realpath(path)} if os.sep in path else set()
