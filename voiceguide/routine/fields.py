"""Stage 1, load: typed readers of YAML values (mappings, lists, text, durations, numbers, choices).

Each reader returns the value, or None after adding a problem at the value's line:col that
says where it is in the routine, what was expected and what was found:
`exercises[2].hold: expected a duration like 30 or "1m30s", found "thirty"`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .model import format_duration
from ..text import describe_character, sayable, shown, unsafe_character
from .yaml_nodes import BOOL, FLOAT, INT, MAP, SCALAR_PATTERNS, SEQ, STR, Problems, describe, fits_its_tag, number, short_tag

# Limits, documented in docs/routine-format.md.
MAX_LINE_CHARS = 400
MAX_SPOKEN_CHARS = 40_000
MAX_LINES = 50

_DURATION = re.compile(r"^(-)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
_CLOCK = re.compile(r"^\d+:\d\d(?::\d\d)?$")
_YAML11_BOOLEANS = {"yes": "true", "y": "true", "on": "true", "no": "false", "n": "false", "off": "false"}


@dataclass
class Field:
    """One key of a mapping and its value."""

    key: Node
    value: Node


def seconds(node: Node) -> float | None:
    """A duration in seconds: 30, 12.5, "45s", "2m", "1m30s", "1h"; None if it is none of those (or NaN)."""
    value = number(node)
    if value is None and isinstance(node, ScalarNode) and node.tag == STR:
        text = node.value.strip().replace(" ", "")
        match = _DURATION.match(text)
        if re.fullmatch(r"-?\d+(?:\.\d+)?", text):  # "30": a number in quotes
            value = float(text)
        elif match and any(match.groups()[1:]):
            h, m, s = (float(g) if g else 0.0 for g in match.groups()[1:])
            value = (h * 3600 + m * 60 + s) * (-1 if match[1] else 1)
    return None if value is None or math.isnan(value) else value


class FieldReader:
    """Reads values of one file, collecting a problem for each wrong one; nothing is raised."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.spoken_chars = 0
        self.spoken_limit_passed: tuple[Node, str] | None = None
        self.suggested: set[tuple[int, str]] = set()
        """(mapping, key) pairs already named in a "did you mean" hint, so not also reported missing."""

    def fail(self, node: Node | None, message: str) -> None:
        self.problems.at(node, message)

    # -- node shapes -------------------------------------------------------------------

    def plain(self, node: Node) -> bool:
        """True for a value with no tag or a standard one that fits it; tags never run code here."""
        if node.tag not in SCALAR_PATTERNS and node.tag not in (STR, SEQ, MAP):
            self.fail(node, f"expected plain YAML values, found the tag {shown(short_tag(node.tag))!r}")
            return False
        if not fits_its_tag(node):
            found = json.dumps(shown(node.value), ensure_ascii=False) if isinstance(node, ScalarNode) else describe(node)
            self.fail(node, f"expected a value that fits its tag {short_tag(node.tag)}, found {found}")
            return False
        return True

    def mapping(self, node: Node, where: str, allowed: tuple[str, ...], what: str) -> dict[str, Field] | None:
        if not self.plain(node):
            return None
        if not isinstance(node, MappingNode):
            self.fail(node, f"{where}: expected {what}, found {describe(node)}")
            return None
        fields: dict[str, Field] = {}
        for key, value in node.value:
            if self.known_key(node, key, where, allowed, fields):
                fields[key.value] = Field(key, value)
        return fields

    def known_key(self, mapping: Node, key: Node, where: str, allowed: tuple[str, ...], seen: dict[str, Field]) -> bool:
        """Whether `key` is one of `allowed` and new; says why not otherwise."""
        expected = f"{where}: expected one of {', '.join(allowed)}"
        if not isinstance(key, ScalarNode) or key.tag != STR:
            self.fail(key, f"{expected}, found {describe(key)} as a key")
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

    def require(self, mapping: Node, fields: dict[str, Field], key: str, where: str, what: str) -> bool:
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
            self.fail(node, f"{where}: expected {what}, found {describe(node)}")
            return None
        return list(node.value)

    # -- text --------------------------------------------------------------------------

    def text(self, node: Node, where: str, spoken: bool = True) -> str | None:
        if not self.plain(node):
            return None
        if not isinstance(node, ScalarNode) or node.tag != STR or not node.value.strip():
            quote = " (put it in quotes to use it as text)" if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT, BOOL) else ""
            self.fail(node, f"{where}: expected text, found {describe(node)}{quote}")
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

    def unspoken_text(self, node: Node, where: str) -> str | None:
        """Text that is shown or used but never said (a summary, a voice name): any length."""
        return self.text(node, where, spoken=False)

    def count_spoken(self, node: Node, where: str, chars: int) -> None:
        self.spoken_chars += chars
        if self.spoken_chars > MAX_SPOKEN_CHARS and self.spoken_limit_passed is None:
            self.spoken_limit_passed = (node, where)

    def check_spoken_total(self) -> None:
        """Once every line is read: too much to say in all, pointing at the line that passed the limit."""
        if self.spoken_limit_passed is not None:
            node, where = self.spoken_limit_passed
            self.fail(node, f"{where}: expected at most {MAX_SPOKEN_CHARS} characters of spoken text in a routine, found {self.spoken_chars} (the limit is passed here)")

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

    # -- numbers and choices -----------------------------------------------------------

    def duration(self, node: Node, where: str, minimum: int, maximum: int) -> int | None:
        """Milliseconds from `minimum` to `maximum`."""
        if not self.plain(node):
            return None
        value = seconds(node)
        if value is None:
            self.fail(node, f'{where}: expected a duration like 30 or "1m30s", found {describe(node)}{self.clock_hint(node)}')
            return None
        ms = value * 1000
        ms = round(ms) if math.isfinite(ms) else ms
        if ms < minimum:
            floor = {0: "0 s or more", 1: "more than 0 s"}.get(minimum, f"at least {format_duration(minimum)}")
            self.fail(node, f"{where}: expected {floor}, found {describe(node)}")
            return None
        if ms > maximum:
            self.fail(node, f"{where}: expected at most {format_duration(maximum)}, found {describe(node)}")
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
            self.fail(node, f"{where}: expected a whole number from {minimum} to {maximum}, found {describe(node)}")
            return None
        return value

    def number(self, node: Node, where: str, minimum: float, maximum: float) -> float | None:
        if not self.plain(node):
            return None
        value = number(node)
        if value is not None and minimum <= value <= maximum:
            return value
        self.fail(node, f"{where}: expected a number from {minimum:g} to {maximum:g}, found {describe(node)}")
        return None

    def boolean(self, node: Node, where: str) -> bool | None:
        if not self.plain(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return node.value.lower() == "true"
        hint = ""
        if isinstance(node, ScalarNode) and node.tag == STR and node.value.lower() in _YAML11_BOOLEANS:
            hint = f" (YAML 1.2 reads {node.value} as text: write {_YAML11_BOOLEANS[node.value.lower()]})"
        self.fail(node, f"{where}: expected true or false, found {describe(node)}{hint}")
        return None

    def choice(self, node: Node, where: str, choices: tuple) -> object | None:
        if not self.plain(node):
            return None
        if isinstance(node, ScalarNode):
            for choice in choices:
                if node.value == str(choice) and (node.tag == STR) == isinstance(choice, str):
                    return choice
        options = ", ".join(str(c) for c in choices)
        self.fail(node, f"{where}: expected one of {options}, found {describe(node)}")
        return None
