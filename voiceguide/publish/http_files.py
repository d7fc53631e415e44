"""Answering one connection's HTTP requests for the files in the served directory.

Read-only (GET and HEAD), nothing outside the directory and no hidden files, byte ranges
(206) so players can seek and resume, and /feed.xml made for the address being served.
A request must come whole within the server's idle_timeout, with a small head; a body sent
with a GET is dropped rather than taken for the next request.
"""

from __future__ import annotations

import http.client
import mimetypes
import os
import re
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable, Protocol
from urllib.parse import unquote, urlsplit

from .sessions import FEED_NAME, INDEX_NAME, read_sessions

# What a client may send, and how long it may take to be answered.
SEND_TIMEOUT = 30.0  # seconds a client may take to accept each piece of an answer (a paused player)
MAX_HEAD_BYTES = 16 * 1024  # a request line and its headers, together
MAX_HEADERS = 64
MAX_DROPPED_BODY = 64 * 1024  # a GET's body up to this is read and dropped; a larger one ends the connection
CHUNK = 64 * 1024

CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/rss+xml; charset=utf-8",
    ".m3u": "audio/x-mpegurl",
    ".webmanifest": "application/manifest+json",  # the web app's manifest
    ".js": "text/javascript; charset=utf-8",  # its service worker: browsers refuse one of another type
}
# Control characters in a request line, escaped before it is logged to the terminal.
_ESCAPED = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


class Served(Protocol):
    """What a FileHandler needs of its server (serve.Server)."""

    directory: Path  # resolved
    url: str  # as a phone would type it, for the feed's links
    idle_timeout: float  # seconds a request may take to arrive whole
    log: Callable[[str], None]  # told one line per request


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte a Range header asks for, or None to send the whole file: no
    header, or one this server ignores as RFC 9110 allows (several ranges, another unit, an
    invalid one). Raises ValueError if no byte can be sent (416): the range starts at or past
    the end, asks for the last 0 bytes, or the file is empty."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "", re.IGNORECASE)
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first and last and int(last) < int(first):
        return None  # invalid: ignored, as RFC 9110 says
    if not first:  # the last N bytes
        if int(last) == 0 or size == 0:
            raise ValueError("no bytes to send")
        return max(0, size - int(last)), size - 1
    if int(first) >= size:
        raise ValueError("range starts past the end")
    return int(first), min(int(last), size - 1) if last else size - 1


class _Reader:
    """The handler's rfile. Each read waits only for what is left of the request's time, so a
    request trickled in byte by byte (slowloris) still ends in time; a head is also counted."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.pending = bytearray()  # received, not yet read
        self.deadline = 0.0
        self.head_left = self.lines_left = 0

    def expect_request(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.head_left, self.lines_left = MAX_HEAD_BYTES, MAX_HEADERS + 2  # with the request line, the empty one

    def readline(self, limit: int = -1) -> bytes:
        # Only a request head is read by lines (here and in http.client.parse_headers).
        self._receive(lambda: b"\n" in self.pending or len(self.pending) > self.head_left)
        line = self.read(min(self.pending.find(b"\n") + 1 or len(self.pending), self.head_left + 1))
        self.head_left -= len(line)
        self.lines_left -= 1
        if self.head_left < 0:
            raise http.client.LineTooLong("request head")
        if self.lines_left < 0:
            raise http.client.HTTPException(f"more than {MAX_HEADERS} headers")
        return line

    def read(self, size: int) -> bytes:
        self._receive(lambda: len(self.pending) >= size)
        data = bytes(self.pending[:size])
        del self.pending[:size]
        return data

    def _receive(self, enough: Callable[[], bool]) -> None:
        while not enough():
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request not sent in time")
            self.connection.settimeout(left)
            data = self.connection.recv(CHUNK)
            if not data:
                return
            self.pending += data

    def close(self) -> None:
        pass  # the connection is the server's



class FileHandler(BaseHTTPRequestHandler):
    """Answers the requests already sent on one connection, then leaves it to the server."""

    server: Served
    server_version = "voiceguide"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive: players make many small range requests

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # read through a _Reader instead, which keeps the limits
        self.rfile = _Reader(self.connection)

    def handle(self) -> None:
        # http.server's loop, but only while requests are already here: a connection with
        # nothing more sent goes back to the server's loop to wait, holding no thread.
        self.handle_one_request()
        while not self.close_connection and self.rfile.pending:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        # http.server's own, with limits: a whole request within idle_timeout, a small head,
        # and a body dropped rather than read as the next request.
        self.close_connection = True  # unless a request comes whole and is answered
        self.rfile.expect_request(self.server.idle_timeout)
        try:
            try:
                self.raw_requestline = self.rfile.readline()
            except http.client.HTTPException:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline or not self.parse_request():
                return  # closed by the client, or an error was answered
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            elif self._drop_body():
                self.connection.settimeout(SEND_TIMEOUT)
                method()
        except TimeoutError:
            self.close_connection = True  # too slow to send the request, or to take the answer

    def _drop_body(self) -> bool:
        """Reads and drops the body a GET or HEAD may carry (it means nothing here), so that its
        bytes are not taken for the next request. One of unknown or large length ends the
        connection after the answer instead; a malformed length is answered 400."""
        lengths = {value.strip() for value in self.headers.get_all("Content-Length", [])}
        if len(lengths) > 1 or not all(re.fullmatch(r"[0-9]+", length) for length in lengths):
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad Content-Length")
            return False
        length = int(lengths.pop()) if lengths else 0
        unknown = "Transfer-Encoding" in self.headers or length > MAX_DROPPED_BODY
        if unknown or len(self.rfile.read(length)) < length:
            self.close_connection = True
        return True

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, body: bool) -> None:
        path = self._local_path()
        if path == self.server.directory / FEED_NAME:
            self._send_feed(body)
            return
        try:
            # One open file for the whole answer: a session rebuilt meanwhile is renamed into
            # place, and the file being sent stays whole.
            file = open(path, "rb") if path else None
        except OSError:
            file = None
        if file is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return
        with file:
            status = os.fstat(file.fileno())
            size, modified = status.st_size, formatdate(status.st_mtime, usegmt=True)
            header = self.headers.get("Range")
            if self.headers.get("If-Range", modified).strip() != modified:
                header = None  # the player has part of an older file: all of this one (RFC 9110 13.1.5)
            try:
                wanted = requested_range(header, size)
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
            self.send_header("Last-Modified", modified)
            # Asked again before a copy is used: a rebuilt session, page or service worker is seen at once.
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if body:
                self._copy(file, first, last - first + 1)

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
        '..', hidden files (temporaries), directories, and links leading outside or to a
        hidden file: the path they resolve to is checked as well."""
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
            if local.is_dir():  # a directory is never listed: its page, if it has one
                local = (local / INDEX_NAME).resolve(strict=True)
            inside = local.relative_to(self.server.directory)
        except (OSError, RuntimeError, ValueError):
            return None
        if any(part.startswith(".") for part in inside.parts) or not local.is_file():
            return None
        return local

    def _copy(self, file, start: int, length: int) -> None:
        try:
            file.seek(start)
            while length > 0:
                chunk = file.read(min(CHUNK, length))
                if not chunk:
                    self.close_connection = True  # shorter than announced: the client must see the end
                    break
                self.wfile.write(chunk)
                length -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the player moved on (seeked, paused): not an error

    def log_message(self, format: str, *args) -> None:
        self.server.log(f"{self.address_string()} {format % args}".translate(_ESCAPED))

    def log_error(self, format: str, *args) -> None:
        pass  # the request's own line says how it ended


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
