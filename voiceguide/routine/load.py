"""Stage 1, load: routine YAML -> validated, frozen `Routine`; every problem has file:line:col.

The YAML is parsed to nodes only (never constructed into Python objects), so no tag can
run code, and scalars are typed by YAML 1.2 rules: `no` stays the text "no" and `1:30`
is not 90. Duplicate keys, unknown keys and wrong types are all reported, not just the first.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..speech import voices
from ..speech.engines import NAMES as ENGINES
from ..errors import Problem, RoutineError
from ..estimate import too_long
from .model import CHIME_STYLES, COUNTDOWNS, VERBOSITIES, Cue, Exercise, Move, Narration, Routine, Voice, format_duration
from .files import NotAFile, read_regular_file
from ..text import describe_character, sayable, shown, unsafe_character

# Limits, documented in docs/routine-format.md.
MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 50  # a routine nests 6 deep; the YAML composer recurses once per level
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
SETTING_KEYS = ("verbosity", "countdown", "halfway", "hold_scale", "chimes", "engine", "voice", "rate")
EXERCISE_KEYS = ("name", "steps", "sides", "cues", "flow") + TIMING_KEYS
CUE_KEYS = ("at", "say")
MOVE_KEYS = ("say", "hold")

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"

# YAML 1.2 core schema: no yes/no/on/off booleans, no sexagesimal 1:30, no 0x or 1_000.
_SCALAR_PATTERNS = {
    BOOL: re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    INT: re.compile(r"^[-+]?[0-9]+$"),
    FLOAT: re.compile(
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    NULL: re.compile(r"^(?:~|null|Null|NULL|)$"),
}
_FIRST_CHARS = {BOOL: "tTfF", INT: "-+0123456789", FLOAT: "-+0123456789.", NULL: ["~", "n", "N", ""]}

_DURATION = re.compile(r"^(-)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
_CLOCK = re.compile(r"^\d+:\d\d(?::\d\d)?$")
_ID_CHARS = re.compile(r"[^a-z0-9]+")
_OTHER_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),  # before UTF-16: same first bytes
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)
_YAML11_BOOLEANS = {"yes": "true", "y": "true", "on": "true", "no": "false", "n": "false", "off": "false"}


class _Core12Resolver(BaseResolver):
    """Plain-scalar typing by the YAML 1.2 core schema."""


for _tag, _pattern in _SCALAR_PATTERNS.items():
    _Core12Resolver.add_implicit_resolver(_tag, _pattern, list(_FIRST_CHARS[_tag]))


class _TooBig(yaml.YAMLError):
    """The document nests too deep or holds too many values; raised while composing, to stop early."""

    def __init__(self, mark: Mark, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _NodeLoader(Reader, Scanner, Parser, Composer, _Core12Resolver):
    """Builds the node graph only: there is no constructor, so nothing is ever instantiated."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Core12Resolver.__init__(self)
        self.depth = 0
        self.values = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        # Stop here, before Python's recursion limit turns deep nesting into a crash, and
        # before a huge file takes seconds to compose.
        self.depth += 1
        self.values += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(self.peek_event().start_mark, f"expected values nested at most {MAX_DEPTH} deep, found deeper nesting")
            if self.values > MAX_NODES:
                raise _TooBig(self.peek_event().start_mark, f"expected at most {MAX_NODES} YAML values, found more from here on")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def routine_id(path: Path) -> str:
    """The output name for a routine file: its stem, lower-cased, only letters, digits and '-'."""
    return _ID_CHARS.sub("-", path.stem.lower()).strip("-")


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
    owners: dict[str, Routine] = {}
    for routine in routines:
        first = owners.setdefault(routine.id, routine)
        if first is not routine:  # e.g. "Sore Back.yaml" and "sore-back.yaml"
            problems.append(Problem(
                str(routine.path), 0, 0,
                f"expected a file name of its own, found one that writes {routine.id}.mp3 like {first.path}",
            ))
    if problems:
        raise RoutineError(problems)
    return routines


# -- YAML errors and the node graph ------------------------------------------------------

