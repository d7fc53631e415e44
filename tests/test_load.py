"""Tests of stage 1, load: good routines become the right model, bad ones the right messages.

tests/bad_routines/ holds one malformed routine per case, NAME.yaml, next to NAME.expected:
exactly what `voiceguide plan tests/bad_routines/NAME.yaml` prints on stderr, run from the
repository root. The expected files are the spec of the messages; after changing a message,
regenerate them and read every diff before keeping it:

    python tests/test_load.py --regenerate
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceguide.cli import cli
from voiceguide.errors import RoutineError
from voiceguide.estimate import too_long
from voiceguide.routine.load import load
from voiceguide.speech import engines
from voiceguide.speech.voices import problem as voice_problem

ROOT = Path(__file__).resolve().parent.parent
BAD = Path("tests/bad_routines")  # relative to ROOT, so the expected messages hold this path
BAD_CASES = sorted(path.stem for path in (ROOT / BAD).glob("*.yaml"))
NEEDS_ESPEAK = {"voice_unknown"}
"""Cases told from eSpeak NG's own voice list: run only where eSpeak NG is (integration)."""
BAD_CASE_PARAMS = [pytest.param(name, marks=pytest.mark.integration) if name in NEEDS_ESPEAK else name
                   for name in BAD_CASES]


def run_plan(name: str) -> tuple[int, str, str, BaseException | None]:
    """Run `voiceguide plan tests/bad_routines/NAME.yaml` from the repository root."""
    result = CliRunner().invoke(cli, ["plan", str(BAD / f"{name}.yaml")])
    return result.exit_code, result.stdout, result.stderr, result.exception


class _TooMuchWork(BaseException):
    """Raised inside the code under test; a BaseException, so no `except Exception` stops it."""


