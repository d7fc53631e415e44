"""Hostile input: routines, voices, file names and output directories written to break things.

Each must end in a clear one-line error (or, for publish, a warning) quickly, with nothing
spoken and nothing in out/ damaged. The cases that are plain routine files are in the
corpus of tests/bad_routines/; these are the ones that need more than a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide import diagnose

from voiceguide.speech import pyttsx3_engine
from voiceguide.cli import cli
from voiceguide.errors import Problem, RoutineError, SpeechError
from voiceguide.routine.load import load
from voiceguide.routine.model import Narration, Voice
from voiceguide.plan import Event, Timeline, plan
from voiceguide.publish import publish
from voiceguide.publish.sidecars import chapters_json, read_vtt, transcript_vtt

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(cli, list(args))


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def nothing_speaks(tmp_path, monkeypatch):
    """An empty speech cache and an engine that refuses to start: what was asked of it is listed."""
    asked: list[Voice] = []

    def forbidden_worker(voice, workers):
        asked.append(voice)
        raise AssertionError("nothing may be said here")

    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pyttsx3_engine, "worker", forbidden_worker)
    monkeypatch.chdir(tmp_path)
    return asked


# -- routine files that are not regular files ----------------------------------------------


def plan_in_subprocess(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`voiceguide plan PATH` in its own process, which may use at most 1 GB of memory and
    30 s: a regression hangs or eats memory there, and fails this test, not the machine."""

    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "voiceguide.cli", "plan", str(path)], cwd=cwd, capture_output=True,
        text=True, timeout=30, preexec_fn=limit_memory, env={**os.environ, "VOICEGUIDE_CACHE_DIR": str(cwd / "cache")},
    )


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = plan_in_subprocess(fifo, tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{fifo}: expected a routine file, found a FIFO (named pipe)\n"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_symlink_to_a_device_is_refused_without_reading_it(tmp_path, device):
    link = tmp_path / "endless.yaml"
    link.symlink_to(device)
    result = plan_in_subprocess(link, tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{link}: expected a routine file, found a character device\n"


def test_a_directory_is_refused_and_a_symlink_to_a_routine_is_fine(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(RoutineError) as error:
        load(tmp_path / "dir.yaml")
    assert str(error.value) == f"{tmp_path / 'dir.yaml'}: expected a routine file, found a directory"
    real = write(tmp_path / "real.yaml", "title: Real\nexercises:\n  - name: Reach\n")
    (tmp_path / "link.yaml").symlink_to(real)
    assert load(tmp_path / "link.yaml").title == "Real"


# -- voices -----------------------------------------------------------------------------


@pytest.mark.integration
def test_a_voice_with_an_espeak_variant_is_a_voice_and_speaks_it():
    from voiceguide.speech import voices

    assert "klatt4" in voices.espeak_variants(voices.espeak_data_dir())
    assert voices.problem("pyttsx3", "gmw/en-us+klatt4") is None
    plain, variant = (pyttsx3_engine.Espeak(voice, 160).synthesize("Hold for thirty seconds.")
                      for voice in ("gmw/en-us", "gmw/en-us+klatt4"))
    assert plain.size > 0 and variant.size > 0 and (plain.size != variant.size or not (plain == variant).all())


@pytest.mark.integration
def test_the_espeak_voices_read_from_its_data_are_the_ones_it_lists():
    from voiceguide.speech import voices

    listed = sorted(voice.id.lower() for voice in pyttsx3_engine.voices())
    assert list(voices.espeak_voice_ids()) == listed
    assert "gmw/en-us" in listed
    # The quick check of one name agrees: every listed voice, in any case, and no other file
    # (variants, MBROLA voices).
    assert all(voices.is_espeak_voice(voice) and voices.is_espeak_voice(voice.upper()) for voice in listed)
    for kind in ("voices", "lang"):
        root = voices.espeak_data_dir() / kind
        for path in root.rglob("*"):
            name = path.relative_to(root).as_posix()
            assert voices.is_espeak_voice(name) == (name.lower() in listed), name


@pytest.mark.parametrize(("voice", "found"), [
    # Unknown voices are told from eSpeak NG's own list: only where eSpeak NG is.
    pytest.param("bogus", "found unknown voice 'bogus'", marks=pytest.mark.integration),
    pytest.param("gmw/en-gb", "found unknown voice 'gmw/en-gb' (nearest: gmw/en, gmw/en-gb-x-rp, gmw/en-us)",
                 marks=pytest.mark.integration),
    pytest.param("gmw/en-us+klat4", "found 'klat4' (nearest: klatt4, klatt, klatt6)", marks=pytest.mark.integration),
    ("gmw/en-us+../../etc/passwd", "eSpeak NG variant after '+' (like klatt4; 'voiceguide voices' lists them), found '../../etc/passwd'"),
    ("gmw/en-us+", "found ''"),
    ("/dev/zero", "found the path '/dev/zero'"),
    ("../../../../dev/zero", "found the path '../../../../dev/zero'"),
    ("../../etc/passwd", "found the path '../../etc/passwd'"),
    ('"gmw/en-us\\0"', "found the control character U+0000"),
])
def test_a_bad_voice_in_a_routine_is_refused_at_its_place(tmp_path, voice, found):
    from voiceguide.speech import voices

    path = write(tmp_path / "r.yaml", f"title: R\ndefaults:\n  voice: {voice}\nexercises:\n  - name: Reach\n")
    with pytest.raises(RoutineError) as error:
        load(path, voice_problem=voices.problem)
    (problem,) = error.value.problems
    assert (problem.line, problem.column) == (3, 10)
    assert problem.message.startswith("defaults.voice: expected ")
    assert problem.message.endswith(found)


@pytest.mark.parametrize("voice", [pytest.param("bogus", marks=pytest.mark.integration), "../../../../dev/zero",
                                   "/dev/zero", "gmw\\en-us", "gmw/./en-us"])
def test_a_bad_voice_option_is_one_line_and_nothing_speaks(nothing_speaks, voice):
    Path("r.yaml").write_text("title: R\nexercises:\n  - name: Reach\n")
    for command in (["build", "r.yaml", "--out", "out"], ["plan", "r.yaml"]):
        result = run(*command, "--voice", voice)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1
        assert result.output.startswith("error: --voice: expected an eSpeak NG voice")
        assert result.output.count("\n") == 1
    assert not nothing_speaks and not Path("out").exists()


@pytest.mark.integration  # the voice it does list is looked up in eSpeak NG's data
@pytest.mark.parametrize("voice", ["/dev/zero", "../../etc/passwd", "bogus", "gmw/en-us\x00"])
def test_the_engine_refuses_a_voice_it_does_not_list_whatever_calls_it(voice):
    with pytest.raises(SpeechError):
        pyttsx3_engine.identity(Voice(voice=voice))
    assert pyttsx3_engine.identity(Voice(voice="gmw/en-US"))[1] == "gmw/en-US"  # eSpeak NG ignores case


def test_piper_voices_are_a_bundled_id_or_an_onnx_file_with_its_config(tmp_path):
    from voiceguide.speech import voices

    model = tmp_path / "mine.onnx"
    model.write_bytes(b"")
    assert voices.problem("piper", str(model)).endswith(f"found no file {model}.json")
    (tmp_path / "mine.onnx.json").write_text("{}")
    assert voices.problem("piper", str(model)) is None
    from voiceguide.speech import piper_engine

    if not piper_engine.installed():
        pytest.skip("Piper is not installed: its bundled voices cannot be listed")
    assert voices.problem("piper", "en_US-joe-medium") is None
    assert voices.problem("piper", "en_US-jo-medium").endswith(
        "found unknown voice 'en_US-jo-medium' (nearest: en_US-joe-medium)")


@pytest.mark.integration  # an unknown voice is told from eSpeak NG's own list
def test_check_reports_a_bad_voice_like_build(nothing_speaks, monkeypatch):
    monkeypatch.setattr(diagnose, "_check_speech", lambda name, wanted: (None, f"speech engine {name}: not checked here"))
    monkeypatch.setattr(diagnose, "_check_ffmpeg", lambda: (True, "ffmpeg: not checked here"))
    Path("routines").mkdir()
    Path("routines/r.yaml").write_text("title: R\ndefaults:\n  voice: bogus\nexercises:\n  - name: Reach\n")
    result = run("check")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "FAIL  routines/r.yaml:3:10: defaults.voice: expected an eSpeak NG voice ('voiceguide voices' lists them), "
        "found unknown voice 'bogus'"
    )


# -- sessions over the limit, refused before speech -----------------------------------------

WORDY_FLOW = "title: Wordy\nexercises:\n  - name: Cat-cow\n    reps: 100\n    flow:\n" + "".join(
    f"      - say: Move {i}. {' '.join(['Breathe in slowly and let your back soften.'] * 4)}\n        hold: 1\n"
    for i in range(20)
)
FIVE_HALF_HOURS = """\
    title: Near the limit
    defaults:
      hold: 30m
    exercises:
      - name: A
      - name: B
      - name: C
      - name: D
      - name: E
"""


@pytest.mark.parametrize(("text", "place", "found"), [
    (WORDY_FLOW, ":4:11: exercises[0].reps: ", "found at least 4h"),
    ("title: T\nexercises:\n  - name: Long\n    sides: both\n    hold: 30m\n    reps: 100\n",
     ":6:11: exercises[0].reps: ", "found at least 100h25m in holds, rests and switches alone"),
])
def test_a_clearly_too_long_routine_is_refused_before_anything_is_said(nothing_speaks, text, place, found):
    Path("long.yaml").write_text(text)
    for command in (["plan", "long.yaml"], ["build", "long.yaml", "--out", "out"]):
        result = run(*command)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1
        assert result.output.startswith(f"long.yaml{place}expected a session of at most 3h, {found}")
        assert result.output.count("\n") == 1
    assert not nothing_speaks and not Path("out").exists()


def test_settings_that_make_a_session_too_long_fail_it_before_speech(nothing_speaks, monkeypatch):
    monkeypatch.setattr(pyttsx3_engine, "identity", lambda voice: ("fake-engine", "fake-voice"))  # no eSpeak NG needed
    write(Path("near.yaml"), FIVE_HALF_HOURS)
    result = run("plan", "near.yaml", "--hold-scale", "2")
    assert result.exit_code == 1
    assert result.output.startswith("near.yaml:3:9: defaults.hold: expected a session of at most 3h, found at least 5h")
    result = run("build", "near.yaml", "--hold-scale", "2", "--out", "out")
    assert result.exit_code == 1
    assert "failed: near: near.yaml:3:9: defaults.hold: expected a session of at most 3h" in result.output
    assert not nothing_speaks and not list(Path("out").glob("*.mp3"))


def test_the_check_after_speech_says_where_too(tmp_path):
    routine = load(write(tmp_path / "near.yaml", FIVE_HALF_HOURS))
    with pytest.raises(RoutineError) as error:
        plan(routine, lambda text: 120_000)  # two minutes a line: well over 3 h
    (problem,) = error.value.problems
    assert (problem.line, problem.column) == (3, 9)
    assert "found 3h" in problem.message and "once its speech is made" in problem.message


def test_the_floor_is_never_more_than_the_plan(tmp_path):
    from voiceguide.estimate import exercise_floor_ms, too_long
    from voiceguide.plan import lay_out

    routine = load(write(tmp_path / "r.yaml", """\
        title: Shapes
        defaults:
          rest: 7
          switch: 3
        exercises:
          - name: Sides and reps
            sides: both
            reps: 3
            hold: 20
            cues: [{at: 5, say: Breathe.}]
          - name: Flow
            sides: [left, right]
            reps: 4
            flow: [{say: Up., hold: 0}, {say: Down., hold: 2}]
          - name: Plain
            hold: 1
    """))
    for scale in (0.25, 1.0, 4.0):
        narration = Narration(hold_scale=scale)
        floor = sum(exercise_floor_ms(e, narration) for e in routine.exercises) + 7_000 * 2
        assert floor <= lay_out(routine, lambda text: 0, narration).duration_ms
    assert too_long(routine) is None


@pytest.mark.integration
def test_the_speech_estimate_is_under_every_real_clip_of_the_shipped_routines(tmp_path):
    from voiceguide.build import Options, speak_and_plan
    from voiceguide.estimate import ESTIMATE_SHARE, estimated_speech
    from voiceguide.speech.cache import ClipCache, cache_dir
    from voiceguide.speech.clips import clip_ms

    for path in sorted((ROOT / "routines").glob("*.yaml")):
        routine = load(path)
        estimate = estimated_speech(routine.voice.rate)
        clips = speak_and_plan(routine, Options(), ClipCache(cache_dir()), jobs=2).clips
        short = {text: (estimate(text), clip_ms(clip)) for text, clip in clips.items() if estimate(text) > clip_ms(clip)}
        assert not short, f"ESTIMATE_SHARE {ESTIMATE_SHARE} is too high for {path.name}: {short}"


# -- text that is accepted is written safely ----------------------------------------------


def speech_timeline(*texts: str) -> Timeline:
    events = tuple(Event(i * 2000, i * 2000 + 1500, "speech", text=text) for i, text in enumerate(texts))
    return Timeline("T", len(texts) * 2000, events, ())


def test_vtt_payloads_cannot_make_cues_or_markup():
    texts = [
        "Breathe --> out", "00:00:01.000 --> 00:09:00.000", "<b>Hold</b> & <i>breathe</i>", "<c.x>cue</c>",
        "&amp; stays &amp;", "A\n\nB",
    ]
    vtt = transcript_vtt(speech_timeline(*texts))
    lines = vtt.split("\n")
    timing = [line for line in lines if "-->" in line]
    assert len(timing) == len(texts)  # one timing line per spoken line, no more
    payloads = [lines[lines.index(line) + 1] for line in timing]
    assert all("<" not in p and ">" not in p for p in payloads)
    assert payloads[2] == "&lt;b&gt;Hold&lt;/b&gt; &amp; &lt;i&gt;breathe&lt;/i&gt;"
    assert [cue.text for cue in read_vtt(vtt)] == texts[:-1] + ["A B"]


def fake_session(out: Path, name: str, title: str, line: str = "Breathe out.", **record) -> None:
    (out / f"{name}.mp3").write_bytes(b"\xff\xfb\x90\x00" + bytes(400))
    (out / f"{name}.vtt").write_text(f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{line}\n")
    record = {
        "routine": name, "title": title, "duration_ms": 60_000,
        "files": {"mp3": f"{name}.mp3", "vtt": f"{name}.vtt"},
        "chapters": [{"start_ms": 0, "end_ms": 60_000, "title": "Introduction"}], **record,
    }
    (out / f"{name}.json").write_text(json.dumps(record))


def test_one_bad_session_never_stops_the_others_being_published(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "secret.txt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nnot for the page\n")
    fake_session(out, "good", "Good <b>&</b> --> \"stretch\"")
    fake_session(out, "control", "Bad \x01 title \x1b[31m")
    fake_session(out, "noncharacter", "Fine title", line="Say \uffff this")
    fake_session(out, "number", 42)
    fake_session(out, "outside", "Points outside", files={"mp3": "outside.mp3", "vtt": "../secret.txt"})
    published = publish(out)
    assert published.sessions == 2
    assert sorted(why.split(": ", 1)[0] for why in published.skipped) == [
        str(out / "control.mp3"), str(out / "noncharacter.mp3"), str(out / "number.mp3"),
    ]
    feed = ET.fromstring((out / "feed.xml").read_bytes())
    assert [item.findtext("title") for item in feed.iter("item")] == ['Good <b>&</b> --> "stretch"', "Points outside"]
    page = (out / "index.html").read_text()
    assert "Good &lt;b&gt;&amp;&lt;/b&gt; --&gt; &quot;stretch&quot;" in page and "not for the page" not in page
    result = run("publish", "--out", str(out))
    assert result.exit_code == 0
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3 and "\x1b" not in result.output and "\x01" not in result.output
    assert f"warning: {out / 'control.mp3'}: left out: title: expected printable text, found the control character U+0001" in warnings


def test_accepted_markup_like_text_loads_and_is_written_as_text(tmp_path):
    from mutagen.id3 import ID3

    from voiceguide.audio.export import Tags, write_tags

    routine = load(write(tmp_path / "r.yaml", """\
        title: "<script>alert(1)</script> & --> \\"stretch\\" ünï 🙂"
        exercises:
          - name: "Reach <i>up</i> & over"
            steps: ["00:00:01.000 --> 00:00:02.000 Breathe"]
    """))
    assert routine.title == '<script>alert(1)</script> & --> "stretch" ünï 🙂'
    timeline = plan(routine, lambda text: 40 * len(text))
    vtt = transcript_vtt(timeline)
    assert vtt.count("-->") == len(timeline.speech())  # the step's arrow is not a cue of its own
    assert [cue.text for cue in read_vtt(vtt)] == [event.text for event in timeline.speech()]
    assert json.loads(chapters_json(timeline))["chapters"][1]["title"] == "Reach <i>up</i> & over"
    mp3 = tmp_path / "r.mp3"
    mp3.write_bytes(b"")
    write_tags(mp3, Tags(title=routine.title), timeline.chapters, None)
    assert ID3(mp3)["TIT2"].text == [routine.title]


# -- error lines ------------------------------------------------------------------------


def test_error_lines_escape_control_characters_in_file_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("evil\x1b[31m\nforged.yaml").write_text("title: T\n")
    result = run("plan", "evil\x1b[31m\nforged.yaml")
    assert result.exit_code == 1
    assert result.output == "evil\\x1b[31m\\nforged.yaml:1:1: exercises: expected a list of exercises, found nothing\n"


def test_error_lines_echo_about_200_characters_of_a_value(tmp_path):
    key = "k" * 100_000
    path = write(tmp_path / "r.yaml", f"title: T\n? {key}\n: 1\nexercises:\n  - name: Reach\n")
    with pytest.raises(RoutineError) as error:
        load(path)
    (problem,) = error.value.problems
    assert len(str(problem)) < 200 + 200 + len(str(path))
    assert f"found unknown key '{'k' * 197}...'" in problem.message


def test_a_problem_is_always_one_printable_line():
    problem = Problem("a\nb.yaml", 2, 3, "expected x, found 'y\x1b[2J\u2028z\x9b'")
    assert str(problem) == "a\\nb.yaml:2:3: expected x, found 'y\\x1b[2J\\u2028z\\x9b'"
