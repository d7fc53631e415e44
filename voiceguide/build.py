"""The build of one session: load -> speak -> plan, then render -> export -> its files as a set.

The two halves are `speak_and_plan` and `write`; a batch runs the first for many sessions
at once (each line spoken once for all of them) and hands each planned session to `write`.
A session whose inputs have not changed since its files were written is not built again.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import __version__
from .speech import engines, lexicon
from .errors import RoutineError
from .routine.files import all_routines, resolve  # noqa: F401 (the routines a build finds)
from .routine import phrases as phrase_packs
from .routine.load import load, routine_id
from .routine.model import Narration, Routine, Voice, format_clock
from .plan import Timeline, phrases, plan
from .record import FORMAT as RECORD_FORMAT
from .record import SessionRecord
from .recipe import CLIP_RECIPE, MUSIC_RECIPE, PLAN_VERSION, SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np

    from .speech.cache import ClipCache
    from .speech.speak import SpeechStats

# The stages that make audio (speak, render, export, cover) import numpy and friends; they
# are imported where a session is really built, so an up-to-date check starts fast.




@dataclass(frozen=True)
class Options:
    """Choices made on the command line; None keeps the routine's own default."""

    verbosity: str | None = None
    countdown: int | None = None
    halfway: bool | None = None
    hold_scale: float | None = None
    chimes: str | None = None
    music: str | None = None
    music_level: float | None = None
    language: str | None = None
    engine: str | None = None
    voice: str | None = None
    rate: int | None = None

    def narration(self, routine: Routine) -> Narration:
        chosen = {k: v for k, v in asdict(self).items() if k in Narration.__dataclass_fields__ and v is not None}
        return replace(routine.narration, **chosen)

    def voice_for(self, routine: Routine) -> Voice:
        chosen = {k: v for k, v in asdict(self).items() if k in Voice.__dataclass_fields__ and v is not None}
        if self.engine not in (None, routine.voice.engine) and self.voice is None:
            chosen["voice"] = ""  # the routine's voice belongs to its own engine: use the new one's default
        from .speech.languages import spoken_voice

        return spoken_voice(replace(routine.voice, **chosen), self.narration(routine).language)


@dataclass
class BuildResult:
    routine: Routine
    mp3: Path
    status: str
    """'built' or 'up to date'."""
    duration_ms: int
    seconds: float
    speech: SpeechStats | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    rebuilt: str = ""
    """Why a session built before was built again (rebuild_reason), if it was."""


def variant_name(routine: Routine, narration: Narration, voice: Voice) -> str:
    """Output file stem: the routine id, plus a tag for every setting that differs from its defaults.

    Ids never contain '--', so 'sore-back--brief' cannot collide with another routine.
    """
    return "--".join([routine.id, *(tag for tag, _ in _variant(routine, narration, voice))])


def variant_title(routine: Routine, narration: Narration, voice: Voice) -> str:
    """The session's title: the routine's, plus what differs from its defaults, so variants
    are told apart in the page, feed, playlist and tags: 'Sore Back (brief, holds ×1.5)'."""
    labels = [label for _, label in _variant(routine, narration, voice)]
    return f"{routine.title} ({', '.join(labels)})" if labels else routine.title


def _variant(routine: Routine, narration: Narration, voice: Voice) -> list[tuple[str, str]]:
    """(file name tag, title label) for every setting that differs from the routine's own."""
    parts = []
    defaults = routine.narration
    if narration.verbosity != defaults.verbosity:
        parts.append((narration.verbosity, narration.verbosity))
    if narration.countdown != defaults.countdown:
        parts.append((f"count{narration.countdown}", f"countdown {narration.countdown}" if narration.countdown else "no countdown"))
    if narration.halfway != defaults.halfway:
        parts.append(("halfway", "halfway") if narration.halfway else ("nohalfway", "no halfway"))
    if narration.hold_scale != defaults.hold_scale:
        parts.append((f"x{narration.hold_scale:g}", f"holds ×{narration.hold_scale:g}"))
    if narration.chimes != defaults.chimes:
        parts.append((f"{narration.chimes}chimes", "no chimes" if narration.chimes == "none" else f"{narration.chimes} chimes"))
    if narration.music != defaults.music:
        named = {"none": ("nomusic", "no music"), "ambient": ("ambient", "ambient music")}
        parts.append(named.get(narration.music) or (f"music-{routine_id(Path(narration.music))}", f"music {Path(narration.music).stem}"))
    if narration.music_level != defaults.music_level and narration.music != "none":
        parts.append((f"music{narration.music_level:g}db", f"music {narration.music_level:g} dB"))
    if voice.engine != routine.voice.engine:
        parts.append((voice.engine, {"piper": "Piper", "pyttsx3": "eSpeak NG"}.get(voice.engine, voice.engine)))
    if narration.language != defaults.language:
        parts.append((narration.language, phrase_packs.pack(narration.language).name))
    from .speech.languages import spoken_voice

    if voice.voice != spoken_voice(routine.voice, narration.language).voice:
        name = routine_id(Path(voice.voice or "default"))
        shown = Path(voice.voice).stem if voice.voice.endswith(".onnx") else voice.voice or "default"
        parts.append((name, f"voice {shown}"))
    if voice.rate != routine.voice.rate:
        parts.append((f"{voice.rate}wpm", f"{voice.rate} wpm"))
    return parts


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


