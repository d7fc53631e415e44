"""Serve: byte ranges, content types, the feed through the server, nothing outside out/, and
clients that send too much, too slowly, or nothing at all.

Every request goes to a server on the loopback address.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.publish import serve as serving
from voiceguide.cli import cli
from voiceguide.publish.serve import make_server, requested_range

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


@contextlib.contextmanager
def running(server):
    """The server serving in a thread, stopped and closed at the end."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def read_response(stream, head: bool = False) -> tuple[int, http.client.HTTPMessage, bytes] | None:
    """One response read from a connection's stream (sock.makefile("rb")), or None at its end."""
    try:
        line = stream.readline()
    except ConnectionResetError:
        return None
    if not line:
        return None
    status = int(line.split()[1])
    headers = http.client.parse_headers(stream)
    return status, headers, b"" if head else stream.read(int(headers.get("Content-Length", 0)))


def get(path: str, *headers: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: test", *headers, "", ""]).encode()


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
    assert requested_range("Bytes=0-9", 100) == (0, 9)  # the unit is case-insensitive
    for header in ("bytes=-5", "bytes=0-", "bytes=0-0"):  # nothing in an empty file to send
        with pytest.raises(ValueError):
            requested_range(header, 0)


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

    # If-Range: the range only if the player's part is of this very file, else all of it.
    same = {"Range": "bytes=0-9", "If-Range": headers["last-modified"]}
    assert request(server, "/alpha.mp3", headers=same)[::2] == (206, mp3[:10])
    older = {"Range": "bytes=0-9", "If-Range": '"an-older-file"'}
    assert request(server, "/alpha.mp3", headers=older)[::2] == (200, mp3)


def test_every_file_has_its_content_type(server):
    expected = {
        "/": "text/html; charset=utf-8",
        "/index.html": "text/html; charset=utf-8",
        "/alpha.png": "image/png",
        "/alpha.vtt": "text/vtt; charset=utf-8",
        "/alpha.chapters.json": "application/json",
        "/feed.xml": "application/rss+xml; charset=utf-8",
        "/playlist.m3u": "audio/x-mpegurl",
        "/manifest.webmanifest": "application/manifest+json",
        "/sw.js": "text/javascript; charset=utf-8",
        "/icon-192.png": "image/png",
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
    with running(make_server(served, "127.0.0.1", 0)) as server:
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


def test_links_lead_only_to_visible_files_inside(published, tmp_path):
    mp3 = (published / "alpha.mp3").read_bytes()
    (tmp_path / "secret.txt").write_text("not for phones")
    served = tmp_path / "served"
    (served / ".private").mkdir(parents=True)
    (served / ".private" / "notes.txt").write_text("not for phones")
    (served / ".partial.mp3").write_text("not for phones")
    (served / "alpha.mp3").write_bytes(mp3)
    (served / "partial.mp3").symlink_to(".partial.mp3")  # a visible name for a hidden file
    (served / "notes.txt").symlink_to(served / ".private" / "notes.txt")
    (served / "shelf").symlink_to(".private")  # a visible name for a hidden directory
    (served / "secret.txt").symlink_to(tmp_path / "secret.txt")
    (served / "latest.mp3").symlink_to("alpha.mp3")
    with running(make_server(served, "127.0.0.1", 0)) as server:
        for path in ["/partial.mp3", "/notes.txt", "/shelf/notes.txt", "/secret.txt"]:
            status, _, body = request(server, path)
            assert (path, status) == (path, 404) and b"not for phones" not in body
        assert request(server, "/latest.mp3")[::2] == (200, mp3)  # a link to a visible file inside


def test_an_empty_file_has_no_range_to_send(tmp_path):
    (tmp_path / "empty.vtt").write_bytes(b"")
    with running(make_server(tmp_path, "127.0.0.1", 0)) as server:
        for wanted in ("bytes=-5", "bytes=0-", "bytes=0-0"):
            status, headers, body = request(server, "/empty.vtt", headers={"Range": wanted})
            assert (wanted, status, headers["content-range"], body) == (wanted, 416, "bytes */0", b"")
        assert request(server, "/empty.vtt")[::2] == (200, b"")


def test_200_range_requests_at_once_are_all_answered(published):
    somaxconn = Path("/proc/sys/net/core/somaxconn")
    if somaxconn.exists() and int(somaxconn.read_text()) < 200:
        pytest.skip("this system queues fewer than 200 connections (net.core.somaxconn)")
    mp3 = (published / "alpha.mp3").read_bytes()
    size = len(mp3)
    step = (size - 3000) // 200
    wanted = [(i * step, i * step + 500 + i % 7 * 400) for i in range(200)]  # ranges of 0.5 to 2.9 KB
    server = make_server(published, "127.0.0.1", 0)
    clients = []
    try:
        # All connect and send their request before the server takes one, as when a burst comes
        # faster than it accepts: the system must hold them all (a connection it cannot hold
        # tries again 1 s later, past this timeout).
        clients = [socket.create_connection(server.server_address[:2], timeout=1) for _ in wanted]
        for client, (first, last) in zip(clients, wanted):
            client.sendall(get("/alpha.mp3", f"Range: bytes={first}-{last}"))
        with running(server):
            for client, (first, last) in zip(clients, wanted):
                client.settimeout(30)
                status, headers, body = read_response(client.makefile("rb"))
                assert (status, headers["Content-Range"]) == (206, f"bytes {first}-{last}/{size}")
                assert body == mp3[first:last + 1]
    finally:
        for client in clients:
            client.close()
        server.server_close()


def test_idle_connections_do_not_keep_a_new_client_out(published):
    resource = pytest.importorskip("resource")
    mp3 = (published / "alpha.mp3").read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    idle = [socket.socket() for _ in range(300)]
    client = socket.socket()
    with running(make_server(published, "127.0.0.1", 0)) as server:
        # 100 descriptors to spare, as on a machine with a low limit: too few for a server
        # that keeps all 300 idle connections open.
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, len(os.listdir("/dev/fd")) + 100), hard))
        try:
            for connection in idle:
                connection.setblocking(False)
                connection.connect_ex(server.server_address[:2])
            client.settimeout(1)
            client.connect(server.server_address[:2])
            client.sendall(get("/alpha.mp3", "Range: bytes=0-99"))
            status, _, body = read_response(client.makefile("rb"))
            assert (status, body) == (206, mp3[:100])
            idle[0].settimeout(10)
            assert idle[0].recv(1) == b""  # closed by the server, to make room
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            for connection in [*idle, client]:
                connection.close()


