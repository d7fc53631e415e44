"""The catalog's keys, read with the routine's readers (fields.py), every problem at line:col.

The options a session or an audience may set are the fields of `build.Options`, whatever they
are: each is read with the reader of the routine key of the same name (routine/schema.py
SETTINGS), so an option added to the build is a catalog key at once.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Callable

from yaml.nodes import Node, ScalarNode

from ..build import Options, variant_name
from ..errors import RoutineError, VoiceguideError
from ..routine.fields import Field, FieldReader
from ..routine.files import read_regular_file, resolve
from ..routine.model import MUSIC_CHOICES, Routine
from ..routine.schema import SETTINGS, VoiceProblem
from ..routine.yaml_nodes import STR, Problems, describe
from ..text import shown
from .model import Audience, Catalog, Entry

# Limits, documented in docs/catalog-format.md.
MAX_AUDIENCES = 1000
MAX_ENTRIES = 5000
"""Sessions in the whole catalog, every audience's counted."""
MAX_NAME_CHARS = 64

TOP_KEYS = ("title", "audiences")
AUDIENCE_KEYS = ("name", "title", "author", "options", "sessions")
OPTION_KEYS = tuple(field.name for field in dataclasses.fields(Options))
ENTRY_KEYS = ("routine",) + OPTION_KEYS
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_READERS = {key.name: key for key in SETTINGS}

RoutineLoader = Callable[[Path], "tuple[Routine | None, list]"]
"""A routine file -> the routine, or None and its problems (each at the routine's line:col)."""


