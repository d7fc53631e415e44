"""A real headless browser for the page's tests: Debian's chromium, driven by playwright.

Skipped when chromium or playwright is missing; `scripts/setup --test` installs both.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
# Nothing in the background may reach the network, and nothing may be downloaded. Audio may
# start without a tap, as it does after the tap a listener gives.
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"width": 412, "height": 915}  # a common Android phone's viewport


@contextlib.contextmanager
def chromium(profile: Path, *args: str, viewport: dict = PHONE):
    """A browser context with its own profile (service workers and storage live there)."""
    if not CHROMIUM:
        pytest.skip("chromium is not installed (scripts/setup --test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=[*ARGS, *args], headless=True, viewport=viewport,
        )
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def serving(directory: Path):
    """`voiceguide serve` of `directory` on a free loopback port, in a thread, until the end
    of the block or until stopped (`stop()`, the network gone)."""
    from voiceguide.publish.serve import make_server

    server = make_server(directory, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            server.shutdown()
            server.server_close()
            thread.join(5)

    server.stop = stop
    try:
        yield server
    finally:
        stop()
