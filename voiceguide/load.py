"""Stage 1, load: routine YAML -> validated, frozen `Routine`; every problem has file:line:col.

The YAML is parsed to nodes only (never constructed into Python objects), so no tag can
run code, and scalars are typed by YAML 1.2 rules: `no` stays the text "no" and `1:30`
is not 90. Duplicate keys, unknown keys and wrong types are all reported, not just the first.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .errors import Problem, RoutineError
from .model import COUNTDOWNS, VERBOSITIES, Cue, Exercise, Move, Narration, Routine, Voice

# Limits, documented in docs/routine-format.md.
MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_EXERCISES = 100
MAX_LINE_CHARS = 400
MAX_SPOKEN_CHARS = 40_000
MAX_HOLD_MS = 30 * 60_000
MAX_REST_MS = 30 * 60_000
MAX_REPS = 100
MAX_LINES = 50

DEFAULT_HOLD_MS = 30_000
DEFAULT_REPS = 1
DEFAULT_REST_MS = 10_000
DEFAULT_SWITCH_MS = 5_000
DEFAULT_MOVE_MS = 3_000
BOTH_SIDES = ("right", "left")

TOP_KEYS = ("title", "summary", "source", "intro", "outro", "defaults", "exercises")
TIMING_KEYS = ("hold", "reps", "rest", "switch")
SETTING_KEYS = ("verbosity", "countdown", "halfway", "hold_scale", "engine", "voice", "rate")
EXERCISE_KEYS = ("name", "steps", "sides", "cues", "flow") + TIMING_KEYS
CUE_KEYS = ("at", "say")
MOVE_KEYS = ("say", "hold")

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
KNOWN_TAGS = {STR, INT, FLOAT, BOOL, NULL, "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
_ID_CHARS = re.compile(r"[^a-z0-9]+")


class _Core12Resolver(BaseResolver):
    """Plain-scalar typing by the YAML 1.2 core schema (no yes/no/on/off, no sexagesimal)."""


_Core12Resolver.add_implicit_resolver(
    BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Core12Resolver.add_implicit_resolver(
    INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_Core12Resolver.add_implicit_resolver(
    FLOAT,
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)
_Core12Resolver.add_implicit_resolver(NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _NodeLoader(Reader, Scanner, Parser, Composer, _Core12Resolver):
    """Builds the node graph only: there is no constructor, so nothing is ever instantiated."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Core12Resolver.__init__(self)


def routine_id(path: Path) -> str:
    """The output name for a routine file: its stem, lower-cased, only letters, digits and '-'."""
    return _ID_CHARS.sub("-", path.stem.lower()).strip("-")


def format_duration(ms: int) -> str:
    """30000 -> '30 s', 90000 -> '1m30s'; used in messages."""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:g} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{int(minutes)}m{seconds:g}s" if seconds else f"{int(minutes)}m"


def load(path: Path | str, display_path: str | None = None) -> Routine:
    """Read and validate one routine file; raise RoutineError listing every problem found."""
    path = Path(path)
    reader = _RoutineReader(display_path or str(path))
    routine = reader.read(path)
    if reader.problems:
        raise RoutineError(sorted(reader.problems, key=lambda p: (p.line, p.column)))
    assert routine is not None
    return routine


def load_all(paths: list[Path]) -> list[Routine]:
    """Load many routines, collecting the problems of all of them before raising."""
    routines, problems = [], []
    for path in paths:
        try:
            routines.append(load(path))
        except RoutineError as error:
            problems.extend(error.problems)
    if problems:
        raise RoutineError(problems)
    return routines


@dataclass
class _Field:
    key: Node
    value: Node


