"""The planner with a fake synthesizer: timings the listener must get, checked on the plan."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from voiceguide.plan import CHIME_MS
from voiceguide.routine import phrases as phrase_packs
from voiceguide.routine.load import load
from voiceguide.routine.model import Narration
from voiceguide.plan import Timeline, phrases, plan


def fake_ms(text: str) -> int:
    """A fake synthesizer's clip length: 70 ms a character, like eSpeak at 160 wpm."""
    return 70 * len(text)


def routine_from(tmp_path: Path, text: str, name: str = "test"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return load(path)


TWO_SIDED = """\
    title: Test
    exercises:
      - name: Knee hug
        sides: both
        steps: [Lie down., Hug one knee.]
        hold: 20
        reps: 2
        rest: 8
        switch: 5
        cues:
          - at: 4
            say: Breathe out.
      - name: Cobra
        hold: 12
"""


@pytest.fixture
def two_sided(tmp_path):
    return routine_from(tmp_path, TWO_SIDED)


def kinds(timeline: Timeline, kind: str):
    return [e for e in timeline.events if e.kind == kind]


def speech_at(timeline: Timeline, text: str):
    return [e for e in timeline.speech() if e.text == text]


def test_every_hold_lasts_exactly_its_time_between_its_chimes(two_sided):
    timeline = plan(two_sided, fake_ms)
    holds = kinds(timeline, "hold")
    assert [h.end_ms - h.start_ms for h in holds] == [20_000] * 4 + [12_000]
    starts = {c.start_ms for c in kinds(timeline, "chime") if c.sound == "hold_start"}
    ends = {c.start_ms for c in kinds(timeline, "chime") if c.sound == "hold_end"}
    for hold in holds:
        assert hold.start_ms in starts and hold.end_ms in ends


def test_countdown_falls_on_the_last_three_seconds(two_sided):
    timeline = plan(two_sided, fake_ms)
    for hold in kinds(timeline, "hold"):
        for number, word in ((3, "Three."), (2, "Two."), (1, "One.")):
            assert any(e.start_ms == hold.end_ms - number * 1000 for e in speech_at(timeline, word))


def test_countdown_of_five_and_none(two_sided):
    five = plan(two_sided, fake_ms, Narration(countdown=5))
    hold = kinds(five, "hold")[0]
    assert [e.start_ms for e in five.speech() if hold.start_ms < e.start_ms < hold.end_ms][-5:] == [
        hold.end_ms - n * 1000 for n in (5, 4, 3, 2, 1)
    ]
    silent = plan(two_sided, fake_ms, Narration(countdown=0))
    assert not speech_at(silent, "One.")


def test_cues_ride_on_the_hold_without_stretching_it(two_sided):
    timeline = plan(two_sided, fake_ms)
    first = kinds(timeline, "hold")[0]
    cue = speech_at(timeline, "Breathe out.")[0]
    assert cue.start_ms == first.start_ms + 4000
    halfway = speech_at(timeline, "Halfway.")[0]
    assert halfway.start_ms == first.start_ms + 10_000


def test_a_cue_that_would_overlap_is_dropped_and_noted(tmp_path):
    routine = routine_from(tmp_path, """\
        title: T
        exercises:
          - name: Long cue
            hold: 10
            cues:
              - at: 5
                say: This cue is far too long to fit before the countdown starts at seven.
    """)
    timeline = plan(routine, fake_ms)
    assert not speech_at(timeline, "This cue is far too long to fit before the countdown starts at seven.")
    assert any("dropped" in note for note in timeline.notes)
    assert [h.end_ms - h.start_ms for h in kinds(timeline, "hold")] == [10_000]


def test_speech_never_overlaps_speech(two_sided):
    for verbosity in ("full", "brief", "minimal"):
        speech = sorted(plan(two_sided, fake_ms, Narration(verbosity=verbosity)).speech(), key=lambda e: e.start_ms)
        for before, after in zip(speech, speech[1:]):
            assert before.end_ms <= after.start_ms, (before, after)


def test_sides_each_get_the_full_hold_with_a_switch_between(two_sided):
    timeline = plan(two_sided, fake_ms)
    switches = kinds(timeline, "switch")
    assert len(switches) == 2  # one per rep
    holds = kinds(timeline, "hold")
    for switch in switches:
        before = max((h for h in holds if h.end_ms <= switch.start_ms), key=lambda h: h.start_ms)
        after = min((h for h in holds if h.start_ms >= switch.end_ms), key=lambda h: h.start_ms)
        assert switch.end_ms - switch.start_ms >= 5000
        assert after.start_ms == switch.end_ms  # the next side's chime ends the switch
        last_word = max(e.end_ms for e in timeline.speech() if e.end_ms <= after.start_ms)
        assert after.start_ms - last_word >= 3000  # time to get into position, in silence
        assert speech_at(timeline, "Switch sides.")
        assert before.end_ms - before.start_ms == after.end_ms - after.start_ms == 20_000
    assert len(speech_at(timeline, "Right side.")) == len(speech_at(timeline, "Left side.")) == 2


def test_reps_are_numbered_and_the_next_exercise_is_previewed_in_the_rest(two_sided):
    timeline = plan(two_sided, fake_ms)
    assert speech_at(timeline, "Rep 1 of 2.") and speech_at(timeline, "Rep 2 of 2.")
    preview = speech_at(timeline, "Next: Cobra.")[0]
    rest = [r for r in kinds(timeline, "rest") if r.start_ms <= preview.start_ms < r.end_ms]
    assert rest and rest[0].text == "rest before Cobra"
    cobra = speech_at(timeline, "Exercise 2 of 2: Cobra.")[0]
    assert cobra.start_ms > rest[0].end_ms


def test_a_rest_grows_to_fit_its_speech_and_says_so(tmp_path):
    routine = routine_from(tmp_path, """\
        title: T
        exercises:
          - name: First
            hold: 5
            rest: 1
          - name: A second exercise with a rather long name to announce
            hold: 5
    """)
    timeline = plan(routine, fake_ms)
    rest = kinds(timeline, "rest")[0]
    preview = speech_at(timeline, "Next: A second exercise with a rather long name to announce.")[0]
    assert rest.end_ms >= preview.end_ms
    assert any("grew from 1 s" in note for note in timeline.notes)


def test_the_session_opens_with_the_safety_note(two_sided):
    speech = plan(two_sided, fake_ms, Narration(verbosity="minimal")).speech()
    assert speech[0].text == "Test."
    assert [line.text for line in speech[1:2]] == list(phrase_packs.pack("en").spoken_safety("brief"))


def test_flows_repeat_their_moves(tmp_path):
    routine = routine_from(tmp_path, """\
        title: T
        exercises:
          - name: Cat-cow
            reps: 4
            flow:
              - say: Round your back.
                hold: 2
              - Let it sink.
    """)
    timeline = plan(routine, fake_ms)
    assert len(speech_at(timeline, "Round your back.")) == 3
    assert len(speech_at(timeline, "Last round. Round your back.")) == 1
    assert len(speech_at(timeline, "Let it sink.")) == 4
    holds = kinds(timeline, "hold")
    assert [h.end_ms - h.start_ms for h in holds] == [2000, 3000] * 4


def test_hold_scale_stretches_holds_not_rests(two_sided):
    timeline = plan(two_sided, fake_ms, Narration(hold_scale=1.5))
    assert [h.end_ms - h.start_ms for h in kinds(timeline, "hold")] == [30_000] * 4 + [18_000]
    assert speech_at(timeline, "Breathe out.")[0].start_ms == kinds(timeline, "hold")[0].start_ms + 6000


def test_verbosity_controls_the_steps(tmp_path):
    routine = routine_from(tmp_path, """\
        title: T
        exercises:
          - name: Stretch
            steps: Lie down.
            hold: 5
          - name: Stretch
            steps: Lie down.
            hold: 5
    """)
    assert len(speech_at(plan(routine, fake_ms, Narration(verbosity="full")), "Lie down.")) == 2
    assert len(speech_at(plan(routine, fake_ms, Narration(verbosity="brief")), "Lie down.")) == 1
    minimal = plan(routine, fake_ms, Narration(verbosity="minimal"))
    assert not speech_at(minimal, "Lie down.") and not speech_at(minimal, "Release.")
    assert speech_at(minimal, "Exercise 1 of 2: Stretch.")


def test_phrases_lists_every_line_the_plan_speaks(two_sided):
    for narration in (Narration(), Narration(verbosity="minimal"), Narration(countdown=5)):
        spoken = {e.text for e in plan(two_sided, fake_ms, narration).speech()}
        assert spoken <= set(phrases(two_sided, narration))


def test_duration_is_the_end_of_the_last_sound_plus_the_tail(two_sided):
    timeline = plan(two_sided, fake_ms)
    last = max(e.end_ms for e in timeline.events)
    assert timeline.duration_ms > last
    assert timeline.events[-1].start_ms <= timeline.duration_ms
    assert [e.start_ms for e in timeline.events] == sorted(e.start_ms for e in timeline.events)
    assert kinds(timeline, "chime")[-1].sound == "end"


def test_chapters_name_every_exercise_in_order(two_sided):
    timeline = plan(two_sided, fake_ms)
    assert [c.title for c in timeline.chapters] == ["Introduction", "Knee hug", "Cobra", "Finish"]
    for before, after in zip(timeline.chapters, timeline.chapters[1:]):
        assert before.end_ms == after.start_ms
    assert timeline.chapters[-1].end_ms == timeline.duration_ms


def test_sore_back_plan(tmp_path):
    routine = load(Path(__file__).parent.parent / "routines" / "sore-back.yaml")
    timeline = plan(routine, fake_ms)
    names = [c.title for c in timeline.chapters[1:-1]]
    assert names == [
        "Single knee to chest", "Double knee to chest", "Supine trunk rotation",
        "Prayer stretch or child's pose", "Upward dog or cobra",
    ]
    assert not timeline.notes
    assert all(h.end_ms - h.start_ms == 30_000 for h in kinds(timeline, "hold"))
    assert len(kinds(timeline, "hold")) == 3 * 2 + 3 + 3 * 2 + 3 + 3
    assert CHIME_MS["end"] < timeline.duration_ms


def test_every_first_hold_and_every_rep_after_a_rest_leaves_time_to_get_into_position(two_sided):
    timeline = plan(two_sided, fake_ms)
    rests = kinds(timeline, "rest")
    for hold in kinds(timeline, "hold"):
        first = hold == kinds(timeline, "hold")[0]
        after_rest = any(rest.end_ms <= hold.start_ms and not any(
            h.start_ms < hold.start_ms and h.start_ms > rest.end_ms for h in kinds(timeline, "hold")) for rest in rests)
        if first or after_rest:
            last_word = max(e.end_ms for e in timeline.speech() if e.end_ms <= hold.start_ms)
            assert hold.start_ms - last_word >= 3000, hold


def test_no_line_begins_while_a_chime_rings(two_sided):
    for verbosity in ("full", "brief", "minimal"):
        timeline = plan(two_sided, fake_ms, Narration(verbosity=verbosity))
        chimes = kinds(timeline, "chime")
        for line in timeline.speech():
            assert not any(chime.start_ms <= line.start_ms < chime.end_ms for chime in chimes), line
