"""Stage 6, publish: every session in the output directory -> index page, podcast feed, playlist.

The sessions are read back from their plan records (NAME.json beside NAME.mp3), so the three
lists always name every session in the directory, however and whenever it was built, and
`voiceguide publish` can rewrite them without building anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The names of the lists, and the sessions they list, are the package's too.
from .sessions import DEFAULT_BASE_URL, DEFAULT_PORT, FEED_NAME, INDEX_NAME, PLAYLIST_NAME, Session, read_sessions  # noqa: F401


@dataclass(frozen=True)
class Published:
    sessions: int
    """Sessions listed."""
    written: list[Path]
    """Files (re)written; the others already said the same."""
    skipped: tuple[str, ...] = ()
    """Why each session that could not be listed was left out ('out/x.mp3: ...')."""
    base_url: str = DEFAULT_BASE_URL
    """Where the feed says the files are."""
    base_url_from: str = "default"
    """'given' (this time), 'kept' (given before, remembered in the directory) or 'default'."""


def playlist(sessions: list[Session]) -> str:
    """Extended M3U: each session's length in seconds and title, then its file name."""
    lines = ["#EXTM3U"]
    for session in sessions:
        title = " ".join(session.title.split())  # one line, whatever the YAML held
        lines.append(f"#EXTINF:{round(session.duration_ms / 1000)},{title}")
        lines.append(session.files["mp3"])
    return "\n".join(lines) + "\n"


def publish(out_dir: Path, base_url: str | None = None, title: str | None = None, author: str | None = None) -> Published:
    """Write the playlist, index page and podcast feed of every session in `out_dir`, and
    the files that make the page a web app (manifest, service worker, icons).

    Each file is written atomically, and only if it would change, so publishing an
    unchanged directory writes nothing. `base_url` is where the feed says the files are;
    it is remembered for `out_dir`, and without it the one given last time is kept.
    `title` and `author` are the feed's (a catalog's audience has its own).
    """
    from .app import ICON_SIZES, app_files, icon_files, icon_name
    from .base_url import base_url_for, remember
    from .feed import feed_xml
    from .page import index_html

    skipped: list[str] = []
    base_url, base_url_from = base_url_for(out_dir, base_url)
    sessions = read_sessions(out_dir, skipped)
    outputs = {
        PLAYLIST_NAME: playlist(sessions).encode(),
        INDEX_NAME: index_html(sessions).encode(),
        FEED_NAME: feed_xml(sessions, base_url, title, author),
        **app_files(),
    }
    if not all((out_dir / icon_name(size)).is_file() for size in ICON_SIZES):
        outputs.update(icon_files())  # drawn only when missing: an up-to-date build loads no Pillow
    written = [out_dir / name for name, data in outputs.items() if _write_if_changed(out_dir / name, data)]
    if base_url_from == "given":
        remember(out_dir, base_url)
    return Published(len(sessions), written, tuple(skipped), base_url, base_url_from)


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

