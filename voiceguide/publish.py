"""Stage 6, publish: all sessions -> a playlist beside them (extended M3U)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .build import BuildResult

PLAYLIST_NAME = "playlist.m3u"


def playlist(sessions: Iterable[BuildResult], directory: Path) -> str:
    """Extended M3U: each session's length in seconds and title, then its file relative to `directory`."""
    lines = ["#EXTM3U"]
    for session in sorted(sessions, key=lambda s: (s.routine.id, s.mp3.name)):
        title = " ".join(session.routine.title.split())  # one line, whatever the YAML held
        lines.append(f"#EXTINF:{round(session.duration_ms / 1000)},{title}")
        lines.append(Path(os.path.relpath(session.mp3, directory)).as_posix())
    return "\n".join(lines) + "\n"


def publish_playlist(sessions: Iterable[BuildResult], path: Path) -> bool:
    """Write the playlist atomically, unless the file already says exactly that. True if written."""
    text = playlist(sessions, path.parent)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False  # an up-to-date batch rewrites nothing
    except (OSError, UnicodeDecodeError):
        pass
    from .errors import OutputError
    from .export import write_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write: {error.strerror}") from None
    write_atomically(path, text.encode("utf-8"))
    return True
