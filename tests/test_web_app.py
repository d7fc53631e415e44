"""The page as a web app, without a browser: publish writes the manifest, the service worker
and the icons beside the page, redraws nothing already there, and the page links them; fifty
sessions are collapsed rows under a search box. (tests/test_phone.py plays it all in chromium.)"""

from __future__ import annotations

import io
import json
import re

from voiceguide.publish import app, publish
from voiceguide.publish.page import FIND_FROM, index_html
from voiceguide.publish.sessions import read_sessions
from tests.test_golden import write_sessions


def test_publish_writes_the_web_app_beside_the_page_once(tmp_path, monkeypatch):
    from PIL import Image

    out = tmp_path / "out"
    write_sessions(out)
    first = publish(out)
    names = {path.name for path in first.written}
    assert {"manifest.webmanifest", "sw.js", "icon-192.png", "icon-512.png", "index.html"} <= names
    for size in app.ICON_SIZES:
        with Image.open(io.BytesIO((out / f"icon-{size}.png").read_bytes())) as icon:
            assert (icon.format, icon.size) == ("PNG", (size, size))
    assert (out / "sw.js").read_bytes() == app.worker_js()

    # Published again, nothing changes, and the icons are not drawn again (no Pillow needed).
    monkeypatch.setattr(app, "icon_files", lambda: (_ for _ in ()).throw(AssertionError("icons redrawn")))
    assert publish(out).written == []
    (out / "sw.js").write_text("// an older worker")
    assert [path.name for path in publish(out).written] == ["sw.js"]


def test_the_manifest_names_the_app_its_icons_and_where_it_starts():
    manifest = json.loads(app.manifest_json())
    assert manifest["name"] == "voiceguide sessions" and manifest["short_name"] == "voiceguide"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("./", "./", "standalone")
    assert {(icon["src"], icon["sizes"]) for icon in manifest["icons"]} == {
        ("icon-192.png", "192x192"), ("icon-512.png", "512x512")}
    assert {icon["purpose"] for icon in manifest["icons"]} == {"any", "maskable"}
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])


def test_the_worker_keeps_the_files_the_page_and_manifest_name():
    worker = app.worker_js().decode()
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", worker).group(1))
    assert shell == ["./", app.MANIFEST_NAME, *(app.icon_name(size) for size in app.ICON_SIZES)]
    assert 'const KEPT = "voiceguide-kept"' in worker
    page_script = index_html([])
    assert 'const KEPT = "voiceguide-kept"' in page_script  # the cache the page keeps sessions in
    assert 'register("sw.js")' in page_script and app.WORKER_NAME == "sw.js"


def test_the_page_links_the_app_and_offers_each_mp3(tmp_path):
    out = tmp_path / "out"
    write_sessions(out)
    page = index_html(read_sessions(out))
    assert '<link rel="manifest" href="manifest.webmanifest">' in page
    assert '<link rel="icon" href="icon-192.png">' in page
    # Without JavaScript, or where nothing can be kept, the MP3 can still be saved.
    assert '<a class="save" href="alpha.mp3" download>Save MP3</a>' in page
    assert '<button type="button" class="keep" hidden>Keep on this phone</button>' in page
    # What the page needs to put the session on the lock screen and tell a kept copy's build.
    alpha = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r'<details class="session" id="alpha"[^>]*>', page).group()))
    assert (alpha["data-title"], alpha["data-cover"]) == ("Alpha Stretch", "alpha.png")
    assert re.fullmatch(rf"{(out / 'alpha.mp3').stat().st_size}-1709278200", alpha["data-version"])  # size, build time


def test_many_sessions_are_collapsed_rows_under_a_search_box(tmp_path):
    out = tmp_path / "out"
    write_sessions(out)
    sessions = read_sessions(out)
    few = index_html(sessions)
    assert 'id="find"' not in few and len(sessions) < FIND_FROM
    assert few.count('<details class="session"') == len(sessions) and " open>" not in few
    assert 'preload="none"' in few  # a closed session loads nothing until opened

    many = index_html(sessions * 17)
    assert 'id="find"' in many and many.count('<details class="session"') == 51
    assert index_html(sessions[:1]).count(" open>") == 1  # a page of one session shows it open
