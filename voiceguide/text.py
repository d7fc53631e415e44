"""What text can be written safely, and how a value is shown in an error line.

A routine's text ends up in HTML, the feed's XML, WebVTT, JSON, ID3 tags and a terminal.
XML 1.0 cannot hold control characters (other than tab, newline and carriage return), lone
surrogates or U+FFFE and U+FFFF at all, so lxml refuses the whole feed; a terminal obeys
escape sequences. Such characters are refused when a routine is loaded, however they were
written (raw, or as a YAML escape like "\\x01"), and escaped in every error line.
"""

from __future__ import annotations

import re
import unicodedata

SHOWN_CHARS = 200
"""How much of a value an error line echoes."""

# C0 controls but tab, newline and CR; DEL and the C1 controls; surrogates (only ever lone
# in a Python string); and the 66 noncharacters (U+FDD0..U+FDEF, and the last two code
# points of each of the 17 planes).
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")

# In an error line also newline, tab, CR, the line and paragraph separators and the bidi
# controls, which could start a forged line or reorder the visible one.
_UNPRINTABLE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff{_NONCHARACTERS}]")
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def unsafe_character(text: str) -> str | None:
    """The first character of `text` that cannot be written safely everywhere, or None."""
    match = _UNSAFE.search(text)
    return match[0] if match else None


def describe_character(char: str) -> str:
    """'the control character U+001B', 'a lone surrogate U+D800', 'the noncharacter U+FFFF'."""
    code = f"U+{ord(char):04X}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        return f"a lone surrogate {code}"
    if unicodedata.category(char) == "Cc":
        return f"the control character {code}"
    return f"the noncharacter {code}"


def sayable(text: str) -> bool:
    """Whether a line has anything to say: a letter or a digit (not only emoji, marks or
    zero-width characters, which a speech engine turns into silence or an error)."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def printable(text: str) -> str:
    """`text` for an error line: characters that could move the cursor, start a line or
    change the terminal are written as escapes, as Python's repr writes them."""
    return _UNPRINTABLE.sub(lambda match: _escape(match[0]), text)


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """A value cut to `limit` characters, with '...' where it was cut."""
    return value if len(value) <= limit else value[: limit - 3] + "..."
