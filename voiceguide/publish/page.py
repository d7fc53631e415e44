"""Part of publish: every session -> index.html, one page to listen on a phone.

The page is self-contained: its CSS and JS are inline, and the chapters and transcript are
written into it as HTML (with their times as data attributes), because a page opened from
the file system cannot fetch the .vtt and .json beside it. Audio and covers are linked by
relative URL, so the page works from the file system and served alike.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from .sessions import Session


def index_html(sessions: list[Session]) -> str:
    count = f"{len(sessions)} session{'' if len(sessions) == 1 else 's'}"
    body = "\n".join(_session(s) for s in sessions) or (
        '<p class="empty">No sessions yet. Build some with <code>voiceguide build --all</code>.</p>'
    )
    # The sessions go in last, so nothing in their text is taken for a placeholder.
    page = _PAGE.replace("{style}", _STYLE.strip()).replace("{script}", _SCRIPT.strip())
    return page.replace("{count}", count).replace("{sessions}", body)


def _session(session: Session) -> str:
    files = session.files
    cover = (
        f'<img class="cover" src="{_url(files["cover"])}" alt="" width="88" height="88">' if "cover" in files else ""
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
    parts = [
        f'<article class="session" id="{escape(session.name)}">',
        f'<header>{cover}<div><h2>{escape(session.title)}</h2>',
        f'<p class="meta">{_minutes(session.duration_ms)} · {len(session.chapters)} chapters</p></div></header>',
        f'<p class="summary">{escape(session.summary)}</p>' if session.summary else "",
        f'<audio controls preload="metadata" src="{_url(files["mp3"])}"></audio>',
        f'<h3>Chapters</h3>\n<ol class="chapters">\n{chapters}\n</ol>' if chapters else "",
        f'<details class="transcript" open><summary>Transcript</summary>\n<ol class="lines">\n{lines}\n</ol></details>'
        if lines else "",
        '<details class="safety"><summary>Before you start</summary>\n<ul>\n'
        + "\n".join(f"<li>{escape(line)}</li>" for line in session.safety) + "\n</ul></details>",
        f'<p class="source">Source: {escape(session.source)}</p>' if session.source else "",
        "</article>",
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


def _minutes(ms: int) -> str:
    return f"{max(1, round(ms / 60_000))} min"


_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>voiceguide sessions</title>
<link rel="icon" href="data:,">
<link rel="alternate" type="application/rss+xml" title="voiceguide sessions" href="feed.xml">
<style>
{style}
</style>
</head>
<body>
<main>
<h1>voiceguide <span>{count}</span></h1>
{sessions}
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

_STYLE = """
:root {
  --bg: #f5f3ee; --card: #fffdf8; --text: #1f2a2c; --muted: #5d6b6c;
  --accent: #2f6b6e; --accent-soft: #dcebe8; --line: #e3ded3;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #151b1c; --card: #1d2526; --text: #e8ece9; --muted: #9fb0ae;
    --accent: #8cc7c1; --accent-soft: #2a3d3d; --line: #2e3a3b;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 1.0625rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  -webkit-text-size-adjust: 100%;
}
main { max-width: 40rem; margin: 0 auto; padding: 1rem 0.75rem 3rem; }
h1 { font-size: 1.25rem; font-weight: 600; margin: 0.25rem 0.25rem 1rem; }
h1 span { color: var(--muted); font-weight: 400; font-size: 1rem; margin-left: 0.4rem; }
.session {
  background: var(--card); border: 1px solid var(--line); border-radius: 1rem;
  padding: 1rem; margin-bottom: 1.25rem;
}
.session header { display: flex; gap: 0.9rem; align-items: center; }
.cover { width: 5.5rem; height: 5.5rem; border-radius: 0.6rem; flex: none; object-fit: cover; }
h2 { font-size: 1.25rem; line-height: 1.3; margin: 0; }
.meta { color: var(--muted); margin: 0.2rem 0 0; }
.summary { margin: 0.9rem 0; }
audio { display: block; width: 100%; height: 3.25rem; margin: 0.9rem 0 0.5rem; }
h3, summary { font-size: 0.95rem; font-weight: 600; color: var(--muted); letter-spacing: 0.02em; }
h3 { margin: 1rem 0 0.4rem; }
ol { list-style: none; margin: 0; padding: 0; }
.chapters button {
  display: flex; gap: 0.75rem; align-items: baseline; width: 100%; min-height: 3rem;
  padding: 0.6rem 0.75rem; margin: 0; border: 0; border-radius: 0.6rem;
  background: none; color: inherit; font: inherit; text-align: left; cursor: pointer;
}
.chapters li + li button { border-top: 1px solid var(--line); border-radius: 0; }
.chapters .time { color: var(--muted); font-variant-numeric: tabular-nums; min-width: 3.2rem; }
.chapters button[aria-current] { background: var(--accent-soft); border-radius: 0.6rem; }
.chapters button[aria-current] .time { color: var(--accent); }
.transcript { margin-top: 1rem; }
summary { cursor: pointer; padding: 0.6rem 0; min-height: 3rem; }
.lines {
  position: relative; max-height: 15rem; overflow-y: auto; padding: 0.25rem;
  border-top: 1px solid var(--line); border-bottom: 1px solid var(--line);
}
.lines li { padding: 0.45rem 0.6rem; border-radius: 0.5rem; color: var(--muted); cursor: pointer; }
.lines li[aria-current] { background: var(--accent-soft); color: var(--text); }
.source { color: var(--muted); font-size: 0.875rem; margin: 1rem 0 0; }
footer { color: var(--muted); font-size: 0.9375rem; text-align: center; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
"""

# Tapping a chapter or a line of the transcript seeks there and plays; as the audio plays,
# the current chapter and the line being spoken are marked (aria-current) and the transcript
# keeps that line in view. One session plays at a time.
_SCRIPT = """
const players = [...document.querySelectorAll(".session audio")];
const feed = document.getElementById("feed");
if (location.protocol.startsWith("http")) feed.textContent = new URL("feed.xml", location.href).href;

for (const session of document.querySelectorAll(".session")) {
  const audio = session.querySelector("audio");
  const chapters = [...session.querySelectorAll(".chapters button")];
  const lines = [...session.querySelectorAll(".lines li")];
  const box = session.querySelector(".lines");
  let spoken = null;

  session.addEventListener("click", (event) => {
    const target = event.target.closest("[data-start]");
    if (!target) return;
    audio.currentTime = Number(target.dataset.start);
    audio.play().catch(() => {});  // the browser may refuse to play; the seek stands
    mark();
  });

  function current(items, time) {
    let found = null;
    for (const item of items) if (Number(item.dataset.start) <= time) found = item;
    return found;
  }

  function mark() {
    const time = audio.currentTime;
    const chapter = current(chapters, time);
    for (const button of chapters) button.toggleAttribute("aria-current", button === chapter);
    let line = current(lines, time);
    if (line && time >= Number(line.dataset.end)) line = null;  // between lines: nothing is said
    if (line === spoken) return;
    if (spoken) spoken.removeAttribute("aria-current");
    spoken = line;
    if (line) {
      line.setAttribute("aria-current", "true");
      box.scrollTo({ top: line.offsetTop - box.clientHeight / 3, behavior: "smooth" });
    }
  }

  audio.addEventListener("timeupdate", mark);
  audio.addEventListener("seeked", mark);
  audio.addEventListener("play", () => {
    for (const other of players) if (other !== audio) other.pause();
  });
}
"""
