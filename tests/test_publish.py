"""Publish: the index page, the podcast feed and the playlist, from the sessions in out/."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.publish.feed import PODCAST_NS
from voiceguide.routine.load import load
from voiceguide.plan import plan
from voiceguide.publish import publish, read_sessions
from voiceguide.publish.sidecars import read_vtt, transcript_vtt

pytestmark = pytest.mark.integration

BASE = "https://example.org/stretches/"


def record(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def test_read_vtt_gives_back_the_spoken_lines_of_the_plan(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("title: Long Enough\nexercises:\n  - name: Lie still\n    steps: Lie still.\n    hold: 30m\n    reps: 3\n")
    timeline = plan(load(path), lambda text: 40 * len(text))
    assert timeline.duration_ms > 3600_000  # hours in the stamps
    assert read_vtt(transcript_vtt(timeline)) == timeline.speech()


def test_publish_lists_every_session_by_id_and_rewrites_nothing_unchanged(published):
    assert [s.name for s in read_sessions(published)] == ["alpha", "beta"]
    assert (published / "playlist.m3u").read_text() == (
        "#EXTM3U\n"
        f"#EXTINF:{round(record(published, 'alpha')['duration_ms'] / 1000)},Alpha Stretch\nalpha.mp3\n"
        f"#EXTINF:{round(record(published, 'beta')['duration_ms'] / 1000)},Beta Stretch\nbeta.mp3\n"
    )
    again = publish(published)
    assert again.sessions == 2 and again.written == []


def test_publish_leaves_out_what_is_not_a_session_and_copes_with_none(published, tmp_path):
    import feedparser

    out = tmp_path / "out"
    shutil.copytree(published, out)
    (out / "stray.mp3").write_bytes(b"not ours")
    (out / "half.mp3").write_bytes(b"its record is not written yet")
    (out / "half.json").write_text("{")
    assert [s.name for s in read_sessions(out)] == ["alpha", "beta"]

    empty = tmp_path / "empty"
    assert publish(empty).sessions == 0
    assert "No sessions yet" in (empty / "index.html").read_text()
    feed = feedparser.parse((empty / "feed.xml").read_bytes())
    assert not feed.bozo and feed.entries == []
    assert (empty / "playlist.m3u").read_text() == "#EXTM3U\n"


def test_the_feed_is_a_podcast_feed_with_every_session(published, tmp_path):
    import feedparser

    out = tmp_path / "out"
    shutil.copytree(published, out)
    publish(out, BASE)
    data = (out / "feed.xml").read_bytes()
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "rss20"
    assert feed.feed.title == "voiceguide sessions"
    assert [e.title for e in feed.entries] == ["Alpha Stretch", "Beta Stretch"]
    for entry, name in zip(feed.entries, ["alpha", "beta"]):
        assert entry.id == f"voiceguide:{name}"
        assert entry.enclosures == [
            {"href": f"{BASE}{name}.mp3", "length": str((out / f"{name}.mp3").stat().st_size), "type": "audio/mpeg"}
        ]
        assert entry.itunes_duration == str(round(record(out, name)["duration_ms"] / 1000))
        assert entry.image.href == f"{BASE}{name}.png"
    assert feed.entries[1].summary.endswith("Source: Written for the voiceguide tests.")

    # The Podcasting 2.0 tags, which feedparser does not read.
    items = ET.fromstring(data).findall("./channel/item")
    for item, name in zip(items, ["alpha", "beta"]):
        chapters = item.find(f"{{{PODCAST_NS}}}chapters")
        transcript = item.find(f"{{{PODCAST_NS}}}transcript")
        assert chapters.attrib == {"url": f"{BASE}{name}.chapters.json", "type": "application/json+chapters"}
        assert transcript.attrib == {"url": f"{BASE}{name}.vtt", "type": "text/vtt", "rel": "captions"}


class _Page(HTMLParser):
    """What a test needs from the index page: the elements' attributes, by tag."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def test_the_index_page_holds_every_session_and_needs_no_network(published):
    text = (published / "index.html").read_text()
    page = _Page(text)
    assert [a["src"] for a in page.all("audio")] == ["alpha.mp3", "beta.mp3"]
    assert [i["src"] for i in page.all("img")] == ["alpha.png", "beta.png"]
    links = [a.get("src") or a.get("href") for tag, a in page.tags if a.get("src") or a.get("href")]
    assert all(":" not in link or link.startswith("data:") for link in links), links  # no CDN; works from file://
    for name in ("alpha", "beta"):
        starts = [a["data-start"] for a in page.all("button") if "data-start" in a]
        assert all(f"{c['start_ms'] / 1000:.3f}" in starts for c in record(published, name)["chapters"])
        lines = read_vtt((published / f"{name}.vtt").read_text())
        for line in lines:
            assert f'data-start="{line.start_ms / 1000:.3f}" data-end="{line.end_ms / 1000:.3f}">{escape(line.text)}<' in text
    assert "Alpha Stretch" in text and "Reach up, then fold." in text


def test_publish_command_rewrites_only_what_changed(published, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(published, "out")
    run = CliRunner().invoke
    result = run(cli, ["publish"])
    assert (result.exit_code, result.output) == (0, "up to date: out/index.html, out/feed.xml, out/playlist.m3u (2 sessions)\n")

    Path("out/index.html").unlink()
    result = run(cli, ["publish", "--base-url", "https://example.org/x"])
    assert (result.exit_code, result.output) == (0, "published: out/index.html, out/feed.xml (2 sessions)\n"
                                                    "feed: its files are under https://example.org/x/ (kept for later runs)\n")
    assert b'url="https://example.org/x/alpha.mp3"' in Path("out/feed.xml").read_bytes()
    assert Path("out/.voiceguide-base-url").read_text() == "https://example.org/x/\n"  # hidden: never served

    bad = run(cli, ["publish", "--base-url", "example.org"])
    assert bad.exit_code == 2
    assert "expected an absolute http(s) URL like https://example.org/stretches/, found 'example.org'" in bad.output

    missing = run(cli, ["publish", "--out", "nowhere"])
    assert (missing.exit_code, missing.output) == (
        1, "error: nowhere: no such directory (build the sessions first: voiceguide build --all)\n")
