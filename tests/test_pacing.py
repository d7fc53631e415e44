"""Pacing for a listener on the floor: the safety opening, flows paced by breath, stays."""

from __future__ import annotations

import pytest

from tests.test_plan import fake_ms, kinds, routine_from
from voiceguide.errors import RoutineError
from voiceguide.plan import CHIME_MS, plan
from voiceguide.routine import phrases
from voiceguide.routine.load import load
from voiceguide.routine.model import Narration

EN = phrases.pack("en")
SPOKEN, BRIEF = EN.spoken_safety("full"), EN.spoken_safety("brief")

ONE = """\
    title: T
    {safety}
    exercises:
      - name: Cobra
        hold: 12
"""


def spoken(timeline) -> list[str]:
    return [event.text for event in timeline.speech()]


def test_every_session_opens_with_the_safety_advice_once(tmp_path):
    timeline = plan(routine_from(tmp_path, ONE.format(safety="")), fake_ms)
    lines = spoken(timeline)
    assert lines[1:1 + len(SPOKEN)] == list(SPOKEN)
    assert sum(line in SPOKEN for line in lines) == len(SPOKEN)


def test_minimal_narration_says_the_brief_opening(tmp_path):
    timeline = plan(routine_from(tmp_path, ONE.format(safety="")), fake_ms, Narration(verbosity="minimal"))
    assert spoken(timeline)[1] == BRIEF[0]
    assert not set(spoken(timeline)) & set(SPOKEN)


@pytest.mark.parametrize("value, expected", [
    ("safety: brief", BRIEF),
    ("safety: full", SPOKEN),
    ("safety: Go gently today.", ("Go gently today.",)),
    ("safety: [Go gently., Stop if it hurts.]", ("Go gently.", "Stop if it hurts.")),
])
def test_a_routine_can_shorten_or_replace_the_opening(tmp_path, value, expected):
    routine = routine_from(tmp_path, ONE.format(safety=value))
    lines = spoken(plan(routine, fake_ms, Narration(verbosity="minimal" if value.endswith("full") else "full")))
    assert lines[1:1 + len(expected)] == list(expected)
    assert lines[1 + len(expected)] != SPOKEN[0]


def test_an_empty_safety_list_is_refused(tmp_path):
    with pytest.raises(RoutineError, match=r"test.yaml:2:9: safety: expected full, brief, or the lines to say"):
        routine_from(tmp_path, ONE.format(safety="safety: []"))


BREATHING = """\
    title: T
    exercises:
      - name: Cat-cow
        reps: 4
        breath: {breath}
        flow:
          - say: Cow. Breathe in slowly, let your belly sink, and lift your gaze to the wall.
            short: Cow.
          - say: Cat. Breathe out, and round your back.
            short: Cat.
"""


def test_a_flow_paced_by_breath_moves_at_its_breaths(tmp_path):
    timeline = plan(routine_from(tmp_path, BREATHING.format(breath="[4, 6]")), fake_ms)
    starts = [e.start_ms for e in timeline.speech() if e.text.rstrip(".").endswith(("Cow", "Cat", "wall", "back"))]
    assert len(starts) == 8
    lengths = [b - a for a, b in zip(starts, starts[1:])]
    # the first round's full lines are longer than a 4 s breath: that breath grows, with a note
    assert lengths[1:] == [6000, 4000, 6000, 4000, 6000, 4000]
    assert lengths[0] > 4000
    assert any("the breath grew from 4 s" in note for note in timeline.notes)
    assert "Last round. Cow." in spoken(timeline)


def test_one_breath_length_serves_in_and_out(tmp_path):
    routine = routine_from(tmp_path, BREATHING.format(breath=5))
    assert routine.exercises[0].breath_ms == (5000, 5000)


def test_breath_is_not_stretched_by_hold_scale(tmp_path):
    routine = routine_from(tmp_path, BREATHING.format(breath=5))
    timeline = plan(routine, fake_ms, Narration(hold_scale=2.0))
    starts = [e.start_ms for e in timeline.speech() if e.text in ("Cow.", "Cat.", "Last round. Cow.")]
    assert {b - a for a, b in zip(starts, starts[1:])} == {5000}


