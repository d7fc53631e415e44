"""scripts/intelligibility.py: its word alignment and kinds of words, and a run on a built session."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHORT

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "intelligibility.py"


def script():
    spec = importlib.util.spec_from_file_location("intelligibility", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("intelligibility", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_words_are_what_the_recogniser_can_say():
    words = script().words
    assert words("Exercise 1 of 5: Single knee-to-chest.") == ["exercise", "one", "of", "five", "single", "knee", "to", "chest"]
    assert words("Hold for 30 seconds. That's it!") == ["hold", "for", "thirty", "seconds", "that's", "it"]


def test_alignment_counts_substitutions_deletions_and_insertions():
    align = script().align
    assert align(["a", "b", "c"], ["a", "b", "c"]) == ([True, True, True], 0)
    assert align(["a", "b", "c"], ["a", "x", "c"]) == ([True, False, True], 1)
    assert align(["a", "b", "c"], ["a", "c"]) == ([True, False, True], 1)
    assert align(["a", "b"], ["oh", "a", "b", "oh"]) == ([True, True], 2)
    assert align(["a", "b"], []) == ([False, False], 2)


def test_each_word_has_a_kind():
    kinds = script().kinds
    names = [["knee", "hug"], ["cat", "cow"]]
    assert kinds("Exercise 1 of 2: Knee hug.", names, False) == ["fixed", "number", "fixed", "number", "name", "name"]
    assert kinds("Three.", names, False) == ["number"]
    assert kinds("Lie on your back and hug one knee.", names, True) == ["text"] * 6 + ["number", "text"]


@pytest.mark.integration
def test_the_benchmark_hears_a_built_session_and_not_a_silent_one(tmp_path):
    """A session built with eSpeak NG is mostly heard; the same session with its speech
    replaced by silence is heard not at all: the figures come from the audio."""
    pytest.importorskip("pocketsphinx")
    from voiceguide import tools
    from voiceguide.build import build
    from voiceguide.routine.load import load
    from voiceguide.speech.cache import ClipCache

    routine_path = tmp_path / "short.yaml"
    routine_path.write_text(SHORT)
    out = tmp_path / "out"
    build(load(routine_path), out, cache=ClipCache(tmp_path / "cache"))
    record = json.loads((out / "short.json").read_text())
    spoken = [event["text"] for event in record["events"] if event["kind"] == "speech"]

    def run() -> dict:
        figures = tmp_path / "figures.json"
        result = subprocess.run(
            [sys.executable, str(SCRIPT), str(routine_path), "--out", str(out), "--json", str(figures)],
            capture_output=True, text=True, check=True,
        )
        assert "| short | pyttsx3 default 160 |" in result.stdout and "heard worst:" in result.stdout
        (session,) = json.loads(figures.read_text())
        return session

    heard = run()
    assert [line["text"] for line in heard["lines"]] == spoken
    assert heard["total"]["name"] == 6  # "Knee hug" and "Cat cow" in their headings, and "Next: Cat cow."
    assert heard["total"]["number"] > 0 and heard["total"]["fixed"] > 0 and heard["total"]["text"] > 0
    assert sum(heard["total"].values()) == sum(line["words"] for line in heard["lines"])
    assert heard["wer"] < 0.9, heard["wer"]
    assert 100 < heard["wpm"] < 260

    mp3 = out / "short.mp3"
    silent = tmp_path / "silent.mp3"
    subprocess.run([tools.ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono",
                    "-t", str(record["duration_ms"] / 1000), "-b:a", "64k", str(silent)], check=True)
    silent.replace(mp3)
    deaf = run()
    assert deaf["wer"] >= 0.99 and sum(deaf["wrong"].values()) == sum(deaf["total"].values())
