"""The build of one session: load -> speak -> plan, then render -> export -> its files as a set.

The two halves are `speak_and_plan` and `write`; a batch runs the first for many sessions
at once (each line spoken once for all of them) and hands each planned session to `write`.
A session whose inputs have not changed since its files were written is not built again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import __version__
from .speech import engines, lexicon
from .errors import RoutineError
from .routine.files import all_routines, resolve  # noqa: F401 (the routines a build finds)
from .routine.model import Narration, Routine, Voice
from .plan import phrases, plan
from .record import FORMAT as RECORD_FORMAT
from .record import SessionRecord
from .recipe import CLIP_RECIPE, MUSIC_RECIPE, PLAN_VERSION
# The two halves' hand-offs, and the second half, as callers of a build know them:
from .session import BuildResult, Options, Planned, outputs, variant_name, variant_title  # noqa: F401
from .write import write

if TYPE_CHECKING:
    import numpy as np

    from .speech.cache import ClipCache
    from .speech.speak import SpeechStats

# The stages that make audio (speak, render, export, cover) import numpy and friends; they
# are imported where a session is really built (write.py), so an up-to-date check starts fast.


def build_key(routine: Routine, narration: Narration, voice: Voice) -> str:
    """Hash of every input of a build: when it is unchanged, the output is up to date."""
    return _digest(build_inputs(routine, narration, voice))


def _digest(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def build_inputs(routine: Routine, narration: Narration, voice: Voice) -> dict:
    """Every input of a build, as the record keeps them."""
    library, model = engines.get(voice.engine).identity(voice)  # for Piper, the model's content too
    return {
        "routine": routine.digest,
        "narration": asdict(narration),
        "voice": asdict(voice),
        **_music_inputs(narration),
        "library": library,
        "model": model,
        "format": RECORD_FORMAT,
        "clips": CLIP_RECIPE,
        "lexicon": lexicon.digest(),
        "plan": PLAN_VERSION,
        "version": __version__,
    }


_CHANGES = {
    "routine": "the routine changed",
    "library": "the speech engine's library changed ({} -> {})",
    "model": "the voice model changed ({} -> {})",
    "version": "voiceguide changed ({} -> {})",
}


def rebuild_reason(routine: Routine, out_dir: Path, options: Options = Options()) -> str:
    """Why the session of `routine` in `out_dir` is not up to date, for a session built
    before; '' for a new one (or a record too old to tell)."""
    narration, voice = options.narration(routine), options.voice_for(routine)
    files = outputs(out_dir, variant_name(routine, narration, voice))
    try:
        recorded = SessionRecord.from_json(files["plan"].read_text())
    except (OSError, ValueError, AttributeError, TypeError):
        return ""
    if not isinstance(recorded.inputs, dict) or not recorded.inputs:
        return ""
    now = build_inputs(routine, narration, voice)
    changed = [key for key in now if recorded.inputs.get(key) != now[key]]
    reasons = [_CHANGES[key].format(recorded.inputs.get(key), now[key]) for key in changed if key in _CHANGES]
    if any(key not in _CHANGES for key in changed):
        reasons.append("the way voiceguide makes sessions changed")
    if not changed and any(_stamp_or_none(files["plan"].parent / name) != list(value) for name, value in recorded.stamps.items()):
        reasons.append("its files changed since they were written")
    return "; ".join(reasons)


def _stamp_or_none(path: Path) -> list[int] | None:
    """The stamp of `path`; None for a file deleted since it was written."""
    from .atomic import stamp

    try:
        return stamp(path)
    except OSError:
        return None


def current_record(files: dict[str, Path], key: str) -> SessionRecord | None:
    """The plan record of the last build if it was made from `key` and every file of its set
    is the one that build wrote (same size and modification time), else None.

    So a set whose files come from different builds is never up to date.
    """
    from .atomic import stamp

    try:
        recorded = SessionRecord.from_json(files["plan"].read_text())
        stamps = recorded.stamps
        whole = (
            recorded.format == RECORD_FORMAT
            and recorded.build_key == key
            and set(stamps) == {path.name for kind, path in files.items() if kind != "plan"}
            and all(stamp(files["plan"].parent / name) == list(value) for name, value in stamps.items())
        )
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    return recorded if whole else None


def up_to_date(routine: Routine, out_dir: Path, options: Options = Options()) -> BuildResult | None:
    """The result of building `routine` if its outputs already match its inputs, else None.

    Cheap (hashes and stats, no speech engine, no ffmpeg), so a batch can skip whole sessions.
    """
    started = time.perf_counter()
    narration, voice = options.narration(routine), options.voice_for(routine)
    files = outputs(out_dir, variant_name(routine, narration, voice))
    record = current_record(files, build_key(routine, narration, voice))
    if record is None:
        return None
    return BuildResult(routine, files["mp3"], "up to date", record.duration_ms, time.perf_counter() - started)


def speak_and_plan(routine: Routine, options: Options = Options(), cache: ClipCache | None = None, jobs: int = 1,
                   synthesized: Callable[[str], None] | None = None) -> Planned:
    """The first half of a build: speak every line (from the cache where possible, the user's
    cache by default), then plan with the real clip lengths. A session estimated over the
    limit is refused first, before anything is said."""
    from .estimate import too_long
    from .speech.cache import ClipCache, cache_dir
    from .speech.speak import speak

    cache = cache or ClipCache(cache_dir())
    from .speech.languages import check_language

    narration, voice = options.narration(routine), options.voice_for(routine)
    check_language(voice, narration.language)
    over = too_long(routine, narration, voice.rate)
    if over is not None:
        raise RoutineError([over])
    clips, stats = speak(phrases(routine, narration), voice, cache, jobs, synthesized, routine.pronounce)  # told of each line made
    return planned_with(routine, options, clips, stats)


def planned_with(routine: Routine, options: Options, clips: dict[str, np.ndarray], stats: SpeechStats | None = None) -> Planned:
    """The session of `routine` planned with `clips` (every line it says, already spoken)."""
    from .speech.clips import clip_ms

    narration, voice = options.narration(routine), options.voice_for(routine)
    timeline = plan(routine, lambda text: clip_ms(clips[text]), narration)
    inputs = build_inputs(routine, narration, voice)
    return Planned(routine, narration, voice, _digest(inputs), timeline, clips, stats, inputs)


def build(
    routine: Routine,
    out_dir: Path,
    options: Options = Options(),
    cache: ClipCache | None = None,
    jobs: int = 1,
    force: bool = False,
) -> BuildResult:
    """Build the session of `routine` into `out_dir`, unless it is up to date there."""
    from .atomic import sweep_temporaries
    from .speech.cache import ClipCache, cache_dir

    started = time.perf_counter()
    sweep_temporaries(out_dir)  # every build, up to date or not, clears what killed builds left
    if not force and (current := up_to_date(routine, out_dir, options)):
        return current
    planned = speak_and_plan(routine, options, cache or ClipCache(cache_dir()), jobs)
    return write(planned, out_dir, cache, started)


def _music_inputs(narration: Narration) -> dict:
    """What the build key takes from the music: how it is mixed and, for a file, its content."""
    if narration.music == "none":
        return {}
    content = ""
    if narration.music != "ambient":
        try:
            content = hashlib.sha256(Path(narration.music).read_bytes()).hexdigest()
        except OSError:
            content = "unreadable"  # not up to date; the build itself says what is wrong
    return {"music": {"recipe": MUSIC_RECIPE, "content": content}}
