"""Narration in the listener's language: phrase packs, the voice they pick, the outputs."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from tests.test_plan import fake_ms
from voiceguide.build import Options
from voiceguide.errors import LanguageError, RoutineError
from voiceguide.plan import plan
from voiceguide.routine import phrases
from voiceguide.routine.load import load
from voiceguide.routine.model import Voice
from voiceguide.speech.languages import check_language, spoken_voice

LANGUAGES = ["de", "en", "es", "fr", "it", "pt", "ru"]

ROUTINE = """\
    title: {title}
    language: {language}
    exercises:
      - name: {name}
        sides: both
        steps: [{step}]
        hold: 20
        reps: 2
      - name: {flow}
        reps: 4
        breath: [4, 6]
        flow: [{move}, {move2}]
"""
WORDS = {  # a routine's own text, in its language
    "en": ("Morning back", "Knee to chest", "Lie on your back.", "Cat and cow", "Cow.", "Cat."),
    "de": ("Rücken am Morgen", "Knie zur Brust", "Leg dich auf den Rücken.", "Katze und Kuh", "Kuh.", "Katze."),
    "fr": ("Le dos du matin", "Genou vers la poitrine", "Allongez-vous sur le dos.", "Chat et vache", "Vache.", "Chat."),
    "es": ("Espalda de mañana", "Rodilla al pecho", "Túmbate boca arriba.", "Gato y vaca", "Vaca.", "Gato."),
    "it": ("Schiena al mattino", "Ginocchio al petto", "Sdraiati sulla schiena.", "Gatto e mucca", "Mucca.", "Gatto."),
    "pt": ("Costas de manhã", "Joelho ao peito", "Deite-se de costas.", "Gato e vaca", "Vaca.", "Gato."),
    "ru": ("Спина утром", "Колено к груди", "Лягте на спину.", "Кошка и корова", "Корова.", "Кошка."),
}


def routine_in(tmp_path: Path, language: str):
    title, name, step, flow, move, move2 = WORDS[language]
    path = tmp_path / f"{language}.yaml"
    path.write_text(textwrap.dedent(ROUTINE.format(
        title=title, language=language, name=name, step=step, flow=flow, move=move, move2=move2)))
    return load(path)


def english_fixed_lines() -> set[str]:
    """Every fixed line English says, filled in as a session would."""
    pack = phrases.pack("en")
    lines = set(pack.spoken_safety("full") + pack.spoken_safety("brief"))
    lines |= {pack.line(key) for key in ("hold", "halfway", "release", "rest", "switch", "relax", "closing")}
    lines |= {pack.countdown(n) for n in range(1, 6)} | {pack.side("right"), pack.side("left")}
    return lines


def test_every_bundled_pack_has_every_line():
    assert phrases.languages() == LANGUAGES
    for language in LANGUAGES:
        pack = phrases.pack(language)  # a missing key or placeholder is a RoutineError
        assert pack.language == language and len(pack.iso639_2) == 3


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_a_plan_in_another_language_has_no_english_fixed_line(tmp_path, language):
    timeline = plan(routine_in(tmp_path, language), fake_ms)
    spoken = [event.text for event in timeline.speech()]
    english = english_fixed_lines()
    assert [line for line in spoken if line in english] == []
    pattern = re.compile(r"\b(Exercise|Rep|Hold for|Next:|Let's begin|rounds, moving|Last round|Well done)\b")
    assert [line for line in spoken if pattern.search(line)] == []
    pack = phrases.pack(language)
    assert spoken[1:1 + len(pack.spoken_safety("full"))] == list(pack.spoken_safety("full"))
    assert pack.side("right") in spoken and pack.line("rep", rep=2, reps=2) in spoken
    assert [c.title for c in timeline.chapters][::len(timeline.chapters) - 1] == [
        pack.word("introduction"), pack.word("finish")]


def test_numbers_take_the_languages_forms():
    ru, de, fr = phrases.pack("ru"), phrases.pack("de"), phrases.pack("fr")
    assert [ru.duration(n * 1000) for n in (1, 3, 5, 21, 90)] == [
        "1 секунду", "3 секунды", "5 секунд", "21 секунду", "1 минуту 30 секунд"]
    assert de.duration(90_000) == "1 Minute und 30 Sekunden"
    assert fr.line("hold_for", duration=fr.duration(30_000)) == "Tenez 30 secondes, dès le carillon."
    assert de.line("rep", rep=2, reps=3) == "Wiederholung 2 von 3."


def test_the_language_picks_the_espeak_voice_unless_the_routine_names_one(tmp_path):
    routine = routine_in(tmp_path, "fr")
    assert Options().voice_for(routine).voice == "roa/fr"
    assert Options(voice="roa/fr-be").voice_for(routine).voice == "roa/fr-be"
    english = routine_in(tmp_path, "en")
    assert Options().voice_for(english).voice == ""  # the engine's default, as before
    assert Options(language="de").voice_for(english).voice == "gmw/de"
    assert Options(language="de").narration(english).language == "de"


def test_a_voice_of_another_language_is_refused_naming_both():
    with pytest.raises(LanguageError, match=r"expected an eSpeak NG voice that speaks French, found gmw/de, which speaks German \(de\)"):
        check_language(Voice(voice="gmw/de"), "fr")
    check_language(spoken_voice(Voice(), "fr"), "fr")


def test_a_piper_voice_must_speak_the_routines_language():
    pytest.importorskip("piper_onnx")
    with pytest.raises(LanguageError, match=r"language de \(German\): expected a Piper voice that speaks German, "
                                            r"found the default voice \(en_US-joe-medium\), which speaks English \(en\)"):
        check_language(Voice(engine="piper"), "de")


def test_an_unknown_language_is_refused_where_it_is_written(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("title: T\nlanguage: xx\nexercises: [{name: A}]\n")
    with pytest.raises(RoutineError, match=r"x.yaml:2:11: language: expected a language with a phrase pack \(de, en, es, fr, it, pt, ru\), found 'xx'"):
        load(path)


def test_a_user_can_add_a_language_and_a_broken_pack_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "phrases").mkdir()
    english = (phrases.BUNDLED / "en.yaml").read_text()
    (tmp_path / "phrases" / "nl.yaml").write_text(
        english.replace("language: en", "language: nl").replace('"Release."', '"Loslaten."'))
    assert "nl" in phrases.languages()
    assert phrases.pack("nl").line("release") == "Loslaten."
    broken = english.replace("language: en", "language: da").replace('"Rep {rep} of {reps}."', '"Rep {rep}."')
    broken = broken.replace('  halfway: "Halfway."\n', "")
    (tmp_path / "phrases" / "da.yaml").write_text(broken)
    with pytest.raises(RoutineError) as error:
        phrases.pack("da")
    message = str(error.value)
    assert re.search(r"phrases/da.yaml:\d+:\d+: lines.rep: expected \{rep\}, \{reps\}, found \{rep\}", message)
    assert re.search(r"phrases/da.yaml:\d+:\d+: lines.halfway: expected a line \(see the English pack\), found none", message)


@pytest.mark.integration
def test_every_line_of_every_pack_is_spoken_by_espeak(tmp_path):
    """Each pack's fixed lines, through the real engine and every clip check, in its voice."""
    from voiceguide.speech.cache import ClipCache
    from voiceguide.speech.speak import speak

    for language in LANGUAGES:
        pack = phrases.pack(language)
        lines = set(pack.spoken_safety("full") + pack.spoken_safety("brief"))
        lines |= {pack.countdown(n) for n in range(1, 6)} | {pack.side("right"), pack.side("left")}
        for key, value in pack.lines.items():
            forms = value.values() if isinstance(value, dict) else [value] if isinstance(value, str) else []
            for form in forms:
                lines.add(form.format(count=4, number=2, name="X", rep=2, reps=3, title="X", move="X",
                                      duration=pack.duration(90_000), side="X"))
        clips, stats = speak(sorted(lines), spoken_voice(Voice(), language), ClipCache(tmp_path / language), 2)
        assert set(clips) == lines and stats.synthesized == len(lines), language


