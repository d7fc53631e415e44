"""The command line: help, version, and errors as one line with exit code 1."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from voiceguide import __version__
from voiceguide.cli import cli

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
