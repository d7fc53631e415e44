"""Stage 1, load: a routine file's bytes -> YAML nodes, each with its line:col; never Python objects.

The YAML is parsed to nodes only (never constructed into Python objects), so no tag can
run code, and scalars are typed by YAML 1.2 rules: `no` stays the text "no" and `1:30`
is not 90. What keeps a file from being read at all is found here: too big, not UTF-8,
binary or raw control characters, a syntax error, nesting too deep, an alias bomb.
"""

from __future__ import annotations

import codecs
import json
import math
import re

import yaml
from yaml.composer import Composer
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..errors import Problem
from ..text import shown

# Limits, documented in docs/routine-format.md.
MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 50  # a routine nests 6 deep; the YAML composer recurses once per level

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"

# YAML 1.2 core schema: no yes/no/on/off booleans, no sexagesimal 1:30, no 0x or 1_000.
SCALAR_PATTERNS = {
    BOOL: re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    INT: re.compile(r"^[-+]?[0-9]+$"),
    FLOAT: re.compile(
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    NULL: re.compile(r"^(?:~|null|Null|NULL|)$"),
}
_FIRST_CHARS = {BOOL: "tTfF", INT: "-+0123456789", FLOAT: "-+0123456789.", NULL: ["~", "n", "N", ""]}

_OTHER_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),  # before UTF-16: same first bytes
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)


class Problems:
    """The problems found in one file, collected rather than raised, each at its line:col."""

    def __init__(self, path: str):
        self.path = path
        """The file as messages name it."""
        self.found: list[Problem] = []

    def __bool__(self) -> bool:
        return bool(self.found)

    def at(self, node: Node | None, message: str) -> None:
        """A problem with a value (at its first character), or with the whole file (node None)."""
        if node is None:
            self.found.append(Problem(self.path, 0, 0, message))
        else:
            mark = node.start_mark
            self.found.append(Problem(self.path, mark.line + 1, mark.column + 1, message))

    def at_place(self, line: int, column: int, message: str) -> None:
        self.found.append(Problem(self.path, line, column, message))

    def add(self, problem: Problem) -> None:
        self.found.append(problem)


# -- the node loader -------------------------------------------------------------------


class _Core12Resolver(BaseResolver):
    """Plain-scalar typing by the YAML 1.2 core schema."""


for _tag, _pattern in SCALAR_PATTERNS.items():
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


def parse(data: bytes, size: int, problems: Problems) -> Node | None:
    """The root node of a routine file's bytes (`size` is the file's whole size, `data` at
    most MAX_FILE_BYTES + 1 of them); None, with the reason in `problems`, if it has none."""
    text = _decode(data, size, problems)
    if text is None:
        return None
    root = _compose(text, problems)
    if root is None or not _check_size(root, problems):
        return None
    return root


def _decode(data: bytes, size: int, problems: Problems) -> str | None:
    if len(data) > MAX_FILE_BYTES:
        line = data.count(b"\n", 0, MAX_FILE_BYTES) + 1
        found = math.ceil(max(size, len(data)) / 1024)
        problems.at_place(line, 0, f"expected a routine of at most {MAX_FILE_BYTES // 1024} KB, found {found} KB (the limit is passed on this line)")
        return None
    for bom, encoding in _OTHER_ENCODINGS:
        if data.startswith(bom):
            problems.at_place(1, 1, f"expected UTF-8 text, found {encoding} (save the file as UTF-8)")
            return None
    if b"\x00" in data:
        line, column = _line_column(data, data.index(b"\x00"))
        problems.at_place(line, column, "expected a text file, found binary data (a NUL byte)")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _line_column(data, error.start)
        problems.at_place(line, column, f"expected UTF-8 text, found the byte 0x{data[error.start]:02x} (save the file as UTF-8)")
        return None


