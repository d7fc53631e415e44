"""A session's plan record (NAME.json): written by the build, read back by publish and serve.

The record is what a session is: the routine it came from, the plan itself (every event in
ms, the chapters), the settings and build key it was made with, and the set of files that
build wrote, each with its stamp (size, modification time), so that a set whose files come
from different builds is never taken for current.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

FORMAT = 4
"""2: mutagen tags, chapters, cover, sidecars; 3: swapped in as a set, with stamps; 4: music."""


@dataclass(frozen=True)
class SessionRecord:
    """A plan record. Only a title and a length are required: publish lists sessions whose
    records come from older versions too."""

    title: str
    duration_ms: int
    routine: str = ""
    """The routine's id."""
    summary: str = ""
    source: str = ""
    safety: list[str] = field(default_factory=list)
    """The safety advice the page and feed show with the session (the routine's own, or its language pack's)."""
    build_key: str = ""
    """Hash of every input of the build (build.build_key)."""
    inputs: dict = field(default_factory=dict)
    """Those inputs themselves (build.build_inputs), to say why a later build is not up to date."""
    mp3_bytes: int = 0
    files: dict[str, str] = field(default_factory=dict)
    """File names by kind: mp3, cover, vtt, chapters, plan (this record)."""
    stamps: dict[str, list[int]] = field(default_factory=dict)
    """[size, mtime_ns] of each file of the set but the record, by file name."""
    settings: dict = field(default_factory=dict)
    """{"narration": ..., "voice": ...} as the build used them."""
    notes: list[str] = field(default_factory=list)
    chapters: list[dict] = field(default_factory=list)
    """{"start_ms", "end_ms", "title"} for each chapter."""
    events: list[dict] = field(default_factory=list)
    """Every event of the plan (plan.Event.to_json)."""
    music: dict = field(default_factory=dict)
    """The music under the voice ({} for none): source, its content hash, level, credit, and
    its envelope, gain over time (audio.music.Music.to_json)."""
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, text: str) -> SessionRecord:
        """The record in `text`; ValueError, KeyError or TypeError if it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a plan record is a JSON object")
        record = cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})
        if not isinstance(record.files, dict) or not isinstance(record.stamps, dict) or not isinstance(record.chapters, list):
            raise TypeError("a plan record's files, stamps and chapters are objects and a list")
        if not isinstance(record.duration_ms, int) or isinstance(record.duration_ms, bool):
            raise TypeError("a plan record's duration_ms is a whole number")
        return record
