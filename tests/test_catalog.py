"""Catalogs: the file and its mistakes, tokens, the sessions each audience gets, building every
audience (speech once, a shared session rendered once and linked), incremental builds,
pruning, rotating a token, serving without listing a directory.

Speech is a fake engine except in the real-engine build; building encodes with the real
ffmpeg, so those tests are integration tests."""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.build import Options, current_record
from voiceguide.catalog.load import load_catalog
from voiceguide.catalog.schema import OPTION_KEYS
from voiceguide.catalog.sessions import renders
from voiceguide.catalog.tokens import TOKENS_NAME, kept_tokens, tokens_for
from voiceguide.cli import cli
from voiceguide.errors import RoutineError

from .conftest import TINY, ToneWorker, fake_engine

REPO = Path(__file__).resolve().parent.parent


class PacedTone(ToneWorker):
    """A tone as long as the line, at a pace that follows the rate asked for (so the pace
    check passes at 150 wpm as at 160, for these routines' lines too)."""

    def __init__(self, voice, rate):
        self.rate = rate

    def synthesize(self, texts: list[str], paths: list[Path]) -> list[str]:
        import numpy as np

        from voiceguide.recipe import SAMPLE_RATE
        from voiceguide.speech.clips import write_wav

        for text, path in zip(texts, paths):
            type(self).said.append(text)
            t = np.arange(int(len(text) / 13.5 * 160 / self.rate * SAMPLE_RATE)) / SAMPLE_RATE
            with open(path, "wb") as f:
                write_wav(f, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SAMPLE_RATE)
        return [""] * len(texts)
CATALOG = """\
title: Test clinic
audiences:
  - name: anna
    title: Anna's sessions
    author: Test Physio
    options:
      hold_scale: 1.5
    sessions:
      - alpha
      - routine: beta
        verbosity: brief
  - name: ben
    title: Ben's sessions
    author: Test Physio
    sessions:
      - alpha
      - routine: beta
        chimes: bright
  - name: lobby
    sessions:
      - alpha
      - routine: beta
        chimes: bright
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """tmp_path with routines/alpha.yaml and beta.yaml, catalog.yaml, a fresh cache and the fake engine."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch, PacedTone)
    Path("routines").mkdir()
    for name, text in TINY.items():
        Path(f"routines/{name}.yaml").write_text(text)
    Path("catalog.yaml").write_text(CATALOG)
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, list(args))


def problems(text: str, tmp: Path) -> list[str]:
    path = tmp / "catalog.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(RoutineError) as error:
        load_catalog(path, tmp / "routines")
    return [str(problem).replace(str(tmp) + "/", "") for problem in error.value.problems]


# -- the file -------------------------------------------------------------------------------


def test_every_build_option_is_a_catalog_key():
    assert OPTION_KEYS == tuple(field.name for field in dataclasses.fields(Options))


def test_the_sample_catalog_has_three_audiences_and_shares_sessions(monkeypatch):
    fake_engine(monkeypatch)
    catalog = load_catalog(REPO / "catalogs/clinic.yaml", REPO / "routines")
    assert [audience.name for audience in catalog.audiences] == ["anna", "ben", "waiting-room"]
    anna = catalog.audiences[0]
    assert [(e.routine.id, e.options.hold_scale, e.options.verbosity) for e in anna.entries] == [
        ("sore-back", 1.5, None), ("coach-lumbar", 1.5, "brief")]
    tokens = {audience.name: audience.name for audience in catalog.audiences}
    shared = [r for r in renders(catalog, Path("/nonexistent"), tokens) if len(r.copies) > 1]
    assert [(r.copies[0].name, [c.audience.name for c in r.copies]) for r in shared] == [
        ("eight-stretches--brief--ambient--music-28db", ["ben", "waiting-room"])]


def test_options_apply_to_the_audience_and_a_session_overrides_them(project):
    catalog = load_catalog("catalog.yaml", Path("routines"))
    anna = catalog.audiences[0]
    assert [(e.routine.id, e.options.hold_scale, e.options.verbosity) for e in anna.entries] == [
        ("alpha", 1.5, None), ("beta", 1.5, "brief")]
    assert catalog.audiences[2].title == "lobby" and catalog.audiences[2].author == "voiceguide"


