"""Stage 1, load: the routine's keys (which each mapping has, what each holds) read into the model.

Unknown keys are errors. The keys of `defaults:` are tables: each names the reader of its
value, that reader's range or choices, and the model field it sets; a key left out keeps
the model's default.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import phrases
from .fields import Field, FieldReader
from .files import read_regular_file
from .model import (
    CHIME_STYLES, COUNTDOWNS, ENGINES, HOLD_SCALE_RANGE, MUSIC_CHOICES, MUSIC_LEVEL_RANGE, PRONOUNCED_WORD, RATE_RANGE,
    RESPELLING, VERBOSITIES,
    Cue, Exercise, Move, Narration, Routine, Voice, format_duration,
)
from ..text import shown
from .yaml_nodes import STR, Problems, describe, place

# Limits, documented in docs/routine-format.md.
MAX_EXERCISES = 100
MAX_HOLD_MS = 30 * 60_000
MAX_REST_MS = 30 * 60_000
MAX_REPS = 100
BREATH_RANGE_MS = (1000, 20_000)
"""The shortest and longest breath in or out of `breath:`."""

BOTH_SIDES = ("right", "left")

VoiceProblem = Callable[[str, str], "str | None"]
"""(engine, voice) -> why `voice` is not a voice of `engine` ('expected ..., found ...'), or
None if it is one. Knowing the voices is the speech stage's business, so it is handed in."""


@dataclass(frozen=True)
class Key:
    """One key of `defaults:`: how its value is read, and which field of the model it sets."""

    name: str
    read: Callable[..., Any]
    """The FieldReader method that reads the value: read(reader, node, where, *args)."""
    args: tuple
    """The method's other arguments: a range (lowest, highest), or the choices."""
    into: type
    """The model class of the field it sets."""
    field: str = ""
    """That field's name, if it is not the key's."""

    @property
    def target(self) -> str:
        return self.field or self.name


TIMINGS = (
    Key("hold", FieldReader.duration, (1000, MAX_HOLD_MS), Exercise, "hold_ms"),
    Key("reps", FieldReader.integer, (1, MAX_REPS), Exercise),
    Key("rest", FieldReader.duration, (0, MAX_REST_MS), Exercise, "rest_ms"),
    Key("switch", FieldReader.duration, (0, MAX_REST_MS), Exercise, "switch_ms"),
    Key("setup", FieldReader.duration, (0, MAX_REST_MS), Exercise, "setup_ms"),
)
"""How each exercise is timed; under `defaults:` for every exercise, or on one of them."""

SETTINGS = (
    Key("verbosity", FieldReader.choice, (VERBOSITIES,), Narration),
    Key("countdown", FieldReader.choice, (COUNTDOWNS,), Narration),
    Key("halfway", FieldReader.boolean, (), Narration),
    Key("hold_scale", FieldReader.number, HOLD_SCALE_RANGE, Narration),
    Key("chimes", FieldReader.choice, (CHIME_STYLES,), Narration),
    Key("music", FieldReader.unspoken_text, (), Narration),  # and then, a file, checked to be one
    Key("music_level", FieldReader.number, MUSIC_LEVEL_RANGE, Narration),
    Key("engine", FieldReader.choice, (ENGINES,), Voice),
    Key("voice", FieldReader.unspoken_text, (), Voice),  # and then checked against the engine's voices
    Key("rate", FieldReader.integer, RATE_RANGE, Voice),
)
"""How the session is narrated and spoken; only under `defaults:`, overridden on the command line."""

TIMING_KEYS = tuple(key.name for key in TIMINGS)
SETTING_KEYS = tuple(key.name for key in SETTINGS)
TOP_KEYS = ("title", "summary", "source", "language", "safety", "intro", "outro", "pronounce", "defaults", "exercises")
DEFAULTS_KEYS = TIMING_KEYS + SETTING_KEYS + ("music_credit",)
EXERCISE_KEYS = ("name", "steps", "sides", "cues", "flow", "breath") + TIMING_KEYS
CUE_KEYS = ("at", "say")
MOVE_KEYS = ("say", "hold", "short")

_EXERCISE_DEFAULTS = {field.name: field.default for field in dataclasses.fields(Exercise)}


