"""A catalog as the build sees it: audiences, each with the routines it gets and their options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..build import Options
from ..routine.model import Routine


@dataclass(frozen=True)
class Entry:
    """One session of an audience: a routine, built with these options."""

    routine: Routine
    options: Options


@dataclass(frozen=True)
class Audience:
    name: str
    """Its name in the catalog (letters, digits, '-'); never part of a path or URL."""
    title: str
    """The title of its feed and page."""
    author: str
    """Who its feed says made it."""
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Catalog:
    path: Path
    title: str
    audiences: tuple[Audience, ...]

    @property
    def entries(self) -> int:
        return sum(len(audience.entries) for audience in self.audiences)