@pytest.mark.parametrize("text, expected", [
    ("audiences: []\n", ["catalog.yaml:1:12: audiences: expected at least one audience, found an empty list"]),
    ("title: x\n", ["catalog.yaml:1:1: audiences: expected a list of audiences, found nothing"]),
    ("audience:\n  - name: a\n", ["catalog.yaml:1:1: the catalog: expected one of title, audiences, found unknown key 'audience' (did you mean 'audiences'?)"]),
    ("audiences:\n  - name: Anna K\n    sessions: [alpha]\n",
     ["catalog.yaml:2:11: audiences[0].name: expected a name of lower-case letters, digits and '-' (at most 64), found \"Anna K\""]),
    ("audiences:\n  - name: a\n    sessions: [alpha]\n  - name: a\n    sessions: [beta]\n",
     ["catalog.yaml:4:5: audiences: expected each audience's name once, found 'a' again (first on line 2)"]),
    ("audiences:\n  - name: a\n    sessions:\n      - gamma\n",
     ["catalog.yaml:4:9: audiences[0].sessions[0]: expected a routine named 'gamma', found no such file (routines: alpha, beta, ...)"]),
    ("audiences:\n  - name: a\n    sessions:\n      - {routine: alpha, hold_scale: 9}\n",
     ["catalog.yaml:4:38: audiences[0].sessions[0].hold_scale: expected a number from 0.25 to 4, found the number 9"]),
    ("audiences:\n  - name: a\n    sessions:\n      - {routine: alpha, verbose: brief}\n",
     ["catalog.yaml:4:26: audiences[0].sessions[0]: expected one of routine, " + ", ".join(OPTION_KEYS)
      + ", found unknown key 'verbose' (did you mean 'verbosity'?)"]),
    ("audiences:\n  - name: a\n    options: {rate: fast}\n    sessions: [alpha]\n",
     ["catalog.yaml:3:21: audiences[0].options.rate: expected a whole number from 80 to 400, found \"fast\""]),
    ("audiences:\n  - name: a\n    sessions:\n      - alpha\n      - {routine: alpha}\n",
     ["catalog.yaml:5:9: audiences[0].sessions: expected each session once in an audience, found alpha again (first on line 4)"]),
    ("audiences:\n  - name: a\n    sessions:\n      - {routine: alpha, music: missing.ogg}\n",
     ["catalog.yaml:4:33: audiences[0].sessions[0].music: expected none, ambient or an audio file, found 'missing.ogg': no such file"]),
    ("audiences:\n  - name: a\n    sessions: [broken.yaml]\n",
     ["broken.yaml:4:11: exercises[0].hold: expected a duration like 30 or \"1m30s\", found \"long\""]),
])
def test_mistakes_are_reported_at_their_line_and_column(tmp_path, text, expected):
    (tmp_path / "routines").mkdir()
    for name, routine in TINY.items():
        (tmp_path / "routines" / f"{name}.yaml").write_text(routine)
    (tmp_path / "broken.yaml").write_text("title: Broken\nexercises:\n  - name: x\n    hold: long\n")
    found = [re.sub(r"\(routines: alpha, beta, .*\)$", "(routines: alpha, beta, ...)", p) for p in problems(text, tmp_path)]
    assert found == expected


def test_a_broken_catalog_is_one_line_per_mistake_exit_1_and_nothing_written(project):
    Path("catalog.yaml").write_text("audiences:\n  - name: a\n    sessions: [gamma]\n")
    result = run("build", "--catalog", "catalog.yaml")
    assert result.exit_code == 1
    assert result.output.startswith("catalog.yaml:3:16: audiences[0].sessions[0]: expected a routine named 'gamma'")
    assert "Traceback" not in result.output and not Path("out").exists()


def test_options_on_the_command_line_are_refused_with_a_catalog(project):
    result = run("build", "--catalog", "catalog.yaml", "--hold-scale", "2")
    assert result.exit_code == 2 and "--hold-scale: with --catalog, options are set per audience or session" in result.output
    assert run("build", "--catalog", "catalog.yaml", "--rotate-token", "carl").output.endswith("no audience 'carl' in catalog.yaml\n")
    assert run("build", "alpha", "--rotate-token", "anna").exit_code == 2


# -- tokens ---------------------------------------------------------------------------------


def test_tokens_are_unguessable_kept_and_rotated(tmp_path):
    tokens, old = tokens_for(tmp_path, ["anna", "ben"])
    assert old == {} and len(set(tokens.values())) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", token) for token in tokens.values())  # 128 bits
    assert tokens_for(tmp_path, ["anna", "ben"]) == (tokens, {})
    assert kept_tokens(tmp_path) == tokens and (tmp_path / TOKENS_NAME).name.startswith(".")
    rotated, old = tokens_for(tmp_path, ["anna", "ben"], rotate=("anna",))
    assert old == {"anna": tokens["anna"]} and rotated["anna"] != tokens["anna"] and rotated["ben"] == tokens["ben"]
    for _ in range(200):  # tokens may start with '-' or '_': they are kept all the same
        assert tokens_for(tmp_path, ["carl"], rotate=("carl",))[0]["carl"] == kept_tokens(tmp_path)["carl"]
    (tmp_path / TOKENS_NAME).write_text('{"tokens": {"anna": "../../etc"}}')
    assert kept_tokens(tmp_path) == {}  # a token that is not one is never a path


