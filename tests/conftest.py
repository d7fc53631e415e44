"""Shared fixtures: one short session built with the real engine, measured by several tests."""

from __future__ import annotations

import textwrap

import pytest

from voiceguide.build import build, plan_routine
from voiceguide.load import load
from voiceguide.speak import ClipCache

SHORT = """\
    title: Short Test Session
    summary: A short session for the tests.
    source: Written for the voiceguide tests.
    defaults:
      hold: 6
      rest: 4
    exercises:
      - name: Knee hug
        sides: both
        steps: Lie on your back and hug one knee.
        cues:
          - at: 1
            say: Breathe out.
      - name: Cat cow
        reps: 2
        flow:
          - say: Round your back.
            hold: 1.5
          - say: Let it sink.
            hold: 1.5
"""


@pytest.fixture(scope="session")
def session(tmp_path_factory):
    """The short routine built once with the real engine into a fresh cache."""
    tmp = tmp_path_factory.mktemp("session")
    path = tmp / "short.yaml"
    path.write_text(textwrap.dedent(SHORT))
    routine = load(path)
    cache = ClipCache(tmp / "cache")
    result = build(routine, tmp / "out", cache=cache, jobs=2)
    timeline, clips, stats = plan_routine(routine, routine.narration, routine.voice, cache)
    assert stats.synthesized == 0  # the build filled the cache
    return result, timeline, clips


