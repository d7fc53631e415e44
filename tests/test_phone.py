"""The page as a phone's player, in headless chromium against `voiceguide serve` on 127.0.0.1:
the lock screen (Media Session) follows the chapters and moves by them, a position is kept
across reloads, a session kept on the phone plays and seeks with the network gone (its
byte ranges answered by the service worker), plain http on a LAN says why nothing can be
kept, and fifty sessions make a calm list to search, at 412 px wide.

The sessions are real MP3s with a fake voice (tests.conftest.fake_engine), so they are long
enough to seek to 5:00 and quick to build. $VOICEGUIDE_SCREENSHOTS names a directory to keep
the screenshots in (they go to the test's temporary directory otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.browser import chromium, serving

pytestmark = pytest.mark.integration

LONG = """\
title: Long Floor Session
summary: Three long holds on the floor, each side in turn.
exercises:
  - name: Knee hug
    sides: both
    steps: Lie on your back and hug one knee.
    hold: 60
  - name: Cobra
    steps: Lie on your front and press up gently.
    hold: 60
    reps: 2
  - name: Child's pose
    steps: Kneel and fold forward.
    hold: 90
"""

# Captures the handlers the page gives the Media Session, so a test can press the lock
# screen's buttons: the browser keeps them out of the page's reach.
CAPTURE_ACTIONS = """
window.mediaActions = {};
if (navigator.mediaSession) {
  const set = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
  navigator.mediaSession.setActionHandler = (action, handler) => { window.mediaActions[action] = handler; set(action, handler); };
}
"""
SESSION = "document.getElementById('long')"
AUDIO = f"{SESSION}.querySelector('audio')"
TITLE = "navigator.mediaSession.metadata && navigator.mediaSession.metadata.title"


@pytest.fixture(scope="module")
def phone_out(tmp_path_factory):
    """The long session, built with the fake voice, and published: the out directory."""
    from tests.conftest import fake_engine
    from voiceguide.batch import build_batch
    from voiceguide.routine.load import load_all
    from voiceguide.speech.cache import ClipCache

    tmp = tmp_path_factory.mktemp("phone")
    (tmp / "long.yaml").write_text(LONG)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fake_engine(monkeypatch)
        result = build_batch(load_all([tmp / "long.yaml"]), tmp / "out", cache=ClipCache(tmp / "cache"), publish=True)
    assert not result.failures and result.published.sessions == 1
    return tmp / "out"


@pytest.fixture(scope="module")
def chapters(phone_out) -> list[dict]:
    return json.loads((phone_out / "long.json").read_text())["chapters"]


@pytest.fixture
def context(tmp_path):
    with chromium(tmp_path / "profile") as context:
        context.add_init_script(CAPTURE_ACTIONS)
        yield context


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VOICEGUIDE_SCREENSHOTS") or tmp_path / "screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def opened(page, url: str) -> None:
    """The page at `url`, the long session open and its audio's length known."""
    page.goto(url)
    page.evaluate(f"{SESSION}.open = true")
    page.wait_for_function(f"{AUDIO}.readyState >= 1", timeout=15_000)