class _RoutineReader:
    """Walks the node graph, converting and checking; problems are collected, not raised."""

    def __init__(self, display_path: str):
        self.path = display_path
        self.problems: list[Problem] = []
        self.nodes_left = MAX_NODES
        self.spoken_chars = 0

    # -- reporting ---------------------------------------------------------------------

    def fail(self, node: Node | None, message: str) -> None:
        if node is None:
            self.problems.append(Problem(self.path, 0, 0, message))
        else:
            mark = node.start_mark
            self.problems.append(Problem(self.path, mark.line + 1, mark.column + 1, message))

    def fail_at(self, line: int, column: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, column, message))

    # -- file level --------------------------------------------------------------------

    def read(self, path: Path) -> Routine | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.fail(None, "routine file not found")
            return None
        except OSError as error:
            self.fail(None, f"cannot read the routine: {error.strerror}")
            return None
        text = self.decode(data)
        if text is None:
            return None
        root = self.compose(text)
        if root is None:
            return None
        return self.routine(root, path)

    def decode(self, data: bytes) -> str | None:
        if len(data) > MAX_FILE_BYTES:
            self.fail(None, f"expected a routine of at most {MAX_FILE_BYTES // 1024} KB, found {len(data) // 1024} KB")
            return None
        if b"\x00" in data:
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            self.fail_at(line, 0, "expected a text file, found binary data (a NUL byte)")
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
            self.fail_at(line, column, f"expected UTF-8 text, found the byte 0x{data[error.start]:02x}")
            return None
        if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
            self.fail_at(1, 0, "expected a routine (a mapping with title and exercises), found an empty file")
            return None
        return text

    def compose(self, text: str) -> Node | None:
        try:
            loader = _NodeLoader(text)
            try:
                root = loader.get_single_node()
            finally:
                loader.dispose()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line_text = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
            if "\t" in line_text[: len(line_text) - len(line_text.lstrip())] or "'\\t'" in str(error.problem):
                message = "expected spaces for indentation, found a tab"
            else:
                message = f"expected valid YAML, found a syntax error: {error.problem}"
            self.fail_at(mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, message)
            return None
        except yaml.YAMLError as error:
            self.fail(None, f"expected valid YAML, found: {error}")
            return None
        except RecursionError:
            self.fail(None, "expected a routine, found YAML nested too deeply")
            return None
        if root is None:
            self.fail_at(1, 0, "expected a routine (a mapping with title and exercises), found an empty file")
            return None
        return root

    # -- sections ----------------------------------------------------------------------

    def routine(self, root: Node, path: Path) -> Routine | None:
        top = self.mapping(root, "the routine", TOP_KEYS, what="a mapping with title and exercises")
        if top is None:
            return None
        rid = routine_id(path)
        if not rid:
            self.fail(None, "expected a file name with letters or digits, to name the output")
        title = self.text(top["title"].value, "title") if "title" in top else None
        if "title" not in top:
            self.fail(root, "title: expected the routine's title, found nothing")
        summary = self.text(top["summary"].value, "summary", spoken=False) if "summary" in top else ""
        source = self.text(top["source"].value, "source", spoken=False) if "source" in top else ""
        intro = self.lines(top["intro"].value, "intro") if "intro" in top else ()
        outro = self.lines(top["outro"].value, "outro") if "outro" in top else ()

        defaults = {}
        if "defaults" in top:
            defaults = self.mapping(top["defaults"].value, "defaults", TIMING_KEYS + SETTING_KEYS, what="a mapping of default settings") or {}
        timing = self.timing(defaults, "defaults", base=None)
        narration, voice = self.settings(defaults)

        exercises: list[Exercise] = []
        if "exercises" not in top:
            self.fail(root, "exercises: expected a list of exercises, found nothing")
        else:
            node = top["exercises"].value
            items = self.sequence(node, "exercises", "a list of exercises")
            if items is not None and not items:
                self.fail(node, "exercises: expected at least one exercise, found an empty list")
            if items is not None and len(items) > MAX_EXERCISES:
                self.fail(node, f"exercises: expected at most {MAX_EXERCISES} exercises, found {len(items)}")
                items = items[:MAX_EXERCISES]
            for index, item in enumerate(items or []):
                exercise = self.exercise(item, f"exercises[{index}]", timing)
                if exercise is not None:
                    exercises.append(exercise)

        if self.spoken_chars > MAX_SPOKEN_CHARS:
            self.fail(root, f"expected at most {MAX_SPOKEN_CHARS} characters of spoken text, found {self.spoken_chars}")
        if self.problems:
            return None
        return Routine(
            id=rid, path=path, title=title or "", summary=summary or "", source=source or "",
            intro=intro or (), outro=outro or (), exercises=tuple(exercises),
            narration=narration, voice=voice,
        )

    def timing(self, fields: dict[str, _Field], where: str, base: dict | None) -> dict:
        base = base or {
            "hold": DEFAULT_HOLD_MS, "reps": DEFAULT_REPS, "rest": DEFAULT_REST_MS, "switch": DEFAULT_SWITCH_MS,
        }
        timing = dict(base)
        if "hold" in fields:
            timing["hold"] = self.duration(fields["hold"].value, f"{where}.hold", 1000, MAX_HOLD_MS)
        if "reps" in fields:
            timing["reps"] = self.integer(fields["reps"].value, f"{where}.reps", 1, MAX_REPS)
        if "rest" in fields:
            timing["rest"] = self.duration(fields["rest"].value, f"{where}.rest", 0, MAX_REST_MS)
        if "switch" in fields:
            timing["switch"] = self.duration(fields["switch"].value, f"{where}.switch", 0, MAX_REST_MS)
        return {key: (value if value is not None else base[key]) for key, value in timing.items()}

    def settings(self, fields: dict[str, _Field]) -> tuple[Narration, Voice]:
        narration, voice = Narration(), Voice()
        values: dict = {}
        if "verbosity" in fields:
            values["verbosity"] = self.choice(fields["verbosity"].value, "defaults.verbosity", VERBOSITIES)
        if "countdown" in fields:
            values["countdown"] = self.choice(fields["countdown"].value, "defaults.countdown", COUNTDOWNS)
        if "halfway" in fields:
            values["halfway"] = self.boolean(fields["halfway"].value, "defaults.halfway")
        if "hold_scale" in fields:
            values["hold_scale"] = self.number(fields["hold_scale"].value, "defaults.hold_scale", 0.25, 4.0)
        voice_values: dict = {}
        if "engine" in fields:
            voice_values["engine"] = self.text(fields["engine"].value, "defaults.engine", spoken=False)
        if "voice" in fields:
            voice_values["voice"] = self.text(fields["voice"].value, "defaults.voice", spoken=False)
        if "rate" in fields:
            voice_values["rate"] = self.integer(fields["rate"].value, "defaults.rate", 80, 400)
        narration = Narration(**{k: v for k, v in values.items() if v is not None})
        voice = Voice(**{k: v for k, v in voice_values.items() if v is not None})
        return narration, voice

    def exercise(self, node: Node, where: str, defaults: dict) -> Exercise | None:
        fields = self.mapping(node, where, EXERCISE_KEYS, what="an exercise (a mapping with a name)")
        if fields is None:
            return None
        name = None
        if "name" not in fields:
            self.fail(node, f"{where}.name: expected the exercise's name, found nothing")
        else:
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
        if "flow" in fields:
            flow = self.flow(fields["flow"].value, f"{where}.flow")
            if "hold" in fields:
                self.fail(fields["hold"].key, f"{where}.hold: expected no hold on a flow (each move has its own), found one")
            if "cues" in fields:
                self.fail(fields["cues"].key, f"{where}.cues: expected no cues on a flow (its moves are its cues), found some")
        if name is None:
            return None
        return Exercise(
            name=name, steps=steps or (), hold_ms=timing["hold"], reps=timing["reps"], rest_ms=timing["rest"],
            sides=sides, switch_ms=timing["switch"], cues=cues, flow=flow, line=node.start_mark.line + 1,
        )

    def sides(self, node: Node, where: str) -> tuple[str, ...] | None:
        if isinstance(node, ScalarNode) and node.tag == STR and node.value == "both":
            return BOTH_SIDES
        if isinstance(node, SequenceNode):
            names = [self.text(item, f"{where}[{i}]") for i, item in enumerate(self.sequence(node, where, "") or [])]
            if len(names) == 2 and all(names):
                return tuple(n.lower() for n in names)  # type: ignore[union-attr]
        self.fail(node, f'{where}: expected "both" or a list of two side names, found {self.describe(node)}')
        return None

    def cues(self, node: Node, where: str, hold_ms: int) -> tuple[Cue, ...]:
        cues = []
        for index, item in enumerate(self.sequence(node, where, "a list of cues (at, say)") or []):
            here = f"{where}[{index}]"
            fields = self.mapping(item, here, CUE_KEYS, what="a cue (a mapping with at and say)")
            if fields is None:
                continue
            missing = [k for k in CUE_KEYS if k not in fields]
            if missing:
                self.fail(item, f"{here}.{missing[0]}: expected a value, found nothing")
                continue
            at = self.duration(fields["at"].value, f"{here}.at", 1, MAX_HOLD_MS)
            text = self.text(fields["say"].value, f"{here}.say")
            if at is not None and at >= hold_ms:
                self.fail(fields["at"].value, f"{here}.at: expected a time within the {format_duration(hold_ms)} hold, found {format_duration(at)}")
            elif at is not None and text:
                cues.append(Cue(at_ms=at, text=text))
        return tuple(sorted(cues, key=lambda cue: cue.at_ms))

    def flow(self, node: Node, where: str) -> tuple[Move, ...]:
        items = self.sequence(node, where, "a list of moves")
        if items is not None and len(items) < 1:
            self.fail(node, f"{where}: expected at least one move, found an empty list")
        moves = []
        for index, item in enumerate(items or []):
            here = f"{where}[{index}]"
            if isinstance(item, ScalarNode):
                text = self.text(item, here)
                if text:
                    moves.append(Move(text=text, hold_ms=DEFAULT_MOVE_MS))
                continue
            fields = self.mapping(item, here, MOVE_KEYS, what='a move: a line, or a mapping with say and hold')
            if fields is None:
                continue
            if "say" not in fields:
                self.fail(item, f"{here}.say: expected what to say, found nothing")
                continue
            text = self.text(fields["say"].value, f"{here}.say")
            hold = DEFAULT_MOVE_MS
            if "hold" in fields:
                hold = self.duration(fields["hold"].value, f"{here}.hold", 0, MAX_HOLD_MS)
            if text and hold is not None:
                moves.append(Move(text=text, hold_ms=hold))
        return tuple(moves)

    # -- node shapes -------------------------------------------------------------------

    def visit(self, node: Node) -> bool:
        """Count nodes walked, so alias chains ("billion laughs") cannot blow up the walk."""
        self.nodes_left -= 1
        if self.nodes_left == 0:
            self.fail(node, f"expected at most {MAX_NODES} YAML values, found more (an alias bomb?)")
        if node.tag not in KNOWN_TAGS:
            self.fail(node, f"expected plain YAML values, found the tag {node.tag!r}")
            return False
        return self.nodes_left > 0

    def mapping(self, node: Node, where: str, allowed: tuple[str, ...], what: str) -> dict[str, _Field] | None:
        if not self.visit(node):
            return None
        if not isinstance(node, MappingNode):
            self.fail(node, f"{where}: expected {what}, found {self.describe(node)}")
            return None
        fields: dict[str, _Field] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode) or key.tag != STR:
                label = "a merge key (<<)" if key.tag == "tag:yaml.org,2002:merge" or key.value == "<<" else self.describe(key)
                self.fail(key, f"{where}: expected a key ({', '.join(allowed)}), found {label}")
                continue
            name = key.value
            if name in fields:
                first = fields[name].key.start_mark.line + 1
                self.fail(key, f"{where}.{name}: expected each key once, found it again (first on line {first})")
                continue
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail(key, f"{where}: expected one of {', '.join(allowed)}, found unknown key {name!r}{hint}")
                continue
            fields[name] = _Field(key, value)
        return fields

    def sequence(self, node: Node, where: str, what: str) -> list[Node] | None:
        if not self.visit(node):
            return None
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{where}: expected {what}, found {self.describe(node)}")
            return None
        return list(node.value)

    def text(self, node: Node, where: str, spoken: bool = True) -> str | None:
        if not self.visit(node):
            return None
        if not isinstance(node, ScalarNode) or node.tag != STR or not node.value.strip():
            self.fail(node, f"{where}: expected text, found {self.describe(node)}")
            return None
        value = " ".join(node.value.split())
        if spoken:
            if len(value) > MAX_LINE_CHARS:
                self.fail(node, f"{where}: expected a line of at most {MAX_LINE_CHARS} characters, found {len(value)}")
                return None
            self.spoken_chars += len(value)
        return value

    def lines(self, node: Node, where: str) -> tuple[str, ...]:
        """A line of text, or a list of lines."""
        if isinstance(node, ScalarNode) and node.tag == STR:
            line = self.text(node, where)
            return (line,) if line else ()
        items = self.sequence(node, where, "a line of text or a list of lines")
        if items is not None and len(items) > MAX_LINES:
            self.fail(node, f"{where}: expected at most {MAX_LINES} lines, found {len(items)}")
            return ()
        lines = [self.text(item, f"{where}[{i}]") for i, item in enumerate(items or [])]
        return tuple(line for line in lines if line)

    def duration(self, node: Node, where: str, minimum: int, maximum: int) -> int | None:
        if not self.visit(node):
            return None
        expected = 'expected a duration like 30 or "1m30s"'
        ms = None
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            seconds = float(node.value)
            if seconds == seconds and abs(seconds) != float("inf"):  # not NaN or infinite
                ms = round(seconds * 1000)
        elif isinstance(node, ScalarNode) and node.tag == STR:
            match = _DURATION.match(node.value.strip().replace(" ", ""))
            if match and any(match.groups()):
                h, m, s = (float(g) if g else 0.0 for g in match.groups())
                ms = round((h * 3600 + m * 60 + s) * 1000)
            elif re.fullmatch(r"\d+(?:\.\d+)?", node.value.strip()):
                ms = round(float(node.value) * 1000)
            elif re.fullmatch(r"\d+:\d\d", node.value.strip()):
                minutes, seconds_part = node.value.strip().split(":")
                self.fail(node, f'{where}: {expected}, found "{node.value}" (write "{int(minutes)}m{int(seconds_part)}s")')
                return None
        if ms is None:
            self.fail(node, f"{where}: {expected}, found {self.describe(node)}")
            return None
        if ms < minimum:
            floor = "more than 0 s" if minimum <= 1 else f"at least {format_duration(minimum)}"
            self.fail(node, f"{where}: expected {floor}, found {self.describe(node)}")
            return None
        if ms > maximum:
            self.fail(node, f"{where}: expected at most {format_duration(maximum)}, found {self.describe(node)}")
            return None
        return ms

    def integer(self, node: Node, where: str, minimum: int, maximum: int) -> int | None:
        if not self.visit(node):
            return None
        if not isinstance(node, ScalarNode) or node.tag != INT:
            self.fail(node, f"{where}: expected a whole number from {minimum} to {maximum}, found {self.describe(node)}")
            return None
        value = int(node.value)
        if not minimum <= value <= maximum:
            self.fail(node, f"{where}: expected a whole number from {minimum} to {maximum}, found {value}")
            return None
        return value

    def number(self, node: Node, where: str, minimum: float, maximum: float) -> float | None:
        if not self.visit(node):
            return None
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            value = float(node.value)
            if minimum <= value <= maximum:
                return value
        self.fail(node, f"{where}: expected a number from {minimum:g} to {maximum:g}, found {self.describe(node)}")
        return None

    def boolean(self, node: Node, where: str) -> bool | None:
        if not self.visit(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return node.value.lower() == "true"
        self.fail(node, f"{where}: expected true or false, found {self.describe(node)}")
        return None

    def choice(self, node: Node, where: str, choices: tuple) -> object | None:
        if not self.visit(node):
            return None
        if isinstance(node, ScalarNode):
            for choice in choices:
                if node.value == str(choice) and (node.tag == STR) == isinstance(choice, str):
                    return choice
        options = ", ".join(str(c) for c in choices)
        self.fail(node, f"{where}: expected one of {options}, found {self.describe(node)}")
        return None

    @staticmethod
    def describe(node: Node) -> str:
        """How a found value is named in messages."""
        if isinstance(node, MappingNode):
            return "a mapping"
        if isinstance(node, SequenceNode):
            return "a list"
        if node.tag == NULL:
            return "nothing"
        if node.tag == BOOL:
            return f"the boolean {node.value}"
        if node.tag in (INT, FLOAT):
            return f"the number {node.value}"
        if node.tag == STR:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            return f'"{shown}"' if shown.strip() else "empty text"
        return f"a value tagged {node.tag}"