def _compose(text: str, problems: Problems) -> Node | None:
    try:
        loader = _NodeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except ReaderError as error:
        line, column = _line_column(text, error.position)
        problems.at_place(line, column, f"expected printable text, found the control character U+{error.character:04X}")
        return None
    except _TooBig as error:
        problems.at_place(error.mark.line + 1, error.mark.column + 1, error.message)
        return None
    except yaml.MarkedYAMLError as error:
        _syntax_error(text, error, problems)
        return None
    if root is None or (root.tag == NULL and not root.value):
        problems.at_place(1, 0, f"expected a routine (a mapping with title and exercises), found {_nothing(text)}")
        return None
    return root


def _nothing(text: str) -> str:
    """What an empty document is made of, for the message."""
    if not text.strip():
        return "an empty file"
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        return "only comments"
    return "an empty YAML document"


def _line_column(data: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset into a text (or its bytes)."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1
    return line, offset - (data.rfind(newline, 0, offset) + 1) + 1


# -- syntax errors -----------------------------------------------------------------------

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


def _syntax_error(text: str, error: yaml.MarkedYAMLError, problems: Problems) -> None:
    mark = error.problem_mark or error.context_mark
    line_text = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
    tab = _tab_column(line_text)
    if tab is not None:
        problems.at_place(mark.line + 1, tab, "expected spaces for indentation, found a tab")
    elif "'\\t'" in (error.problem or ""):
        problems.at_place(mark.line + 1, mark.column + 1, "expected a space, found a tab")
    else:
        problems.at_place(mark.line + 1, mark.column + 1, _syntax_message(error))


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


# -- aliases -----------------------------------------------------------------------------


def _check_size(root: Node, problems: Problems) -> bool:
    """Refuse alias bombs and aliases that contain themselves before anything is walked."""
    sizes, loop = _expanded_sizes(root)
    if loop is not None:
        problems.at(loop, "expected values that end, found an alias inside its own anchor (it would repeat forever)")
        return False
    if sizes[id(root)] <= MAX_NODES:
        return True
    # Point at the first value (in walking order) that alone passes the limit.
    first = next(node for node in _walk_order(root) if sizes[id(node)] > MAX_NODES and all(
        sizes[id(child)] <= MAX_NODES for child in _children(node)))
    # (Without aliases the composer has already stopped at the limit.)
    problems.at(first, f"expected at most {MAX_NODES} YAML values (aliases counted each time), found {sizes[id(first)]} in this value alone (an alias bomb?)")
    return False


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


# -- what a node is ----------------------------------------------------------------------


def fits_its_tag(node: Node) -> bool:
    """False for `!!int abc`, `!!map [a]` and the like: an explicit standard tag on a wrong value."""
    if node.tag == SEQ:
        return isinstance(node, SequenceNode)
    if node.tag == MAP:
        return isinstance(node, MappingNode)
    if not isinstance(node, ScalarNode):
        return False
    pattern = SCALAR_PATTERNS.get(node.tag)
    return pattern is None or bool(pattern.match(node.value))


def short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def number(node: Node) -> float | None:
    """The value of an int or float scalar (YAML 1.2 spells infinity .inf); None for anything else."""
    if not isinstance(node, ScalarNode) or node.tag not in (INT, FLOAT):
        return None
    return float(node.value.lower().replace(".inf", "inf").replace(".nan", "nan"))


def describe(node: Node) -> str:
    """How a found value is named in messages: always one short line."""
    if isinstance(node, MappingNode):
        return "a mapping" if node.value else "an empty mapping"
    if isinstance(node, SequenceNode):
        count = len(node.value)
        return "an empty list" if not count else "a list of 1 item" if count == 1 else f"a list of {count} items"
    value = shown(node.value, 40)
    if node.tag not in SCALAR_PATTERNS and node.tag != STR:
        return f"the tag {shown(short_tag(node.tag))!r}"
    if node.tag == NULL:
        return "nothing"
    if node.tag == BOOL:
        return f"the boolean {node.value}"
    if node.tag in (INT, FLOAT):
        return f"the number {value}"
    return json.dumps(value, ensure_ascii=False) if value.strip() else "empty text"


def place(node: Node) -> tuple[int, int]:
    """1-based line and column of a value's first character."""
    return node.start_mark.line + 1, node.start_mark.column + 1
