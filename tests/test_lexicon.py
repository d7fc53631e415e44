"""The pronunciation lexicon: what the engines are asked to say, and what the transcript keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ToneWorker, fake_engine
from voiceguide.build import Options, build_key, speak_and_plan
from voiceguide.errors import RoutineError
from voiceguide.routine.load import load
from voiceguide.routine.model import Voice
from voiceguide.speech import lexicon
from voiceguide.speech.cache import ClipCache
from voiceguide.speech.lexicon import spoken, spoken_forms

ROUTINE = """\
title: Hips and back
pronounce:
  Gomukhasana: go-moo-KAH-sa-na
exercises:
  - name: Cow head pose
    steps:
      - Sit in Gomukhasana, the cow head pose.
      - Keep your spine long; lie supine after.
    hold: 20
"""


def write(tmp_path: Path, text: str = ROUTINE, name: str = "hips.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_entries_replace_whole_words_in_any_case():
    entries = {"gomukhasana": "go-moo-KAH-sa-na", "child's": "CHILDS"}
    assert spoken("Sit in GOMUKHASANA, then gomukhasana.", entries) == "Sit in go-moo-kah-sa-na, then go-moo-kah-sa-na."
    assert spoken("Gomukhasanas are not it.", entries) == "Gomukhasanas are not it."  # whole words only
    assert spoken("Child's pose.", entries) == "childs pose."


def test_a_colon_parts_a_line_into_two_phrases():
    assert spoken("Exercise 1 of 5: Single knee to chest.", {}) == "Exercise 1 of 5. Single knee to chest."
    assert spoken("Next: Cobra.", {}) == "Next. Cobra."
    assert spoken("At 10:30 we stop.", {}) == "At 10:30 we stop."  # a time is not a pause


def test_the_shipped_lexicon_has_the_seed_terms():
    entries = lexicon.lexicon()
    for word in ("supine", "prone", "gomukhasana", "ardha", "matsyendrasana", "supta", "padangusthasana", "balasana"):
        assert entries[word], word
    assert spoken("Lie supine.", entries) == f"Lie {entries['supine'].lower()}."


def test_a_routines_own_entry_comes_before_the_shipped_one():
    forms = spoken_forms(["Lie supine."], (("Supine", "SUE-pine"),))
    assert forms == {"Lie supine.": "Lie sue-pine."}


def test_the_engine_says_the_spoken_form_and_the_clip_comes_back_under_the_written_line(tmp_path, monkeypatch):
    from voiceguide.speech.speak import speak

    fake_engine(monkeypatch)
    written = ["Sit in Gomukhasana.", "Rest."]
    clips, stats = speak(written, Voice(), ClipCache(tmp_path), pronounce=(("Gomukhasana", "go-moo-KAH-sa-na"),))
    assert set(clips) == set(written)
    assert sorted(ToneWorker.said) == ["Rest.", "Sit in go-moo-kah-sa-na."]
    # Another respelling is another clip: the cache keys on the spoken form.
    speak(written, Voice(), ClipCache(tmp_path), pronounce=(("Gomukhasana", "go-moo-KAHS-uh-nuh"),))
    assert ToneWorker.said[-1] == "Sit in go-moo-kahs-uh-nuh."


def test_the_transcript_and_plan_keep_the_words_as_written(tmp_path, monkeypatch):
    from voiceguide.publish.sidecars import transcript_vtt

    fake_engine(monkeypatch)
    planned = speak_and_plan(load(write(tmp_path)), Options(), ClipCache(tmp_path / "cache"))
    said = [event.text for event in planned.timeline.speech()]
    assert "Sit in Gomukhasana, the cow head pose." in said and "Keep your spine long; lie supine after." in said
    vtt = transcript_vtt(planned.timeline)
    assert "Sit in Gomukhasana, the cow head pose." in vtt and "lie supine after" in vtt
    assert "go-moo" not in vtt and lexicon.lexicon()["supine"].lower() not in vtt
    assert "Sit in go-moo-kah-sa-na, the cow head pose." in ToneWorker.said
    assert f"Keep your spine long; lie {lexicon.lexicon()['supine'].lower()} after." in ToneWorker.said


def test_a_changed_entry_changes_the_build_key(tmp_path, monkeypatch):
    fake_engine(monkeypatch)
    first = load(write(tmp_path))
    second = load(write(tmp_path, ROUTINE.replace("go-moo-KAH-sa-na", "go-moo-KAHS-uh-nuh")))
    assert build_key(first, first.narration, first.voice) != build_key(second, second.narration, second.voice)


@pytest.mark.parametrize(("entries", "message"), [
    ("  two words: a-b\n", '2:3: pronounce: expected a word (letters, with apostrophes inside) as a key, found "two words"'),
    ("  Supine: so pine\n", '2:11: pronounce.Supine: expected a respelling, syllables of letters joined by hyphens like "go-moo-KAH-sa-na", found "so pine"'),
    ("  Supine: 12\n", "2:11: pronounce.Supine: expected text, found the number 12 (put it in quotes to use it as text)"),
    ("  Supine: a\n  supine: b\n", '3:3: pronounce: expected each word once, found "supine" again'),
    ("  12: soo\n", "2:3: pronounce: expected a word (letters, with apostrophes inside) as a key, found the number 12"),
])
def test_pronounce_errors_point_at_the_entry(tmp_path, entries, message):
    path = write(tmp_path, "pronounce:\n" + entries + "title: T\nexercises:\n  - name: Lie supine\n")
    with pytest.raises(RoutineError) as error:
        load(path)
    assert str(error.value).splitlines() == [f"{path}:{message}"]


def test_pronounce_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "title: T\npronounce: [supine]\nexercises:\n  - name: S\n")
    with pytest.raises(RoutineError) as error:
        load(path)
    assert str(error.value) == f"{path}:2:12: pronounce: expected a mapping of words to respellings, found a list of 1 item"


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["pyttsx3", "piper"])
def test_both_engines_say_the_respelling(tmp_path, engine):
    """An entry changes the sound of the line with either engine, and nothing else."""
    if engine == "piper":
        pytest.importorskip("piper_onnx")
    from voiceguide.speech.speak import speak

    voice = Voice(engine=engine)
    cache = ClipCache(tmp_path)
    lines = ["Now sit in Gomukhasana, slowly.", "Now sit in Gomukhasana, slowly, and breathe."]
    plain, _ = speak(lines, voice, cache)
    said, stats = speak(lines, voice, cache, pronounce=(("Gomukhasana", "BAH-nah-nah"),))
    assert stats.synthesized == 2
    for line in lines:
        assert plain[line].size != said[line].size or (plain[line] != said[line]).any()
    again, stats = speak(lines, voice, cache, pronounce=(("Gomukhasana", "BAH-nah-nah"),))
    assert stats.synthesized == 0 and all((again[line] == said[line]).all() for line in lines)
