"""The routine model: what `load` produces and `plan` consumes. Frozen, validated, times in ms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

VERBOSITIES = ("full", "brief", "minimal")
COUNTDOWNS = (0, 3, 5)
CHIME_STYLES = ("soft", "bright", "none")
ENGINES = ("pyttsx3", "piper")
"""Every speech engine, the default first."""
HOLD_SCALE_RANGE = (0.25, 4.0)
"""The smallest and largest hold_scale."""
RATE_RANGE = (80, 400)
"""The slowest and fastest speaking rate, in words per minute."""
PRONOUNCED_WORD = r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*"
"""A word a `pronounce:` entry is for: letters, with apostrophes inside (child's)."""
RESPELLING = r"[A-Za-z]+(?:[-'][A-Za-z]+)*"
"""How it is said: syllables of ASCII letters joined by hyphens, the stressed one in capitals."""
MUSIC_CHOICES = ("none", "ambient")
"""What `music` takes besides an audio file."""
MUSIC_LEVEL_RANGE = (-40.0, -16.0)
"""The quietest and loudest music bed, in dB relative to the voice (louder beds would count
towards the session's gated loudness and pull it under -17 LUFS)."""


@dataclass(frozen=True)
class Cue:
    """An extra line spoken during a hold, laid over its silence."""

    at_ms: int
    """When to speak, counted from the start of the hold."""
    text: str
    """What to say."""


STAY_MS = 8000
"""A flow's move this long or longer (as written) is a stay: a timed hold in a sequence."""


@dataclass(frozen=True)
class Move:
    """One position of a flow (cat-cow: "round your back", "let it sink")."""

    text: str
    """What to say when moving into this position."""
    hold_ms: int = 3_000
    """How long to stay there once the line has been said. A move of STAY_MS or more is a
    stay, timed like a hold: start chime, countdown, end chime."""
    short: str = ""
    """What to say in the rounds after the first ('Round.'), once the move is known; '' says
    `text` every round."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: held for a time, or a flow of moves; per side, for some reps."""

    name: str
    """Spoken when the exercise starts and in previews; the chapter title."""
    steps: tuple[str, ...]
    """How to get into position, one spoken line each."""
    hold_ms: int = 30_000
    """How long each hold lasts, on each side."""
    reps: int = 1
    """How many times the hold (or the whole flow) is done."""
    rest_ms: int = 10_000
    """Rest after each rep, and after the exercise before the next one."""
    sides: tuple[str, ...] = ()
    """Side names ("right", "left"); empty when the exercise has no sides."""
    switch_ms: int = 5000
    """Gap between the two sides' holds, to change position."""
    setup_ms: int = 4000
    """Silence before the first hold, and before each rep after a rest: time to get into
    position before the start chime. In a flow: before its first move, and before each stay."""
    breath_ms: tuple[int, ...] = ()
    """A flow paced by breath: (in, out), the length of each move from the start of its line
    to the start of the next, the moves taking the breaths in turn; () if its moves have holds."""
    cues: tuple[Cue, ...] = ()
    """Extra lines spoken at given times within each hold."""
    flow: tuple[Move, ...] = ()
    """If given, the exercise is this sequence of moves, repeated `reps` times, instead of a hold."""
    line: int = 0
    """Line of the exercise in its routine file, for messages."""
    places: tuple[tuple[str, str, int, int], ...] = ()
    """(key, where, line, column) of the values that set its hold, reps and flow (a
    default's, when it has none of its own), so a message can point at what to change."""


@dataclass(frozen=True)
class Narration:
    """How much is said, and how holds are paced. Routine defaults, overridden on the command line."""

    verbosity: str = "full"
    """full: every step and cue; brief: steps only the first time; minimal: names, counts, chimes."""
    countdown: int = 3
    """Seconds counted down at the end of each hold: 0, 3 or 5."""
    halfway: bool = True
    """Whether "halfway" is said in the middle of each hold."""
    hold_scale: float = 1.0
    """Multiplies every hold and flow position (not rests), e.g. 1.5 for a slower session."""
    chimes: str = "soft"
    """Chime sound: soft, bright or none (the timing stays the same)."""
    language: str = "en"
    """The language of the fixed lines (a phrase pack: routine/phrases.py); `language:` at
    the top of a routine. It picks the eSpeak NG voice when the routine names none."""
    music: str = "none"
    """Music under the voice: none, ambient (a pad made by voiceguide) or the path of an audio
    file (a routine's relative to the routine's directory)."""
    music_level: float = -20.0
    """The music's level in the holds, in dB relative to the voice; it is 10 dB lower under
    every line and chime."""


@dataclass(frozen=True)
class Voice:
    """Which engine speaks, with which voice and rate."""

    engine: str = ENGINES[0]
    """Speech engine name, one of ENGINES."""
    voice: str = ""
    """Engine voice id; '' for the engine's default English voice."""
    rate: int = 160
    """Speaking rate in words per minute."""


@dataclass(frozen=True)
class Routine:
    """A whole routine file."""

    id: str
    """Short name, from the file name; names the output files."""
    path: Path
    """Where the routine was read from."""
    title: str
    """Spoken at the start; the MP3 title."""
    summary: str = ""
    """One or two sentences about the session; MP3 comment and feed description."""
    source: str = ""
    """Where the exercises come from (attribution)."""
    safety: tuple[str, ...] = ()
    """The routine's own safety lines (safety_form 'own'), else ()."""
    safety_form: str = ""
    """The safety opening: 'full' or 'brief' (the language pack's), 'own' (`safety`), or ''
    (full, but brief when the narration is minimal)."""
    intro: tuple[str, ...] = ()
    """Extra lines spoken after the safety opening, before the first exercise."""
    outro: tuple[str, ...] = ()
    """Extra lines spoken at the end."""
    exercises: tuple[Exercise, ...] = ()
    """The exercises, in order."""
    narration: Narration = field(default_factory=Narration)
    """Narration settings from the routine's defaults."""
    voice: Voice = field(default_factory=Voice)
    """Voice settings from the routine's defaults."""
    pronounce: tuple[tuple[str, str], ...] = ()
    """(word, respelling) pairs: how the engines say a word; the transcript keeps the word."""
    music_credit: str = ""
    """Who made the routine's music, for the ID3 comment, the page and the feed."""
    music_place: tuple[int, int] = (0, 0)
    """(line, column) of `defaults.music`, for messages about the file it names."""
    digest: str = ""
    """SHA-256 of the file's bytes as they were read and checked; part of the build key."""


def format_duration(ms: int) -> str:
    """30000 -> '30 s', 90000 -> '1m30s'; used in messages."""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{int(minutes)}m{seconds:g}s" if seconds else f"{int(minutes)}m"


def format_clock(ms: int) -> str:
    """A session's length as a player shows it: 1007873 -> '16:48'."""
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"
