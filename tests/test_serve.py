"""Serve: byte ranges, content types, the feed through the server, nothing outside out/.

Every request goes to a server on the loopback address.
"""

from __future__ import annotations

import http.client
import os
import socket
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide import serve as serving
from voiceguide.cli import cli
from voiceguide.serve import make_server, requested_range

pytestmark = pytest.mark.integration


def request(server, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One raw request: the path is sent exactly as given, not normalized by a client library."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_requested_range():
    assert requested_range(None, 100) is None
    assert requested_range("bytes=0-9", 100) == (0, 9)
    assert requested_range("bytes=90-", 100) == (90, 99)
    assert requested_range("bytes=90-500", 100) == (90, 99)
    assert requested_range("bytes=-10", 100) == (90, 99)
    assert requested_range("bytes=-500", 100) == (0, 99)
    assert requested_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert requested_range("bytes=9-1", 100) is None  # invalid: ignored
    assert requested_range("items=0-1", 100) is None
    with pytest.raises(ValueError):
        requested_range("bytes=100-", 100)
    with pytest.raises(ValueError):
        requested_range("bytes=-0", 100)


def test_byte_ranges_let_a_player_seek_and_resume(server, published):
    mp3 = (published / "alpha.mp3").read_bytes()
    size = len(mp3)

    status, headers, body = request(server, "/alpha.mp3", headers={"Range": "bytes=100-1099"})
    assert status == 206
    assert headers["content-range"] == f"bytes 100-1099/{size}"
    assert headers["content-length"] == "1000" and body == mp3[100:1100]
    assert headers["content-type"] == "audio/mpeg"

    status, headers, body = request(server, "/alpha.mp3", headers={"Range": f"bytes={size - 10}-"})
    assert (status, headers["content-range"], body) == (206, f"bytes {size - 10}-{size - 1}/{size}", mp3[-10:])

    status, headers, body = request(server, "/alpha.mp3", headers={"Range": f"bytes={size}-"})
    assert (status, headers["content-range"], body) == (416, f"bytes */{size}", b"")

    status, headers, body = request(server, "/alpha.mp3")
    assert (status, headers["accept-ranges"], body) == (200, "bytes", mp3)

    status, headers, body = request(server, "/alpha.mp3", method="HEAD")
    assert (status, headers["content-length"], body) == (200, str(size), b"")


def test_every_file_has_its_content_type(server):
    expected = {
        "/": "text/html; charset=utf-8",
        "/index.html": "text/html; charset=utf-8",
        "/alpha.png": "image/png",
        "/alpha.vtt": "text/vtt; charset=utf-8",
        "/alpha.chapters.json": "application/json",
        "/feed.xml": "application/rss+xml; charset=utf-8",
        "/playlist.m3u": "audio/x-mpegurl",
    }
    for path, content_type in expected.items():
        status, headers, _ = request(server, path)
        assert (path, status, headers["content-type"]) == (path, 200, content_type)


def test_nothing_outside_the_directory_can_be_read(published, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for phones")
    served = tmp_path / "served"
    served.mkdir()
    (served / "alpha.mp3").write_bytes((published / "alpha.mp3").read_bytes())
    (served / ".hidden").write_text("a temporary file")
    (served / "link.txt").symlink_to(secret)
    (served / "sub").mkdir()
    server = make_server(served, "127.0.0.1", 0)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in [
            "/../secret.txt", "/../../../../etc/passwd", "/%2e%2e/secret.txt", "/%2E%2E/%2E%2E/etc/passwd",
            "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/sub/../../secret.txt", "//etc/passwd",
            "/%252e%252e/secret.txt", "/..\\secret.txt", "/link.txt", "/.hidden", "/sub", "/sub/",
            "/%00", "/%ff%fe", "/index.html",  # no index here
        ]:
            status, _, body = request(server, path)
            assert status in (403, 404), (path, status)
            assert b"not for phones" not in body and b"root:" not in body
        assert request(server, "/alpha.mp3")[0] == 200
        for method in ("POST", "PUT", "DELETE"):
            assert request(server, "/alpha.mp3", method=method)[0] in (405, 501)
        assert (served / "alpha.mp3").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_the_served_feed_points_back_at_the_server(server, published):
    import feedparser

    with urllib.request.urlopen(server.url + "feed.xml", timeout=10) as response:
        feed = feedparser.parse(response.read())
    assert not feed.bozo and len(feed.entries) == 2
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.href.startswith(server.url)
        with urllib.request.urlopen(urllib.request.Request(enclosure.href, method="HEAD"), timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Length"] == enclosure.length
        name = enclosure.href.rsplit("/", 1)[1]
        assert int(enclosure.length) == (published / name).stat().st_size


def test_port_8000_taken_means_another_free_port(published, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(serving, "DEFAULT_PORT", taken.getsockname()[1])
        server = make_server(published)
        try:
            assert server.server_address[1] != taken.getsockname()[1]
            assert server.url == f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.server_close()
        explicit = CliRunner().invoke(cli, ["serve", "--out", str(published), "--port", str(taken.getsockname()[1])])
        assert explicit.exit_code == 1
        assert explicit.output.startswith(f"error: cannot serve on 127.0.0.1:{taken.getsockname()[1]}: ")


def test_serve_command_prints_the_address_and_stops_cleanly_on_ctrl_c(published, monkeypatch):
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(serving.Server, "serve_forever", interrupted)
    monkeypatch.setattr(serving, "lan_address", lambda: "127.0.0.1")  # no real network in tests
    run = CliRunner().invoke
    result = run(cli, ["serve", "--out", str(published), "--port", "0"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    url = lines[0].rsplit(" ", 1)[1]
    assert lines == [f"serving {published}/ at {url}", f"podcast feed: {url}feed.xml", "Ctrl-C stops", "stopped"]
    assert url.startswith("http://127.0.0.1:")

    lan = run(cli, ["serve", "--out", str(published), "--port", "0", "--lan"])
    assert lan.exit_code == 0, lan.output
    lines = lan.output.splitlines()
    assert lines[0].startswith(f"serving {published}/ at http://127.0.0.1:")
    qr = lines[1:-3]
    assert len(qr) > 10 and all(set(line) <= set(" █▀▄") for line in qr)
    assert lines[-3:] == [f"podcast feed: {lines[0].rsplit(' ', 1)[1]}feed.xml", "Ctrl-C stops", "stopped"]

    both = run(cli, ["serve", "--lan", "--host", "0.0.0.0"])
    assert both.exit_code == 2 and "give --lan or --host, not both" in both.output

    missing = run(cli, ["serve", "--out", os.devnull + "-nowhere"])
    assert (missing.exit_code, missing.output) == (
        1, f"error: {os.devnull}-nowhere: no such directory (build the sessions first: voiceguide build --all)\n")


def test_lan_address_is_not_loopback_or_says_why(monkeypatch):
    class NoNetwork:
        def __init__(self, *args):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *args):
            pass

        def connect(self, address):
            raise OSError("Network is unreachable")

    monkeypatch.setattr(serving.socket, "socket", NoNetwork)
    with pytest.raises(serving.OutputError, match="no local network found: connect this machine to the Wi-Fi"):
        serving.lan_address()
