"""The second half of a build: a planned session rendered, encoded and written as one set of
files (the MP3, its cover, transcript, chapters and plan record), atomically.

The stages that make audio (render, export, cover) import numpy and friends; they are
imported here, where a session is really written, so an up-to-date check starts fast.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .plan import phrases
from .record import SessionRecord
from .recipe import SAMPLE_RATE
from .routine import phrases as phrase_packs
from .routine.model import Routine, format_clock
from .session import BuildResult, Planned, outputs, variant_name, variant_title

if TYPE_CHECKING:
    from .speech.cache import ClipCache


def write(planned: Planned, out_dir: Path, cache: ClipCache | None = None, started: float | None = None,
          cores: int | None = None) -> BuildResult:
    """The second half of a build: render, encode and write the session's files as one set.

    A session with silences is encoded in two halves, cut in the silence nearest its middle
    (export.export's `cut`), whatever the machine: an encoder's output depends on what it
    encoded before, so every build of the session cuts it the same way. The halves are
    encoded at once when `cores` (by default, the machine's) are two or more, one
    after the other when other sessions keep the other cores busy (batch.py)."""
    from .atomic import StagedSet, ensure_dir
    from .audio.export import Tags, export
    from .audio.mp3 import samples_per_frame
    from .audio.render import quiet_cut, render, sounds
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
            cut = None if music else quiet_cut(sounds(timeline, clips, SAMPLE_RATE, planned.narration.chimes),
                                               samples_per_frame(SAMPLE_RATE))
            cores = (os.cpu_count() or 1) if cores is None else cores
            export(session, staged.path(files["mp3"]), SAMPLE_RATE, tags, timeline.chapters, cover.result,
                   skip_silence=music is None, cut=cut, at_once=cores > 1)  # under music nothing is silent
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


def _comment(routine: Routine, music_credit: str = "") -> str:
    parts = (routine.summary, f"Source: {routine.source}" if routine.source else "", f"Music: {music_credit}" if music_credit else "")
    return "\n\n".join(part for part in parts if part)


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