# PyYAML's words for what its parser expected and found, and for where it was.
_TOKEN_WORDS = {
    "<block end>": "the end of the block",
    "'<block mapping start>'": "a new key",
    "'<block sequence start>'": "a new list item",
    "'<scalar>'": "more text",
    "'<stream end>'": "the end of the file",
    "unexpected end of stream": "the end of the file",
}
_CONTEXT_WORDS = {
    "while parsing a block collection": "in the list",
    "while parsing a block mapping": "in the mapping",
    "while parsing a flow sequence": "in the [list]",
    "while parsing a flow mapping": "in the {mapping}",
    "while scanning a quoted scalar": "in the quoted text",
    "while scanning a simple key": "in the key",
}


def _syntax_message(error: yaml.MarkedYAMLError) -> str:
    """PyYAML's complaint, said as 'expected ..., found ...' in a listener's words."""
    # PyYAML quotes what it found (a tag handle, say) whole, however long.
    problem, context = shown(error.problem or "", 240), error.context or ""
    if context.startswith("found duplicate anchor"):
        anchor = shown(context.split("'")[1])
        first = error.context_mark.line + 1
        return f"expected each anchor once, found &{anchor} again (first on line {first})"
    if context == "expected a single document in the stream":
        return "expected one YAML document, found a second one ('---' starts a new document)"
    if problem.startswith("found undefined alias"):
        alias = shown(problem.split("'")[1])
        return f"expected *{alias} to refer to an anchor &{alias} above it, found none"
    if problem == "mapping values are not allowed here":
        return "expected valid YAML, found ': ' where no key can start (check the indentation, or quote the text)"
    character = re.fullmatch(r"found character (.*) that cannot start any token", problem)
    if character:
        return f"expected valid YAML, found the character {character[1]}, which cannot start a value (quote the text)"
    for token, words in _TOKEN_WORDS.items():
        problem = problem.replace(token, words)
    problem = problem.replace(", but found ", ", found ").replace(", but got ", ", found ")
    if problem.startswith("expected "):
        message = problem
    elif problem.startswith("found "):
        message = f"expected valid YAML, {problem}"
    else:
        message = f"expected valid YAML, found a syntax error: {problem}"
    mark, start = error.problem_mark, error.context_mark
    if context in _CONTEXT_WORDS and start is not None and mark is not None and start.line != mark.line:
        message += f" ({_CONTEXT_WORDS[context]} that starts on line {start.line + 1})"
    return message


def _tab_column(line_text: str) -> int | None:
    """1-based column of a tab in a line's indentation, if there is one."""
    indent = line_text[: len(line_text) - len(line_text.lstrip(" \t"))]
    return indent.index("\t") + 1 if "\t" in indent else None


