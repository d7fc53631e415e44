"""Part of publish: every session -> a podcast feed (RSS 2.0 with the iTunes and Podcasting 2.0 tags).

feedgen writes the RSS and iTunes tags; the two Podcasting 2.0 tags it does not know,
podcast:chapters and podcast:transcript, are added by the small extension below.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

if TYPE_CHECKING:
    from .sessions import Session

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
FEED_TITLE = "voiceguide sessions"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the date of a feed with no sessions


def feed_xml(sessions: list[Session], base_url: str, title: str | None = None, author: str | None = None) -> bytes:
    """The feed, every file named by an absolute URL under `base_url`, with its own `title`
    and `author` if given. The same sessions give the same bytes (no build time in it), so
    an unchanged feed is not rewritten."""
    from .sessions import FEED_NAME, INDEX_NAME

    base = base_url.rstrip("/") + "/"
    feed = FeedGenerator()
    feed.load_extension("podcast")
    feed.register_extension("podcast2", _Podcast2, _Podcast2Entry)
    title = title or FEED_TITLE
    feed.title(title)
    feed.description("Narrated exercise sessions, made by voiceguide from routines written in YAML.")
    feed.link(href=base + FEED_NAME, rel="self")
    feed.link(href=base + INDEX_NAME, rel="alternate")  # the last link is RSS's <link>
    spoken = [s.language for s in sessions] or ["en"]
    # One per feed: the language of the most sessions (English among equals).
    feed.language(max(sorted(set(spoken)), key=lambda code: (spoken.count(code), code == "en")))
    feed.generator("voiceguide")
    feed.podcast.itunes_author(author or "voiceguide")
    feed.podcast.itunes_category("Health & Fitness", "Fitness")
    feed.podcast.itunes_explicit("no")
    feed.podcast.itunes_type("episodic")
    covers = [s.files["cover"] for s in sessions if "cover" in s.files]
    if covers:  # the show needs a picture; the first session's will do
        feed.image(url=base + quote(covers[0]), title=title, link=base + INDEX_NAME)
        feed.podcast.itunes_image(base + quote(covers[0]))
    feed.lastBuildDate(max((s.built for s in sessions), default=_EPOCH))

    for session in sessions:
        item = feed.add_entry(order="append")
        item.guid(f"voiceguide:{session.name}", permalink=False)  # by name: a rebuild is the same episode
        item.title(session.title)
        item.description(_description(session))
        item.link(href=f"{base}{INDEX_NAME}#{quote(session.name)}")
        item.pubDate(session.built)
        item.enclosure(base + quote(session.files["mp3"]), str(session.mp3_bytes), "audio/mpeg")
        item.podcast.itunes_duration(round(session.duration_ms / 1000))
        if "cover" in session.files:
            item.podcast.itunes_image(base + quote(session.files["cover"]))
        if "chapters" in session.files:
            item.podcast2.chapters = base + quote(session.files["chapters"])
        if "vtt" in session.files:
            item.podcast2.transcript = base + quote(session.files["vtt"])
    return feed.rss_str(pretty=True)


def _description(session: Session) -> str:
    """The episode's notes: its real length (from the plan), summary, safety advice, source."""
    from ..routine import phrases

    words = phrases.pack(session.language)
    minutes = max(1, round(session.duration_ms / 60_000))
    parts = [f"{words.word('length', minutes)}. {session.summary}".strip(),
             f"{words.word('before_you_start')}: " + " ".join(session.safety)]
    if session.source:
        parts.append(f"{words.word('source')}: {session.source}")
    if session.music_credit:
        parts.append(f"Music: {session.music_credit}")
    return "\n\n".join(parts)


class _Podcast2(BaseExtension):
    """The channel's part of the Podcasting 2.0 extension: only its namespace."""

    def extend_ns(self):
        return {"podcast": PODCAST_NS}


class _Podcast2Entry(BaseEntryExtension):
    """podcast:chapters and podcast:transcript of one item, set as plain attributes."""

    def __init__(self):
        self.chapters: str | None = None
        self.transcript: str | None = None

    def extend_rss(self, item):
        if self.chapters:
            xml_elem(f"{{{PODCAST_NS}}}chapters", item, url=self.chapters, type="application/json+chapters")
        if self.transcript:
            xml_elem(f"{{{PODCAST_NS}}}transcript", item, url=self.transcript, type="text/vtt", rel="captions")
        return item