@dataclass
class Planned:
    """A session spoken and planned, ready to be written: the first half of a build."""

    routine: Routine
    narration: Narration
    voice: Voice
    key: str
    """Its build key."""
    timeline: Timeline
    clips: dict[str, np.ndarray] | None
    """Every line's clip; None when it is to be read from the cache where it is written."""
    stats: SpeechStats | None = None
    inputs: dict = field(default_factory=dict)
    """What `key` is the hash of (build_inputs)."""


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


def write(planned: Planned, out_dir: Path, cache: ClipCache | None = None, started: float | None = None) -> BuildResult:
    """The second half of a build: render, encode and write the session's files as one set."""
    from .atomic import StagedSet, ensure_dir
    from .audio.export import Tags, export
    from .audio.render import render
    from .publish.cover import cover_png
    from .publish.sidecars import chapters_json, transcript_vtt
    from .speech.cache import ClipCache, cache_dir

    started = time.perf_counter() if started is None else started
    routine, timeline = planned.routine, planned.timeline
    clips = planned.clips
    if clips is None:  # planned in another process: the clips are in the cache
        from .speech.speak import speak

        clips, _ = speak(phrases(routine, planned.narration), planned.voice, cache or ClipCache(cache_dir()),
                         pronounce=routine.pronounce)
    files = outputs(out_dir, variant_name(routine, planned.narration, planned.voice))
    music = _music(planned, clips)
    # The routine's credit is for the routine's music, not for one the command line chose.
    credit = routine.music_credit if music and planned.narration.music == routine.narration.music else ""
    ensure_dir(out_dir)
    # Every file is written under a temporary name, then the set is swapped in at once, the
    # plan record last: a failed build changes nothing, and builds of the same name never mix.
    with StagedSet(out_dir) as staged:
        staged.write(files["vtt"], transcript_vtt(timeline).encode())
        staged.write(files["chapters"], chapters_json(timeline).encode())
        title = variant_title(routine, planned.narration, planned.voice)
        tags = Tags(title=title, comment=_comment(routine, credit), year=time.strftime("%Y"),
                    language=phrase_packs.pack(planned.narration.language).iso639_2,
                    lyrics="\n".join(event.text for event in timeline.speech()))
        with ThreadPoolExecutor(max_workers=1) as background:
            # The cover is drawn while the encoder runs; it is needed only for the tags.
            cover = background.submit(cover_png, routine.title, f"{format_clock(timeline.duration_ms)}  ·  voiceguide", routine.id)
            session = partial(render, timeline, clips, SAMPLE_RATE, planned.narration.chimes, music=music)
            export(session, staged.path(files["mp3"]), SAMPLE_RATE, tags, timeline.chapters, cover.result,
                   skip_silence=music is None)  # under music nothing is silent
        staged.write(files["cover"], cover.result())
        record = SessionRecord(
            title=title,
            duration_ms=timeline.duration_ms,
            routine=routine.id,
            summary=routine.summary,
            source=routine.source,
            safety=list(routine.safety if routine.safety_form == "own" else phrase_packs.pack(planned.narration.language).written_safety()),
            build_key=planned.key,
            inputs=planned.inputs,
            mp3_bytes=staged.stamp(files["mp3"])[0],
            files={kind: path.name for kind, path in files.items()},
            stamps={path.name: staged.stamp(path) for kind, path in files.items() if kind != "plan"},
            settings={"narration": asdict(planned.narration), "voice": asdict(planned.voice)},
            notes=list(timeline.notes),
            chapters=[asdict(c) for c in timeline.chapters],
            events=timeline.to_json(),
            music=music.to_json(credit) if music else {},
        )
        staged.write(files["plan"], record.to_json())
        staged.commit(last=files["plan"])
    return BuildResult(routine, files["mp3"], "built", timeline.duration_ms, time.perf_counter() - started,
                       planned.stats, timeline.notes)


def outputs(out_dir: Path, name: str) -> dict[str, Path]:
    """Every file one session writes, by kind."""
    return {
        "mp3": out_dir / f"{name}.mp3",
        "cover": out_dir / f"{name}.png",
        "vtt": out_dir / f"{name}.vtt",
        "chapters": out_dir / f"{name}.chapters.json",
        "plan": out_dir / f"{name}.json",
    }


def _comment(routine: Routine, music_credit: str = "") -> str:
    parts = (routine.summary, f"Source: {routine.source}" if routine.source else "", f"Music: {music_credit}" if music_credit else "")
    return "\n\n".join(part for part in parts if part)


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


def _music(planned: Planned, clips: dict):
    """The session's music (audio.music.Music), or None; a file is probed here, before
    anything is written. The bed is lowered if it would take the session under its loudness."""
    if planned.narration.music == "none":
        return None
    from .audio.ducking import envelope, fitted_level
    from .audio.music import music_for
    from .audio.render import sounds
    from .recipe import SPEECH_LUFS

    narration, timeline = planned.narration, planned.timeline
    shape = envelope(timeline, narration.chimes)
    placed = sounds(timeline, clips, SAMPLE_RATE, narration.chimes)
    level = fitted_level(timeline, shape, narration.music_level, placed, SAMPLE_RATE, SPEECH_LUFS)
    return music_for(narration.music, level, shape, SAMPLE_RATE, asked_db=narration.music_level)