def test_the_lock_screen_follows_the_chapters_and_moves_by_them(context, phone_out, chapters):
    start = [c["start_ms"] / 1000 for c in chapters]
    names = [c["title"] for c in chapters]
    with serving(phone_out) as server:
        page = context.new_page()
        opened(page, server.url)
        page.evaluate(f"{AUDIO}.currentTime = {start[1] - 1.2}; {AUDIO}.play()")
        page.wait_for_function(f"navigator.mediaSession.playbackState === 'playing'", timeout=5_000)
        assert page.evaluate(TITLE) == names[0]
        metadata = page.evaluate(
            "(({title, artist, album, artwork}) => ({title, artist, album, artwork: artwork.map(a => a.src)}))"
            "(navigator.mediaSession.metadata)")
        assert metadata["artist"] == "Long Floor Session" and metadata["album"] == "voiceguide"
        assert metadata["artwork"] == [f"{server.url}long.png"]

        # Playing on across the chapter's start, the lock screen shows the next exercise.
        page.wait_for_function(f"{TITLE} === {json.dumps(names[1])}", timeout=10_000)
        assert page.evaluate(f"{AUDIO}.currentTime") >= start[1]

        # Next: the start of the chapter after; previous: the start of this one, then the one before.
        page.evaluate("mediaActions.nexttrack({action: 'nexttrack'})")
        assert start[2] <= page.evaluate(f"{AUDIO}.currentTime") < start[2] + 0.5
        page.wait_for_function(f"{TITLE} === {json.dumps(names[2])}", timeout=5_000)
        page.evaluate("mediaActions.previoustrack({action: 'previoustrack'})")  # within 3 s of its start
        assert start[1] <= page.evaluate(f"{AUDIO}.currentTime") < start[1] + 0.5
        page.evaluate(f"{AUDIO}.currentTime = {start[2] + 10}")
        page.evaluate("mediaActions.previoustrack({action: 'previoustrack'})")  # further in
        assert start[2] <= page.evaluate(f"{AUDIO}.currentTime") < start[2] + 0.5
        page.wait_for_function(f"{TITLE} === {json.dumps(names[2])}", timeout=5_000)
        # Seek backward and forward step 10 s.
        page.evaluate(f"{AUDIO}.pause(); {AUDIO}.currentTime = 100")
        page.evaluate("mediaActions.seekbackward({action: 'seekbackward'})")
        assert page.evaluate(f"{AUDIO}.currentTime") == pytest.approx(90, abs=0.1)
        page.evaluate("mediaActions.seekforward({action: 'seekforward'})")
        page.evaluate("mediaActions.seekforward({action: 'seekforward'})")
        assert page.evaluate(f"{AUDIO}.currentTime") == pytest.approx(110, abs=0.1)
        assert page.evaluate("navigator.mediaSession.playbackState") == "paused"
        # The lock screen's play and pause are the page's own.
        page.evaluate("mediaActions.play({action: 'play'})")
        page.wait_for_function("navigator.mediaSession.playbackState === 'playing'", timeout=5_000)
        assert not page.evaluate(f"{AUDIO}.paused")
        page.evaluate("mediaActions.pause({action: 'pause'})")
        assert page.evaluate(f"{AUDIO}.paused") and page.evaluate("navigator.mediaSession.playbackState") == "paused"


def test_a_saved_position_survives_a_reload_and_a_finished_session_is_done(context, phone_out, chapters):
    cobra = next(c for c in chapters if c["title"] == "Cobra")
    position = cobra["start_ms"] / 1000 + 16
    with serving(phone_out) as server:
        page = context.new_page()
        opened(page, server.url)
        page.evaluate(f"{AUDIO}.currentTime = {position}")
        page.wait_for_function(f"JSON.parse(localStorage.getItem('voiceguide:long') || '{{}}').position === {int(position)}",
                               timeout=5_000)
        page.reload()
        page.evaluate(f"{SESSION}.open = true")
        minutes, seconds = divmod(int(position), 60)
        resume = page.locator("#long .resume button")
        assert resume.inner_text() == f"Resume at {minutes}:{seconds:02d} (Cobra)"
        assert page.locator("#long .status").inner_text() == f"Left at {minutes}:{seconds:02d}"
        resume.click()
        assert page.evaluate(f"{AUDIO}.currentTime") == pytest.approx(int(position), abs=0.5)
        page.wait_for_function(f"!{AUDIO}.paused", timeout=5_000)

        # Played to the end, the session is done, with the date, and resumes no more.
        page.evaluate(f"{AUDIO}.currentTime = {AUDIO}.duration - 0.5")
        page.wait_for_function(f"{AUDIO}.ended", timeout=10_000)
        page.reload()
        today = page.evaluate("new Date().toLocaleDateString(undefined, {day: 'numeric', month: 'short', year: 'numeric'})")
        assert page.locator("#long .status").inner_text() == f"Done {today}"
        assert page.locator("#long .resume").is_hidden()
        saved = json.loads(page.evaluate("localStorage.getItem('voiceguide:long')"))
        assert (saved["position"], saved["done"], saved["times"]) == (None, date.today().isoformat(), 1)