def test_a_silent_or_slow_client_is_cut_off(published):
    with running(make_server(published, "127.0.0.1", 0, idle_timeout=0.5)) as server:
        address = server.server_address[:2]
        with socket.create_connection(address, timeout=10) as silent:
            assert silent.recv(1) == b""
        with socket.create_connection(address, timeout=10) as kept:
            kept.sendall(get("/alpha.mp3", "Range: bytes=0-9"))
            stream = kept.makefile("rb")
            assert read_response(stream)[0] == 206
            assert read_response(stream) is None  # kept alive for a while, then closed
        # A byte every 0.1 s: each read gets one in time, the whole request never does.
        request = get("/alpha.mp3", "X-Padding: " + "x" * 100)
        with socket.create_connection(address, timeout=0.1) as slow:
            for sent in range(100):
                try:
                    if slow.recv(1) == b"":
                        break
                except TimeoutError:
                    pass
                except ConnectionError:
                    break
                try:
                    slow.send(request[sent:sent + 1])
                except ConnectionError:
                    break
            else:
                pytest.fail("a request sent a byte at a time kept the connection for 10 s")


def test_a_body_sent_with_a_get_is_not_taken_for_a_request(published):
    mp3 = (published / "alpha.mp3").read_bytes()
    smuggled = get("/beta.mp3")
    with running(make_server(published, "127.0.0.1", 0)) as server:
        with socket.create_connection(server.server_address[:2], timeout=10) as client:
            client.sendall(get("/alpha.mp3", "Range: bytes=0-9", f"Content-Length: {len(smuggled)}") + smuggled
                           + b"HEAD /alpha.mp3 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            stream = client.makefile("rb")
            status, _, body = read_response(stream)
            assert (status, body) == (206, mp3[:10])
            status, headers, _ = read_response(stream, head=True)  # the HEAD, not the body's GET
            assert (status, headers["Content-Length"]) == (200, str(len(mp3)))
            assert read_response(stream) is None
        # A body of a length not given: answered, and the connection ends there.
        with socket.create_connection(server.server_address[:2], timeout=10) as client:
            chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
            client.sendall(get("/alpha.mp3", "Range: bytes=0-9", "Transfer-Encoding: chunked") + chunked)
            stream = client.makefile("rb")
            assert read_response(stream)[::2] == (206, mp3[:10])
            assert read_response(stream) is None
        with socket.create_connection(server.server_address[:2], timeout=10) as client:
            client.sendall(get("/alpha.mp3", "Content-Length: 5", "Content-Length: 6") + b"123456")
            assert read_response(client.makefile("rb"))[0] == 400


def test_request_heads_are_small(server):
    for name, data in {
        "a long request line": get("/" + "a" * 20_000 + ".mp3"),
        "a long header": get("/alpha.mp3", "X-Long: " + "x" * 20_000),
        "long headers": get("/alpha.mp3", *(f"X-{i}: {'x' * 900}" for i in range(20))),
        "many headers": get("/alpha.mp3", *(f"X-{i}: x" for i in range(80))),
    }.items():
        with socket.create_connection(server.server_address[:2], timeout=10) as client:
            client.sendall(data)
            assert (name, read_response(client.makefile("rb"))[0]) == (name, 414 if "line" in name else 431)


def test_the_log_shows_control_characters_escaped(published):
    lines = []
    with running(make_server(published, "127.0.0.1", 0, log=lines.append)) as server:
        with socket.create_connection(server.server_address[:2], timeout=10) as client:
            client.sendall(get("/\x1b]0;owned\x07.mp3"))
            assert read_response(client.makefile("rb"))[0] == 404
    assert len(lines) == 1 and "\\x1b]0;owned\\x07.mp3" in lines[0]
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in lines[0])


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


def test_the_web_app_is_served_fresh_and_the_feed_beside_it(server, published):
    """A browser asks again for the worker and the manifest before using a copy it has (a
    changed worker must reach the phone), and the app's files take nothing from the feed."""
    for path in ("/sw.js", "/manifest.webmanifest", "/index.html", "/icon-512.png", "/feed.xml"):
        for method in ("GET", "HEAD"):
            status, headers, body = request(server, path, method)
            assert (path, method, status, headers["cache-control"]) == (path, method, 200, "no-cache")
            assert body == (b"" if method == "HEAD" else body)
    status, headers, body = request(server, "/sw.js")
    assert body == (published / "sw.js").read_bytes() and b"addEventListener(\"fetch\"" in body
    status, headers, body = request(server, "/manifest.webmanifest")
    manifest = json.loads(body)
    assert manifest["start_url"] == "./" and {icon["src"] for icon in manifest["icons"]} == {"icon-192.png", "icon-512.png"}
    status, headers, body = request(server, "/feed.xml")
    assert status == 200 and headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert f'url="{server.url}alpha.mp3"'.encode() in body


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
