"""Which session each audience gets and where, and which of them are rendered.

Every entry of every audience is a copy: a session (its build key) in the audience's
directory. Copies with the same build key are one render: made once, in the first directory
that lists it (unless some copy is already current), and linked into the others.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import StagedSet
from ..build import build_key, current_record, outputs, variant_name
from ..record import SessionRecord
from .model import Audience, Catalog, Entry


@dataclass(frozen=True)
class Copy:
    """One audience's copy of a session."""

    audience: Audience
    entry: Entry
    directory: Path
    name: str
    """File stem, as a build of the entry alone would name it."""

    @property
    def files(self) -> dict[str, Path]:
        return outputs(self.directory, self.name)


@dataclass
class Render:
    """One session, and every audience's copy of it."""

    key: str
    copies: list[Copy] = field(default_factory=list)
    current: list[Copy] = field(default_factory=list)
    """The copies whose files are already this session's."""

    @property
    def source(self) -> Copy:
        """Where the session is (or is to be) rendered: a current copy, else the first."""
        return (self.current or self.copies)[0]


def renders(catalog: Catalog, out_dir: Path, tokens: dict[str, str], force: bool = False) -> list[Render]:
    """Every session of the catalog once, in the catalog's order, with its copies."""
    found: dict[str, Render] = {}
    for audience in catalog.audiences:
        for entry in audience.entries:
            routine, narration, voice = entry.routine, entry.options.narration(entry.routine), entry.options.voice_for(entry.routine)
            key = build_key(routine, narration, voice)
            copy = Copy(audience, entry, out_dir / tokens[audience.name], variant_name(routine, narration, voice))
            render = found.setdefault(key, Render(key))
            render.copies.append(copy)
            if not force and current_record(copy.files, key) is not None:
                render.current.append(copy)
    return list(found.values())


def link_copy(source: Copy, target: Copy) -> str:
    """Put `source`'s files in `target`'s directory as one set (the plan record last), as
    hard links, or copies where a link cannot be made; 'linked' or 'copied'."""
    from ..atomic import ensure_dir

    ensure_dir(target.directory)
    how = "linked"
    with StagedSet(target.directory) as staged:
        wanted = target.files
        for kind, path in source.files.items():
            temporary = staged.path(wanted[kind])
            temporary.unlink()
            try:
                os.link(path, temporary)
            except OSError:  # another file system, or one without links
                shutil.copy2(path, temporary)  # the modification time too: the record's stamps hold
                how = "copied"
        staged.commit(last=wanted["plan"])
    return how


def prune(directory: Path, keep: set[str]) -> list[str]:
    """Remove every session in `directory` whose name is not in `keep` (a session left out of
    its audience must not stay in its feed); the names removed."""
    removed = []
    for record_path in sorted(directory.glob("*.json")):
        name = record_path.name[: -len(".json")]
        if name in keep or name.endswith(".chapters") or not (directory / f"{name}.mp3").is_file():
            continue
        try:
            SessionRecord.from_json(record_path.read_text())
        except (OSError, ValueError, AttributeError, TypeError):
            continue  # not a session's record
        files = outputs(directory, name)
        files["plan"].unlink(missing_ok=True)  # first: the set is no longer a session
        for path in files.values():
            path.unlink(missing_ok=True)
        removed.append(name)
    return removed