def _line_column(data: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset into a text (or its bytes)."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1
    return line, offset - (data.rfind(newline, 0, offset) + 1) + 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_sizes(root: Node) -> tuple[dict[int, int], Node | None]:
    """How many values each node stands for once aliases are expanded, and a node that contains itself.

    Depth first without recursion, each node once: a "billion laughs" file of nine aliases
    to nine aliases to ... is sized in microseconds, never expanded.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
        elif id(node) in open_nodes:
            return sizes, node
        elif id(node) not in sizes:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    return sizes, None


def _walk_order(root: Node):
    """Every node once, parents before children, in document order."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            stack.extend(reversed(_children(node)))


def _fits_its_tag(node: Node) -> bool:
    """False for `!!int abc`, `!!map [a]` and the like: an explicit standard tag on a wrong value."""
    if node.tag == SEQ:
        return isinstance(node, SequenceNode)
    if node.tag == MAP:
        return isinstance(node, MappingNode)
    if not isinstance(node, ScalarNode):
        return False
    pattern = _SCALAR_PATTERNS.get(node.tag)
    return pattern is None or bool(pattern.match(node.value))


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _number(node: Node) -> float | None:
    """The value of an int or float scalar (YAML 1.2 spells infinity .inf); None for anything else."""
    if not isinstance(node, ScalarNode) or node.tag not in (INT, FLOAT):
        return None
    return float(node.value.lower().replace(".inf", "inf").replace(".nan", "nan"))


def _seconds(node: Node) -> float | None:
    """A duration in seconds: 30, 12.5, "45s", "2m", "1m30s", "1h"; None if it is none of those (or NaN)."""
    seconds = _number(node)
    if seconds is None and isinstance(node, ScalarNode) and node.tag == STR:
        text = node.value.strip().replace(" ", "")
        match = _DURATION.match(text)
        if re.fullmatch(r"-?\d+(?:\.\d+)?", text):  # "30": a number in quotes
            seconds = float(text)
        elif match and any(match.groups()[1:]):
            h, m, s = (float(g) if g else 0.0 for g in match.groups()[1:])
            seconds = (h * 3600 + m * 60 + s) * (-1 if match[1] else 1)
    return None if seconds is None or math.isnan(seconds) else seconds


def _describe(node: Node) -> str:
    """How a found value is named in messages: always one short line."""
    if isinstance(node, MappingNode):
        return "a mapping" if node.value else "an empty mapping"
    if isinstance(node, SequenceNode):
        count = len(node.value)
        return "an empty list" if not count else "a list of 1 item" if count == 1 else f"a list of {count} items"
    value = shown(node.value, 40)
    if node.tag not in _SCALAR_PATTERNS and node.tag != STR:
        return f"the tag {shown(_short_tag(node.tag))!r}"
    if node.tag == NULL:
        return "nothing"
    if node.tag == BOOL:
        return f"the boolean {node.value}"
    if node.tag in (INT, FLOAT):
        return f"the number {value}"
    return json.dumps(value, ensure_ascii=False) if value.strip() else "empty text"


@dataclass
class _Field:
    key: Node
    value: Node


class _RoutineReader:
    """Walks the node graph, converting and checking; problems are collected, not raised."""

    def __init__(self, display_path: str):
        self.path = display_path
        self.problems: list[Problem] = []
        self.spoken_chars = 0
        self.spoken_limit_passed: tuple[Node, str] | None = None
        self.suggested: set[tuple[int, str]] = set()
        """(mapping, key) pairs already named in a "did you mean" hint, so not also reported missing."""

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
            data, size = read_regular_file(path, MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            self.fail(None, "expected a routine file, found no such file")
            return None
        except NotAFile as error:
            self.fail(None, f"expected a routine file, found {error}")
            return None
        except OSError as error:
            self.fail(None, f"expected a readable routine file, found an error: {error.strerror}")
            return None
        text = self.decode(data, size)
        if text is None:
            return None
        root = self.compose(text)
        if root is None or not self.check_size(root):
            return None
        routine = self.routine(root, path)
        # The digest of the bytes validated here, so a build keys exactly what it planned.
        return replace(routine, digest=hashlib.sha256(data).hexdigest()) if routine else None

    def decode(self, data: bytes, size: int) -> str | None:
        if len(data) > MAX_FILE_BYTES:
            line = data.count(b"\n", 0, MAX_FILE_BYTES) + 1
            found = math.ceil(max(size, len(data)) / 1024)
            self.fail_at(line, 0, f"expected a routine of at most {MAX_FILE_BYTES // 1024} KB, found {found} KB (the limit is passed on this line)")
            return None
        for bom, encoding in _OTHER_ENCODINGS:
            if data.startswith(bom):
                self.fail_at(1, 1, f"expected UTF-8 text, found {encoding} (save the file as UTF-8)")
                return None
        if b"\x00" in data:
            line, column = _line_column(data, data.index(b"\x00"))
            self.fail_at(line, column, "expected a text file, found binary data (a NUL byte)")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line, column = _line_column(data, error.start)
            self.fail_at(line, column, f"expected UTF-8 text, found the byte 0x{data[error.start]:02x} (save the file as UTF-8)")
            return None

    def compose(self, text: str) -> Node | None:
        try:
            loader = _NodeLoader(text)
            try:
                root = loader.get_single_node()
            finally:
                loader.dispose()
        except ReaderError as error:
            line, column = _line_column(text, error.position)
            self.fail_at(line, column, f"expected printable text, found the control character U+{error.character:04X}")
            return None
        except _TooBig as error:
            self.fail_at(error.mark.line + 1, error.mark.column + 1, error.message)
            return None
        except yaml.MarkedYAMLError as error:
            self.syntax_error(text, error)
            return None
        if root is None or (root.tag == NULL and not root.value):
            self.fail_at(1, 0, f"expected a routine (a mapping with title and exercises), found {self.nothing(text)}")
            return None
        return root

    def syntax_error(self, text: str, error: yaml.MarkedYAMLError) -> None:
        mark = error.problem_mark or error.context_mark
        line_text = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
        tab = _tab_column(line_text)
        if tab is not None:
            self.fail_at(mark.line + 1, tab, "expected spaces for indentation, found a tab")
        elif "'\\t'" in (error.problem or ""):
            self.fail_at(mark.line + 1, mark.column + 1, "expected a space, found a tab")
        else:
            self.fail_at(mark.line + 1, mark.column + 1, _syntax_message(error))

    @staticmethod
    def nothing(text: str) -> str:
        """What an empty document is made of, for the message."""
        if not text.strip():
            return "an empty file"
        if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
            return "only comments"
        return "an empty YAML document"

    def check_size(self, root: Node) -> bool:
        """Refuse alias bombs and aliases that contain themselves before anything is walked."""
        sizes, loop = _expanded_sizes(root)
        if loop is not None:
            self.fail(loop, "expected values that end, found an alias inside its own anchor (it would repeat forever)")
            return False
        if sizes[id(root)] <= MAX_NODES:
            return True
        # Point at the first value (in walking order) that alone passes the limit.
        first = next(node for node in _walk_order(root) if sizes[id(node)] > MAX_NODES and all(
            sizes[id(child)] <= MAX_NODES for child in _children(node)))
        # (Without aliases the composer has already stopped at the limit.)
        self.fail(first, f"expected at most {MAX_NODES} YAML values (aliases counted each time), found {sizes[id(first)]} in this value alone (an alias bomb?)")
        return False

    # -- sections ----------------------------------------------------------------------

    def routine(self, root: Node, path: Path) -> Routine | None:
        top = self.mapping(root, "the routine", TOP_KEYS, what="a mapping with title and exercises")
        if top is None:
            return None
        rid = routine_id(path)
        if not rid:
            self.fail(None, "expected a file name with letters or digits, to name the output")
        title = None
        if self.require(root, top, "title", "title", "the routine's title"):
            title = self.text(top["title"].value, "title")
        summary = self.text(top["summary"].value, "summary", spoken=False) if "summary" in top else ""
        source = self.text(top["source"].value, "source", spoken=False) if "source" in top else ""
        intro = self.lines(top["intro"].value, "intro") if "intro" in top else ()
        outro = self.lines(top["outro"].value, "outro") if "outro" in top else ()

        defaults = {}
        if "defaults" in top:
            defaults = self.mapping(top["defaults"].value, "defaults", TIMING_KEYS + SETTING_KEYS, what="a mapping of default settings") or {}
        timing = self.timing(defaults, "defaults", base=None)
        narration, voice = self.settings(defaults)
        exercises = self.exercises(top, root, timing)

        if self.spoken_limit_passed is not None:
            node, where = self.spoken_limit_passed
            self.fail(node, f"{where}: expected at most {MAX_SPOKEN_CHARS} characters of spoken text in a routine, found {self.spoken_chars} (the limit is passed here)")
        if self.problems:
            return None
        routine = Routine(
            id=rid, path=path, title=title or "", summary=summary or "", source=source or "",
            intro=intro or (), outro=outro or (), exercises=tuple(exercises),
            narration=narration, voice=voice,
        )
        # Refused here, before anything speaks: saying a session of many hours takes minutes.
        over = too_long(routine, path=self.path)
        if over is not None:
            self.problems.append(over)
            return None
        return routine

    def exercises(self, top: dict[str, _Field], root: Node, defaults: dict) -> list[Exercise]:
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

    def timing(self, fields: dict[str, _Field], where: str, base: dict | None) -> dict:
        """hold, reps, rest and switch, each from `fields` or else `base`; None where a value is wrong."""
        timing = dict(base or {
            "hold": DEFAULT_HOLD_MS, "reps": DEFAULT_REPS, "rest": DEFAULT_REST_MS, "switch": DEFAULT_SWITCH_MS,
        })
        # Where hold and reps were set, for a message about a session that is too long.
        timing["places"] = {**timing.get("places", {}), **{
            key: (f"{where}.{key}", fields[key].value.start_mark.line + 1, fields[key].value.start_mark.column + 1)
            for key in ("hold", "reps") if key in fields
        }}
        if "hold" in fields:
            timing["hold"] = self.duration(fields["hold"].value, f"{where}.hold", 1000, MAX_HOLD_MS)
        if "reps" in fields:
            timing["reps"] = self.integer(fields["reps"].value, f"{where}.reps", 1, MAX_REPS)
        if "rest" in fields:
            timing["rest"] = self.duration(fields["rest"].value, f"{where}.rest", 0, MAX_REST_MS)
        if "switch" in fields:
            timing["switch"] = self.duration(fields["switch"].value, f"{where}.switch", 0, MAX_REST_MS)
        return timing

    def settings(self, fields: dict[str, _Field]) -> tuple[Narration, Voice]:
        values: dict = {}
        if "verbosity" in fields:
            values["verbosity"] = self.choice(fields["verbosity"].value, "defaults.verbosity", VERBOSITIES)
        if "countdown" in fields:
            values["countdown"] = self.choice(fields["countdown"].value, "defaults.countdown", COUNTDOWNS)
        if "halfway" in fields:
            values["halfway"] = self.boolean(fields["halfway"].value, "defaults.halfway")
        if "hold_scale" in fields:
            values["hold_scale"] = self.number(fields["hold_scale"].value, "defaults.hold_scale", 0.25, 4.0)
        if "chimes" in fields:
            values["chimes"] = self.choice(fields["chimes"].value, "defaults.chimes", CHIME_STYLES)
        voice_values: dict = {}
        if "engine" in fields:
            voice_values["engine"] = self.choice(fields["engine"].value, "defaults.engine", ENGINES)
        if "voice" in fields:
            voice_values["voice"] = self.voice(fields["voice"].value, voice_values.get("engine", Voice.engine))
        if "rate" in fields:
            voice_values["rate"] = self.integer(fields["rate"].value, "defaults.rate", 80, 400)
        narration = Narration(**{k: v for k, v in values.items() if v is not None})
        voice = Voice(**{k: v for k, v in voice_values.items() if v is not None})
        return narration, voice

    def voice(self, node: Node, engine: str | None) -> str | None:
        """A voice of the routine's engine (unchecked if the engine itself is wrong)."""
        voice = self.text(node, "defaults.voice", spoken=False)
        why = voices.problem(engine, voice) if voice and engine else None
        if why:
            self.fail(node, f"defaults.voice: {why}")
            return None
        return voice

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
        if "flow" in fields:
            flow = self.flow(fields["flow"].value, f"{where}.flow")
            self.refuse_on_flow(fields, where)
        if name is None or None in timing.values():
            return None
        places = dict(timing["places"])
        if "flow" in fields:
            mark = fields["flow"].value.start_mark
            places["flow"] = (f"{where}.flow", mark.line + 1, mark.column + 1)
        return Exercise(
            name=name, steps=steps or (), hold_ms=timing["hold"], reps=timing["reps"], rest_ms=timing["rest"],
            sides=sides, switch_ms=timing["switch"], cues=cues, flow=flow, line=node.start_mark.line + 1,
            places=tuple((key, *place) for key, place in places.items()),
        )

    def refuse_on_flow(self, fields: dict[str, _Field], where: str) -> None:
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
            self.fail(node, f'{where}: expected "both" or a list of two side names, found {_describe(node)}{self.sides_hint(node)}')
            return None
        names = [self.text(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        if None in names:
            return None
        if names[0].lower() == names[1].lower():  # type: ignore[union-attr]
            self.fail(node, f'{where}: expected two different side names, found "{shown(names[0])}" twice')
            return None
        return tuple(name.lower() for name in names)  # type: ignore[union-attr]

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

    def flow(self, node: Node, where: str) -> tuple[Move, ...]:
        items = self.sequence(node, where, "a list of moves")
        if items is not None and not items:
            self.fail(node, f"{where}: expected at least one move, found an empty list")
        moves = [self.move(item, f"{where}[{index}]") for index, item in enumerate(items or [])]
        return tuple(move for move in moves if move is not None)

    def move(self, node: Node, where: str) -> Move | None:
        if isinstance(node, ScalarNode):
            text = self.text(node, where)
            return Move(text=text, hold_ms=DEFAULT_MOVE_MS) if text else None
        fields = self.mapping(node, where, MOVE_KEYS, what="a move: a line, or a mapping with say and hold")
        if fields is None:
            return None
        if not self.require(node, fields, "say", f"{where}.say", "what to say"):
            return None
        text = self.text(fields["say"].value, f"{where}.say")
        hold = DEFAULT_MOVE_MS
        if "hold" in fields:
            hold = self.duration(fields["hold"].value, f"{where}.hold", 0, MAX_HOLD_MS)
        return Move(text=text, hold_ms=hold) if text and hold is not None else None

    # -- node shapes -------------------------------------------------------------------

    def plain(self, node: Node) -> bool:
        """True for a value with no tag or a standard one that fits it; tags never run code here."""
        if node.tag not in _SCALAR_PATTERNS and node.tag not in (STR, SEQ, MAP):
            self.fail(node, f"expected plain YAML values, found the tag {shown(_short_tag(node.tag))!r}")
            return False
        if not _fits_its_tag(node):
            found = json.dumps(shown(node.value), ensure_ascii=False) if isinstance(node, ScalarNode) else _describe(node)
            self.fail(node, f"expected a value that fits its tag {_short_tag(node.tag)}, found {found}")
            return False
        return True

    def mapping(self, node: Node, where: str, allowed: tuple[str, ...], what: str) -> dict[str, _Field] | None:
        if not self.plain(node):
            return None
        if not isinstance(node, MappingNode):
            self.fail(node, f"{where}: expected {what}, found {_describe(node)}")
            return None
        fields: dict[str, _Field] = {}
        for key, value in node.value:
            if self.known_key(node, key, where, allowed, fields):
                fields[key.value] = _Field(key, value)
        return fields

    def known_key(self, mapping: Node, key: Node, where: str, allowed: tuple[str, ...], seen: dict[str, _Field]) -> bool:
        """Whether `key` is one of `allowed` and new; says why not otherwise."""
        expected = f"{where}: expected one of {', '.join(allowed)}"
        if not isinstance(key, ScalarNode) or key.tag != STR:
            self.fail(key, f"{expected}, found {_describe(key)} as a key")
        elif key.value == "<<":
            self.fail(key, f"{expected}, found a merge key '<<' (not supported: write the keys out)")
        elif key.value not in allowed:
            close = difflib.get_close_matches(key.value, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.suggested.update((id(mapping), name) for name in close)
            self.fail(key, f"{expected}, found unknown key {shown(key.value)!r}{hint}")
        elif key.value in seen:
            first = seen[key.value].key.start_mark.line + 1
            self.fail(key, f"{where}: expected each key once, found {key.value!r} again (first on line {first})")
        else:
            return True
        return False

    def require(self, mapping: Node, fields: dict[str, _Field], key: str, where: str, what: str) -> bool:
        """Whether a required key is there; if not, says so (unless a typo of it was pointed out)."""
        if key in fields:
            return True
        if (id(mapping), key) not in self.suggested:
            self.fail(mapping, f"{where}: expected {what}, found nothing")
        return False

    def sequence(self, node: Node, where: str, what: str) -> list[Node] | None:
        if not self.plain(node):
            return None
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{where}: expected {what}, found {_describe(node)}")
            return None
        return list(node.value)

    def text(self, node: Node, where: str, spoken: bool = True) -> str | None:
        if not self.plain(node):
            return None
        if not isinstance(node, ScalarNode) or node.tag != STR or not node.value.strip():
            quote = " (put it in quotes to use it as text)" if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT, BOOL) else ""
            self.fail(node, f"{where}: expected text, found {_describe(node)}{quote}")
            return None
        # The loaded value, not the file's bytes: YAML escapes ("\x01", "\e", "\uFFFF") get past
        # the reader's check of raw characters.
        bad = unsafe_character(node.value)
        if bad is not None:
            self.fail(node, f"{where}: expected printable text, found {describe_character(bad)}")
            return None
        value = " ".join(node.value.split())
        if spoken:
            if len(value) > MAX_LINE_CHARS:
                self.fail(node, f"{where}: expected a line of at most {MAX_LINE_CHARS} characters, found {len(value)}")
                return None
            if not sayable(value):
                # Spelled out: zero-width characters are invisible in the message too.
                codes = ", ".join(f"U+{ord(char):04X}" for char in dict.fromkeys(value.replace(" ", "")))
                self.fail(node, f"{where}: expected words to say (a letter or a digit), found only {shown(codes, 60)}")
                return None
            self.count_spoken(node, where, len(value))
        return value

    def count_spoken(self, node: Node, where: str, chars: int) -> None:
        self.spoken_chars += chars
        if self.spoken_chars > MAX_SPOKEN_CHARS and self.spoken_limit_passed is None:
            self.spoken_limit_passed = (node, where)

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
        if not self.plain(node):
            return None
        seconds = _seconds(node)
        if seconds is None:
            self.fail(node, f'{where}: expected a duration like 30 or "1m30s", found {_describe(node)}{self.clock_hint(node)}')
            return None
        ms = seconds * 1000
        ms = round(ms) if math.isfinite(ms) else ms
        if ms < minimum:
            floor = {0: "0 s or more", 1: "more than 0 s"}.get(minimum, f"at least {format_duration(minimum)}")
            self.fail(node, f"{where}: expected {floor}, found {_describe(node)}")
            return None
        if ms > maximum:
            self.fail(node, f"{where}: expected at most {format_duration(maximum)}, found {_describe(node)}")
            return None
        return int(ms)

    @staticmethod
    def clock_hint(node: Node) -> str:
        """`1:30` is 90 to YAML 1.1 tools and text to others, so it is refused with the spelling to use."""
        if not isinstance(node, ScalarNode) or not _CLOCK.match(node.value.strip()):
            return ""
        parts = [int(part) for part in node.value.strip().split(":")]
        units = "".join(f"{n}{unit}" for n, unit in zip(parts, "hms"[-len(parts):]) if n)
        return f' (write "{units or "0s"}")'

    def integer(self, node: Node, where: str, minimum: int, maximum: int) -> int | None:
        if not self.plain(node):
            return None
        # Python refuses int() of more than 4300 digits; anything that long is out of range anyway.
        value = int(node.value) if node.tag == INT and len(node.value) <= 20 else None
        if value is None or not minimum <= value <= maximum:
            self.fail(node, f"{where}: expected a whole number from {minimum} to {maximum}, found {_describe(node)}")
            return None
        return value

    def number(self, node: Node, where: str, minimum: float, maximum: float) -> float | None:
        if not self.plain(node):
            return None
        value = _number(node)
        if value is not None and minimum <= value <= maximum:
            return value
        self.fail(node, f"{where}: expected a number from {minimum:g} to {maximum:g}, found {_describe(node)}")
        return None

    def boolean(self, node: Node, where: str) -> bool | None:
        if not self.plain(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return node.value.lower() == "true"
        hint = ""
        if isinstance(node, ScalarNode) and node.tag == STR and node.value.lower() in _YAML11_BOOLEANS:
            hint = f" (YAML 1.2 reads {node.value} as text: write {_YAML11_BOOLEANS[node.value.lower()]})"
        self.fail(node, f"{where}: expected true or false, found {_describe(node)}{hint}")
        return None

    def choice(self, node: Node, where: str, choices: tuple) -> object | None:
        if not self.plain(node):
            return None
        if isinstance(node, ScalarNode):
            for choice in choices:
                if node.value == str(choice) and (node.tag == STR) == isinstance(choice, str):
                    return choice
        options = ", ".join(str(c) for c in choices)
        self.fail(node, f"{where}: expected one of {options}, found {_describe(node)}")
        return None