@pytest.mark.integration
def test_a_routine_in_each_language_builds_and_its_outputs_say_so(tmp_path):
    from mutagen.id3 import ID3

    from voiceguide.build import build
    from voiceguide.publish import publish
    from voiceguide.speech.cache import ClipCache

    out = tmp_path / "out"
    cache = ClipCache(tmp_path / "cache")
    for language in LANGUAGES:
        result = build(routine_in(tmp_path, language), out, cache=cache, jobs=2)
        pack = phrases.pack(language)
        tags = ID3(result.mp3)
        assert [frame.lang for frame in tags.getall("USLT")] == [pack.iso639_2]
        assert pack.spoken_safety("full")[0] in tags.getall("USLT")[0].text
        record = json.loads(result.mp3.with_suffix(".json").read_text())
        assert record["settings"]["narration"]["language"] == language
        assert record["chapters"][0]["title"] == pack.word("introduction")
        vtt = result.mp3.with_suffix(".vtt").read_text()
        assert pack.line("switch") in vtt
    publish(out)
    page = (out / "index.html").read_text()
    assert '<html lang="en">' in page  # the page lists several languages; each session says its own
    for language in LANGUAGES:
        assert f'id="{language}" lang="{language}"' in page
    assert "<language>en</language>" in (out / "feed.xml").read_text()
    only_french = tmp_path / "fr-out"
    build(routine_in(tmp_path, "fr"), only_french, cache=cache, jobs=2)
    publish(only_french)
    assert '<html lang="fr">' in (only_french / "index.html").read_text()
    assert "<language>fr</language>" in (only_french / "feed.xml").read_text()


