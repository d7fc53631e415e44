"""Stage 1, load: the routine format as a JSON Schema, for editors (`voiceguide schema`).

Made from the loader's own tables (schema.py): the keys of each mapping, and for the keys of
`defaults:` the reader, range or choices each one has. An editor checks and completes with
it while a routine is typed; the loader stays the authority, and says more (a cue's time
within its hold, lines that can be said, a session's length, a voice of its engine).
"""

from __future__ import annotations

import json
from typing import Any

from . import phrases
from .fields import MAX_LINES, FieldReader
from .model import RESPELLING
from .schema import (
    BREATH_RANGE_MS, CUE_KEYS, DEFAULTS_KEYS, EXERCISE_KEYS, MAX_EXERCISES, MAX_HOLD_MS, MOVE_KEYS, SETTINGS, TIMINGS, TOP_KEYS, Key,
)

DOCS = "voiceguide docs format"

_TEXT = {"type": "string", "pattern": r"\S"}
_LINES = {"anyOf": [_TEXT, {"type": "array", "items": _TEXT, "maxItems": MAX_LINES}]}
_DURATION_TEXT = r"^ *(\d+(\.\d+)? *|(?=\d)(\d+(\.\d+)? *h)? *(\d+(\.\d+)? *m)? *(\d+(\.\d+)? *s)? *)$"
""""30", "45s", "2m", "1m30s", "1h": what fields.seconds reads as text (never below 0)."""


def _duration(lowest_ms: int, highest_ms: int) -> dict:
    """Seconds as a number, or text with units; only the number's range can be shown."""
    number: dict[str, Any] = {"type": "number", "maximum": highest_ms / 1000}
    if lowest_ms == 1:  # "more than 0 s"
        number["exclusiveMinimum"] = 0
    else:
        number["minimum"] = lowest_ms / 1000
    return {"anyOf": [number, {"type": "string", "pattern": _DURATION_TEXT}]}


def _value(key: Key) -> dict:
    """The JSON Schema of one key of a Key table, from the reader it names."""
    if key.read is FieldReader.duration:
        return _duration(*key.args)
    if key.read is FieldReader.integer:
        return {"type": "integer", "minimum": key.args[0], "maximum": key.args[1]}
    if key.read is FieldReader.number:
        return {"type": "number", "minimum": key.args[0], "maximum": key.args[1]}
    if key.read is FieldReader.boolean:
        return {"type": "boolean"}
    if key.read is FieldReader.choice:
        return {"enum": list(key.args[0])}
    if key.read in (FieldReader.text, FieldReader.unspoken_text):
        return dict(_TEXT)
    raise ValueError(f"no JSON Schema for the reader of {key.name!r}: {key.read.__qualname__}")


_DESCRIBED = {
    "title": "Said first; also the MP3's title.",
    "summary": "The MP3's comment and the page's summary; not spoken.",
    "source": "Where the exercises come from; not spoken.",
    "safety": "The safety advice said first: full, brief, or the routine's own line or lines.",
    "language": "The language of the fixed lines and of the eSpeak NG voice: en (the default), de, fr...",
    "breath": "Paces a flow by breath: one length for in and out, or [in, out].",
    "intro": "Said after the opening (a line or a list of lines).",
    "outro": "Said at the very end (a line or a list of lines).",
    "pronounce": "How the speech engines say words: a word and its respelling, go-moo-KAHS-uh-nuh.",
    "defaults": "Timings for every exercise that does not set its own, and how the session is narrated.",
    "exercises": "The exercises, in order.",
    "name": "The exercise's name: spoken, and its chapter's title.",
    "steps": "How to get into position: a line or a list of lines.",
    "sides": '"both" (right, then left) or a list of two side names.',
    "cues": "Lines said at given times within each hold.",
    "flow": "Moves said one after another, each held for a while; reps repeat the whole flow.",
    "hold": "Seconds, or text with units: 30, \"45s\", \"1m30s\".",
    "reps": "How many times the hold (or the whole flow) is done.",
    "rest": "After each rep, and before the next exercise.",
    "switch": "The pause between the two sides.",
    "setup": "Quiet before the first hold, and after rests: time to get into position.",
    "music": "Music under the voice: none, ambient (a calm pad made by voiceguide) or an audio file beside the routine.",
    "music_level": "The music's level in the holds, in dB relative to the voice (-20 by default).",
    "music_credit": "Who made the music: shown in the MP3's comment, the page and the feed.",
    "at": "Seconds into the hold.",
    "say": "What to say.",
    "short": "What to say in the rounds after the first, once the move is known.",
}


def _described(name: str, schema: dict) -> dict:
    return {**schema, "description": _DESCRIBED[name]} if name in _DESCRIBED else schema


def _mapping(keys: tuple[str, ...], values: dict[str, dict], required: tuple[str, ...] = ()) -> dict:
    """A mapping of exactly `keys`; a key without a schema in `values` is a mistake here."""
    missing = [key for key in keys if key not in values]
    if missing:
        raise ValueError(f"no JSON Schema for the keys {', '.join(missing)}")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {key: _described(key, values[key]) for key in keys},
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def routine_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a routine file."""
    timing = {key.name: _value(key) for key in TIMINGS}
    settings = {key.name: _value(key) for key in SETTINGS}
    move = _mapping(MOVE_KEYS, {"say": _TEXT, "hold": _duration(0, MAX_HOLD_MS), "short": _TEXT}, required=("say",))
    breath = _duration(*BREATH_RANGE_MS)
    cue = _mapping(CUE_KEYS, {"at": _duration(1, MAX_HOLD_MS), "say": _TEXT}, required=("at", "say"))
    exercise = _mapping(EXERCISE_KEYS, {
        "name": _TEXT, "steps": _LINES,
        "sides": {"anyOf": [{"const": "both"}, {"type": "array", "items": _TEXT, "minItems": 2, "maxItems": 2}]},
        "cues": {"type": "array", "items": cue},
        "flow": {"type": "array", "items": {"anyOf": [_TEXT, move]}, "minItems": 1},
        "breath": {"anyOf": [breath, {"type": "array", "items": breath, "minItems": 2, "maxItems": 2}]},
        **timing,
    }, required=("name",))
    # A flow's moves have their own holds, and are its cues.
    exercise["if"] = {"required": ["flow"]}
    exercise["then"] = {"not": {"anyOf": [{"required": ["hold"]}, {"required": ["cues"]}]}}
    top = _mapping(TOP_KEYS, {
        "title": _TEXT, "summary": _TEXT, "source": _TEXT, "safety": _LINES, "intro": _LINES, "outro": _LINES,
        "language": {"type": "string", "pattern": "^[a-z]{2,3}$", "examples": phrases.languages()},
        "pronounce": {"type": "object", "additionalProperties": {"type": "string", "pattern": f"^{RESPELLING}$"}},
        "defaults": _mapping(DEFAULTS_KEYS, {**timing, **settings, "music_credit": _TEXT}),
        "exercises": {"type": "array", "items": exercise, "minItems": 1, "maxItems": MAX_EXERCISES},
    }, required=("title", "exercises"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "voiceguide routine",
        "description": f"A voiceguide routine: exercises to narrate. The whole format: `{DOCS}`.",
        **top,
    }


def schema_json() -> str:
    """The schema as the file `voiceguide schema` prints, ending in a newline."""
    return json.dumps(routine_schema(), indent=2, ensure_ascii=False) + "\n"
