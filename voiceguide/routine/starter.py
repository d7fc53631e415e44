"""`voiceguide new`: a commented starter routine that plans and builds as it is."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import OutputError, VoiceguideError
from .files import SCHEMA_FILE
from .json_schema import schema_json
from .load import routine_id

_CLEAN_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # no '--': that joins variant tags
MAX_NAME = 64

MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
"""The first line of a starter and of the seed routines: editors that read it (VS Code with
the YAML extension, and any editor using yaml-language-server) check and complete the
routine with the JSON Schema beside it."""

STARTER = MODELINE + """\
# {title}: a starter routine written by 'voiceguide new'. Change anything you like.
#   voiceguide plan {name}     shows what will be said, and when
#   voiceguide build {name}    writes out/{name}.mp3
# Every key is described in the format's guide: voiceguide docs format
#
# Times are seconds (20, 7.5) or text with units, in quotes: "45s", "2m", "1m30s".
# Do not write 1:30; YAML tools disagree about what it means.

title: {title_yaml}     # said first; also the MP3's title
summary: A short, gentle session to build your own on.   # MP3 comment; not spoken
source: The voiceguide starter routine.   # credit where your exercises come from; not spoken

intro: Find a quiet spot with room to lie down.   # said after the safety note (optional)
outro: Sit quietly for a moment before you get up.  # said at the very end (optional)

defaults:            # for every exercise that does not set its own
  hold: 20           # from the start chime to the end chime
  reps: 1            # how many holds
  rest: 8            # after each rep, and before the next exercise
  switch: 5          # the pause between the two sides of an exercise
  countdown: 3       # last seconds of a hold counted aloud: 0, 3 or 5
  halfway: true      # say "halfway" in holds of 15 seconds or more
  verbosity: full    # full; brief (steps only the first time); minimal

exercises:
  # A hold on each side, with one reminder laid over its silence.
  - name: Side neck stretch
    sides: both                 # right first, then left
    steps:
      - Sit tall and let your shoulders soften.
      - Tilt your head slowly toward one shoulder.
    cues:
      - at: 4                   # seconds into the hold
        say: Let the other shoulder sink.

  # A flow: each line is said, then held for a few seconds; reps repeat the whole flow.
  - name: Arm sweeps
    reps: 3
    steps: Stand with your arms by your sides.
    flow:
      - say: Breathe in and sweep your arms up.
        hold: 3
      - say: Breathe out and float them down.
        hold: 3

  # A longer hold, done twice, with a rest between.
  - name: Child's pose
    steps:
      - Kneel, and sit back toward your heels.
      - Fold forward and rest your forehead down.
    hold: 30
    reps: 2
"""


def starter(name: str) -> str:
    """The starter routine's text for a routine called `name`."""
    title = name.replace("-", " ").capitalize()
    return STARTER.format(name=name, title=title, title_yaml=json.dumps(title))


def new(name: str, routines_dir: Path) -> Path:
    """Write a starter routine to routines_dir/NAME.yaml, never over an existing file, and
    the JSON Schema its first line names beside it (brought up to date)."""
    if not _CLEAN_ID.fullmatch(name) or len(name) > MAX_NAME:
        suggestion = routine_id(Path(name))[:MAX_NAME].strip("-")
        hint = f" (try {suggestion!r})" if suggestion and suggestion != name else ""
        raise VoiceguideError(
            f"expected a routine name of lower-case letters and digits, words joined by single hyphens, "
            f"at most {MAX_NAME} characters, like 'evening-stretch', found {name!r}{hint}"
        )
    path = routines_dir / f"{name}.yaml"
    try:
        routines_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:  # 'x': refuse, atomically, to overwrite
            f.write(starter(name))
    except FileExistsError:
        raise OutputError(f"{path}: already exists; edit it, or choose another name") from None
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None
    write_schema(routines_dir)
    return path


def write_schema(routines_dir: Path) -> Path:
    """routines_dir/routine.schema.json, rewritten only when it is not the current schema."""
    from ..atomic import write_atomically

    path = routines_dir / SCHEMA_FILE
    text = schema_json().encode()
    try:
        if not path.is_file() or path.read_bytes() != text:
            write_atomically(path, text)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None
    return path
