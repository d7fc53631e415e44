"""The plan's result: a Timeline of events (speech, chimes, holds, rests) at absolute ms, and
the readable script and JSON made from it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable

from ..routine.model import format_duration

SpeechMeasure = Callable[[str], int]
"""How long a line of speech lasts, in ms."""

CHIME_MS = {"hold_start": 1400, "hold_end": 1400, "next": 1800, "end": 3000}
"""How long each chime rings (audio/chimes.py makes them exactly this long)."""


@dataclass(frozen=True)
class Event:
    """Something the listener hears (speech, chime) or a span they live through (hold, rest)."""

    start_ms: int
    end_ms: int
    kind: str
    """speech, chime, hold, rest or switch."""
    text: str = ""
    """speech: the words; hold/rest/switch: what is happening."""
    sound: str = ""
    """chime: which one (hold_start, hold_end, next, end)."""

    def to_json(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value != ""}


@dataclass(frozen=True)
class Chapter:
    """A stretch of the session a listener can jump to: the intro, each exercise, the end."""

    start_ms: int
    end_ms: int
    title: str


@dataclass(frozen=True)
class Timeline:
    """The whole session, planned before any audio is rendered."""

    title: str
    duration_ms: int
    events: tuple[Event, ...]
    chapters: tuple[Chapter, ...]
    notes: tuple[str, ...] = ()
    """Where the plan grew or dropped a cue to keep speech from overlapping."""

    def speech(self) -> list[Event]:
        return [e for e in self.events if e.kind == "speech"]

    def to_json(self) -> list[dict]:
        return [event.to_json() for event in self.events]


def format_time(ms: int) -> str:
    """Clock time for scripts: 83456 -> '1:23.456'."""
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes}:{rest // 1000:02d}.{rest % 1000:03d}"


def script(timeline: Timeline) -> str:
    """The plan as a readable, timestamped script of what the listener hears."""
    lines = [f"{timeline.title} ({format_time(timeline.duration_ms)})", ""]
    for event in timeline.events:
        at = format_time(event.start_ms)
        if event.kind == "speech":
            lines.append(f"{at}  speak   {event.text}")
        elif event.kind == "chime":
            lines.append(f"{at}  chime   {event.sound.replace('_', ' ')}")
        else:
            length = format_duration(event.end_ms - event.start_ms)
            lines.append(f"{at}  {event.kind:<7} {length}: {event.text}")
    lines.append(f"{format_time(timeline.duration_ms)}  end")
    for note in timeline.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def plan_json(timeline: Timeline) -> str:
    return json.dumps(timeline.to_json(), indent=1, ensure_ascii=False)
