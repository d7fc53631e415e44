"""Part of publish: the files that make the index page an installable web app.

A manifest (name, colours, icons), two icons drawn like the covers, and a service worker
(worker.js beside this module) that keeps the page for offline use and plays the sessions a
listener chose to keep on the phone from its cache, answering byte ranges itself so a kept
session seeks with the network gone. Browsers run service workers only on secure pages
(https, or localhost); the page says so elsewhere and offers the MP3 to save instead.
"""

from __future__ import annotations

import json
from importlib import resources

MANIFEST_NAME = "manifest.webmanifest"
WORKER_NAME = "sw.js"  # at the top of the output directory, so its scope is the whole page
ICON_SIZES = (192, 512)  # what install prompts and splash screens ask for
THEME_COLOR = "#2f6b6e"  # the page's accent
BACKGROUND_COLOR = "#f5f3ee"  # the page's background


def icon_name(size: int) -> str:
    return f"icon-{size}.png"


def manifest_json() -> bytes:
    """The web app manifest. Its URLs are relative to itself, so the app works wherever the
    output directory is served (a path under a site included)."""
    icons = [
        {"src": icon_name(size), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
        for size in ICON_SIZES for purpose in ("any", "maskable")  # the sun stays inside a mask's safe zone
    ]
    manifest = {
        "id": "./",
        "name": "voiceguide sessions",
        "short_name": "voiceguide",
        "description": "Narrated exercise sessions to follow with your eyes closed.",
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "background_color": BACKGROUND_COLOR,
        "theme_color": THEME_COLOR,
        "icons": icons,
    }
    return (json.dumps(manifest, indent=1) + "\n").encode()


def worker_js() -> bytes:
    """The service worker's script; the page it serves names its own files, so it is the same
    for every output directory."""
    return resources.files(__package__).joinpath("worker.js").read_bytes()


def app_files() -> dict[str, bytes]:
    """The manifest and the worker, by file name: small, written whenever they change."""
    return {MANIFEST_NAME: manifest_json(), WORKER_NAME: worker_js()}


def icon_files() -> dict[str, bytes]:
    """The icons, by file name. Drawing them loads Pillow, so they are drawn only when missing."""
    from .cover import icon_png

    return {icon_name(size): icon_png(size) for size in ICON_SIZES}