def python_calls(action, budget: int = 20_000_000):
    """How many Python function calls `action()` makes, and what it returned. Work is counted,
    not timed: past `budget` calls (loading a shipped routine takes about 20,000) the action is
    stopped, so work that would never end (an alias bomb expanded) fails instead of hanging."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1
            if calls > budget:
                raise _TooMuchWork(f"more than {budget} Python calls")

    sys.setprofile(count)
    try:
        returned = action()
    finally:
        sys.setprofile(None)
    return calls, returned


def refused(path: Path) -> tuple[int, RoutineError]:
    """The Python calls `load(path)` makes before it refuses the routine, and its error."""
    def attempt():
        with pytest.raises(RoutineError) as error:
            load(path)
        return error.value

    return python_calls(attempt)


# -- the corpus of bad routines ------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_CASE_PARAMS)
def test_bad_routine(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    # Fail here, quickly, if a case ever loads: `plan` would go on to synthesize speech.
    with pytest.raises(RoutineError):
        load(BAD / f"{name}.yaml", voice_problem=voice_problem, session_problem=too_long)
    spoken = []
    monkeypatch.setattr(engines, "get", spoken.append)  # every engine is reached through it
    # Bombs and huge files fail fast: within python_calls' budget of work.
    _, (exit_code, stdout, stderr, exception) = python_calls(lambda: run_plan(name))
    assert not spoken  # refused before anything was said
    assert isinstance(exception, SystemExit), f"crashed: {exception!r}"
    assert exit_code == 1
    assert "Traceback" not in stderr
    assert stdout == ""
    assert stderr == (ROOT / BAD / f"{name}.expected").read_text(encoding="utf-8")


def test_every_bad_routine_has_expected_output():
    expected = sorted(path.stem for path in (ROOT / BAD).glob("*.expected"))
    assert expected == BAD_CASES
    assert len(BAD_CASES) >= 40


@pytest.mark.parametrize("name", BAD_CASES)
def test_expected_lines_say_where_what_and_found(name):
    lines = (ROOT / BAD / f"{name}.expected").read_text(encoding="utf-8").splitlines()
    assert lines
    places = []
    for line in lines:
        place, _, message = line.partition(": ")
        path, line_number, *column = place.split(":")
        assert path == f"tests/bad_routines/{name}.yaml"
        assert int(line_number) >= 1
        places.append((int(line_number), int(column[0]) if column else 0))
        assert "expected " in message and ", found " in message
    assert places == sorted(places)


def test_python_tags_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "hacked"
    routine = tmp_path / "evil.yaml"
    routine.write_text(
        f'title: !!python/object/apply:os.system ["touch {marker}"]\n'
        "exercises:\n"
        f"  - name: !!python/object/new:subprocess.Popen [[touch, {marker}]]\n"
        f"    steps: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path [{marker}]]\n",
        encoding="utf-8",
    )
    with pytest.raises(RoutineError) as error:
        load(routine)
    assert not marker.exists()
    assert len(error.value.problems) == 3
    assert all("expected plain YAML values, found the tag '!!python/" in p.message for p in error.value.problems)


def test_corpus_python_tag_case_does_not_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    run_plan("python_object_tag")
    assert not (ROOT / "voiceguide-hacked.txt").exists()


def test_alias_bomb_fails_fast(tmp_path):
    # Thirty levels of two aliases each: 2**30 values if it were ever expanded.
    lines = ["title: Test routine", "l0: &l0 [lol, lol]"]
    lines += [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 31)]
    lines += ["exercises: *l30"]
    routine = tmp_path / "bomb.yaml"
    routine.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls, error = refused(routine)
    (problem,) = error.problems
    assert "an alias bomb?" in problem.message
    # Sized, never expanded: twice the levels (2**60 values) is about twice the work, not 2**30 times.
    deeper = tmp_path / "deeper.yaml"
    deeper.write_text("\n".join(lines[:-1] + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(31, 61)]
                                 + ["exercises: *l60"]) + "\n", encoding="utf-8")
    assert refused(deeper)[0] < 3 * calls


def test_too_many_values_fails_fast(tmp_path):
    routine = tmp_path / "many.yaml"
    routine.write_text("title: T\nexercises: [" + "a," * 50_000 + "a]\n", encoding="utf-8")
    calls, error = refused(routine)
    assert str(error) == f"{routine}:2:40003: expected at most 20000 YAML values, found more from here on"
    # Stopped at the limit: twice the values past it is no more work.
    more = tmp_path / "more.yaml"
    more.write_text("title: T\nexercises: [" + "a," * 100_000 + "a]\n", encoding="utf-8")
    assert refused(more)[0] <= calls * 1.01


def test_file_too_large(tmp_path):
    routine = tmp_path / "huge.yaml"
    routine.write_text("title: Test routine\n" + "# padding\n" * 30_000, encoding="utf-8")
    with pytest.raises(RoutineError) as error:
        load(routine)
    (problem,) = error.value.problems
    assert problem.line > 1
    assert problem.message.startswith("expected a routine of at most 256 KB, found 293 KB")


def test_missing_file(tmp_path):
    with pytest.raises(RoutineError) as error:
        load(tmp_path / "nowhere.yaml")
    assert str(error.value) == f"{tmp_path / 'nowhere.yaml'}: expected a routine file, found no such file"


def test_display_path_names_the_file_in_messages(tmp_path):
    routine = tmp_path / "r.yaml"
    routine.write_text("title: Test routine\n", encoding="utf-8")
    with pytest.raises(RoutineError) as error:
        load(routine, display_path="routines/r.yaml")
    assert str(error.value) == "routines/r.yaml:1:1: exercises: expected a list of exercises, found nothing"


# -- anything at all fails cleanly --------------------------------------------------------

FRAGMENTS = [
    "title: ", "exercises:", "defaults:", "name: ", "hold: ", "reps: ", "rest: ", "sides: ", "cues:", "flow:",
    "steps:", "at: ", "say: ", "halfway: ", "rate: ", "- ", "  ", "    ", "\n", "\t", ": ", "[", "]", "{", "}",
    ", ", "'", '"', "#", "---", "&a ", "*a", "*b", "<<: ", "!!python/object/apply:os.system ", "!!int ", "!x ",
    "? ", "|", ">", "1:30", ".nan", "-.inf", "no", "both", "0", "-5", "2.5", "1m30s", "30", "1e999", "~", "Breathe.",
]


def assert_fails_cleanly(path: Path) -> None:
    try:
        load(path)
    except RoutineError as error:
        assert error.problems
        for problem in error.problems:
            assert "\n" not in str(problem)
            assert problem.line >= 1
            assert "expected " in problem.message and ", found " in problem.message
        places = [(problem.line, problem.column) for problem in error.problems]
        assert places == sorted(places)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_yaml_like_junk_never_crashes(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("junk") / "junk.yaml"
    path.write_text(text, encoding="utf-8")
    assert_fails_cleanly(path)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "bytes.yaml"
    path.write_bytes(data)
    assert_fails_cleanly(path)


# -- good routines -------------------------------------------------------------------------


def load_text(tmp_path: Path, text: str, name: str = "test.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load(path)


def one_exercise(tmp_path: Path, body: str):
    routine = load_text(tmp_path, "title: Test routine\nexercises:\n  - name: Stretch\n" + body)
    (exercise,) = routine.exercises
    return exercise


@pytest.mark.parametrize(
    ("written", "ms"),
    [
        ('"1m30s"', 90_000),
        ("1m30s", 90_000),
        ('"45s"', 45_000),
        ("30", 30_000),
        ("12.5", 12_500),
        ('"2m"', 120_000),
        ("1m", 60_000),
        ('"30"', 30_000),
        ('"1m 5s"', 65_000),
        ('"0.5m"', 30_000),
        ("1", 1_000),
        ("30m", 1_800_000),
    ],
)
def test_hold_durations(tmp_path, written, ms):
    assert one_exercise(tmp_path, f"    hold: {written}\n").hold_ms == ms


def test_rest_and_switch_may_be_zero(tmp_path):
    exercise = one_exercise(tmp_path, "    rest: 0\n    switch: 0s\n    sides: both\n")
    assert (exercise.rest_ms, exercise.switch_ms) == (0, 0)


def test_sides(tmp_path):
    assert one_exercise(tmp_path, "    sides: both\n").sides == ("right", "left")
    assert one_exercise(tmp_path, "    sides: [Left, Right]\n").sides == ("left", "right")
    assert one_exercise(tmp_path, "").sides == ()


def test_builtin_defaults(tmp_path):
    routine = load_text(tmp_path, "title: Test routine\nexercises:\n  - name: Stretch\n")
    (exercise,) = routine.exercises
    assert (exercise.hold_ms, exercise.reps, exercise.rest_ms, exercise.switch_ms) == (30_000, 1, 10_000, 5_000)
    assert (routine.narration.verbosity, routine.narration.countdown, routine.narration.halfway) == ("full", 3, True)
    assert routine.narration.hold_scale == 1.0
    assert (routine.voice.engine, routine.voice.voice, routine.voice.rate) == ("pyttsx3", "", 160)


def test_defaults_apply_and_exercises_override_them(tmp_path):
    routine = load_text(tmp_path, """\
