"""The fixed lines a session says, in the routine's language: phrase packs.

A pack is a YAML file, `packs/XX.yaml` in this package or `phrases/XX.yaml` in the directory
voiceguide runs in (which comes first, so a user can add a language or change one). Every
pack has every line of the English one, with the same {placeholders}; a line that depends on
a number has a form for one and for more. Packs are read on first use and kept.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import LanguageError, RoutineError
from ..text import unsafe_character
from .yaml_nodes import STR, Problems, parse

BUNDLED = Path(__file__).with_name("packs")
USER_DIR = "phrases"
"""Beside routines/: phrases/XX.yaml adds or replaces the language XX."""
DEFAULT = "en"
CODE = re.compile(r"[a-z]{2,3}")
MAX_PACK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Pack:
    """One language's fixed lines, and what outputs say about the language."""

    language: str
    """ISO 639-1 code: 'en', 'de'; `language:` in a routine."""
    name: str
    """The language's own name: 'Deutsch'."""
    iso639_2: str
    """The three-letter code ID3 tags use: 'eng', 'ger'."""
    espeak_voice: str
    """The eSpeak NG voice for it when a routine names none."""
    plural: str
    """How a number picks a form: one_is_singular (one: 1; other), or slavic (one: 1, 21,
    31...; few: 2-4, 22-24...; other: the rest)."""
    lines: dict
    words: dict
    safety: dict
    path: str = ""

    def line(self, key: str, count: int | None = None, **values: object) -> str:
        """A line, its placeholders filled; `count` picks the form for one or more."""
        template = self.lines[key]
        if isinstance(template, dict):
            template = template[self.form(count)]
        return template.format(count=count, **values)

    def word(self, key: str, n: int | None = None) -> str:
        value = self.words[key]
        if isinstance(value, dict):
            return value[self.form(n)].format(n=n)
        return value

    def form(self, n: int | None) -> str:
        """Which form of a line a number takes: one, few or other."""
        if n is None:
            return "other"
        if self.plural == "slavic":
            if n % 10 == 1 and n % 100 != 11:
                return "one"
            return "few" if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else "other"
        return "one" if n == 1 else "other"

    def countdown(self, number: int) -> str:
        return self.lines["countdown"][number - 1]

    def duration(self, ms: int) -> str:
        """30000 -> '30 seconds', 90000 -> '1 minute 30 seconds', as the narrator says it."""
        minutes, seconds = divmod(round(ms / 1000), 60)
        if minutes and seconds:
            return self.words["minutes_and_seconds"].format(
                minutes=self.word("minutes", minutes), seconds=self.word("seconds", seconds))
        return self.word("minutes", minutes) if minutes else self.word("seconds", seconds)

    def side(self, side: str) -> str:
        """A side as it is said: `sides: both` in this language's words; a one-word name with
        the pack's 'side' line ('Left side.'); a longer name as it is written."""
        name = dict(zip(("right", "left"), self.words["both"])).get(side, side)
        if " " in name.strip():
            return f"{name[:1].upper()}{name[1:]}."
        return self.lines["side"].format(side=name[:1].upper() + name[1:])

    def spoken_safety(self, form: str) -> tuple[str, ...]:
        return tuple(self.safety["brief" if form == "brief" else "spoken"])

    def written_safety(self) -> tuple[str, ...]:
        return tuple(self.safety["written"])


def pack(language: str = DEFAULT) -> Pack:
    """The pack of `language`; RoutineError naming the packs there are if there is none, or
    if it is not whole."""
    return _pack(language, Path.cwd())


def languages() -> list[str]:
    """Every language with a pack, the user's and the bundled ones."""
    found = {p.stem for p in BUNDLED.glob("*.yaml")} | {p.stem for p in Path(USER_DIR).glob("*.yaml")}
    return sorted(code for code in found if CODE.fullmatch(code))


def language_problem(language: str) -> str | None:
    """Why `language` cannot be a routine's language ('expected ..., found ...'), or None."""
    if CODE.fullmatch(language) and language in languages():
        return None
    return f"expected a language with a phrase pack ({', '.join(languages())}), found {language!r}"


@lru_cache(maxsize=None)
def _pack(language: str, cwd: Path) -> Pack:
    problem = language_problem(language)
    if problem:
        raise LanguageError(f"language: {problem}")
    user = cwd / USER_DIR / f"{language}.yaml"
    path = user if user.is_file() else BUNDLED / f"{language}.yaml"
    shown = str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
    problems = Problems(shown)
    with open(path, "rb") as file:
        data = file.read(MAX_PACK_BYTES + 1)
    root = parse(data, len(data), problems)
    values = _values(root, "", problems) if root is not None else None
    if isinstance(values, dict):
        reference = _reference() if language != DEFAULT or path != BUNDLED / f"{DEFAULT}.yaml" else None
        _check(root, values, reference, problems)
    if problems:
        raise RoutineError(problems.found)
    return Pack(language=values["language"], name=values["name"], iso639_2=values["iso639_2"],
                espeak_voice=values["espeak_voice"], plural=values["plural"], lines=values["lines"], words=values["words"],
                safety=values["safety"], path=shown)