def test_a_kept_session_plays_and_seeks_with_the_network_gone(context, phone_out, tmp_path):
    mp3 = (phone_out / "long.mp3").read_bytes()
    with serving(phone_out) as server:
        page = context.new_page()
        opened(page, server.url)
        worker = page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
        assert worker == f"{server.url}sw.js"  # the service worker registers
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
        # Chromium finds nothing missing to install it as an app (manifest, icons, worker).
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        cdp.detach()  # (attached, it would undo the offline emulation below)
        keep = page.locator("#long .keep")
        assert keep.inner_text() == "Keep on this phone"
        keep.click()
        page.wait_for_function(f"{SESSION}.querySelector('.kept').textContent.startsWith('Kept on this phone')",
                               timeout=30_000)
        assert keep.inner_text() == "Remove from this phone"

        server.stop()  # the network is gone: nothing answers on the server's port, and
        context.set_offline(True)  # the browser knows it is offline
        page.reload()
        page.evaluate(f"{SESSION}.open = true")
        page.wait_for_function("document.getElementById('notice').textContent.startsWith("
                               "'You are offline: the sessions kept on this phone play')", timeout=5_000)

        # The worker cuts byte ranges out of the kept file itself.
        for header, status, content_range, body in [
            ("bytes=1000-1999", 206, f"bytes 1000-1999/{len(mp3)}", mp3[1000:2000]),
            (f"bytes={len(mp3) - 10}-", 206, f"bytes {len(mp3) - 10}-{len(mp3) - 1}/{len(mp3)}", mp3[-10:]),
            ("bytes=-100", 206, f"bytes {len(mp3) - 100}-{len(mp3) - 1}/{len(mp3)}", mp3[-100:]),
            (f"bytes={len(mp3)}-", 416, f"bytes */{len(mp3)}", b""),
            (None, 200, None, mp3),
        ]:
            answer = page.evaluate("""async (range) => {
                const response = await fetch('long.mp3', range ? {headers: {Range: range}} : {});
                const body = new Uint8Array(await response.arrayBuffer());
                return {status: response.status, range: response.headers.get('Content-Range'),
                        length: Number(response.headers.get('Content-Length') ?? body.length),
                        body: Array.from(body.slice(0, 100)), size: body.length};
            }""", header)
            assert (answer["status"], answer["range"], answer["size"]) == (status, content_range, len(body)), header
            assert bytes(answer["body"]) == body[:100] and answer["length"] == len(body)

        # The audio element loads from the worker, and seeks to 5:00 and plays on from there.
        state = page.evaluate(f"""() => new Promise((resolve, reject) => {{
            const audio = {AUDIO};
            audio.addEventListener('error', () => reject(new Error('audio error ' + audio.error.code)));
            audio.addEventListener('canplay', () => {{
                audio.addEventListener('seeked', () => resolve({{time: audio.currentTime, ready: audio.readyState}}), {{once: true}});
                audio.currentTime = 300;
            }}, {{once: true}});
            audio.load();
        }})""")
        assert state["time"] == pytest.approx(300, abs=0.1) and state["ready"] >= 2
        page.evaluate(f"{AUDIO}.play()")
        page.wait_for_function(f"{AUDIO}.currentTime > 300.5", timeout=10_000)
        page.screenshot(path=screenshots(tmp_path) / "offline-kept-session.png")


