"""Stage 6, publish: every session in the output directory -> index page, podcast feed, playlist.

The sessions are read back from their plan records (NAME.json beside NAME.mp3), so the three
lists always name every session in the directory, however and whenever it was built, and
`voiceguide publish` can rewrite them without building anything.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .plan import Chapter, Event

logger = logging.getLogger(__name__)

PLAYLIST_NAME = "playlist.m3u"
INDEX_NAME = "index.html"
FEED_NAME = "feed.xml"
DEFAULT_PORT = 8000
DEFAULT_BASE_URL = f"http://127.0.0.1:{DEFAULT_PORT}/"
"""Where the feed says the files are unless told otherwise: what a plain `voiceguide serve` prints."""


@dataclass(frozen=True)
class Session:
    """One session in the output directory, as its plan record and transcript describe it."""

    name: str
    """File stem: 'sore-back', or 'sore-back--brief' for a variant."""
    routine: str
    """The routine's id."""
    title: str
    summary: str
    source: str
    duration_ms: int
    mp3_bytes: int
    built: datetime
    """When the plan record was written (UTC): the session's date in the feed."""
    files: dict[str, str]
    """File names by kind (mp3, cover, vtt, chapters, plan); only files that exist."""
    chapters: tuple[Chapter, ...]
    transcript: tuple[Event, ...]
    """The spoken lines, from NAME.vtt."""


@dataclass(frozen=True)
class Published:
    sessions: int
    """Sessions listed."""
    written: list[Path]
    """Files (re)written; the others already said the same."""


def read_sessions(out_dir: Path) -> list[Session]:
    """Every session in `out_dir` that has an MP3 and a readable plan record, by routine id."""
    sessions = []
    for mp3 in sorted(out_dir.glob("*.mp3")):
        try:
            sessions.append(read_session(mp3))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            # Not a session of ours, or one whose record is not written yet: leave it out.
            logger.info("%s: left out: %s", mp3, error)
    return sorted(sessions, key=lambda s: (s.routine, s.name))


def read_session(mp3: Path) -> Session:
    """The session of NAME.mp3, from NAME.json and NAME.vtt beside it."""
    from .sidecars import read_vtt

    record_path = mp3.with_suffix(".json")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    files = {kind: name for kind, name in record.get("files", {}).items() if (mp3.parent / name).is_file()}
    vtt = mp3.parent / files["vtt"] if "vtt" in files else None
    return Session(
        name=mp3.stem,
        routine=record.get("routine", mp3.stem),
        title=record["title"],
        summary=record.get("summary") or "",
        source=record.get("source") or "",
        duration_ms=int(record["duration_ms"]),
        mp3_bytes=mp3.stat().st_size,
        built=datetime.fromtimestamp(record_path.stat().st_mtime, timezone.utc).replace(microsecond=0),
        files={**files, "mp3": mp3.name},
        chapters=tuple(Chapter(c["start_ms"], c["end_ms"], c["title"]) for c in record.get("chapters", [])),
        transcript=tuple(read_vtt(vtt.read_text(encoding="utf-8"))) if vtt else (),
    )


def playlist(sessions: list[Session]) -> str:
    """Extended M3U: each session's length in seconds and title, then its file name."""
    lines = ["#EXTM3U"]
    for session in sessions:
        title = " ".join(session.title.split())  # one line, whatever the YAML held
        lines.append(f"#EXTINF:{round(session.duration_ms / 1000)},{title}")
        lines.append(session.files["mp3"])
    return "\n".join(lines) + "\n"


def publish(out_dir: Path, base_url: str = DEFAULT_BASE_URL) -> Published:
    """Write the playlist, index page and podcast feed of every session in `out_dir`.

    Each file is written atomically, and only if it would change, so publishing an
    unchanged directory writes nothing. `base_url` is where the feed says the files are.
    """
    from .feed import feed_xml
    from .page import index_html

    sessions = read_sessions(out_dir)
    outputs = {
        PLAYLIST_NAME: playlist(sessions).encode(),
        INDEX_NAME: index_html(sessions).encode(),
        FEED_NAME: feed_xml(sessions, base_url),
    }
    written = [out_dir / name for name, data in outputs.items() if _write_if_changed(out_dir / name, data)]
    return Published(len(sessions), written)


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    from .export import ensure_dir, write_atomically

    ensure_dir(path.parent)
    write_atomically(path, data)
    return True

