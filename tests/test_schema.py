"""The JSON Schema for editors (`voiceguide schema`): made from the loader's tables, it takes
every seed routine and refuses the bad corpus's mistakes of structure and type.

Routines are read as the loader reads them (YAML 1.2 nodes: `no` is text, `1:30` is not a
number), then turned into the JSON values an editor's YAML server checks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.routine import schema as keys
from voiceguide.routine.files import BUNDLED, SCHEMA_FILE
from voiceguide.routine.json_schema import routine_schema, schema_json
from voiceguide.routine.starter import MODELINE, starter
from voiceguide.routine.yaml_nodes import BOOL, FLOAT, INT, MAP, NULL, SEQ, Problems, parse

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "routines").glob("*.yaml"))
BAD = ROOT / "tests" / "bad_routines"

STRUCTURAL = [
    "cue_missing_parts", "defaults_not_mapping", "duration_bad_text", "duration_clock_1_30", "duration_negative",
    "duration_zero_hold", "duration_absurd", "empty_exercise_list", "exercise_bare_line", "exercise_without_name",
    "exercises_mapping", "exercises_null", "flow_bad_moves", "flow_with_hold_and_cues", "merge_key",
    "missing_exercises", "missing_title_and_exercises", "non_text_keys", "reps_fractional", "reps_huge", "reps_zero",
    "settings_out_of_range", "sides_wrong", "too_many_exercises", "too_many_lines", "top_level_list",
    "top_level_null", "top_level_scalar", "unknown_key_cue", "unknown_key_defaults", "unknown_key_exercise",
    "unknown_key_flow_move", "unknown_key_no_hint", "unknown_key_top", "wrong_type_cues_flow_sides",
    "wrong_type_defaults", "wrong_type_text", "wrong_type_timing", "yaml11_halfway_no", "yaml11_halfway_yes_off",
    "yaml11_sides_no",
]
"""The bad routines whose mistakes are of shape or type: a schema can see them. The others
(syntax, encodings, alias bombs, unsayable lines, a cue after its hold, a session too long,
a voice its engine lacks) only the loader finds."""


def value(node):
    """A YAML node as the JSON value it stands for, by its YAML 1.2 tag."""
    if node.tag == MAP:
        return {_key(value(k)): value(v) for k, v in node.value}
    if node.tag == SEQ:
        return [value(item) for item in node.value]
    if node.tag == NULL:
        return None
    if node.tag == BOOL:
        return node.value.lower() == "true"
    if node.tag == INT:
        return int(node.value) if len(node.value) < 4000 else math.inf  # past int()'s limit: out of range anyway
    if node.tag == FLOAT:
        number = float(node.value.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf"))
        return None if math.isnan(number) else number
    return node.value


def _key(key):
    return tuple(key) if isinstance(key, list) else key


def read(path: Path):
    data = path.read_bytes()
    root = parse(data, len(data), Problems(str(path)))
    assert root is not None, path
    return value(root)


def errors(document) -> list[str]:
    validator = jsonschema.Draft202012Validator(routine_schema())
    return [error.message for error in validator.iter_errors(document)]


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(routine_schema())


@pytest.mark.parametrize("path", SEEDS + [BUNDLED / "sore-back.yaml"], ids=lambda path: path.name)
def test_every_seed_routine_is_accepted(path):
    assert errors(read(path)) == []


def test_the_starter_is_accepted(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(starter("mine"))
    assert errors(read(path)) == []


@pytest.mark.parametrize("case", STRUCTURAL)
def test_mistakes_of_shape_and_type_are_refused(case):
    assert errors(read(BAD / f"{case}.yaml")), f"{case}: the schema takes what the loader refuses"


def test_every_key_of_the_loader_is_in_the_schema_and_no_other():
    top = routine_schema()
    exercise = top["properties"]["exercises"]["items"]
    cue = exercise["properties"]["cues"]["items"]
    move = exercise["properties"]["flow"]["items"]["anyOf"][1]
    assert list(top["properties"]) == list(keys.TOP_KEYS)
    assert list(top["properties"]["defaults"]["properties"]) == list(keys.DEFAULTS_KEYS)
    assert list(exercise["properties"]) == list(keys.EXERCISE_KEYS)
    assert list(cue["properties"]) == list(keys.CUE_KEYS)
    assert list(move["properties"]) == list(keys.MOVE_KEYS)


def test_ranges_and_choices_come_from_the_loader_tables():
    defaults = routine_schema()["properties"]["defaults"]["properties"]
    for key in keys.SETTINGS + keys.TIMINGS:
        text = json.dumps(defaults[key.name])
        for bound in key.args[0] if key.read.__name__ == "choice" else key.args:
            shown = bound / 1000 if key.read.__name__ == "duration" else bound
            assert json.dumps(shown) in text, (key.name, bound)


def test_schema_command_prints_it_and_the_committed_copies_are_current():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0 and result.stdout == schema_json()
    # The copy beside the seed routines (and so the bundled ones), which their first line names.
    assert (ROOT / "routines" / SCHEMA_FILE).read_text() == schema_json(), (
        "routines/routine.schema.json is stale: voiceguide schema > routines/routine.schema.json")


def test_seed_routines_and_starters_name_the_schema_on_their_first_line():
    for path in SEEDS:
        assert path.read_text().startswith(MODELINE), path.name
    assert starter("mine").startswith(MODELINE)


def test_new_writes_the_schema_beside_the_starter(tmp_path):
    result = CliRunner().invoke(cli, ["new", "mine", "--routines", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / SCHEMA_FILE).read_text() == schema_json()
    (tmp_path / SCHEMA_FILE).write_text("{}")  # an old schema is brought up to date
    assert CliRunner().invoke(cli, ["new", "other", "--routines", str(tmp_path)]).exit_code == 0
    assert (tmp_path / SCHEMA_FILE).read_text() == schema_json()