def test_a_batch_fails_only_the_session_whose_voice_speaks_another_language(tmp_path, monkeypatch):
    from tests.conftest import fake_engine
    from voiceguide.batch import build_batch
    from voiceguide.speech.cache import ClipCache

    fake_engine(monkeypatch)
    monkeypatch.setattr("voiceguide.batch._write_each", lambda sessions, *a, **k: iter(()))  # no encoding
    routines = [routine_in(tmp_path, "en"), routine_in(tmp_path, "fr")]
    result = build_batch(routines, tmp_path / "out", Options(voice="gmw/en-us"), cache=ClipCache(tmp_path / "c"))
    assert [f.routine.id for f in result.failures] == ["fr"]
    assert "expected an eSpeak NG voice that speaks French, found gmw/en-us, which speaks English (en)" in result.failures[0].message


@pytest.mark.integration
def test_a_piper_voice_of_the_routines_language_works_from_its_files(tmp_path):
    """A Piper voice is its .onnx and .onnx.json; its config names its language. (The voice
    here is the bundled one, relabelled German: it is the files' word that counts.)"""
    pytest.importorskip("piper_onnx")
    from voiceguide.build import build
    from voiceguide.speech import piper_engine
    from voiceguide.speech.cache import ClipCache

    joe = piper_engine.bundled()[0]
    model = tmp_path / "de_DE-test-medium.onnx"
    model.symlink_to(joe.model)
    settings = json.loads(joe.config.read_text())
    settings["language"] = {"code": "de_DE"}
    settings["espeak"] = {"voice": "de"}
    model.with_name(model.name + ".json").write_text(json.dumps(settings))
    routine = routine_in(tmp_path, "de")
    with pytest.raises(LanguageError, match="expected a Piper voice that speaks German"):
        build(routine, tmp_path / "out", Options(engine="piper"), cache=ClipCache(tmp_path / "c"), jobs=1)
    result = build(routine, tmp_path / "out", Options(engine="piper", voice=str(model)), cache=ClipCache(tmp_path / "c"), jobs=1)
    assert result.mp3.is_file() and result.duration_ms > 60_000
