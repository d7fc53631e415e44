"""Shared fixtures: one short session built with the real engine, measured by several tests;
and a fake speech engine for the tests that need speech but not the sound of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from voiceguide.build import Options, build, speak_and_plan
from voiceguide.routine.load import load
from voiceguide.speech.cache import ClipCache

SHORT_TEMPLATE = """\
    title: {title}
    summary: A short session for the tests.
    source: Written for the voiceguide tests.
    defaults:
      hold: {hold}
      rest: {rest}
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


def short_routine(title: str = "Short Test Session", hold: float = 6, rest: float = 4) -> str:
    """A short routine: a two-sided hold with a cue, and a flow; YAML text, dedented."""
    return textwrap.dedent(SHORT_TEMPLATE).format(title=title, hold=hold, rest=rest)


SHORT = short_routine()


class ToneWorker:
    """A fake speech worker: says each line as a tone as long as the line (13 characters a
    second, close to eSpeak NG at 160 wpm, so every clip and pace check passes)."""

    said: list[str] = []

    def __init__(self, voice, rate):
        pass

    def synthesize(self, texts: list[str], paths: list[Path]) -> list[str]:
        import numpy as np

        from voiceguide.recipe import SAMPLE_RATE
        from voiceguide.speech.clips import write_wav

        for text, path in zip(texts, paths):
            type(self).said.append(text)
            t = np.arange(int(len(text) / 13 * SAMPLE_RATE)) / SAMPLE_RATE
            with open(path, "wb") as f:
                write_wav(f, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SAMPLE_RATE)
        return [""] * len(texts)

    def stop(self) -> None:
        pass


def fake_engine(monkeypatch, worker=ToneWorker) -> None:
    """Speak with `worker` (a class like ToneWorker) instead of eSpeak NG, which need not exist.

    Only the pyttsx3 engine's workers and its identity (which would look for the eSpeak NG
    library, for cache keys) are replaced; `speak`'s checks and the cache stay real."""
    from voiceguide.speech import pyttsx3_engine

    if hasattr(worker, "said"):
        monkeypatch.setattr(worker, "said", [])  # what this test's speech said, from empty
    monkeypatch.setattr(pyttsx3_engine, "Worker", worker)
    monkeypatch.setattr(pyttsx3_engine, "identity", lambda voice: ("fake-engine", voice.voice or "fake-voice"))


@pytest.fixture(scope="session")
def session(tmp_path_factory):
    """The short routine built once with the real engine into a fresh cache."""
    tmp = tmp_path_factory.mktemp("session")
    path = tmp / "short.yaml"
    path.write_text(SHORT)
    routine = load(path)
    cache = ClipCache(tmp / "cache")
    result = build(routine, tmp / "out", cache=cache, jobs=2)
    planned = speak_and_plan(routine, Options(), cache)
    timeline, clips, stats = planned.timeline, planned.clips, planned.stats
    assert stats.synthesized == 0  # the build filled the cache
    return result, timeline, clips


TINY = {
    "alpha": "title: Alpha Stretch\nsummary: Reach up, then fold.\nexercises:\n"
             "  - name: Reach up\n    steps: Reach up.\n    hold: 2\n"
             "  - name: Fold\n    steps: Fold forward.\n    hold: 3\n",
    "beta": "title: Beta Stretch\nsource: Written for the voiceguide tests.\nexercises:\n"
            "  - name: Twist\n    steps: Twist gently.\n    hold: 2\n"
            "  - name: Rest\n    steps: Lie still.\n    hold: 2\n",
}


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """Two tiny sessions built with the real engine and published: the out directory."""
    from voiceguide.batch import build_batch
    from voiceguide.routine.load import load_all

    tmp = tmp_path_factory.mktemp("published")
    for name, text in TINY.items():
        (tmp / f"{name}.yaml").write_text(text)
    routines = load_all(sorted(tmp.glob("*.yaml")))
    result = build_batch(routines, tmp / "out", cache=ClipCache(tmp / "cache"), publish=True)
    assert not result.failures and result.published and result.published.sessions == 2
    return tmp / "out"


@pytest.fixture
def server(published):
    """`voiceguide serve` of the published sessions on a free loopback port, in a thread."""
    import threading

    from voiceguide.publish.serve import make_server

    httpd = make_server(published, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)
