"""Golden files: what `voiceguide plan sore-back` prints, and the feed and the index page of a
fixed set of sessions, byte for byte.

tests/golden/ holds them. Speech comes from a fake engine (a tone as long as each line), the
sessions' records, transcripts and dates are fixed, so the outputs change only when the code
that makes them does. After a change meant to change them, regenerate them and read every
diff before keeping it:

    python tests/test_golden.py --regenerate
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
REGENERATE = "python tests/test_golden.py --regenerate"
BASE_URL = "https://example.org/stretches/"

# The published sessions: file name -> (routine id, routine YAML, verbosity, when its record
# was written). Text with markup characters and quotes in it, a session without a summary,
# one without a source, and a variant of the first routine.
ALPHA = """\
title: Alpha Stretch
summary: Reach up, then fold. "Slowly" & <gently>.
exercises:
  - name: Reach up
    steps: Reach up.
    hold: 2
  - name: Fold & hang
    steps: [Fold forward., Let your arms hang.]
    hold: 3
"""
BETA = """\
title: Beta <Twist> & Rest
source: Written for the voiceguide tests.
exercises:
  - name: Twist
    sides: both
    steps: Twist gently.
    hold: 2
  - name: Rest
    steps: Lie still.
    hold: 2
"""
SESSIONS = {
    "alpha": ("alpha", ALPHA, None, datetime(2024, 3, 1, 7, 30, tzinfo=timezone.utc)),
    "alpha--minimal": ("alpha", ALPHA, "minimal", datetime(2024, 3, 2, 8, 0, 5, tzinfo=timezone.utc)),
    "beta": ("beta", BETA, None, datetime(2024, 2, 29, 21, 15, 59, tzinfo=timezone.utc)),
}
MS_PER_CHARACTER = 60  # the fake length of the sessions' speech


def plan_output() -> str:
    """What `voiceguide plan sore-back` prints, run from the repository root, with speech by
    the tests' fake engine into an empty cache."""
    from tests.conftest import fake_engine
    from voiceguide.cli import cli

    with pytest.MonkeyPatch.context() as monkeypatch, tempfile.TemporaryDirectory() as cache:
        fake_engine(monkeypatch)
        monkeypatch.chdir(ROOT)
        monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", cache)
        result = CliRunner().invoke(cli, ["plan", "sore-back"])
    assert result.exit_code == 0, result.output
    return result.stdout  # the plan; its progress goes to stderr


def write_sessions(out: Path) -> None:
    """The fixed sessions, as a build leaves them in `out` (the MP3 and cover are stand-ins:
    publish reads only their names and the MP3's size)."""
    from voiceguide.plan import plan
    from voiceguide.publish.sidecars import chapters_json, transcript_vtt
    from voiceguide.routine.load import load

    out.mkdir(parents=True, exist_ok=True)
    for name, (routine_id, text, verbosity, built) in SESSIONS.items():
        (out / f"{routine_id}.yaml").write_text(text)
        routine = load(out / f"{routine_id}.yaml")
        (out / f"{routine_id}.yaml").unlink()
        narration = replace(routine.narration, verbosity=verbosity) if verbosity else routine.narration
        timeline = plan(routine, lambda line: MS_PER_CHARACTER * len(line), narration)
        files = {"mp3": f"{name}.mp3", "cover": f"{name}.png", "vtt": f"{name}.vtt",
                 "chapters": f"{name}.chapters.json", "plan": f"{name}.json"}
        (out / files["mp3"]).write_bytes(bytes(timeline.duration_ms * 8))  # 64 kbps
        (out / files["cover"]).write_bytes(b"\x89PNG\r\n\x1a\n a stand-in cover")
        (out / files["vtt"]).write_text(transcript_vtt(timeline))
        (out / files["chapters"]).write_text(chapters_json(timeline))
        record = {
            "format": 3, "routine": routine_id, "title": routine.title, "summary": routine.summary,
            "source": routine.source, "duration_ms": timeline.duration_ms, "files": files,
            "chapters": [asdict(chapter) for chapter in timeline.chapters], "events": timeline.to_json(),
        }
        (out / files["plan"]).write_text(json.dumps(record, indent=1, ensure_ascii=False))
        stamp = int(built.timestamp()) * 1_000_000_000  # the session's date in the feed
        os.utime(out / files["plan"], ns=(stamp, stamp))


def published(out: Path) -> dict[str, bytes]:
    """feed.xml and index.html of the fixed sessions, published into `out`."""
    from voiceguide.publish import publish

    write_sessions(out)
    result = publish(out, BASE_URL)
    assert result.sessions == len(SESSIONS) and not result.skipped, result
    return {name: (out / name).read_bytes() for name in ("feed.xml", "index.html")}


def outputs(tmp: Path) -> dict[str, bytes]:
    """Every golden file's name and what the code makes of it now."""
    return {"plan-sore-back.txt": plan_output().encode(), **published(tmp / "out")}


NAMES = ["plan-sore-back.txt", "feed.xml", "index.html"]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, bytes]:
    return outputs(tmp_path_factory.mktemp("golden"))


def test_the_golden_files_are_all_compared(made):
    assert sorted(made) == sorted(NAMES) == sorted(path.name for path in GOLDEN.iterdir())


@pytest.mark.parametrize("name", NAMES)
def test_output_is_its_golden_file(made, name):
    expected = (GOLDEN / name).read_bytes()
    # As text, so a failure shows the lines that differ.
    assert made[name].decode() == expected.decode(), f"tests/golden/{name} differs; if that is meant, run {REGENERATE}"


def test_the_same_inputs_make_the_same_bytes(made, tmp_path):
    """The goldens pin the code, not the moment they were made: no clock, no temporary path."""
    assert outputs(tmp_path) == made


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit(f"usage: {REGENERATE}")
    sys.path.insert(0, str(ROOT))  # for tests.conftest
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in outputs(Path(tmp)).items():
            (GOLDEN / name).write_bytes(data)
            print(f"wrote tests/golden/{name}")
