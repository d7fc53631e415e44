"""Serving the output directory over HTTP, so a phone on the same network can play the sessions.

This module holds the server: one loop takes the connections and keeps those waiting for a
request, and worker threads answer the requests with http_files.FileHandler (read-only GET
and HEAD, byte ranges so players can seek and resume, and a /feed.xml made on each request
for the address being served, so a podcast app subscribed to it gets URLs that lead back
here, whatever --base-url the feed on disk was written with).

With --lan anyone on the network can connect, so no client may hold the server: it keeps a
bounded number of connections and closes idle ones to make room, gives each a few seconds to
send a request, takes only small request heads, and drops a body sent with a GET rather than
taking it for a request (those last limits are the handler's).
"""

from __future__ import annotations

import errno
import queue
import selectors
import socket
import socketserver
import threading
import time
from http.server import HTTPServer
from pathlib import Path
from typing import Callable

from ..errors import OutputError
from .sessions import DEFAULT_PORT
from .http_files import FileHandler, requested_range

# requested_range is http_files', named here too: it is the rule this server applies to a Range header.
__all__ = ["Server", "make_server", "lan_address", "requested_range"]

# What a client may hold.
BACKLOG = 511  # connections the system queues until they are taken: a seeking player may open many at once
MAX_CONNECTIONS = 256  # open at once, most of them waiting for a request (fewer if descriptors run out)
WORKERS = 32  # threads answering requests, so at most this many at once
IDLE_TIMEOUT = 5.0  # seconds a connection may wait to start a request, and then take to send it whole


class Server(HTTPServer):
    """Serves one directory, read-only; `url` is its address as a phone would type it.
    `idle_timeout`: seconds a connection may wait to start a request, and then take to send it."""

    request_queue_size = BACKLOG

    def __init__(self, directory: Path, host: str, port: int, log: Callable[[str], None],
                 idle_timeout: float = IDLE_TIMEOUT):
        self.directory = directory.resolve()
        self.log = log
        self.idle_timeout = idle_timeout
        self.max_connections = MAX_CONNECTIONS
        # The serving loop's own (made first: a failed bind closes them): the connections
        # waiting for a request, oldest first, with since when, and how many are open in all.
        self._waiting: dict[socket.socket, tuple[float, tuple]] = {}
        self._open = 0
        self._ready: queue.SimpleQueue = queue.SimpleQueue()  # (connection, address) for a worker
        self._done: queue.SimpleQueue = queue.SimpleQueue()  # (connection, address, kept open) from one
        self._wake, self._woken = socket.socketpair()  # a byte sent on _wake wakes the loop
        self._wake.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._woken, selectors.EVENT_READ)
        self._stopping = False
        self._stopped = threading.Event()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), FileHandler)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.server_address[1]}/"

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's name up (socket.getfqdn), which may ask a
        # DNS server; nothing here needs the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def serve_forever(self) -> None:
        # One loop takes the connections and keeps those waiting for a request: an idle one
        # holds no thread, and closing it to make room is immediate. Once a request starts to
        # arrive, one of the WORKERS answers it and hands the connection back.
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        try:
            while not self._stopping:
                self._take_back()
                self._listen(self._open < self.max_connections or bool(self._waiting))
                oldest = next(iter(self._waiting.values()), None)
                timeout = None if oldest is None else max(0.0, oldest[0] + self.idle_timeout - time.monotonic())
                ready = [key.fileobj for key, _ in self._selector.select(timeout)]
                for connection in ready:
                    if connection in self._waiting:  # a request is arriving
                        self._selector.unregister(connection)
                        self._ready.put((connection, self._waiting.pop(connection)[1]))
                if self.socket in ready:
                    self._accept()
                if self._woken in ready:
                    self._woken.recv(4096)
                while self._waiting:
                    connection, (since, _) = next(iter(self._waiting.items()))
                    if since + self.idle_timeout > time.monotonic():
                        break
                    self._close(connection)
        finally:
            for _ in workers:
                self._ready.put(None)
            self._stopped.set()

    def _listen(self, on: bool) -> None:
        # With every connection being answered, new ones wait in the system's queue (BACKLOG).
        if on and self.socket not in self._selector.get_map():
            self._selector.register(self.socket, selectors.EVENT_READ)
        elif not on and self.socket in self._selector.get_map():
            self._selector.unregister(self.socket)

    def _accept(self) -> None:
        # As an HTTP server may close an idle connection (its client opens another), those
        # waiting longest make room.
        while self._open >= self.max_connections and self._waiting:
            self._close(next(iter(self._waiting)))
        if self._open >= self.max_connections:
            return
        try:
            connection, address = self.get_request()
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE):  # out of descriptors: keep fewer, leave some for files
                self.max_connections = max(1, self._open - WORKERS)
            return
        self._open += 1
        self._wait(connection, address)

    def _wait(self, connection: socket.socket, address) -> None:
        self._waiting[connection] = (time.monotonic(), address)
        self._selector.register(connection, selectors.EVENT_READ)

    def _close(self, connection: socket.socket) -> None:
        del self._waiting[connection]
        self._selector.unregister(connection)
        self.shutdown_request(connection)
        self._open -= 1

    def _work(self) -> None:
        """A worker: answers a connection's requests, then hands it back to the loop."""
        while (item := self._ready.get()) is not None:
            kept = False
            try:
                kept = not self.RequestHandlerClass(*item, self).close_connection
            except Exception:
                self.handle_error(*item)
            if not kept:
                self.shutdown_request(item[0])
            self._done.put((*item, kept))
            self._wake_up()

    def _take_back(self) -> None:
        while not self._done.empty():
            connection, address, kept = self._done.get()
            if kept:
                self._wait(connection, address)  # (closed with the rest by server_close)
            else:
                self._open -= 1

    def _wake_up(self) -> None:
        try:
            self._wake.send(b"\0")
        except OSError:
            pass  # already full of wake-ups, or closed with the server

    def shutdown(self) -> None:
        self._stopping = True
        self._wake_up()
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._stopping = True
        self._take_back()
        for connection in list(self._waiting):
            self._close(connection)
        for closing in (self._selector, self._wake, self._woken):
            closing.close()

    def handle_error(self, request, client_address) -> None:
        self.log(f"{client_address[0]}: connection failed")


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int | None = None, log: Callable[[str], None] = lambda line: None,
    idle_timeout: float = IDLE_TIMEOUT,
) -> Server:
    """A server for `directory` on host:port, not yet serving. Without a port: 8000, or a free
    one if 8000 is taken. `log` is told one line per request."""
    if not directory.is_dir():
        raise OutputError(f"{directory}: no such directory (build the sessions first: voiceguide build --all)")
    try:
        return Server(directory, host, DEFAULT_PORT if port is None else port, log, idle_timeout)
    except OSError as error:
        if port is None and error.errno == errno.EADDRINUSE:
            return Server(directory, host, 0, log, idle_timeout)
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