title: Test routine
defaults:
  hold: 20
  reps: 3
  rest: 15
  switch: 8
exercises:
  - name: Uses the defaults
  - name: Overrides them
    hold: 1m
    reps: 2
    rest: 0
    switch: 2
""")
    first, second = routine.exercises
    assert (first.hold_ms, first.reps, first.rest_ms, first.switch_ms) == (20_000, 3, 15_000, 8_000)
    assert (second.hold_ms, second.reps, second.rest_ms, second.switch_ms) == (60_000, 2, 0, 2_000)


def test_narration_defaults(tmp_path):
    routine = load_text(tmp_path, """\
title: Test routine
defaults:
  verbosity: brief
  countdown: 5
  halfway: false
  hold_scale: 1.5
  rate: 180
  voice: gmw/en-gb-x-rp
  engine: pyttsx3
exercises:
  - name: Stretch
""")
    assert routine.narration.verbosity == "brief"
    assert routine.narration.countdown == 5
    assert routine.narration.halfway is False
    assert routine.narration.hold_scale == 1.5
    assert (routine.voice.rate, routine.voice.voice, routine.voice.engine) == (180, "gmw/en-gb-x-rp", "pyttsx3")


def test_every_narration_and_voice_field_is_a_key_of_defaults():
    from dataclasses import fields

    from voiceguide.routine.model import Narration, Voice
    from voiceguide.routine.schema import SETTINGS

    assert [(key.into, key.target) for key in SETTINGS] == [
        (model, field.name) for model in (Narration, Voice) for field in fields(model) if field.name != "language"
    ]  # the language is set at the top of a routine


def test_checks_that_need_later_stages_are_handed_in(tmp_path):
    # Alone, load knows the routine format only: whether a voice is its engine's is the
    # speech stage's to say, and the commands hand that check in.
    text = "title: T\ndefaults:\n  voice: no-such-voice\nexercises:\n  - name: S\n"
    assert load_text(tmp_path, text).voice.voice == "no-such-voice"
    with pytest.raises(RoutineError) as error:
        load(tmp_path / "test.yaml", voice_problem=lambda engine, voice: f"expected a voice of {engine}, found {voice}")
    assert [str(problem) for problem in error.value.problems] == [
        f"{tmp_path / 'test.yaml'}:3:10: defaults.voice: expected a voice of pyttsx3, found no-such-voice"
    ]


def test_countdown_zero_and_halfway_true(tmp_path):
    routine = load_text(tmp_path, "title: T\ndefaults:\n  countdown: 0\n  halfway: true\nexercises:\n  - name: S\n")
    assert (routine.narration.countdown, routine.narration.halfway) == (0, True)


def test_flow_with_bare_lines(tmp_path):
    exercise = one_exercise(tmp_path, """\
    reps: 6
    flow:
      - say: Round your back.
        hold: 4
      - Breathe.
      - say: Let your belly sink.