class RoutineReader(FieldReader):
    """Reads a routine's node graph section by section into the model."""

    def __init__(self, problems: Problems, voice_problem: VoiceProblem | None = None):
        super().__init__(problems)
        self.voice_problem = voice_problem

    def routine(self, root: Node, path: Path, rid: str) -> Routine | None:
        """The routine, or None if anything in it is wrong."""
        top = self.mapping(root, "the routine", TOP_KEYS, what="a mapping with title and exercises")
        if top is None:
            return None
        if not rid:
            self.fail(None, "expected a file name with letters or digits, to name the output")
        title = None
        if self.require(root, top, "title", "title", "the routine's title"):
            title = self.text(top["title"].value, "title")
        summary = self.unspoken_text(top["summary"].value, "summary") if "summary" in top else ""
        source = self.unspoken_text(top["source"].value, "source") if "source" in top else ""
        safety_form, safety = self.safety(top["safety"].value) if "safety" in top else ("", ())
        language = self.language(top["language"].value) if "language" in top else phrases.DEFAULT
        intro = self.lines(top["intro"].value, "intro") if "intro" in top else ()
        outro = self.lines(top["outro"].value, "outro") if "outro" in top else ()
        pronounce = self.pronounce(top["pronounce"].value) if "pronounce" in top else ()

        defaults = {}
        if "defaults" in top:
            defaults = self.mapping(top["defaults"].value, "defaults", DEFAULTS_KEYS, what="a mapping of default settings") or {}
        timing = self.timing(defaults, "defaults", base=None)
        narration, voice = self.settings(defaults)
        narration = dataclasses.replace(narration, language=language or phrases.DEFAULT)
        narration = self.music_file(defaults, narration, path)
        music_credit = self.unspoken_text(defaults["music_credit"].value, "defaults.music_credit") if "music_credit" in defaults else ""
        music_place = place(defaults["music"].value) if "music" in defaults else (0, 0)
        exercises = self.exercises(top, root, timing)
        self.check_spoken_total()
        if self.problems:
            return None
        return Routine(
            id=rid, path=path, title=title or "", summary=summary or "", source=source or "",
            safety=safety, safety_form=safety_form, intro=intro or (), outro=outro or (), exercises=tuple(exercises),
            narration=narration, voice=voice, music_credit=music_credit or "", music_place=music_place,
            pronounce=pronounce,
        )

    def pronounce(self, node: Node) -> tuple[tuple[str, str], ...]:
        """`pronounce:`, a mapping of words to respellings ({Gomukhasana: go-moo-KAH-sa-na})."""
        if not self.plain(node):
            return ()
        if not isinstance(node, MappingNode):
            self.fail(node, f"pronounce: expected a mapping of words to respellings, found {describe(node)}")
            return ()
        entries: dict[str, str] = {}
        for key, value in node.value:
            word = key.value if isinstance(key, ScalarNode) and key.tag == STR else None
            if word is None or not re.fullmatch(PRONOUNCED_WORD, word):
                found = f'"{shown(word, 60)}"' if word is not None else describe(key)
                self.fail(key, f"pronounce: expected a word (letters, with apostrophes inside) as a key, found {found}")
                continue
            if word.lower() in (known.lower() for known in entries):
                self.fail(key, f'pronounce: expected each word once, found "{word}" again')
                continue
            said = self.unspoken_text(value, f"pronounce.{word}")
            if said is not None and not re.fullmatch(RESPELLING, said):
                self.fail(value, f'pronounce.{word}: expected a respelling, syllables of letters joined by hyphens like "go-moo-KAH-sa-na", found "{shown(said, 60)}"')
            elif said is not None:
                entries[word] = said
        return tuple(entries.items())

    def safety(self, node: Node) -> tuple[str, tuple[str, ...]]:
        """(form, lines): `full` or `brief` (the built-in openings, in the routine's language),
        or the routine's own line or lines (form 'own')."""
        if isinstance(node, ScalarNode) and node.tag == STR and node.value in ("full", "brief"):
            return node.value, ()
        if isinstance(node, SequenceNode) and not node.value:
            self.fail(node, "safety: expected full, brief, or the lines to say, found an empty list")
            return "", ()
        return "own", self.lines(node, "safety")

    def language(self, node: Node) -> str | None:
        """`language:`, a language with a phrase pack ('en', 'de')."""
        code = self.unspoken_text(node, "language")
        if code is None:
            return None
        why = phrases.language_problem(code)
        if why:
            self.fail(node, f"language: {why}")
            return None
        return code

    # -- defaults ----------------------------------------------------------------------

    def timing(self, fields: dict[str, Field], where: str, base: dict | None) -> dict:
        """hold, reps, rest and switch, each from `fields` or else `base`; None where a value is wrong."""
        timing = dict(base or {key.name: _EXERCISE_DEFAULTS[key.target] for key in TIMINGS})
        # Where hold and reps were set, for a message about a session that is too long.
        timing["places"] = {**timing.get("places", {}), **{
            key: (f"{where}.{key}", *place(fields[key].value)) for key in ("hold", "reps") if key in fields
        }}
        for key in TIMINGS:
            if key.name in fields:
                timing[key.name] = key.read(self, fields[key.name].value, f"{where}.{key.name}", *key.args)
        return timing

    def settings(self, fields: dict[str, Field]) -> tuple[Narration, Voice]:
        values: dict[type, dict[str, Any]] = {Narration: {}, Voice: {}}
        for key in SETTINGS:
            if key.name in fields:
                values[key.into][key.target] = key.read(self, fields[key.name].value, f"defaults.{key.name}", *key.args)
        voice = values[Voice]
        if voice.get("voice"):
            voice["voice"] = self.checked_voice(fields["voice"].value, voice["voice"], voice.get("engine", Voice.engine))
        narration = Narration(**{k: v for k, v in values[Narration].items() if v is not None})
        return narration, Voice(**{k: v for k, v in voice.items() if v is not None})

    def music_file(self, fields: dict[str, Field], narration: Narration, path: Path) -> Narration:
        """The narration with `music` a path from here if it names a file (relative to the
        routine's directory), once the file is found to be a readable one."""
        if "music" not in fields or narration.music in MUSIC_CHOICES:
            return narration
        music = path.parent / narration.music
        try:
            read_regular_file(music, 1)
        except FileNotFoundError:
            found = f"no such file {shown(str(music))!r}"
        except OSError as error:  # NotAFile says what it is instead
            found = f"{shown(str(music))!r}, {error.strerror or error}"
        else:
            return dataclasses.replace(narration, music=str(music))
        self.fail(fields["music"].value, f"defaults.music: expected {', '.join(MUSIC_CHOICES)} or an audio file, found {found}")
        return narration

    def checked_voice(self, node: Node, voice: str, engine: str | None) -> str | None:
        """`voice` if it is a voice of the routine's engine (unchecked if the engine itself is wrong)."""
        why = self.voice_problem(engine, voice) if self.voice_problem and engine else None
        if why:
            self.fail(node, f"defaults.voice: {why}")
            return None
        return voice

    # -- exercises ---------------------------------------------------------------------

    def exercises(self, top: dict[str, Field], root: Node, defaults: dict) -> list[Exercise]:
        if not self.require(root, top, "exercises", "exercises", "a list of exercises"):
            return []
        node = top["exercises"].value
        items = self.sequence(node, "exercises", "a list of exercises")
        if items is not None and not items:
            self.fail(node, "exercises: expected at least one exercise, found an empty list")
        if items is not None and len(items) > MAX_EXERCISES:
            self.fail(node, f"exercises: expected at most {MAX_EXERCISES} exercises, found {len(items)}")
            items = items[:MAX_EXERCISES]
        exercises = [self.exercise(item, f"exercises[{index}]", defaults) for index, item in enumerate(items or [])]
        return [exercise for exercise in exercises if exercise is not None]

    def exercise(self, node: Node, where: str, defaults: dict) -> Exercise | None:
        fields = self.mapping(node, where, EXERCISE_KEYS, what="an exercise (a mapping with a name)")
        if fields is None:
            return None
        name = None
        if self.require(node, fields, "name", f"{where}.name", "the exercise's name"):
            name = self.text(fields["name"].value, f"{where}.name")
        steps = self.lines(fields["steps"].value, f"{where}.steps") if "steps" in fields else ()
        timing = self.timing(fields, where, base=defaults)
        sides: tuple[str, ...] = ()
        if "sides" in fields:
            sides = self.sides(fields["sides"].value, f"{where}.sides") or ()
        cues: tuple[Cue, ...] = ()
        if "cues" in fields:
            cues = self.cues(fields["cues"].value, f"{where}.cues", timing["hold"])
        flow: tuple[Move, ...] = ()
        breath: tuple[int, ...] | None = ()
        if "breath" in fields:
            breath = self.breath(fields, where)
        if "flow" in fields:
            flow = self.flow(fields["flow"].value, f"{where}.flow", paced=bool(breath))
            self.refuse_on_flow(fields, where)
        if name is None or None in timing.values() or breath is None:
            return None
        places = dict(timing["places"])
        if "flow" in fields:
            places["flow"] = (f"{where}.flow", *place(fields["flow"].value))
        return Exercise(
            name=name, steps=steps or (), **{key.target: timing[key.name] for key in TIMINGS},
            sides=sides, cues=cues, flow=flow, breath_ms=breath, line=node.start_mark.line + 1,
            places=tuple((key, *where_set) for key, where_set in places.items()),
        )

    def breath(self, fields: dict[str, Field], where: str) -> tuple[int, ...] | None:
        """`breath: 5` (in and out alike) or `breath: [4, 6]` (in, out), on a flow only."""
        node = fields["breath"].value
        if "flow" not in fields:
            self.fail(fields["breath"].key, f"{where}.breath: expected breath only on a flow (it paces the moves), found it on a hold")
            return None
        items = node.value if isinstance(node, SequenceNode) else [node]
        if len(items) not in (1, 2):
            self.fail(node, f"{where}.breath: expected a breath's length, or a list of two (in, out), found a list of {len(items)}")
            return None
        lengths = [self.duration(item, f"{where}.breath", *BREATH_RANGE_MS) for item in items]
        if None in lengths:
            return None
        return tuple(lengths * 2)[:2]  # type: ignore[return-value]

    def refuse_on_flow(self, fields: dict[str, Field], where: str) -> None:
        if "hold" in fields:
            self.fail(fields["hold"].key, f"{where}.hold: expected no hold on a flow (each move has its own), found one")
        if "cues" in fields:
            self.fail(fields["cues"].key, f"{where}.cues: expected no cues on a flow (its moves are its cues), found some")

    def sides(self, node: Node, where: str) -> tuple[str, ...] | None:
        if not self.plain(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == STR and node.value == "both":
            return BOTH_SIDES
        if not isinstance(node, SequenceNode) or len(node.value) != 2:
            self.fail(node, f'{where}: expected "both" or a list of two side names, found {describe(node)}{self.sides_hint(node)}')
            return None
        names = [self.text(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        if None in names:
            return None
        if names[0].lower() == names[1].lower():  # type: ignore[union-attr]
            self.fail(node, f'{where}: expected two different side names, found "{shown(names[0])}" twice')
            return None
        # As written (a German side is "rechtes Knie"); "right" and "left" in any case are the
        # sides `both` names, said in the routine's language.
        return tuple(name.lower() if name.lower() in BOTH_SIDES else name for name in names)  # type: ignore[union-attr]

    @staticmethod
    def sides_hint(node: Node) -> str:
        value = node.value.lower() if isinstance(node, ScalarNode) else ""
        if value in ("no", "off", "false", "none"):
            return " (for an exercise without sides, leave sides out)"
        if value in ("yes", "on", "true", "both"):
            return ' (write "both" for right, then left)'
        return ""

    def cues(self, node: Node, where: str, hold_ms: int | None) -> tuple[Cue, ...]:
        cues = []
        for index, item in enumerate(self.sequence(node, where, "a list of cues (at, say)") or []):
            cue = self.cue(item, f"{where}[{index}]", hold_ms)
            if cue is not None:
                cues.append(cue)
        return tuple(sorted(cues, key=lambda cue: cue.at_ms))

    def cue(self, node: Node, where: str, hold_ms: int | None) -> Cue | None:
        fields = self.mapping(node, where, CUE_KEYS, what="a cue (a mapping with at and say)")
        if fields is None:
            return None
        has_at = self.require(node, fields, "at", f"{where}.at", "a time within the hold")
        has_say = self.require(node, fields, "say", f"{where}.say", "what to say")
        if not (has_at and has_say):
            return None
        at = self.duration(fields["at"].value, f"{where}.at", 1, MAX_HOLD_MS)
        text = self.text(fields["say"].value, f"{where}.say")
        if at is None or text is None or hold_ms is None:
            return None
        if at >= hold_ms:
            self.fail(fields["at"].value, f"{where}.at: expected a time within the {format_duration(hold_ms)} hold, found {format_duration(at)}")
            return None
        return Cue(at_ms=at, text=text)

    def flow(self, node: Node, where: str, paced: bool = False) -> tuple[Move, ...]:
        items = self.sequence(node, where, "a list of moves")
        if items is not None and not items:
            self.fail(node, f"{where}: expected at least one move, found an empty list")
        moves = [self.move(item, f"{where}[{index}]", paced) for index, item in enumerate(items or [])]
        return tuple(move for move in moves if move is not None)

    def move(self, node: Node, where: str, paced: bool = False) -> Move | None:
        if isinstance(node, ScalarNode):
            text = self.text(node, where)
            return Move(text=text) if text else None
        fields = self.mapping(node, where, MOVE_KEYS, what="a move: a line, or a mapping with say and hold")
        if fields is None:
            return None
        if not self.require(node, fields, "say", f"{where}.say", "what to say"):
            return None
        text = self.text(fields["say"].value, f"{where}.say")
        hold = Move.hold_ms
        if "hold" in fields and paced:
            self.fail(fields["hold"].key, f"{where}.hold: expected no hold on a move paced by breath (each move lasts a breath), found one")
            return None
        if "hold" in fields:
            hold = self.duration(fields["hold"].value, f"{where}.hold", 0, MAX_HOLD_MS)
        short = self.text(fields["short"].value, f"{where}.short") if "short" in fields else ""
        if text and hold is not None and short is not None:
            return Move(text=text, hold_ms=hold, short=short)
        return None