@pytest.mark.parametrize("text, message", [
    ("""\
    title: T
    exercises:
      - name: Cobra
        breath: 5
    """, "test.yaml:4:5: exercises[0].breath: expected breath only on a flow (it paces the moves), found it on a hold"),
    ("""\
    title: T
    exercises:
      - name: Cat-cow
        breath: 5
        flow:
          - say: Cow.
            hold: 3
    """, "test.yaml:7:9: exercises[0].flow[0].hold: expected no hold on a move paced by breath"),
    ("""\
    title: T
    exercises:
      - name: Cat-cow
        breath: [4, 6, 8]
        flow: [Cow., Cat.]
    """, "test.yaml:4:13: exercises[0].breath: expected a breath's length, or a list of two (in, out), found a list of 3"),
    ("""\
    title: T
    exercises:
      - name: Cat-cow
        breath: 40
        flow: [Cow., Cat.]
    """, "test.yaml:4:13: exercises[0].breath: expected at most 20 s, found the number 40"),
])
def test_bad_breath_is_refused_where_it_is_written(tmp_path, text, message):
    with pytest.raises(RoutineError) as error:
        routine_from(tmp_path, text)
    assert message in str(error.value)


STAYS = """\
    title: T
    exercises:
      - name: Big toe pose
        sides: both
        steps: [Lie on your back., Lift one leg.]
        flow:
          - say: Hold the leg there.
            hold: 10
          - say: Now lower it out to its side.
            hold: 10
"""


def test_a_stay_is_timed_like_any_hold(tmp_path):
    """Moves of 8 s or more: start chime, countdown, end chime; time to move before each."""
    timeline = plan(routine_from(tmp_path, STAYS), fake_ms)
    holds = kinds(timeline, "hold")
    chimes = kinds(timeline, "chime")
    assert len(holds) == 4
    for hold in holds:
        assert hold.end_ms - hold.start_ms == 10_000
        assert any(c.sound == "hold_start" and c.start_ms == hold.start_ms for c in chimes)
        assert any(c.sound == "hold_end" and c.start_ms == hold.end_ms for c in chimes)
        inside = [e.text for e in timeline.speech() if hold.start_ms <= e.start_ms < hold.end_ms]
        assert inside == ["Three.", "Two.", "One."]
    lowered = [e for e in timeline.speech() if e.text in ("Hold the leg there.", "Now lower it out to its side.")]
    assert len(lowered) == 4
    for line in lowered:  # after any end chime has rung; then the setup time before the next chime
        before = max((h.end_ms for h in holds if h.end_ms <= line.start_ms), default=0)
        after = min(h.start_ms for h in holds if h.start_ms >= line.end_ms)
        assert line.start_ms >= before + CHIME_MS["hold_end"]
        assert after - line.end_ms == 4000


def test_the_seed_routines_give_every_timed_position_chimes():
    from pathlib import Path

    for path in sorted(Path("routines").glob("*.yaml")):
        timeline = plan(load(path), fake_ms)
        starts = {c.start_ms for c in kinds(timeline, "chime") if c.sound == "hold_start"}
        ends = {c.start_ms for c in kinds(timeline, "chime") if c.sound == "hold_end"}
        for hold in kinds(timeline, "hold"):
            if hold.end_ms - hold.start_ms >= 8000:
                assert hold.start_ms in starts and hold.end_ms in ends, (path.name, hold)


def test_the_pacing_checks_see_what_they_check(tmp_path):
    from tests.pacing_checks import pacing_problems

    rushed = routine_from(tmp_path, """\
        title: T
        exercises:
          - name: Cobra
            setup: 0.5
            hold: 6
    """)
    problems = pacing_problems(plan(rushed, fake_ms).to_json())
    assert any("of quiet before the start chime" in p for p in problems)
    long_opening = routine_from(tmp_path, ONE.format(safety="safety: [" + ", ".join(["Go very gently now."] * 25) + "]"), "long")
    events = plan(long_opening, fake_ms).to_json()
    for event in events:  # make its lines count as the built-in opening
        if event.get("text") == "Go very gently now.":
            event["text"] = SPOKEN[0]
    assert "the safety opening is said more than once" in pacing_problems(events)


def test_the_seed_and_example_plans_keep_the_pacing_promises():
    from pathlib import Path

    from tests.pacing_checks import pacing_problems

    for path in sorted(Path("routines").glob("*.yaml")) + [Path("examples/back-mix.yaml")]:
        for narration in (Narration(), Narration(verbosity="minimal", countdown=5), Narration(hold_scale=0.5)):
            assert pacing_problems(plan(load(path), fake_ms, narration).to_json()) == [], (path.name, narration)
