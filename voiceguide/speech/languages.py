"""Which language a voice speaks, and the voice a routine's language picks.

With eSpeak NG, a routine in German that names no voice is said by the German pack's voice
(`espeak_voice`, gmw/de). A Piper voice speaks one language, written in its `.onnx.json`;
one that does not speak the routine's is refused with both languages named.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..errors import LanguageError
from ..routine import phrases
from ..routine.model import Voice

NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
         "pt": "Portuguese", "ru": "Russian", "el": "Greek"}


def spoken_voice(voice: Voice, language: str) -> Voice:
    """`voice`, with the language's eSpeak NG voice when it names none."""
    if voice.voice or language == phrases.DEFAULT or voice.engine != "pyttsx3":
        return voice
    return replace(voice, voice=phrases.pack(language).espeak_voice)


def voice_language(voice: Voice) -> str:
    """The ISO 639-1 code of the language `voice` speaks ('en', 'de')."""
    if voice.engine == "piper":
        from . import piper_engine

        chosen = piper_engine.resolve(voice.voice)
        settings = piper_engine.config(chosen)
        code = settings.get("language", {}).get("code") or settings.get("espeak", {}).get("voice") or chosen.id
        return re.split(r"[_\-/]", code.lower())[0]
    name = (voice.voice or "gmw/en-us").lower().partition("+")[0].rsplit("/", 1)[-1]
    return re.split(r"[_\-]", name)[0]


def check_language(voice: Voice, language: str) -> None:
    """LanguageError unless `voice` speaks `language`."""
    spoken = voice_language(voice)
    if spoken == language:
        return
    engine = {"piper": "Piper", "pyttsx3": "eSpeak NG"}.get(voice.engine, voice.engine)
    shown = voice.voice or f"the default voice ({'en_US-joe-medium' if voice.engine == 'piper' else 'gmw/en-us'})"
    hint = " (give --voice path/to/VOICE.onnx of that language)" if voice.engine == "piper" else ""
    raise LanguageError(
        f"language {language} ({_name(language)}): expected {'an' if engine.startswith('e') else 'a'} {engine} voice that speaks {_name(language)}, "
        f"found {shown}, which speaks {_name(spoken)} ({spoken}){hint}"
    )


def _name(code: str) -> str:
    return NAMES.get(code, code)
