"""Stage 6, publish: the sessions in an output directory, read back from their plan records.

Each session is described by its record (NAME.json, a `SessionRecord`) and its transcript
(NAME.vtt); a session whose record is broken, or holds text that could not be written safely
into a page, a feed or a playlist, is left out with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..plan import Chapter, Event
from ..record import SessionRecord
from ..routine import phrases

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
    safety: tuple[str, ...]
    """The safety advice to show with it."""
    language: str
    """The language it is narrated in ('en', 'de'), from its record."""
    duration_ms: int
    mp3_bytes: int
    built: datetime
    """When the plan record was written (UTC): the session's date in the feed."""
    files: dict[str, str]
    """File names by kind (mp3, cover, vtt, chapters, plan); only files that exist."""
    chapters: tuple[Chapter, ...]
    transcript: tuple[Event, ...]
    """The spoken lines, from NAME.vtt."""
    music_credit: str = ""
    """Who made the music under the voice, if the routine says."""


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
    record = SessionRecord.from_json(record_path.read_text(encoding="utf-8"))
    # Only plain file names beside the MP3: a record is not trusted to point elsewhere.
    files = {
        kind: name for kind, name in record.files.items()
        if _plain_name(name) and (mp3.parent / name).is_file()
    }
    vtt = mp3.parent / files["vtt"] if "vtt" in files else None
    session = Session(
        name=mp3.stem,
        routine=record.routine or mp3.stem,
        title=record.title,
        summary=record.summary or "",
        source=record.source or "",
        music_credit=record.music.get("credit") or "" if isinstance(record.music, dict) else "",
        safety=tuple(record.safety) if isinstance(record.safety, list) and record.safety else phrases.pack("en").written_safety(),
        language=_language(record),
        duration_ms=record.duration_ms,
        mp3_bytes=mp3.stat().st_size,
        built=datetime.fromtimestamp(record_path.stat().st_mtime, timezone.utc).replace(microsecond=0),
        files={**files, "mp3": mp3.name},
        chapters=tuple(Chapter(int(c["start_ms"]), int(c["end_ms"]), c["title"]) for c in record.chapters),
        transcript=tuple(read_vtt(vtt.read_text(encoding="utf-8"))) if vtt else (),
    )
    _check_text(session)
    return session


def _language(record: SessionRecord) -> str:
    """The record's language if it is one with a pack, else English (older records have none)."""
    narration = record.settings.get("narration") if isinstance(record.settings, dict) else None
    language = narration.get("language") if isinstance(narration, dict) else None
    return language if isinstance(language, str) and phrases.language_problem(language) is None else "en"


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name == Path(name).name and not name.startswith(".")


def _check_text(session: Session) -> None:
    """Raise ValueError unless every text of the session is a string that can be written
    anywhere: lxml refuses a whole feed over one control character."""
    from ..text import describe_character, unsafe_character

    texts = {
        "file name": session.name, "routine": session.routine, "title": session.title,
        "summary": session.summary, "source": session.source, "music credit": session.music_credit,
        **{f"safety line {i + 1}": line for i, line in enumerate(session.safety)},
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
