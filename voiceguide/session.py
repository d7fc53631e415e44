"""A session's identity and its stages' hand-offs: the options it is built with, the name
of its files, the planned session one half of a build hands the other, and the result.

Light on purpose (no numpy): an up-to-date check needs these and nothing that makes audio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .routine import phrases as phrase_packs
from .routine.load import routine_id
from .routine.model import Narration, Routine, Voice
from .plan import Timeline

if TYPE_CHECKING:
    import numpy as np

    from .speech.speak import SpeechStats


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


def outputs(out_dir: Path, name: str) -> dict[str, Path]:
    """Every file one session writes, by kind."""
    return {
        "mp3": out_dir / f"{name}.mp3",
        "cover": out_dir / f"{name}.png",
        "vtt": out_dir / f"{name}.vtt",
        "chapters": out_dir / f"{name}.chapters.json",
        "plan": out_dir / f"{name}.json",
    }