@lru_cache(maxsize=1)
def _reference() -> dict:
    """The bundled English pack's values: the shape every other pack has."""
    data = (BUNDLED / f"{DEFAULT}.yaml").read_bytes()
    problems = Problems(str(BUNDLED / f"{DEFAULT}.yaml"))
    return _values(parse(data, len(data), problems), "", problems)


def _values(node: Node, where: str, problems: Problems):
    """A pack's node as plain values: mappings of text keys, lists and texts."""
    if isinstance(node, MappingNode):
        return {key.value: _values(value, f"{where}.{key.value}".lstrip("."), problems) for key, value in node.value}
    if isinstance(node, SequenceNode):
        return [_values(item, f"{where}[{i}]", problems) for i, item in enumerate(node.value)]
    if isinstance(node, ScalarNode) and node.tag == STR and node.value.strip():
        bad = unsafe_character(node.value)
        if bad is not None:
            problems.at(node, f"{where}: expected printable text, found U+{ord(bad):04X}")
        return node.value
    problems.at(node, f"{where}: expected text, found {node.value!r}")
    return ""


def _check(root: Node, values: dict, reference: dict | None, problems: Problems) -> None:
    """Every key of the reference, with the same placeholders, and nothing else."""
    places = _places(root, "")
    for key in ("language", "name", "iso639_2", "espeak_voice", "plural"):
        if not isinstance(values.get(key), str):
            problems.at(root, f"{key}: expected text, found {'nothing' if key not in values else 'a list or mapping'}")
    if values.get("plural") not in PLURALS:
        problems.at(places.get("plural", root), f"plural: expected one of {', '.join(PLURALS)}, found {values.get('plural')!r}")
        return
    if reference is None:
        return
    for where, expected in _leaves(reference, ""):
        found = _lookup(values, where)
        node = places.get(where.rsplit(".", 1)[0], root)
        if found is _MISSING:
            problems.at(node, f"{where}: expected a line (see the English pack), found none")
        elif where.endswith(".one") and isinstance(found, str) and _fields(found) <= _fields(_lookup(reference, where[:-4] + ".other")):
            continue  # the form for one may say the number or not ("One exercise.")
        elif isinstance(expected, str) and isinstance(found, str) and _fields(expected) != _fields(found):
            wanted = ", ".join(f"{{{f}}}" for f in sorted(_fields(expected))) or "no placeholders"
            got = ", ".join(f"{{{f}}}" for f in sorted(_fields(found))) or "none"
            problems.at(places.get(where, root), f"{where}: expected {wanted}, found {got}")
        elif isinstance(expected, list) and (not isinstance(found, list) or (len(found) != len(expected) and where in _FIXED_LENGTH)):
            problems.at(places.get(where, root), f"{where}: expected a list of {len(expected)}, found {_kind(found)}")
        elif isinstance(expected, str) and not isinstance(found, str):
            problems.at(places.get(where, root), f"{where}: expected a line, found {_kind(found)}")
    for where, _ in _leaves(values, ""):
        few = where.endswith(".few") and values.get("plural") == "slavic"
        if few and _lookup(reference, where[:-4] + ".other") is not _MISSING:
            if not _fields(_lookup(values, where)) <= _fields(_lookup(reference, where[:-4] + ".other")):
                problems.at(places.get(where, root), f"{where}: expected the placeholders of its 'other' form")
            continue
        if _lookup(reference, where) is _MISSING and not where.startswith("safety."):
            problems.at(places.get(where, root), f"{where}: expected one of the English pack's keys, found unknown key")


PLURALS = ("one_is_singular", "slavic")
_FIXED_LENGTH = {"lines.countdown", "words.both"}
_MISSING = object()


def _leaves(values, where: str):
    if isinstance(values, dict):
        for key, value in values.items():
            if key in ("spoken", "brief", "written") and where == "safety":
                yield f"safety.{key}", value
                continue
            yield from _leaves(value, f"{where}.{key}".lstrip("."))
    else:
        yield where, values


def _lookup(values, where: str):
    for part in where.split("."):
        if not isinstance(values, dict) or part not in values:
            return _MISSING
        values = values[part]
    return values


def _places(node: Node, where: str) -> dict[str, Node]:
    found = {where: node} if where else {}
    if isinstance(node, MappingNode):
        for key, value in node.value:
            found.update(_places(value, f"{where}.{key.value}".lstrip(".")))
    return found


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _kind(value) -> str:
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else "a line"