""")
    assert exercise.reps == 6
    assert [(move.text, move.hold_ms) for move in exercise.flow] == [
        ("Round your back.", 4_000), ("Breathe.", 3_000), ("Let your belly sink.", 3_000),
    ]


def test_cues_are_sorted_by_time(tmp_path):
    exercise = one_exercise(tmp_path, """\
    hold: 40
    cues:
      - at: 30
        say: Nearly there.
      - at: 10s
        say: Breathe out.
""")
    assert [(cue.at_ms, cue.text) for cue in exercise.cues] == [(10_000, "Breathe out."), (30_000, "Nearly there.")]


def test_lines_and_text(tmp_path):
    routine = load_text(tmp_path, """\
title: Test routine
summary: Not spoken.
intro: One line.
outro:
  - First line.
  - >-
    A folded line
    over two.
exercises:
  - name: "Yes"
    steps: no
""")
    assert routine.intro == ("One line.",)
    assert routine.outro == ("First line.", "A folded line over two.")
    # YAML 1.2: yes and no are text.
    assert routine.exercises[0].name == "Yes"
    assert routine.exercises[0].steps == ("no",)


def test_routine_id_comes_from_the_file_name(tmp_path):
    routine = load_text(tmp_path, "title: T\nexercises:\n  - name: S\n", name="Sore Back_2.yaml")
    assert routine.id == "sore-back-2"


def test_aliases_may_reuse_lines(tmp_path):
    routine = load_text(tmp_path, """\
title: Test routine
exercises:
  - name: Knee to chest
    steps: &lie [Lie on your back., Bend your knees.]
  - name: Double knee to chest
    steps: *lie
""")
    assert routine.exercises[1].steps == ("Lie on your back.", "Bend your knees.")


def test_bom_and_crlf_are_fine(tmp_path):
    path = tmp_path / "windows.yaml"
    path.write_bytes(b"\xef\xbb\xbftitle: Test routine\r\nexercises:\r\n  - name: Stretch\r\n")
    assert load(path).title == "Test routine"


@pytest.mark.parametrize("path", sorted((ROOT / "routines").glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_routine_loads(path):
    assert load(path).exercises


def test_sore_back_loads():
    routine = load(ROOT / "routines" / "sore-back.yaml")
    assert routine.id == "sore-back"
    assert routine.title == "Five Stretches for a Sore Back"
    assert [exercise.name for exercise in routine.exercises] == [
        "Single knee to chest", "Double knee to chest", "Supine trunk rotation",
        "Prayer stretch or child's pose", "Upward dog or cobra",
    ]
    first = routine.exercises[0]
    assert (first.hold_ms, first.reps, first.rest_ms, first.switch_ms) == (30_000, 3, 10_000, 5_000)
    assert first.sides == ("right knee", "left knee")
    assert first.cues[0].at_ms == 10_000
    assert routine.intro == ("You will need a mat, or a soft spot on the floor.",)
    assert routine.summary.startswith("A floor session to loosen")


# -- regenerating the expected output ------------------------------------------------------


def regenerate() -> None:
    """Write every NAME.expected from what the CLI prints now; review the diff before keeping it."""
    os.chdir(ROOT)
    for name in BAD_CASES:
        try:
            load(BAD / f"{name}.yaml", voice_problem=voice_problem, session_problem=too_long)
        except RoutineError:
            pass
        else:
            print(f"{name}: loads without a problem, not written", file=sys.stderr)
            continue
        exit_code, _, stderr, _ = run_plan(name)
        if exit_code != 1:
            print(f"{name}: exit code {exit_code}, not written", file=sys.stderr)
            continue
        (BAD / f"{name}.expected").write_text(stderr, encoding="utf-8")
    print(f"wrote {len(BAD_CASES)} files in {BAD}/; review them with 'git diff {BAD}'")


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/test_load.py --regenerate")
    regenerate()
