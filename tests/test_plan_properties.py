"""Properties of the planner for random valid routines (hypothesis)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceguide.routine.model import Cue, Exercise, Move, Narration, Routine
from voiceguide.plan import plan

words = st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=60).map(lambda t: t.strip() or "x")
seconds = st.integers(min_value=1, max_value=90).map(lambda s: s * 1000)


@st.composite
def exercises(draw):
    hold = draw(seconds)
    flow = ()
    if draw(st.booleans()):
        flow = tuple(draw(st.lists(st.builds(Move, words, st.integers(0, 8000)), min_size=1, max_size=3)))
    cues = tuple(sorted(
        (Cue(at, text) for at, text in draw(st.lists(st.tuples(st.integers(1, hold - 1), words), max_size=3))
         if at < hold),
        key=lambda cue: cue.at_ms,
    )) if hold > 1000 else ()
    return Exercise(
        name=draw(words),
        steps=tuple(draw(st.lists(words, max_size=3))),
        hold_ms=hold,
        reps=draw(st.integers(1, 4)),
        rest_ms=draw(st.integers(0, 20_000)),
        sides=draw(st.sampled_from([(), ("right", "left")])),
        switch_ms=draw(st.integers(0, 10_000)),
        cues=cues,
        flow=flow,
    )


routines = st.builds(
    Routine,
    id=st.just("random"),
    path=st.just(Path("random.yaml")),
    title=words,
    intro=st.lists(words, max_size=2).map(tuple),
    exercises=st.lists(exercises(), min_size=1, max_size=4).map(tuple),
)
narrations = st.builds(
    Narration,
    verbosity=st.sampled_from(["full", "brief", "minimal"]),
    countdown=st.sampled_from([0, 3, 5]),
    halfway=st.booleans(),
    hold_scale=st.sampled_from([0.5, 1.0, 1.5]),
)
# Clip lengths from 60 to 130 ms a character, so some speech fits and some does not.
speech_rates = st.integers(60, 130)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routines, narrations, speech_rates)
def test_plan_properties(routine, narration, ms_per_char):
    timeline = plan(routine, lambda text: ms_per_char * len(text), narration)
    events = timeline.events

    # events are ordered
    assert [e.start_ms for e in events] == sorted(e.start_ms for e in events)
    assert all(0 <= e.start_ms <= e.end_ms for e in events)

    # no speech overlaps other speech
    speech = [e for e in events if e.kind == "speech"]
    for before, after in zip(speech, speech[1:]):
        assert before.end_ms <= after.start_ms

    # every hold lasts exactly its time
    expected = []
    for exercise in routine.exercises:
        sides = len(exercise.sides) or 1
        if exercise.flow:
            expected += [round(m.hold_ms * narration.hold_scale) for m in exercise.flow] * exercise.reps * sides
        else:
            expected += [round(exercise.hold_ms * narration.hold_scale)] * exercise.reps * sides
    assert [e.end_ms - e.start_ms for e in events if e.kind == "hold"] == expected

    # the total is the end of the last event (plus the fixed tail of silence)
    assert timeline.duration_ms == max(e.end_ms for e in events) + 1500
