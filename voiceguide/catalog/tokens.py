"""Each audience's directory sits under a token: out/<token>/, 128 random bits, URL-safe.

The tokens are kept in a hidden file of the output directory (`serve` never sends hidden
files), so a directory and its feed's address stay the same from build to build; rotating an
audience's token gives it a new one, moves its directory there and forgets the old address.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

TOKENS_NAME = ".voiceguide-catalog.json"
TOKEN_BYTES = 16
_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # base64url's


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _plausible(token: object) -> bool:
    """A token this module could have made: never '..', a '/' or a hidden name."""
    return isinstance(token, str) and len(token) >= 16 and all(c in _ALPHABET for c in token)


def kept_tokens(out_dir: Path) -> dict[str, str]:
    """audience name -> token, as kept in `out_dir` (nothing when there is no readable file)."""
    try:
        kept = json.loads((out_dir / TOKENS_NAME).read_text(encoding="utf-8")).get("tokens", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {name: token for name, token in kept.items() if isinstance(name, str) and _plausible(token)} if isinstance(kept, dict) else {}


def tokens_for(out_dir: Path, names: list[str], rotate: tuple[str, ...] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """The token of every audience in `names` (kept ones, new ones for new audiences and for
    those in `rotate`), written back to `out_dir`; and, for each rotated audience, its old
    token. Audiences no longer named keep theirs, so one taken out and put back keeps its
    address."""
    from ..atomic import ensure_dir, write_atomically

    kept = kept_tokens(out_dir)
    tokens = dict(kept)
    old = {}
    for name in names:
        if name in rotate and name in kept:
            old[name] = kept[name]
        if name not in tokens or name in rotate:
            tokens[name] = new_token()
    if tokens != kept:
        ensure_dir(out_dir)
        data = json.dumps({"tokens": tokens}, indent=2, sort_keys=True) + "\n"
        write_atomically(out_dir / TOKENS_NAME, data.encode())
        os.chmod(out_dir / TOKENS_NAME, 0o600)  # the addresses: for the one who builds
    return tokens, old
