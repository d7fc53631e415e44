"""Part of publish: every session -> index.html, one page to listen on a phone.

The page is self-contained: its CSS and JS (page.css, page.js and keep.js beside this module)
are inline, and the chapters and transcript are written into it as HTML (with their times as
data attributes), because a page opened from the file system cannot fetch the .vtt and .json
beside it. Audio and covers are linked by relative URL, so the page works from the file
system and served alike. Served, it is also a web app (app.py: manifest, icons, worker).

Each session is a collapsed <details>, so fifty of them are a calm list to search; its
player, chapters and transcript open under it.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..routine import phrases
from .app import MANIFEST_NAME, THEME_COLOR, icon_name

if TYPE_CHECKING:
    from .sessions import Session

FIND_FROM = 6
"""From this many sessions on, the page has a search box."""


def index_html(sessions: list[Session]) -> str:
    count = f"{len(sessions)} session{'' if len(sessions) == 1 else 's'}"
    body = "\n".join(_session(s, opened=len(sessions) == 1) for s in sessions) or (
        '<p class="empty">No sessions yet. Build some with <code>voiceguide build --all</code>.</p>'
    )
    find = _FIND if len(sessions) >= FIND_FROM else ""
    script = "\n".join(_asset(name).strip() for name in ("page.js", "keep.js"))
    # The sessions go in last, so nothing in their text is taken for a placeholder.
    page = _PAGE.replace("{style}", _asset("page.css").strip()).replace("{script}", script)
    languages = {s.language for s in sessions}
    page = page.replace("{lang}", languages.pop() if len(languages) == 1 else "en")  # each session says its own
    page = page.replace("{manifest}", MANIFEST_NAME).replace("{icon}", icon_name(192)).replace("{theme}", THEME_COLOR)
    return page.replace("{count}", count).replace("{find}", find).replace("{sessions}", body)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _session(session: Session, opened: bool) -> str:
    files = session.files
    words = phrases.pack(session.language)
    cover = (
        f'<img class="cover" src="{_url(files["cover"])}" alt="" width="56" height="56" loading="lazy">'
        if "cover" in files else '<span class="cover"></span>'
    )
    chapters = "\n".join(
        f'<li><button type="button" data-start="{_seconds(c.start_ms)}">'
        f'<span class="time">{_clock(c.start_ms)}</span> <span class="name">{escape(c.title)}</span></button></li>'
        for c in session.chapters
    )
    lines = "\n".join(
        f'<li data-start="{_seconds(e.start_ms)}" data-end="{_seconds(e.end_ms)}">{escape(e.text)}</li>'
        for e in session.transcript
    )
    mp3 = _url(files["mp3"])
    # What the page needs to keep the session on the phone and show it on the lock screen; the
    # version tells a kept copy of an older build from this one.
    data = (
        f' data-title="{escape(session.title)}" data-version="{session.mp3_bytes}-{int(session.built.timestamp())}"'
        + (f' data-cover="{_url(files["cover"])}"' if "cover" in files else "")
    )
    parts = [
        f'<details class="session" id="{escape(session.name)}" lang="{session.language}"{data}{" open" if opened else ""}>',
        f'<summary>{cover}<h2>{escape(session.title)}</h2>',
        f'<span class="meta">{words.word("length", _minutes(session.duration_ms))} · {words.word("chapters")}: {len(session.chapters)}</span>'
        '<span class="status"></span></summary>',
        f'<p class="summary">{escape(session.summary)}</p>' if session.summary else "",
        f'<audio controls preload="{"metadata" if opened else "none"}" src="{mp3}"></audio>',
        '<p class="resume" hidden><button type="button"></button></p>',
        f'<p class="actions"><button type="button" class="keep" hidden>Keep on this phone</button> '
        f'<a class="save" href="{mp3}" download>Save MP3</a> <span class="kept" role="status"></span></p>',
        f'<h3>{words.word("chapters")}</h3>\n<ol class="chapters">\n{chapters}\n</ol>' if chapters else "",
        f'<details class="transcript"><summary>{words.word("transcript")}</summary>\n<ol class="lines">\n{lines}\n</ol></details>'
        if lines else "",
        f'<details class="safety"><summary>{words.word("before_you_start")}</summary>\n<ul>\n'
        + "\n".join(f"<li>{escape(line)}</li>" for line in session.safety) + "\n</ul></details>",
        f'<p class="source">{words.word("source")}: {escape(session.source)}</p>' if session.source else "",
        f'<p class="source">Music: {escape(session.music_credit)}</p>' if session.music_credit else "",
        "</details>",
    ]
    return "\n".join(part for part in parts if part)


def _url(name: str) -> str:
    return escape(quote(name))


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _clock(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _minutes(ms: int) -> int:
    return max(1, round(ms / 60_000))


_FIND = """\
<p class="find"><input type="search" id="find" placeholder="Find a session or an exercise" \
aria-label="Find a session or an exercise" autocomplete="off"> <span id="found" role="status"></span></p>
"""

_PAGE = """\
<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="{theme}">
<title>voiceguide sessions</title>
<link rel="manifest" href="{manifest}">
<link rel="icon" href="{icon}">
<link rel="apple-touch-icon" href="{icon}">
<link rel="alternate" type="application/rss+xml" title="voiceguide sessions" href="feed.xml">
<style>
{style}
</style>
</head>
<body>
<main>
<h1>voiceguide <span>{count}</span></h1>
<p id="notice" class="notice" role="status" hidden></p>
{find}{sessions}
<p id="now" class="now" hidden><button type="button">Pause</button> <a href="#"><span></span></a></p>
<footer>
<p>Subscribe in a podcast app: <a id="feed" href="feed.xml">feed.xml</a><br>
Playlist for music players: <a href="playlist.m3u">playlist.m3u</a></p>
</footer>
</main>
<script>
{script}
</script>
</body>
</html>
"""
