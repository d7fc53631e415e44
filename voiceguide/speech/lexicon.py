"""Stage 2, speak: a line as written -> the line as the engines are asked to say it.

The plan, the transcript and the page keep every line as it is written; only what the
engines read changes, in two ways:

- Words are said as the pronunciation lexicon says: the routine's own `pronounce:` entries
  first, then the lexicon voiceguide ships (lexicon.yaml beside this module), for terms the
  engines get wrong (supine, the Sanskrit pose names). An entry is a respelling, syllables
  joined by hyphens with the stressed one in capitals ("go-moo-KAH-sa-na"); the engines read
  it in lower case (eSpeak NG spells out a word in capitals letter by letter).
- A colon becomes the end of a sentence, so "Exercise 1 of 5: Single knee to chest." is said
  as two phrases, the name after a pause of its own.

The spoken form is what is synthesized and what the clip cache keys on, so changing an entry
or a rule never reuses a clip made before.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from ..routine.model import PRONOUNCED_WORD

LEXICON_FILE = Path(__file__).with_name("lexicon.yaml")

Pronounce = tuple[tuple[str, str], ...]
"""(word as written, respelling) pairs, as a routine's `pronounce:` gives them."""

WORD = re.compile(PRONOUNCED_WORD)
"""A word of a line: letters, with apostrophes inside (child's); a hyphen parts two words."""


@lru_cache(maxsize=1)
def shipped() -> dict[str, str]:
    """The lexicon voiceguide ships: lower-case word -> respelling."""
    import yaml

    entries = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8")) or {}
    return {str(word).lower(): str(said) for word, said in entries.items()}


def digest() -> str:
    """A hash of the shipped lexicon and these rules, for build keys."""
    return hashlib.sha256(LEXICON_FILE.read_bytes() + RULES_VERSION.encode()).hexdigest()[:16]


RULES_VERSION = "1"
"""Changes whenever `spoken` changes what it makes of a line."""


def lexicon(pronounce: Pronounce = ()) -> dict[str, str]:
    """Every entry in force for a routine: its own over the shipped ones."""
    return {**shipped(), **{word.lower(): said for word, said in pronounce}}


def spoken(text: str, entries: dict[str, str]) -> str:
    """`text` as the engines are asked to say it (see the module's docstring)."""
    said = WORD.sub(lambda match: entries.get(match[0].lower(), "").lower() or match[0], text)
    return re.sub(r":(\s+|$)", r".\1", said)


def spoken_forms(texts: Iterable[str], pronounce: Pronounce = ()) -> dict[str, str]:
    """Each text -> its spoken form."""
    entries = lexicon(pronounce)
    return {text: spoken(text, entries) for text in texts}
