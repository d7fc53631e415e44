"""An up-to-date build loads no part of the audio stack: it checks its records and stops.

And the `voiceguide` program answers one before loading even the command line (click,
YAML, the routine model): from the manifest in the output directory (voiceguide/uptodate.py).
Every change that alters a session's audio still makes it built again: the routine, an
option, the speech engine's library, the voice model, the music file, the language, an
output file deleted or replaced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voiceguide import uptodate

TINY = """\
title: Tiny Session
exercises:
  - name: Reach
    steps: Reach up.
    hold: 2
"""

# `voiceguide ARGS` in this interpreter; at exit, whatever was imported goes to modules.json.
PROBE = """\
import atexit, sys

atexit.register(lambda: open("modules.txt", "w").write("\\n".join(sorted(sys.modules))))
from voiceguide{module} import main

sys.argv[0] = "voiceguide"
main()
"""

HEAVY = ("numpy", "mutagen", "PIL", "pyttsx3", "onnxruntime")
"""What only making a session needs: the mixing, the tags, the cover, the speech engines."""
COMMAND_LINE = ("click", "yaml", "voiceguide.cli", "voiceguide.routine", "voiceguide.build", "json")
"""What the answer from the manifest does without."""


class Workspace:
    """A directory with routines/ and its own speech cache, where `voiceguide` runs."""

    def __init__(self, root: Path):
        self.dir = root
        (root / "routines").mkdir()
        (root / "routines" / "tiny.yaml").write_text(TINY)
        self.env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(root / "cache")}

    def run(self, *args: str, env: dict | None = None, module: str = ".__main__") -> tuple[str, list[str]]:
        """stdout of `voiceguide ARGS`, and the modules it imported."""
        done = subprocess.run([sys.executable, "-c", PROBE.format(module=module), *args], cwd=self.dir,
                              env=env or self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout, (self.dir / "modules.txt").read_text().split("\n")

    def build(self, *args: str, env: dict | None = None) -> tuple[str, bool]:
        """stdout of `voiceguide build tiny ARGS --out out`, and whether the manifest answered it."""
        time.sleep(0.03)  # past the clock tick of the change just made (a build remembers none made as it starts)
        stdout, modules = self.run("build", *(args or ("tiny",)), "--out", "out", env=env)
        return stdout, "click" not in modules


def without_time(stdout: str) -> str:
    return re.sub(r" in \d+\.\d s$", "", stdout.strip())


@pytest.mark.integration
@pytest.mark.parametrize("command", [["build", "tiny"], ["build", "--all"]])
def test_an_up_to_date_build_imports_no_numpy(tmp_path, command):
    space = Workspace(tmp_path)
    first, _ = space.run(*command, "--out", "out", module=".cli")
    assert "built: out/tiny.mp3" in first
    (tmp_path / "out" / uptodate.MANIFEST).unlink(missing_ok=True)  # the full check, not the manifest

    again, modules = space.run(*command, "--out", "out", module=".cli")
    assert "up to date: out/tiny.mp3" in again
    assert "voiceguide.build" in modules  # the probe saw the build
    assert [m for m in modules if m.partition(".")[0] in HEAVY] == []


@pytest.mark.integration
@pytest.mark.parametrize("command", [["tiny"], ["--all"], ["tiny", "--hold-scale", "1.5", "--chimes", "soft"]])
def test_the_manifest_answers_an_up_to_date_build_as_the_full_check_does(tmp_path, command):
    space = Workspace(tmp_path)
    built, fast = space.build(*command)
    assert "built: out/tiny" in built and not fast
    (tmp_path / "out" / uptodate.MANIFEST).unlink()
    full, fast = space.build(*command)  # the full check, which remembers the command
    assert not fast and "0 built, 1 up to date" in full
    answered, fast = space.build(*command)
    assert fast
    assert without_time(answered) == without_time(full)
    _, modules = space.run("build", *command, "--out", "out")
    assert [m for m in modules if any(m == name or m.startswith(f"{name}.") for name in COMMAND_LINE)] == []


@pytest.mark.integration
def test_an_edited_routine_is_built_again(tmp_path):
    space = Workspace(tmp_path)
    space.build()
    assert space.build()[1]
    (tmp_path / "routines" / "tiny.yaml").write_text(TINY.replace("Reach up.", "Reach up high."))
    stdout, fast = space.build()
    assert not fast and "built: out/tiny.mp3" in stdout and "the routine changed" in stdout
    # The same size and modification time, other words: still seen (the change time moved).
    path = tmp_path / "routines" / "tiny.yaml"
    before = path.stat()
    assert space.build()[1]
    path.write_text(TINY.replace("Reach up.", "Reach up hugs."))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    stdout, fast = space.build()
    assert not fast and "built: out/tiny.mp3" in stdout


@pytest.mark.integration
def test_a_changed_option_or_language_is_its_own_session(tmp_path):
    space = Workspace(tmp_path)
    space.build()
    assert space.build()[1]
    for option in (["--hold-scale", "1.5"], ["--language", "de"], ["--rate", "170"]):
        stdout, fast = space.build("tiny", *option)
        assert not fast and "built: out/tiny--" in stdout, option
    assert space.build()[1]  # each variant is remembered beside the others
    assert space.build("tiny", "--language", "de")[1]
    (tmp_path / "routines" / "tiny.yaml").write_text(TINY + "language: fr\n")
    stdout, fast = space.build()
    assert not fast and "built: out/tiny.mp3" in stdout


@pytest.mark.integration
def test_a_users_phrase_pack_is_an_input(tmp_path):
    from voiceguide.routine.phrases import BUNDLED

    space = Workspace(tmp_path)
    space.build()
    assert space.build()[1]
    (tmp_path / "phrases").mkdir()
    shutil.copy(BUNDLED / "en.yaml", tmp_path / "phrases" / "en.yaml")
    stdout, fast = space.build()
    assert not fast  # the full check decides whether the pack changes the session


@pytest.mark.integration
def test_a_deleted_or_replaced_output_file_is_built_again(tmp_path):
    space = Workspace(tmp_path)
    space.build()
    for kind in ("mp3", "png", "vtt", "chapters.json"):
        assert space.build()[1]
        (tmp_path / "out" / f"tiny.{kind}").unlink()
        stdout, fast = space.build()
        assert not fast and "built: out/tiny.mp3" in stdout, kind
    assert space.build()[1]
    mp3 = tmp_path / "out" / "tiny.mp3"
    copy = tmp_path / "copy.mp3"
    shutil.copy2(mp3, copy)  # the same bytes and modification time, another file: the full check decides
    os.replace(copy, mp3)
    assert not space.build()[1]
    assert space.build()[1]
    (tmp_path / "out" / ".tiny.mp3.99999999.x.tmp").write_bytes(b"left by a killed build")
    assert not space.build()[1] and not (tmp_path / "out" / ".tiny.mp3.99999999.x.tmp").exists()


@pytest.mark.integration
def test_a_changed_engine_library_is_built_again(tmp_path):
    import espeakng_loader

    from voiceguide.speech.espeak_library import library

    space = Workspace(tmp_path)
    copy = tmp_path / "libespeak-ng.so"
    shutil.copy2(library()[0], copy)
    env = {**space.env, "VOICEGUIDE_ESPEAK_LIBRARY": str(copy), "ESPEAK_DATA_PATH": espeakng_loader.get_data_path()}
    stdout, fast = space.build(env=env)
    assert not fast and "built: out/tiny.mp3" in stdout
    assert space.build(env=env)[1]
    stdout, fast = space.build()  # back to the wheel's library: another identity
    assert not fast and "the speech engine's library changed" in stdout
    assert space.build()[1]
    assert not space.build(env=env)[1]
    assert space.build(env=env)[1]
    shutil.copy(library()[0], tmp_path / "new.so")
    os.replace(tmp_path / "new.so", copy)  # a new library at the same path: the full check decides
    assert not space.build(env=env)[1]


@pytest.mark.integration
def test_a_changed_music_file_is_built_again(tmp_path):
    import wave

    import numpy as np

    def write_music(frequency: float) -> None:
        samples = (0.3 * np.sin(2 * np.pi * frequency * np.arange(22050 * 3) / 22050) * 32767).astype("<i2")
        with wave.open(str(tmp_path / "routines" / "bed.wav"), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(22050)
            out.writeframes(samples.tobytes())

    space = Workspace(tmp_path)
    write_music(220)
    (tmp_path / "routines" / "tiny.yaml").write_text(TINY.replace("exercises:", "defaults:\n  music: bed.wav\nexercises:"))
    stdout, fast = space.build()
    assert "built: out/tiny.mp3" in stdout
    assert space.build()[1]
    write_music(330)
    stdout, fast = space.build()
    assert not fast and "built: out/tiny.mp3" in stdout


@pytest.mark.integration
def test_a_changed_voice_model_is_built_again(tmp_path):
    pytest.importorskip("piper_onnx")
    from voiceguide.speech.piper_engine import resolve

    bundled = resolve("")
    space = Workspace(tmp_path)
    model = tmp_path / "voice.onnx"
    shutil.copy(bundled.model, model)
    shutil.copy(bundled.config, tmp_path / "voice.onnx.json")
    args = ("tiny", "--engine", "piper", "--voice", str(model))
    stdout, fast = space.build(*args)
    assert "built: out/tiny--piper--voice.mp3" in stdout
    assert space.build(*args)[1]
    settings = json.loads((tmp_path / "voice.onnx.json").read_text())
    settings["inference"] = {**settings.get("inference", {}), "length_scale": 1.2}
    (tmp_path / "voice.onnx.json").write_text(json.dumps(settings))
    stdout, fast = space.build(*args)
    assert not fast and "built: out/tiny--piper--voice.mp3" in stdout and "the voice model changed" in stdout


@pytest.mark.integration
def test_an_up_to_date_build_all_keeps_the_page_and_feed(tmp_path):
    space = Workspace(tmp_path)
    stdout, _ = space.build("--all")
    assert "published: " in stdout
    out = tmp_path / "out"
    published = {name: (out / name).read_bytes() for name in ("index.html", "feed.xml", "playlist.m3u")}
    assert "published" not in space.build("--all")[0]
    assert space.build("--all")[1]
    (out / ".tiny.mp3.99999999.x.tmp").write_bytes(b"left by a killed build")  # publishing reads all of OUT
    assert not space.build("--all")[1] and not (out / ".tiny.mp3.99999999.x.tmp").exists()
    assert space.build("--all")[1]
    (out / "feed.xml").unlink()
    stdout, fast = space.build("--all")
    assert not fast and "published: out/feed.xml" in stdout
    assert (out / "feed.xml").read_bytes() == published["feed.xml"]
    assert space.build("--all")[1]
    (tmp_path / "routines" / "second.yaml").write_text(TINY.replace("Tiny Session", "Second Session"))
    stdout, fast = space.build("--all")
    assert not fast and "built: out/second.mp3" in stdout and "published: " in stdout
    assert "Second Session" in (out / "index.html").read_text()
    assert space.build("--all")[1]
    space.build("tiny", "--hold-scale", "2")  # a variant built beside them: the page lists it at the next --all
    stdout, fast = space.build("--all")
    assert not fast and "published: " in stdout and "tiny--x2.mp3" in (out / "playlist.m3u").read_text()


def test_the_manifest_reads_back_any_name(tmp_path):
    odd = "a\nb=c;3:d\té"
    entry = {"key": repr(([odd], "/x")), "out": "/o", "package": uptodate._states([(odd, "1,2,3,4")]), "watched": [odd, "x"],
             "outputs": uptodate._states([("x", "-")]), "sessions": 2, "stdout": ["up to date: a", ""],
             "stderr": [], "files": {f"/{odd}": "-", "/y": "5,6,7,8"}}
    assert uptodate._entries(uptodate._text([entry, entry])) == [entry, entry]
    with pytest.raises((ValueError, IndexError)):
        uptodate._entries(uptodate._text([entry])[:-40])
    assert uptodate._states([("ab", "1")]) != uptodate._states([("a", "b=1")])


def test_only_a_plain_build_or_list_is_answered_from_the_manifest():
    for args in (["build", "x", "--force"], ["build", "--catalog", "c.yaml"], ["build", "--catalog=c.yaml"],
                 ["build", "--help"], ["new", "x"], ["--help"], [], ["build", "x", "--executor", "dask://h:1"]):
        assert not uptodate._cacheable(args), args
    assert uptodate._cacheable(["list", "--out", "x"]) and uptodate._cacheable(["build", "--all"])
    assert uptodate._out_dir(["build", "x", "--out", "a", "--out=b"]) == "b"
    assert uptodate._out_dir(["build", "x"]) == "out"


@pytest.mark.integration
def test_list_is_answered_from_the_manifest_until_a_routine_or_session_changes(tmp_path):
    space = Workspace(tmp_path)
    space.build("--all")
    full, modules = space.run("list", "--out", "out")
    assert "click" in modules and "0:" in full
    time.sleep(0.03)
    answered, modules = space.run("list", "--out", "out")
    assert "click" not in modules and answered == full
    (tmp_path / "routines" / "tiny.yaml").write_text(TINY.replace("hold: 2", "hold: 3"))
    changed, modules = space.run("list", "--out", "out")
    assert "click" in modules and changed != full and "~" in changed  # no longer built: estimated


def test_the_help_is_answered_from_the_cache_as_click_prints_it(tmp_path):
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(tmp_path / "cache")}
    click_help = "import sys; sys.argv[0] = 'voiceguide'; from voiceguide.cli import main; main()"
    for columns in ("80", "60"):
        env["COLUMNS"] = columns
        expected = subprocess.run([sys.executable, "-c", click_help, "--help"], env=env, capture_output=True, text=True).stdout
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", PROBE.format(module=".__main__"), "--help"], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=120)
            assert done.stdout == expected
        assert "click" not in (tmp_path / "modules.txt").read_text().split("\n")
