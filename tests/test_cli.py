"""The command line: help, version, and errors as one line with exit code 1."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide import __version__
from voiceguide.cli import cli
from voiceguide.routine.model import format_clock

from .conftest import fake_engine

ROOT = Path(__file__).resolve().parent.parent


def run(*args, **kwargs):
    return CliRunner().invoke(cli, list(args), **kwargs)


def test_help_shows_examples_and_version():
    result = run("--help")
    assert result.exit_code == 0 and "voiceguide build sore-back" in result.output
    for command in ("build", "plan", "list", "check"):
        assert "Example" in run(command, "--help").output
    assert run("--version").output.strip() == f"voiceguide, version {__version__}"


def test_unknown_routine_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("build", "sore-bak", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("routines/sore-bak.yaml: expected a routine named 'sore-bak'")
    assert "sore-back" in result.output and "Traceback" not in result.output


def test_a_bad_routine_among_good_ones_stops_the_build_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("routines").mkdir()
    Path("routines/good.yaml").write_text("title: Good\nexercises:\n  - name: Stretch\n")
    Path("routines/bad.yaml").write_text(textwrap.dedent("""\
        title: Bad
        exercises:
          - name: Stretch
            hold: thirty
    """))
    result = run("build", "--all")
    assert result.exit_code == 1
    assert result.output == 'routines/bad.yaml:4:11: exercises[0].hold: expected a duration like 30 or "1m30s", found "thirty"\n'
    assert not Path("out").exists()


def test_plan_prints_notes_when_the_plan_had_to_grow(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)  # any speech longer than the half-second rest will do
    path = tmp_path / "tight.yaml"
    path.write_text(textwrap.dedent("""\
        title: Tight
        exercises:
          - name: First
            hold: 5
            rest: 0.5
          - name: Second
            hold: 5
    """))
    result = run("plan", str(path))
    assert result.exit_code == 0, result.output
    assert "note: rest before Second: the rest grew from 0.5 s to" in result.output


def test_odd_file_names_are_cleaned_and_clashing_ones_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("routines").mkdir()
    Path("routines/Sore Back!.yaml").write_text("title: One\nexercises:\n  - name: Stretch\n")
    Path("routines/sore-back.yaml").write_text("title: Two\nexercises:\n  - name: Stretch\n")
    result = run("build", "--all")
    assert result.exit_code == 1
    assert result.output == (
        "routines/sore-back.yaml: expected a file name of its own, found one that writes "
        "sore-back.mp3 like routines/Sore Back!.yaml\n"
    )
    assert not Path("out").exists()


def test_output_names_stay_inside_the_output_directory(tmp_path):
    from voiceguide.routine.load import routine_id

    assert routine_id(Path("../../etc/passwd.yaml")) == "passwd"
    assert routine_id(Path("/abs/Knee To Chest (v2).yaml")) == "knee-to-chest-v2"
    assert routine_id(Path("..yaml")) == ""


# -- installed like a tool: bundled routines, list, docs, completion ----------------------

ALPHA = "title: Alpha Session\nexercises:\n  - name: Reach\n    steps: Reach up.\n    hold: 2\n"


def test_a_routine_name_is_found_among_the_bundled_ones_from_any_directory(tmp_path, monkeypatch):
    from voiceguide.routine.files import BUNDLED, resolve

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)
    assert resolve("sore-back", Path("routines")) == BUNDLED / "sore-back.yaml"
    result = run("plan", "sore-back")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Five Stretches for a Sore Back (")
    # A routine of the same name in ./routines/ comes first.
    Path("routines").mkdir()
    Path("routines/sore-back.yaml").write_text(ALPHA)
    assert resolve("sore-back", Path("routines")) == Path("routines/sore-back.yaml")
    assert run("plan", "sore-back").stdout.startswith("Alpha Session (")


def test_the_bundled_routines_are_the_seed_routines():
    from voiceguide.routine.files import BUNDLED, FORMAT_DOC

    seeds = sorted((ROOT / "routines").glob("*.yaml"))
    assert [path.name for path in sorted(BUNDLED.glob("*.yaml"))] == [path.name for path in seeds]
    assert all((BUNDLED / path.name).read_bytes() == path.read_bytes() for path in seeds)
    assert FORMAT_DOC.read_bytes() == (ROOT / "docs" / "routine-format.md").read_bytes()


def test_docs_format_prints_the_format_guide():
    result = run("docs", "format")
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "docs" / "routine-format.md").read_text()


def test_list_in_an_empty_directory_shows_the_bundled_routines_estimated_without_speech(tmp_path, monkeypatch):
    from voiceguide.routine.files import BUNDLED

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)
    from .conftest import ToneWorker

    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "exercises", "length", "from"]
    assert [line.split()[0] for line in lines[1:]] == sorted(path.stem for path in BUNDLED.glob("*.yaml"))
    assert all(re.search(r"  ~\d+:\d\d  bundled$", line) for line in lines[1:]), result.stdout
    assert ToneWorker.said == [] and not (tmp_path / "cache").exists()  # nothing was said


def test_list_shows_a_broken_routine_with_its_mistakes_under_it_and_the_others_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("routines").mkdir()
    Path("routines/alpha.yaml").write_text(ALPHA)
    Path("routines/broken.yaml").write_text("title: Broken\nexercises:\n  - name: Reach\n    hodl: 2\n")
    Path("routines/gamma.yaml").write_text(ALPHA.replace("Alpha", "Gamma"))
    result = run("list")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:5]] == ["alpha", "broken", "routines/broken.yaml:4:5:", "gamma"]
    assert lines[2].split() == ["broken", "-", "-", "-", "routines/"]
    assert lines[3] == ("  routines/broken.yaml:4:5: exercises[0]: expected one of " + lines[3].split("expected one of ")[1])
    assert "unknown key 'hodl' (did you mean 'hold'?)" in lines[3]
    assert lines[4].split()[1:3] == ["Gamma", "Session"]
    assert lines[5].endswith("bundled")  # then the bundled routines


@pytest.mark.integration
def test_list_shows_the_length_of_a_built_session_exactly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)
    Path("routines").mkdir()
    Path("routines/alpha.yaml").write_text(ALPHA)
    assert run("build", "alpha").exit_code == 0
    duration = format_clock(json.loads(Path("out/alpha.json").read_text())["duration_ms"])
    row = run("list").stdout.splitlines()[1]
    assert row.split() == ["alpha", "Alpha", "Session", "1", duration, "routines/"]
    Path("routines/alpha.yaml").write_text(ALPHA.replace("hold: 2", "hold: 3"))  # no longer the session built
    assert run("list").stdout.splitlines()[1].split()[4].startswith("~")


def test_routine_names_complete_in_the_shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("routines").mkdir()
    Path("routines/sore-hips.yaml").write_text(ALPHA)

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {"_VOICEGUIDE_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
        result = CliRunner().invoke(cli, [], env=env, prog_name="voiceguide")
        return result.stdout.splitlines()

    assert complete("voiceguide build so") == ["plain,sore-hips", "plain,sore-back"]
    assert complete("voiceguide plan twelve") == ["plain,twelve-beginner"]
    assert complete("voiceguide build routines/") == ["file,routines/"]


def test_completion_scripts_are_made_for_bash_zsh_and_fish():
    for shell in ("bash", "zsh", "fish"):
        result = CliRunner().invoke(cli, [], env={"_VOICEGUIDE_COMPLETE": f"{shell}_source"}, prog_name="voiceguide")
        assert result.exit_code == 0 and "_VOICEGUIDE_COMPLETE" in result.stdout, shell


def test_plan_shows_progress_on_stderr_and_only_the_plan_on_stdout(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)
    path = tmp_path / "alpha.yaml"
    path.write_text(ALPHA)
    result = run("plan", str(path), "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    logged = result.stderr.splitlines()
    assert re.fullmatch(r"speaking: \d+ phrases \(each from the cache, or synthesized\)", logged[0])
    assert re.fullmatch(r"speech: \d+ phrases, \d+ synthesized, in [\d.]+ s", logged[1])


# -- publishing: the base URL is kept; variants are told apart; rebuilds say why ---------


def test_publish_keeps_the_base_url_for_its_directory(tmp_path):
    out = tmp_path / "public"
    out.mkdir()
    first = run("publish", "--out", str(out), "--base-url", "https://me.example/vg")
    assert first.exit_code == 0, first.output
    assert f"feed: its files are under https://me.example/vg/ (kept for later runs)\n" in first.stdout
    (out / "feed.xml").unlink()
    again = run("publish", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert "feed: its files are under https://me.example/vg/ (the --base-url given before" in again.stdout
    assert "https://me.example/vg/feed.xml" in (out / "feed.xml").read_text()
    changed = run("publish", "--out", str(out), "--base-url", "https://other.example/")
    assert "https://other.example/feed.xml" in (out / "feed.xml").read_text() and changed.exit_code == 0
    (out / "feed.xml").unlink()
    assert run("publish", "--out", str(out)).exit_code == 0
    assert "https://other.example/feed.xml" in (out / "feed.xml").read_text()


def test_variant_titles_say_what_differs():
    from voiceguide.build import Options, variant_title
    from voiceguide.routine.load import load

    routine = load(ROOT / "routines" / "sore-back.yaml")
    def title(**chosen):
        options = Options(**chosen)
        return variant_title(routine, options.narration(routine), options.voice_for(routine))

    assert title() == "Five Stretches for a Sore Back"
    assert title(verbosity="brief", hold_scale=1.5) == "Five Stretches for a Sore Back (brief, holds ×1.5)"
    assert title(engine="piper", rate=140, chimes="none", countdown=0) == (
        "Five Stretches for a Sore Back (no countdown, no chimes, Piper, 140 wpm)")


@pytest.mark.integration
def test_variants_have_their_own_titles_everywhere_and_the_base_url_survives_build_all(tmp_path, monkeypatch):
    from mutagen.id3 import ID3

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)
    Path("routines").mkdir()
    Path("routines/alpha.yaml").write_text(ALPHA)
    assert run("build", "--all", "--base-url", "https://me.example/vg/").exit_code == 0
    built = run("build", "alpha", "--verbosity", "minimal", "--hold-scale", "1.5")
    assert built.exit_code == 0, built.output
    again = run("build", "--all")
    assert again.exit_code == 0, again.output
    assert "feed: its files are under https://me.example/vg/ (the --base-url given before" in again.stdout
    title = "Alpha Session (minimal, holds ×1.5)"
    assert ID3("out/alpha--minimal--x1.5.mp3")["TIT2"].text == [title]
    assert ID3("out/alpha.mp3")["TIT2"].text == ["Alpha Session"]
    assert f"#EXTINF:" in Path("out/playlist.m3u").read_text() and f",{title}\n" in Path("out/playlist.m3u").read_text()
    feed = Path("out/feed.xml").read_text()
    assert f"<title>{title}</title>" in feed and "https://me.example/vg/alpha--minimal--x1.5.mp3" in feed
    assert "127.0.0.1" not in feed
    assert title in Path("out/index.html").read_text()


@pytest.mark.integration
def test_a_rebuild_says_why_when_the_engine_library_changed(tmp_path, monkeypatch):
    from voiceguide.speech import pyttsx3_engine

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    fake_engine(monkeypatch)
    Path("routines").mkdir()
    Path("routines/alpha.yaml").write_text(ALPHA)
    first = run("build", "alpha")
    assert first.exit_code == 0 and "rebuilt" not in first.output
    monkeypatch.setattr(pyttsx3_engine, "identity", lambda voice: ("another-espeak-ng 1.52", "fake-voice"))
    second = run("build", "alpha")
    assert second.exit_code == 0, second.output
    assert re.search(r"^built: out/alpha\.mp3 \(\d+:\d\d\) in [\d.]+ s; rebuilt because the speech engine's "
                     r"library changed \(fake-engine -> another-espeak-ng 1\.52\)$", second.stdout, re.M), second.stdout
    Path("routines/alpha.yaml").write_text(ALPHA.replace("hold: 2", "hold: 3"))
    assert "; rebuilt because the routine changed\n" in run("build", "alpha").stdout
