"""Installed like a tool: the wheel, installed into a fresh environment, works from an empty
directory (the bundled routines, list, schema, new, the format guide); and the fast tests
pass on the lowest supported Python and on 3.13.

These build the wheel from this checkout and install it with pip (pipx does the same in an
environment of its own); its dependencies come from the package index, or pip's cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.10", "3.13")
"""The lowest Python that pyproject.toml's requires-python admits, and the newest tested."""


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("timeout", 900)
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built as `pip wheel .` builds it."""
    wheels = tmp_path_factory.mktemp("wheels")
    run(sys.executable, "-m", "pip", "wheel", ROOT, "-w", wheels, "--no-deps", "-q", "--disable-pip-version-check")
    (built,) = wheels.glob("voiceguide-*.whl")
    return built


def venv(python: str, where: Path, requirement: str) -> Path:
    """A fresh virtual environment of `python` at `where` with `requirement` installed; its bin/."""
    run(python, "-m", "venv", where)
    run(where / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement)
    return where / "bin"


def clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a user with nothing of this checkout: no PYTHONPATH, an empty cache."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VOICEGUIDE_"))}
    return {**env, "XDG_CACHE_HOME": str(tmp / "cache"), "HOME": str(tmp / "home")}


def test_the_installed_wheel_builds_the_first_example_from_an_empty_directory(wheel, tmp_path):
    from voiceguide.measure import decode
    from voiceguide.recipe import SAMPLE_RATE
    from voiceguide.routine.json_schema import schema_json

    bin_dir = venv(sys.executable, tmp_path / "venv", str(wheel))
    voiceguide = bin_dir / "voiceguide"
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "home").mkdir()
    env = clean_env(tmp_path)
    where = run(bin_dir / "python", "-c", "import voiceguide; print(voiceguide.__file__)", cwd=empty, env=env).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the installed copy, not this checkout

    built = run(voiceguide, "build", "sore-back", cwd=empty, env=env)
    assert re.search(r"^built: out/sore-back\.mp3 \(\d+:\d\d\) in [\d.]+ s$", built.stdout, re.M), built.stdout
    record = json.loads((empty / "out" / "sore-back.json").read_text())
    audio = decode(empty / "out" / "sore-back.mp3", SAMPLE_RATE)
    assert abs(audio.size * 1000 / SAMPLE_RATE - record["duration_ms"]) <= 100

    listed = run(voiceguide, "list", cwd=empty, env=env).stdout.splitlines()
    bundled = sorted(path.stem for path in (ROOT / "routines").glob("*.yaml"))
    assert [line.split()[0] for line in listed[1:]] == bundled
    minutes, seconds = divmod(round(record["duration_ms"] / 1000), 60)
    assert next(line for line in listed if line.startswith("sore-back ")).split()[-2:] == [f"{minutes}:{seconds:02d}", "bundled"]

    assert run(voiceguide, "schema", cwd=empty, env=env).stdout == schema_json()
    assert run(voiceguide, "docs", "format", cwd=empty, env=env).stdout == (ROOT / "docs" / "routine-format.md").read_text()
    new = run(voiceguide, "new", "evening-stretch", cwd=empty, env=env)
    assert new.stdout == "wrote routines/evening-stretch.yaml: edit it, then try 'voiceguide plan evening-stretch'\n"
    assert (empty / "routines" / "routine.schema.json").read_text() == schema_json()
    assert run(voiceguide, "plan", "evening-stretch", cwd=empty, env=env).stdout.startswith("Evening stretch (")


def python(version: str) -> str | None:
    """An interpreter of `version`: on PATH, or one pyenv installed."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(root.glob(f"{version}.*/bin/python{version}")) if root.is_dir() else []
    return str(candidates[-1]) if candidates else None


@pytest.mark.parametrize("version", PYTHONS)
def test_the_fast_tests_pass_on_the_supported_pythons(wheel, tmp_path, version):
    interpreter = python(version)
    if interpreter is None:
        message = f"no Python {version} here (python{version} on PATH, or pyenv's)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI's machine has both: a missing one is a broken set-up
        pytest.skip(message)
    bin_dir = venv(interpreter, tmp_path / "venv", f"{wheel}[test]")
    env = {**clean_env(tmp_path), "VOICEGUIDE_FFMPEG": "/nonexistent/ffmpeg",
           "VOICEGUIDE_ESPEAK_LIBRARY": "/nonexistent/libespeak-ng.so", "PATH": "/usr/bin:/bin"}
    (tmp_path / "home").mkdir()
    result = subprocess.run(
        [bin_dir / "python", "-m", "pytest", "-m", "not integration", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, f"Python {version}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert re.search(r"^\d+ passed", result.stdout.splitlines()[-1]), result.stdout[-2000:]
