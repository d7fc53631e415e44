"""Serving the output directory over HTTP, so a phone on the same network can play the sessions.

Read-only (GET and HEAD), nothing outside the directory and no hidden files, byte ranges
(206) so players can seek and resume. /feed.xml is made on each request for the address
being served, so a podcast app subscribed to it gets URLs that lead back here, whatever
--base-url the feed on disk was written with.
"""

from __future__ import annotations

import errno
import mimetypes
import re
import socket
import socketserver
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from .errors import OutputError
from .publish import DEFAULT_PORT, FEED_NAME, INDEX_NAME, read_sessions

CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/rss+xml; charset=utf-8",
    ".m3u": "audio/x-mpegurl",
}
CHUNK = 64 * 1024


class Server(ThreadingHTTPServer):
    """Serves one directory, read-only; `url` is its address as a phone would type it."""

    daemon_threads = True  # Ctrl-C does not wait for a phone's open connection

    def __init__(self, directory: Path, host: str, port: int, log: Callable[[str], None]):
        self.directory = directory.resolve()
        self.log = log
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.server_address[1]}/"

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's name up (socket.getfqdn), which may ask a
        # DNS server; nothing here needs the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        self.log(f"{client_address[0]}: connection failed")


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int | None = None, log: Callable[[str], None] = lambda line: None
) -> Server:
    """A server for `directory` on host:port, not yet serving. Without a port: 8000, or a free
    one if 8000 is taken. `log` is told one line per request."""
    if not directory.is_dir():
        raise OutputError(f"{directory}: no such directory (build the sessions first: voiceguide build --all)")
    try:
        return Server(directory, host, DEFAULT_PORT if port is None else port, log)
    except OSError as error:
        if port is None and error.errno == errno.EADDRINUSE:
            return Server(directory, host, 0, log)
        raise OutputError(f"cannot serve on {host}:{port}: {error.strerror}") from None


def lan_address() -> str:
    """This machine's address on its local network: the one it would send from to reach a
    private address. Connecting a UDP socket only picks the route; no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            address = probe.getsockname()[0]
        except OSError:
            address = ""
    if not address or address.startswith("127.") or address == "0.0.0.0":
        raise OutputError("no local network found: connect this machine to the Wi-Fi your phone is on")
    return address


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte a Range header asks for, or None to send the whole file
    (no header, or one this server does not honour, such as several ranges).
    Raises ValueError for a range that starts past the end (416)."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        if int(last) == 0:
            raise ValueError("empty suffix range")
        return max(0, size - int(last)), size - 1
    if last and int(last) < int(first):
        return None  # invalid: ignored, as RFC 9110 says
    if int(first) >= size:
        raise ValueError("range starts past the end")
    return int(first), min(int(last), size - 1) if last else size - 1


class _Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "voiceguide"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive: players make many small range requests

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, body: bool) -> None:
        path = self._local_path()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return
        if path == self.server.directory / FEED_NAME:
            self._send_feed(body)
            return
        size = path.stat().st_size
        try:
            wanted = requested_range(self.headers.get("Range"), size)
        except ValueError:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        first, last = wanted or (0, size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if wanted else HTTPStatus.OK)
        self.send_header("Content-Type", _content_type(path))
        self.send_header("Content-Length", str(last - first + 1))
        if wanted:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
        self.send_header("Cache-Control", "no-cache")  # a rebuilt session is seen at once
        self.end_headers()
        if body:
            self._copy(path, first, last - first + 1)

    def _send_feed(self, body: bool) -> None:
        from .feed import feed_xml

        data = feed_xml(read_sessions(self.server.directory), self.server.url)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES[".xml"])
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _local_path(self) -> Path | None:
        """The file a request names, or None if it names nothing this server may send:
        '..', hidden files (temporaries), directories and anything resolving outside."""
        try:
            path = unquote(urlsplit(self.path).path, errors="strict")
        except UnicodeDecodeError:
            return None
        parts = [part for part in path.split("/") if part]
        if any(part.startswith(".") or "\\" in part or "\0" in part for part in parts):
            return None
        local = self.server.directory.joinpath(*parts) if parts else self.server.directory / INDEX_NAME
        try:
            local = local.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not local.is_relative_to(self.server.directory) or not local.is_file():
            return None
        return local

    def _copy(self, path: Path, start: int, length: int) -> None:
        try:
            with open(path, "rb") as f:
                f.seek(start)
                while length > 0:
                    chunk = f.read(min(CHUNK, length))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    length -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the player moved on (seeked, paused): not an error

    def log_message(self, format: str, *args) -> None:
        self.server.log(f"{self.address_string()} {format % args}")

    def log_error(self, format: str, *args) -> None:
        pass  # the request's own line says how it ended


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
