"""An up-to-date build loads no part of the audio stack: it checks its records and stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TINY = """\
title: Tiny Session
exercises:
  - name: Reach
    steps: Reach up.
    hold: 2
"""

# `voiceguide ARGS` in this interpreter; at exit, whatever was imported goes to modules.json.
PROBE = """\
import atexit, json, sys

atexit.register(lambda: open("modules.json", "w").write(json.dumps(sorted(sys.modules))))
from voiceguide.cli import main

sys.argv[0] = "voiceguide"
main()
"""

HEAVY = ("numpy", "mutagen", "PIL", "pyttsx3", "onnxruntime")
"""What only making a session needs: the mixing, the tags, the cover, the speech engines."""


@pytest.mark.parametrize("command", [["build", "tiny"], ["build", "--all"]])
def test_an_up_to_date_build_imports_no_numpy(tmp_path, command):
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "tiny.yaml").write_text(TINY)
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-m", "voiceguide.cli", *command, "--out", "out"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "built: out/tiny.mp3" in first.stdout

    again = subprocess.run([sys.executable, "-c", PROBE, *command, "--out", "out"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "up to date: out/tiny.mp3" in again.stdout
    modules = json.loads(Path(tmp_path / "modules.json").read_text())
    assert "voiceguide.build" in modules  # the probe saw the build
    assert [m for m in modules if m.partition(".")[0] in HEAVY] == []