def test_an_executor_address_is_a_dask_url():
    from voiceguide.cluster import scheduler_address
    from voiceguide.errors import VoiceguideError

    assert scheduler_address("dask://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    for wrong in ("tcp://10.0.0.5:8786", "dask://10.0.0.5", "dask:///x", "dask://h:port"):
        with pytest.raises(VoiceguideError, match="--executor: expected dask://HOST:PORT"):
            scheduler_address(wrong)


# -- building -------------------------------------------------------------------------------


def addresses(out: Path) -> dict[str, Path]:
    return {name: out / token for name, token in kept_tokens(out).items()}


def session_files(directory: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in directory.iterdir() if not path.name.startswith(".")}


@pytest.mark.integration
def test_a_catalog_builds_every_audience_speaking_and_rendering_each_thing_once(project):
    result = run("build", "--catalog", "catalog.yaml", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert len(PacedTone.said) == len(set(PacedTone.said)) > 0  # every line synthesized once for the catalog
    dirs = addresses(Path("out").absolute())
    assert sorted(dirs) == ["anna", "ben", "lobby"]
    assert re.search(r"3 audiences, 6 sessions: 4 built, 0 up to date, 2 linked, 0 failed", result.output)
    for name, directory in dirs.items():
        assert f"{name}: {directory}/ (2 sessions); feed: http://127.0.0.1:8000/{directory.name}/feed.xml" in result.output
        for listed in ("index.html", "feed.xml", "playlist.m3u"):
            assert (directory / listed).is_file()
    feed = (dirs["anna"] / "feed.xml").read_text()
    assert "<title>Anna's sessions</title>" in feed and "<itunes:author>Test Physio</itunes:author>" in feed
    assert f"http://127.0.0.1:8000/{dirs['anna'].name}/alpha--x1.5.mp3" in feed
    assert sorted(p.name for p in dirs["ben"].glob("*.mp3")) == ["alpha.mp3", "beta--brightchimes.mp3"]
    for kind in ("mp3", "json", "png", "vtt", "chapters.json"):  # rendered once, the same file in three places
        inodes = {(dirs[name] / f"alpha.{kind}").stat().st_ino for name in ("ben", "lobby")}
        assert len(inodes) == 1
    assert (dirs["ben"] / "beta--brightchimes.mp3").samefile(dirs["lobby"] / "beta--brightchimes.mp3")
    assert "alpha.mp3" not in (dirs["anna"] / "playlist.m3u").read_text()

    before = {name: session_files(directory) for name, directory in dirs.items()}
    again = run("build", "--catalog", "catalog.yaml", "--jobs", "1")
    assert again.exit_code == 0 and re.search(r"0 built, 4 up to date, 0 linked", again.output)
    assert {name: session_files(directory) for name, directory in dirs.items()} == before  # nothing rewritten


@pytest.mark.integration
def test_a_session_taken_out_leaves_its_audience_and_a_rotated_token_moves_it(project):
    assert run("build", "--catalog", "catalog.yaml", "--jobs", "1").exit_code == 0
    dirs = addresses(Path("out").absolute())
    Path("catalog.yaml").write_text(CATALOG.replace("      - routine: beta\n        chimes: bright\n", "", 1))  # ben's beta
    result = run("build", "--catalog", "catalog.yaml", "--jobs", "1", "--rotate-token", "lobby")
    assert result.exit_code == 0, result.output
    assert "removed: beta--brightchimes (no longer in the catalog for ben)" in result.output
    assert sorted(p.name for p in dirs["ben"].glob("*.mp3")) == ["alpha.mp3"]
    assert "beta--brightchimes" not in (dirs["ben"] / "feed.xml").read_text()
    moved = addresses(Path("out").absolute())["lobby"]
    assert moved != dirs["lobby"] and not dirs["lobby"].exists()
    assert (moved / "beta--brightchimes.mp3").is_file() and moved.name in (moved / "feed.xml").read_text()
    assert re.search(r"5 sessions: 0 built, 4 up to date, 0 linked", result.output)  # moved, not rebuilt
    assert "new token for lobby: the old address no longer works" in result.output


@pytest.mark.integration
def test_the_sample_catalog_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch, PacedTone)
    monkeypatch.chdir(REPO)
    result = run("build", "--catalog", "catalogs/clinic.yaml", "--out", str(tmp_path / "out"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert re.search(r"3 audiences, 6 sessions: 5 built, 0 up to date, 1 linked, 0 failed", result.output)
    dirs = addresses(tmp_path / "out")
    for name, count in {"anna": 2, "ben": 2, "waiting-room": 2}.items():
        records = sorted(dirs[name].glob("*.mp3"))
        assert len(records) == count
        for mp3 in records:
            record = json.loads(mp3.with_suffix(".json").read_text())
            files = {kind: dirs[name] / file for kind, file in record["files"].items()}
            assert current_record(files, record["build_key"]) is not None  # each set whole
    assert "<title>Ben's mobility sessions</title>" in (dirs["ben"] / "feed.xml").read_text()


@pytest.mark.integration
def test_a_catalog_with_the_real_engine(tmp_path, monkeypatch):
    """Real speech: the two copies of a shared session are one file, and each plays as long as planned."""
    from voiceguide.measure import decode
    from voiceguide.recipe import SAMPLE_RATE

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    Path("routines").mkdir()
    for name, text in TINY.items():
        Path(f"routines/{name}.yaml").write_text(text)
    Path("catalog.yaml").write_text(CATALOG)
    result = run("build", "--catalog", "catalog.yaml", "--jobs", "2")
    assert result.exit_code == 0, result.output
    dirs = addresses(Path("out").absolute())
    assert (dirs["ben"] / "alpha.mp3").samefile(dirs["lobby"] / "alpha.mp3")
    for directory in dirs.values():
        for mp3 in directory.glob("*.mp3"):
            planned = json.loads(mp3.with_suffix(".json").read_text())["duration_ms"]
            assert abs(decode(mp3, SAMPLE_RATE).size * 1000 / SAMPLE_RATE - planned) <= 100


# -- serving --------------------------------------------------------------------------------


@pytest.mark.integration
def test_serve_lists_no_directory_and_gives_an_audience_its_page(project):
    import threading

    from voiceguide.publish.serve import make_server

    assert run("build", "--catalog", "catalog.yaml", "--jobs", "1").exit_code == 0
    dirs = addresses(Path("out").absolute())
    (Path("out") / "empty").mkdir()
    server = make_server(Path("out"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        def status(path: str) -> int:
            try:
                with urllib.request.urlopen(server.url + path, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        token = dirs["anna"].name
        with urllib.request.urlopen(f"{server.url}{token}/", timeout=10) as response:
            assert response.read() == (dirs["anna"] / "index.html").read_bytes()
        assert status(f"{token}/feed.xml") == 200
        assert [status(path) for path in ("", "empty/", TOKENS_NAME, f"{token[:-1]}/", ".voiceguide-base-url")] == [404] * 5
    finally:
        server.shutdown()
        server.server_close()


def test_progress_says_the_time_left_from_the_pace_of_the_sessions_written():
    from voiceguide.batch import Status
    from voiceguide.cli.catalog import CatalogProgress

    progress = CatalogProgress(live=False)
    status = Status(10)
    status.started -= 100  # 100 s in
    assert progress.eta(status) == ""  # speech: nothing written yet
    progress("writing", status, None)
    progress.writing = (40.0, 0)  # writing began at 40 s
    status.done = 4  # 60 s for 4 sessions: 15 s each, 6 left
    assert progress.eta(status) == ", about 1m30s left"
    status.done = 10
    assert progress.eta(status) == ""
    progress.close()


def test_a_language_is_an_option_like_the_others(tmp_path):
    (tmp_path / "routines").mkdir()
    for name, routine in TINY.items():
        (tmp_path / "routines" / f"{name}.yaml").write_text(routine)
    (tmp_path / "catalog.yaml").write_text("audiences:\n  - name: a\n    options: {language: de}\n    sessions: [alpha]\n")
    (entry,) = load_catalog(tmp_path / "catalog.yaml", tmp_path / "routines").audiences[0].entries
    assert entry.options.language == "de" and entry.options.voice_for(entry.routine) != entry.routine.voice
    found = problems("audiences:\n  - name: a\n    sessions:\n      - {routine: alpha, language: klingon}\n", tmp_path)
    assert len(found) == 1 and found[0].startswith("catalog.yaml:4:9: audiences[0].sessions[0]: language: expected a language")
