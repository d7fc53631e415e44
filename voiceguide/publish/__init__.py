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

from ..plan import Chapter, Event

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
    skipped: tuple[str, ...] = ()
    """Why each session that could not be listed was left out ('out/x.mp3: ...')."""


def read_sessions(out_dir: Path, skipped: list[str] | None = None) -> list[Session]:
    """Every session in `out_dir` that has an MP3 and a readable plan record, by routine id.

    An MP3 without a record is not a session (or its record is not written yet) and is left
    out quietly; one whose record or transcript is broken, or holds text that cannot be
    written safely (from an older voiceguide, or edited by hand), is left out and said why
    in `skipped`, so that one bad session never stops the others from being published.
    """
    sessions = []
    for mp3 in sorted(out_dir.glob("*.mp3")):
        try:
            sessions.append(read_session(mp3))
        except FileNotFoundError as error:
            logger.info("%s: left out: %s", mp3, error)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            logger.info("%s: left out: %s", mp3, error)
            if skipped is not None:
                why = f"its record has no {error}" if isinstance(error, KeyError) else str(error)
                skipped.append(f"{mp3}: left out: {why}")
    return sorted(sessions, key=lambda s: (s.routine, s.name))


def read_session(mp3: Path) -> Session:
    """The session of NAME.mp3, from NAME.json and NAME.vtt beside it.

    Raises ValueError for a session whose text could not be written into the page, the feed
    or the playlist as it is.
    """
    from .sidecars import read_vtt

    record_path = mp3.with_suffix(".json")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    # Only plain file names beside the MP3: a record is not trusted to point elsewhere.
    files = {
        kind: name for kind, name in record.get("files", {}).items()
        if _plain_name(name) and (mp3.parent / name).is_file()
    }
    vtt = mp3.parent / files["vtt"] if "vtt" in files else None
    session = Session(
        name=mp3.stem,
        routine=record.get("routine", mp3.stem),
        title=record["title"],
        summary=record.get("summary") or "",
        source=record.get("source") or "",
        duration_ms=int(record["duration_ms"]),
        mp3_bytes=mp3.stat().st_size,
        built=datetime.fromtimestamp(record_path.stat().st_mtime, timezone.utc).replace(microsecond=0),
        files={**files, "mp3": mp3.name},
        chapters=tuple(Chapter(int(c["start_ms"]), int(c["end_ms"]), c["title"]) for c in record.get("chapters", [])),
        transcript=tuple(read_vtt(vtt.read_text(encoding="utf-8"))) if vtt else (),
    )
    _check_text(session)
    return session


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name == Path(name).name and not name.startswith(".")


def _check_text(session: Session) -> None:
    """Raise ValueError unless every text of the session is a string that can be written
    anywhere: lxml refuses a whole feed over one control character."""
    from ..routine.text import describe_character, unsafe_character

    texts = {
        "file name": session.name, "routine": session.routine, "title": session.title,
        "summary": session.summary, "source": session.source,
        **{f"file {kind}": name for kind, name in session.files.items()},
        **{f"chapter {i + 1}": chapter.title for i, chapter in enumerate(session.chapters)},
        **{f"transcript line {i + 1}": event.text for i, event in enumerate(session.transcript)},
    }
    for where, text in texts.items():
        if not isinstance(text, str):
            raise ValueError(f"{where}: expected text, found {type(text).__name__}")
        bad = unsafe_character(text)
        if bad is not None:
            raise ValueError(f"{where}: expected printable text, found {describe_character(bad)}")


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

    skipped: list[str] = []
    sessions = read_sessions(out_dir, skipped)
    outputs = {
        PLAYLIST_NAME: playlist(sessions).encode(),
        INDEX_NAME: index_html(sessions).encode(),
        FEED_NAME: feed_xml(sessions, base_url),
    }
    written = [out_dir / name for name, data in outputs.items() if _write_if_changed(out_dir / name, data)]
    return Published(len(sessions), written, tuple(skipped))


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    from ..atomic import ensure_dir, write_atomically

    ensure_dir(path.parent)
    write_atomically(path, data)
    return True

