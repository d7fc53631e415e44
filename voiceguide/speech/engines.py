"""Stage 2, speak: the speech engines by name (pyttsx3 with eSpeak NG, and Piper).

`speak` depends on the engine interface only (interface.py); each engine is a module loaded
here when it is first asked for, so an engine that is not used is never imported.
"""

from __future__ import annotations

import importlib

from ..errors import SpeechError
from ..routine.model import ENGINES
from .interface import Engine

NAMES = ENGINES
"""Every engine, the default first."""
_MODULES = {"pyttsx3": "voiceguide.speech.pyttsx3_engine", "piper": "voiceguide.speech.piper_engine"}


def get(name: str) -> Engine:
    """The engine module called `name`; SpeechError if there is none."""
    if name not in _MODULES:
        raise SpeechError(f"unknown speech engine {name!r}: expected one of {', '.join(NAMES)}")
    return importlib.import_module(_MODULES[name])  # type: ignore[return-value]


CLEARER = ("Clearer: piper (en_US-joe-medium). An offline recogniser hears sore-back's words far better "
           "with it than with eSpeak NG (docs/intelligibility.md): voiceguide build sore-back --engine piper")
"""What `voiceguide voices` says about which voice is easier to follow."""