def test_a_rebuilt_session_is_kept_again_and_a_removed_one_is_gone(context, phone_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(phone_out, out)
    kept = "(name) => caches.open('voiceguide-kept').then(c => c.match(name)).then(r => r ? r.arrayBuffer().then(b => b.byteLength) : null)"
    with serving(out) as server:
        page = context.new_page()
        opened(page, server.url)
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
        page.locator("#long .keep").click()
        page.wait_for_function(f"{SESSION}.querySelector('.kept').textContent.startsWith('Kept')", timeout=30_000)
        assert page.evaluate(kept, "long.mp3") == (out / "long.mp3").stat().st_size

        # Rebuilt: here the same audio with an ID3v1 tag after it, and a newer record.
        from voiceguide.publish import publish

        with open(out / "long.mp3", "ab") as mp3:
            mp3.write(b"TAG" + b"Long Floor Session".ljust(125, b"\0"))
        stamp = (out / "long.json").stat().st_mtime + 60
        os.utime(out / "long.json", (stamp, stamp))
        publish(out)
        page.reload()
        page.wait_for_function(f"{SESSION}.querySelector('.kept').textContent.startsWith('Kept')", timeout=30_000)
        assert page.evaluate(kept, "long.mp3") == (out / "long.mp3").stat().st_size

        page.evaluate(f"{SESSION}.open = true")
        page.locator("#long .keep").click()  # now "Remove from this phone"
        page.wait_for_function(f"{SESSION}.querySelector('.kept').textContent === 'Removed from this phone.'")
        assert page.evaluate(kept, "long.mp3") is None and page.evaluate(kept, "long.png") is None
        assert page.locator("#long .keep").inner_text() == "Keep on this phone"


def test_plain_http_on_a_lan_says_why_nothing_can_be_kept_and_offers_the_mp3(phone_out, tmp_path):
    with serving(phone_out) as server:
        port = server.server_address[1]
        # A name that is not localhost leads to the server: the page is not a secure context,
        # as at http://192.168.1.20:8000/ on a phone.
        with chromium(tmp_path / "profile", "--host-resolver-rules=MAP phone.lan 127.0.0.1") as context:
            page = context.new_page()
            page.goto(f"http://phone.lan:{port}/")
            page.wait_for_function("!document.getElementById('notice').hidden", timeout=5_000)
            assert page.evaluate("window.isSecureContext") is False
            notice = page.locator("#notice").inner_text()
            assert f"phone.lan:{port} is plain http" in notice and "Save MP3" in notice
            page.evaluate(f"{SESSION}.open = true")
            assert page.locator("#long .keep").is_hidden()
            save = page.locator("#long a.save")
            assert save.is_visible() and save.get_attribute("download") == "" and save.get_attribute("href") == "long.mp3"
            with page.expect_download() as download:
                save.click()
            assert Path(download.value.path()).read_bytes() == (phone_out / "long.mp3").read_bytes()
            page.screenshot(path=screenshots(tmp_path) / "plain-http.png")


TITLES = [
    "Morning Back Loosener", "Desk Break", "Hips After Running", "Neck and Shoulders",
    "Before Bed", "Lower Back Relief", "Hamstrings Slowly", "Ankles and Calves",
    "Upper Back Opener", "Ten-Minute Reset",
]


@pytest.fixture(scope="module")
def many_out(phone_out, tmp_path_factory) -> Path:
    """Fifty sessions: the long one under fifty names and titles, published."""
    from voiceguide.publish import publish

    out = tmp_path_factory.mktemp("many") / "out"
    out.mkdir()
    record = json.loads((phone_out / "long.json").read_text())
    for i in range(50):
        name = f"session-{i:02d}"
        files = {kind: file.replace("long", name, 1) for kind, file in record["files"].items()}
        for kind, file in record["files"].items():
            if kind != "plan":
                shutil.copyfile(phone_out / file, out / files[kind])
        title = f"{TITLES[i % len(TITLES)]}{f' {i // len(TITLES) + 1}' if i >= len(TITLES) else ''}"
        (out / files["plan"]).write_text(json.dumps({**record, "routine": name, "title": title, "files": files}))
    assert publish(out).sessions == 50
    return out


def test_fifty_sessions_are_a_calm_list_to_search(many_out, tmp_path):
    shots = screenshots(tmp_path)
    with serving(many_out) as server, chromium(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(server.url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 412  # nothing wider than the phone
        assert page.locator(".session[open]").count() == 0
        heights = page.locator(".session").evaluate_all("all => all.map(s => s.getBoundingClientRect().height)")
        assert len(heights) == 50 and max(heights) < 100  # one calm row each: cover, title, length
        page.screenshot(path=shots / "list-before-playback.png")

        page.locator("#find").fill("back")
        assert page.locator(".session:visible").count() == 15  # 'Morning Back…', 'Lower Back…', 'Upper Back…'
        visible = page.locator(".session:visible h2").all_inner_texts()
        assert visible and all("back" in title.lower() for title in visible)
        assert page.locator("#found").inner_text() == f"{len(visible)} of 50"
        page.locator("#find").fill("cobra")  # chapters are searched too: every session has a Cobra
        assert page.locator(".session:visible").count() == 50
        page.locator("#find").fill("yoga nidra")
        assert page.locator(".session:visible").count() == 0
        assert page.locator("#found").inner_text() == "No session has “yoga nidra”."
        page.locator("#find").fill("")

        # Tapped, a session opens to its player; a chapter tapped plays from there.
        page.locator("#session-02 > summary").click()
        page.locator("#session-02 .chapters button").nth(2).click()
        page.wait_for_function("document.querySelector('#session-02 .status').textContent === 'Playing: Cobra'",
                               timeout=10_000)
        page.evaluate("document.querySelector('#session-02').scrollIntoView({block: 'start'})")
        assert page.evaluate("document.documentElement.scrollWidth") <= 412
        assert page.locator("#now").is_hidden()  # its player is in sight
        page.screenshot(path=shots / "session-during-playback.png")

        # Scrolled away from the player, a bar says what plays and pauses it.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function("!document.getElementById('now').hidden", timeout=5_000)
        assert page.locator("#now span").inner_text() == "Cobra · Hips After Running"
        page.screenshot(path=shots / "list-during-playback.png")
        page.locator("#now button").click()
        assert page.evaluate("document.querySelector('#session-02 audio').paused")
        assert page.locator("#now button").inner_text() == "Play"