class CatalogReader(FieldReader):
    """Reads a catalog's node graph; the routines it names are loaded by `load_routine`."""

    def __init__(self, problems: Problems, path: Path, routines_dir: Path, load_routine: RoutineLoader,
                 voice_problem: VoiceProblem | None = None):
        super().__init__(problems)
        self.path = path
        self.routines_dir = routines_dir
        self.load_routine = load_routine
        self.voice_problem = voice_problem
        self.routines: dict[Path, Routine | None] = {}

    def catalog(self, root: Node) -> Catalog | None:
        top = self.mapping(root, "the catalog", TOP_KEYS, what="a mapping with audiences")
        if top is None:
            return None
        title = self.unspoken_text(top["title"].value, "title") if "title" in top else self.path.stem
        audiences: list[Audience | None] = []
        if self.require(root, top, "audiences", "audiences", "a list of audiences"):
            items = self.sequence(top["audiences"].value, "audiences", "a list of audiences") or []
            if not items and not self.problems:
                self.fail(top["audiences"].value, "audiences: expected at least one audience, found an empty list")
            if len(items) > MAX_AUDIENCES:
                self.fail(top["audiences"].value, f"audiences: expected at most {MAX_AUDIENCES}, found {len(items)}")
                items = []
            audiences = [self.audience(item, f"audiences[{i}]") for i, item in enumerate(items)]
        self.check_names(audiences, items if audiences else [])
        entries = sum(len(audience.entries) for audience in audiences if audience)
        if entries > MAX_ENTRIES:
            self.fail(top["audiences"].value, f"audiences: expected at most {MAX_ENTRIES} sessions in all, found {entries}")
        if self.problems:
            return None
        return Catalog(self.path, title or "", tuple(audience for audience in audiences if audience))

    def audience(self, node: Node, where: str) -> Audience | None:
        fields = self.mapping(node, where, AUDIENCE_KEYS, what="an audience (a mapping with name and sessions)")
        if fields is None:
            return None
        name = self.name(fields["name"].value, f"{where}.name") if self.require(node, fields, "name", f"{where}.name", "the audience's name") else None
        title = self.unspoken_text(fields["title"].value, f"{where}.title") if "title" in fields else name
        author = self.unspoken_text(fields["author"].value, f"{where}.author") if "author" in fields else "voiceguide"
        shared = {}
        if "options" in fields:
            found = self.mapping(fields["options"].value, f"{where}.options", OPTION_KEYS, what="a mapping of build options") or {}
            shared = self.options(found, f"{where}.options")
        entries: list[Entry | None] = []
        if self.require(node, fields, "sessions", f"{where}.sessions", "a list of sessions"):
            items = self.sequence(fields["sessions"].value, f"{where}.sessions", "a list of sessions (routine names, or mappings with routine and options)") or []
            entries = [self.entry(item, f"{where}.sessions[{i}]", shared) for i, item in enumerate(items)]
            self.check_sessions(entries, items, f"{where}.sessions")
        if None in (name, title, author) or None in entries:
            return None
        return Audience(name, title, author, tuple(entries))

    def name(self, node: Node, where: str) -> str | None:
        value = self.unspoken_text(node, where)
        if value is not None and (len(value) > MAX_NAME_CHARS or not _NAME.match(value)):
            self.fail(node, f"{where}: expected a name of lower-case letters, digits and '-' (at most {MAX_NAME_CHARS}), found {describe(node)}")
            return None
        return value

    def entry(self, node: Node, where: str, shared: dict) -> Entry | None:
        if isinstance(node, ScalarNode) and node.tag == STR:
            routine = self.routine(node, where)
            return self.checked(Entry(routine, Options(**shared)), node, where) if routine else None
        fields = self.mapping(node, where, ENTRY_KEYS, what="a routine's name, or a mapping with routine and options")
        if fields is None or not self.require(node, fields, "routine", f"{where}.routine", "the routine's name or file"):
            return None
        routine = self.routine(fields["routine"].value, f"{where}.routine")
        chosen = {**shared, **self.options(fields, where)}
        if routine is None:
            return None
        options = Options(**chosen)
        if options.voice and self.voice_problem:
            engine = options.voice_for(routine).engine
            why = self.voice_problem(engine, options.voice)
            if why:
                self.fail(fields["voice"].value if "voice" in fields else node, f"{where}.voice: {why}")
                return None
        return self.checked(Entry(routine, options), node, where)

    def checked(self, entry: Entry, node: Node, where: str) -> Entry | None:
        """The entry, if the build can make its voice (a language with no voice of the engine, say)."""
        try:
            entry.options.voice_for(entry.routine)
        except VoiceguideError as error:
            self.fail(node, f"{where}: {error}")
            return None
        return entry

    def options(self, fields: dict[str, Field], where: str) -> dict[str, Any]:
        """The build options among `fields`, each read as its routine key is."""
        chosen = {}
        for name in OPTION_KEYS:
            if name in fields:
                value = self.option(name, fields[name].value, f"{where}.{name}")
                if value is not None:
                    chosen[name] = value
        return chosen

    def option(self, name: str, node: Node, where: str) -> Any:
        key = _READERS.get(name)
        if key is None:  # a build option with no routine key: read by the type it holds
            kind = str(next(f.type for f in dataclasses.fields(Options) if f.name == name))
            if kind.startswith("bool"):
                return self.boolean(node, where)
            return self.number(node, where, float("-inf"), float("inf")) if kind.startswith(("float", "int")) else self.unspoken_text(node, where)
        value = key.read(self, node, where, *key.args)
        if name == "music" and value is not None and value not in MUSIC_CHOICES:
            return self.music_file(node, where, value)
        return value

    def music_file(self, node: Node, where: str, value: str) -> str | None:
        """A music file, named relative to the catalog's directory."""
        music = self.path.parent / value
        try:
            read_regular_file(music, 1)
        except OSError as error:
            found = "no such file" if isinstance(error, FileNotFoundError) else (error.strerror or str(error))
            self.fail(node, f"{where}: expected {', '.join(MUSIC_CHOICES)} or an audio file, found {shown(str(music))!r}: {found}")
            return None
        return str(music)

    def routine(self, node: Node, where: str) -> Routine | None:
        """The routine a name (in the routines directory) or a file (relative to the catalog) names."""
        name = self.unspoken_text(node, where)
        if name is None:
            return None
        if Path(name).suffix in (".yaml", ".yml") or "/" in name:
            path = self.path.parent / name  # a file, beside the catalog or below it
        else:
            try:
                path = resolve(name, self.routines_dir)
            except RoutineError as error:
                self.fail(node, f"{where}: {error.problems[0].message}")
                return None
        if path not in self.routines:
            routine, problems = self.load_routine(path)
            self.routines[path] = routine
            for problem in problems:  # each at its own file:line:col
                self.problems.add(problem)
        return self.routines[path]

    def check_names(self, audiences: list[Audience | None], items: list[Node]) -> None:
        seen: dict[str, int] = {}
        for audience, item in zip(audiences, items):
            if audience is None:
                continue
            if audience.name in seen:
                self.fail(item, f"audiences: expected each audience's name once, found {audience.name!r} again (first on line {seen[audience.name]})")
            seen.setdefault(audience.name, item.start_mark.line + 1)

    def check_sessions(self, entries: list[Entry | None], items: list[Node], where: str) -> None:
        """Two entries that make the same file (the same routine and options) are one mistake."""
        seen: dict[str, int] = {}
        for entry, item in zip(entries, items):
            if entry is None:
                continue
            name = variant_name(entry.routine, entry.options.narration(entry.routine), entry.options.voice_for(entry.routine))
            if name in seen:
                self.fail(item, f"{where}: expected each session once in an audience, found {name} again (first on line {seen[name]})")
            seen.setdefault(name, item.start_mark.line + 1)
