"""The index page in a real headless browser (Debian's chromium, driven by playwright), served
by `voiceguide serve` on the loopback address and opened from the file system.

Skipped when chromium or playwright is missing; `scripts/setup --test` installs both.
"""

from __future__ import annotations

import json

import pytest

from tests.browser import chromium
from voiceguide.publish.sidecars import read_vtt

pytestmark = pytest.mark.integration

PLAYERS_READY = "[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)"
OPEN_ALL = "document.querySelectorAll('.session').forEach(s => { s.open = true; })"


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "profile") as context:
        yield context.new_page()


def test_the_page_plays_every_session_and_its_chapters_seek(browser, server, published):
    records = [json.loads((published / f"{name}.json").read_text()) for name in ("alpha", "beta")]
    page = browser
    page.goto(server.url)
    page.evaluate(OPEN_ALL)  # each session is collapsed until tapped; its audio loads then
    page.wait_for_function(PLAYERS_READY, timeout=15_000)

    durations = page.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
    assert len(durations) == len(records)  # one player per session
    for duration, record in zip(durations, records):
        assert abs(duration - record["duration_ms"] / 1000) < 0.25, (duration, record["duration_ms"])

    for i, record in enumerate(records):
        session = page.locator(".session").nth(i)
        chapter = record["chapters"][1]
        session.locator(".chapters button").nth(1).click()
        now = session.locator("audio").evaluate("a => a.currentTime")
        assert chapter["start_ms"] / 1000 - 0.05 <= now < chapter["start_ms"] / 1000 + 0.5
        assert session.locator(".chapters button[aria-current]").inner_text().endswith(chapter["title"])
        session.locator("audio").evaluate("a => a.pause()")

    # The line being spoken is marked as the audio gets there.
    line = read_vtt((published / "beta.vtt").read_text())[2]
    session = page.locator(".session").nth(1)
    session.locator("audio").evaluate(f"a => {{ a.currentTime = {(line.start_ms + line.end_ms) / 2000}; }}")
    page.wait_for_function(
        "text => document.querySelectorAll('.session')[1].querySelector('.lines li[aria-current]')?.textContent === text",
        arg=line.text, timeout=5_000,
    )


def test_the_page_works_from_the_file_system(browser, published):
    page = browser
    page.goto((published / "index.html").as_uri())
    page.evaluate(OPEN_ALL)
    page.wait_for_function(PLAYERS_READY, timeout=15_000)
    durations = page.evaluate("[...document.querySelectorAll('audio')].map(a => a.duration)")
    assert len(durations) == 2 and all(d > 5 for d in durations)
    assert page.locator(".session img").evaluate_all("images => images.every(i => i.naturalWidth > 0)")
