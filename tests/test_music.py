"""Music under the voice: the envelope the plan gives it, the pad, the loop, and the MP3 measured.

The fast tests plan with fake clips and render in memory; the integration ones build real
sessions and decode the MP3. To tell the music from the voice in the decoded mix, the test
"music" is a 55 Hz tone, where the voice (and the chimes) have no energy: a Hann-windowed
lock-in at 55 Hz reads the music alone, under the speech as in the holds.
"""

from __future__ import annotations

import json
from dataclasses import replace
import statistics
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide.audio import music as music_module
from voiceguide.audio.ducking import (
    AFTER_MS, DUCK_DB, FADE_IN_MS, FADE_OUT_MS, LEAD_MS, MIN_UP_MS, RELEASE_MS, ducked_stretches, envelope,
)
from voiceguide.audio.music import PAD_LUFS, Music, ambient_pad
from voiceguide.audio.render import render
from voiceguide.cli import cli
from voiceguide.plan import plan
from voiceguide.recipe import SAMPLE_RATE, SPEECH_LUFS
from voiceguide.routine.model import Exercise, Routine
from voiceguide.speech.loudness import integrated_loudness

from .conftest import SHORT

RATE = SAMPLE_RATE
ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted(path.stem for path in (ROOT / "routines").glob("*.yaml"))


def fake_session():
    """A planned two-sided stretch with a cue, and fake clips (a 300 Hz tone as long as the text)."""
    exercise = Exercise(name="Stretch", steps=("Lie down.", "Bend one knee."), hold_ms=20_000, reps=2,
                        rest_ms=8_000, sides=("right", "left"))
    routine = Routine(id="r", path=Path("r.yaml"), title="Music test", exercises=(exercise,))
    clips: dict[str, np.ndarray] = {}

    def measure(text: str) -> int:
        t = np.arange(60 * len(text) * RATE // 1000) / RATE
        clips[text] = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
        return round(clips[text].size * 1000 / RATE)

    return plan(routine, measure), clips


def sounds(timeline):
    return [(e.start_ms, e.end_ms) for e in timeline.events if e.kind in ("speech", "chime")]


# -- the envelope, from the plan ----------------------------------------------------------


def test_the_music_is_down_under_every_line_and_chime_and_up_in_the_holds():
    timeline, _ = fake_session()
    shape = envelope(timeline)
    faded = (FADE_IN_MS, timeline.duration_ms - FADE_OUT_MS)  # the fades multiply in: checked apart
    for start, end in sounds(timeline):
        for ms in (ms for ms in range(start, end, 100) if faded[0] <= ms < faded[1]):
            assert shape.gain_db(ms) == pytest.approx(-DUCK_DB, abs=0.01), ms
    quiet = [e for e in timeline.events if e.kind == "hold"]
    up = [ms for hold in quiet for ms in range(hold.start_ms, hold.end_ms, 50)
          if all(ms < s - LEAD_MS or ms > e + AFTER_MS + RELEASE_MS for s, e in sounds(timeline))]
    assert len(up) > 100  # the test would prove nothing without long quiet stretches
    assert all(shape.gain_db(ms) == pytest.approx(0.0, abs=0.01) for ms in up if faded[0] <= ms < faded[1])


def test_it_starts_down_before_each_onset_and_moves_smoothly():
    timeline, _ = fake_session()
    shape = envelope(timeline)
    for start, _ in ducked_stretches(timeline):
        if start - LEAD_MS > 3000:  # after the fade-in
            assert shape.gain_db(start - LEAD_MS) == pytest.approx(0.0, abs=0.01)
            assert -DUCK_DB < shape.gain_db(start - LEAD_MS // 2) < 0
            assert shape.gain_db(start) == pytest.approx(-DUCK_DB, abs=0.01)
    assert 100 <= LEAD_MS <= 300
    gains = shape.gains(0, timeline.duration_ms * RATE // 1000, RATE)
    assert gains[0] == 0 and gains[-1] < 1e-3  # faded in from silence and out to it
    # Raised cosines: no step anywhere, the steepest move under 1/1000 of full scale a sample.
    assert np.max(np.abs(np.diff(gains))) < 1e-3


def test_close_sounds_are_ducked_as_one_stretch_so_the_music_does_not_pump():
    timeline, _ = fake_session()
    stretches = ducked_stretches(timeline)
    assert len(stretches) < len(sounds(timeline)) / 2  # the countdown and the lines around a name merged
    for (_, end), (start, _) in zip(stretches, stretches[1:]):
        # Between two stretches the music is up for at least MIN_UP_MS.
        assert start - LEAD_MS - (end + AFTER_MS + RELEASE_MS) >= MIN_UP_MS
    shape = envelope(timeline)
    for start, end in stretches:  # and within one it never comes up
        inside = [shape.gain_db(ms) for ms in range(max(start, FADE_IN_MS), min(end, timeline.duration_ms - FADE_OUT_MS), 20)]
        assert not inside or max(inside) == pytest.approx(-DUCK_DB, abs=0.01)


def test_silent_chimes_do_not_duck_the_music():
    timeline, _ = fake_session()
    chimes = [e for e in timeline.events if e.kind == "chime"]
    shape = envelope(timeline, chimes="none")
    alone = [c for c in chimes if all(s >= c.end_ms + 3000 or e <= c.start_ms - 3000
                                      for s, e in ((e.start_ms, e.end_ms) for e in timeline.speech()))]
    assert alone and all(shape.gain_db(c.start_ms + 200) > -1 for c in alone if c.start_ms > 3000)


def test_the_bed_is_lowered_only_where_it_would_take_the_session_under_its_loudness():
    from voiceguide.audio.ducking import fitted_level
    from voiceguide.audio.render import sounds as placed

    timeline, clips = fake_session()
    shape = envelope(timeline)
    dense = fitted_level(timeline, shape, -20.0, placed(timeline, clips, RATE, "soft"), RATE, SPEECH_LUFS)
    assert dense == -20.0
    # The same session with a line every few minutes: the bed under the pauses would count.
    sparse = replace(timeline, events=tuple(e for i, e in enumerate(timeline.events) if e.kind != "speech" or i % 9 == 0))
    lowered = fitted_level(sparse, envelope(sparse), -20.0, placed(sparse, clips, RATE, "soft"), RATE, SPEECH_LUFS)
    assert lowered < -20.0


def test_the_envelope_goes_into_the_record_as_json():
    timeline, _ = fake_session()
    record = Music("ambient", -20.0, envelope(timeline)).to_json()
    assert json.loads(json.dumps(record)) == record
    assert record["level_db"] == record["asked_db"] == -20 and record["ducked_db"] == -20 - DUCK_DB and record["bed_lufs"] == SPEECH_LUFS - 20
    points = record["envelope"]["points"]
    assert [ms for ms, _ in points] == sorted(ms for ms, _ in points)


# -- the pad and the loop -------------------------------------------------------------------


def test_the_pad_is_a_seamless_loop_of_known_loudness_made_the_same_every_time():
    pad = ambient_pad(RATE)
    assert pad.dtype == np.float32 and pad.size == music_module.PAD_PERIOD_S * RATE
    assert integrated_loudness(np.tile(pad, 2), RATE) == pytest.approx(PAD_LUFS, abs=0.05)
    steps = np.abs(np.diff(pad))
    assert abs(float(pad[0]) - float(pad[-1])) <= steps.max()  # the loop joins like any two samples
    assert np.array_equal(ambient_pad.__wrapped__(RATE), pad)  # made again, bit for bit


def test_a_file_loops_with_a_crossfade_streamed_or_held_the_same(monkeypatch):
    rng = np.random.default_rng(7)
    whole = (0.1 * rng.standard_normal(30_000)).astype(np.float32)

    def passes(path, sample_rate):
        for at in range(0, whole.size, 4096):
            yield whole[at: at + 4096]

    monkeypatch.setattr(music_module, "_passes", passes)
    crossfade = 2000
    streamed = music_module._Streamed(music_module._looped(Path("x"), crossfade, RATE))
    held = music_module._Periodic(music_module._loop_period(whole, crossfade), whole[:crossfade])
    a = np.concatenate([streamed.samples(lo - 441, lo + 5000)[441:] for lo in range(0, 100_000, 5000)])
    b = np.concatenate([held.samples(lo - 441, lo + 5000)[441:] for lo in range(0, 100_000, 5000)])
    assert np.array_equal(a, b)
    assert np.array_equal(a[: whole.size - crossfade], whole[: whole.size - crossfade])  # the file's own start first
    period = whole.size - crossfade
    assert np.array_equal(a[crossfade: crossfade + 3 * period: period], np.full(3, whole[crossfade]))
    # No gap and no bump at the joins: every 100 ms of it has the level of the file.
    rms = np.sqrt(np.mean(a[: a.size // 2205 * 2205].reshape(-1, 2205) ** 2, axis=1))
    assert rms.min() > 0.08 and rms.max() < 0.12


def test_rendering_with_music_adds_it_at_its_level_and_leaves_the_rest_in_place():
    timeline, clips = fake_session()
    music = Music("ambient", -20.0, envelope(timeline))
    plain = np.concatenate(list(render(timeline, clips, RATE, "soft")))
    mixed = np.concatenate(list(render(timeline, clips, RATE, "soft", music=music)))
    assert mixed.size == plain.size
    bed = mixed - plain
    mixer = music.mixer(RATE)
    alone = np.zeros(plain.size, np.float32)
    mixer.add_to(alone, 0)
    assert np.max(np.abs(bed - alone)) < 1e-6  # the music, and nothing moved or changed
    shape = music.envelope
    up = [ms for ms in range(4000, timeline.duration_ms - 7000, 400) if shape.gain_db(ms) == 0 and shape.gain_db(ms + 400) == 0]
    quiet = np.concatenate([alone[ms * RATE // 1000: (ms + 400) * RATE // 1000] for ms in up])
    assert integrated_loudness(quiet, RATE) == pytest.approx(SPEECH_LUFS - 20, abs=0.5)


# -- the MP3, measured (integration) --------------------------------------------------------


def ffmpeg() -> str:
    from voiceguide import tools

    return tools.ffmpeg()


def tone_file(path: Path, hz: float = 55.0, seconds: float = 20.0, stereo: bool = True) -> Path:
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={hz}:duration={seconds}:sample_rate=44100",
                    "-ac", "2" if stereo else "1", str(path)], check=True)
    return path


def lock_in(audio: np.ndarray, center_ms: int, hz: float = 55.0, window_ms: int = 400) -> float:
    """Amplitude of the `hz` tone in a Hann window around `center_ms`."""
    n = window_ms * RATE // 1000
    start = center_ms * RATE // 1000 - n // 2
    x = audio[start: start + n].astype(np.float64)
    w = np.hanning(n)
    t = np.arange(start, start + n) / RATE
    return float(2 * abs(np.sum(x * w * np.exp(-2j * np.pi * hz * t))) / np.sum(w))


def build_with(tmp_path, text: str, *options: str) -> tuple[Path, dict]:
    routine = tmp_path / "r.yaml"
    routine.write_text(text)
    result = CliRunner().invoke(cli, ["build", str(routine), "--out", str(tmp_path / "out"), *options],
                                env={"VOICEGUIDE_CACHE_DIR": str(tmp_path.parent / "music-cache")})
    assert result.exit_code == 0, result.output
    mp3 = next((tmp_path / "out").glob("*.mp3"))
    return mp3, json.loads(mp3.with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def toned(tmp_path_factory):
    """SHORT with a 55 Hz tone under it (a file shorter than the session: it loops)."""
    from voiceguide.measure import decode

    tmp = tmp_path_factory.mktemp("toned")
    tone_file(tmp / "tone.wav")
    mp3, record = build_with(tmp, SHORT.replace("defaults:\n", "defaults:\n  music: tone.wav\n  music_credit: A 55 Hz tone\n"))
    return decode(mp3, RATE), record, mp3


def windows(record: dict) -> tuple[list[int], list[int]]:
    """Centres (ms) of 400 ms windows in the middle of lines, and in quiet with the music up."""
    events = record["events"]
    sounding = [(e["start_ms"], e["end_ms"]) for e in events if e["kind"] in ("speech", "chime")]
    under = [(e["start_ms"] + e["end_ms"]) // 2 for e in events if e["kind"] == "speech" and e["end_ms"] - e["start_ms"] > 800]
    points = record["music"]["envelope"]["points"]
    up = []
    for (a, da), (b, db) in zip(points, points[1:]):
        if da == db == 0 and b - a > 1200:
            up += list(range(a + 400, b - 400, 400))
    duration = record["duration_ms"]
    up = [ms for ms in up if 3500 < ms < duration - 6500 and all(abs(ms - s) > 600 and abs(ms - e) > 600 for s, e in sounding)]
    return under, up


@pytest.mark.integration
def test_the_music_sits_at_its_level_in_the_holds_and_18_db_under_the_voice(toned):
    audio, record, _ = toned
    under, up = windows(record)
    assert len(under) >= 10 and len(up) >= 5
    bed = statistics.median(lock_in(audio, ms) for ms in up)
    ducked = statistics.median(lock_in(audio, ms) for ms in under)
    depth = 20 * np.log10(bed / ducked)
    assert depth == pytest.approx(DUCK_DB, abs=1.0), depth
    # The bed's loudness, measured on the decoded MP3 where only the music sounds.
    quiet = np.concatenate([audio[(ms - 200) * RATE // 1000: (ms + 200) * RATE // 1000] for ms in up])
    assert integrated_loudness(quiet, RATE) == pytest.approx(SPEECH_LUFS - 20, abs=1.0)
    # The music under a line: a tone of the measured amplitude, its loudness against the line's.
    t = np.arange(RATE * 2) / RATE
    music_lufs = integrated_loudness(ducked * np.sin(2 * np.pi * 55 * t), RATE)
    lines = [e for e in record["events"] if e["kind"] == "speech" and e["end_ms"] - e["start_ms"] > 800]
    voice = statistics.median(integrated_loudness(audio[e["start_ms"] * RATE // 1000: e["end_ms"] * RATE // 1000], RATE) for e in lines)
    assert voice - music_lufs >= 18, (voice, music_lufs)


@pytest.mark.integration
def test_the_music_loops_without_a_gap_and_fades_at_the_ends(toned):
    audio, record, _ = toned
    _, up = windows(record)
    levels = [lock_in(audio, ms) for ms in up]
    assert min(levels) > 0.7 * statistics.median(levels) and max(levels) < 1.5 * statistics.median(levels)
    assert record["duration_ms"] > 40_000  # longer than the 20 s file: it looped
    assert lock_in(audio, 200) < 0.2 * statistics.median(levels)  # fading in
    assert lock_in(audio, record["duration_ms"] - 250) < 0.1 * statistics.median(levels)  # faded out


@pytest.mark.integration
def test_the_record_and_the_tags_carry_the_music(toned):
    from mutagen.id3 import ID3

    _, record, mp3 = toned
    music = record["music"]
    assert music["source"] == "tone.wav" and len(music["sha256"]) == 64 and music["credit"] == "A 55 Hz tone"
    assert music["envelope"]["duration_ms"] == record["duration_ms"]
    assert "Music: A 55 Hz tone" in str(ID3(mp3).getall("COMM")[0])
    from voiceguide.publish import DEFAULT_BASE_URL, publish

    publish(mp3.parent, DEFAULT_BASE_URL)
    assert '<p class="source">Music: A 55 Hz tone</p>' in (mp3.parent / "index.html").read_text()
    assert "Music: A 55 Hz tone" in (mp3.parent / "feed.xml").read_text()


@pytest.mark.integration
def test_speech_starts_where_planned_over_the_music(tmp_path):
    from voiceguide.build import Options, build
    from voiceguide.measure import onsets
    from voiceguide.routine.load import load
    from voiceguide.speech.cache import ClipCache

    (tmp_path / "r.yaml").write_text(SHORT)
    routine = load(tmp_path / "r.yaml")
    cache = ClipCache(tmp_path / "cache")
    result = build(routine, tmp_path / "out", Options(music="ambient"), cache=cache)
    from voiceguide.build import speak_and_plan

    planned = speak_and_plan(routine, Options(music="ambient"), cache)
    found = onsets(result.mp3, planned.timeline, planned.clips, RATE)
    assert len(found) == len(sounds(planned.timeline))
    assert all(abs(onset.error_ms) <= 2 for onset in found), [o for o in found if abs(o.error_ms) > 2]


@pytest.mark.integration
def test_a_quieter_bed_is_measured_quieter_by_what_was_asked(tmp_path, toned):
    from voiceguide.measure import decode

    audio, record, _ = toned
    tone_file(tmp_path / "tone.wav")
    mp3, quieter = build_with(tmp_path, SHORT.replace("defaults:\n", "defaults:\n  music: tone.wav\n"), "--music-level", "-30")
    _, up = windows(quieter)
    lower = statistics.median(lock_in(decode(mp3, RATE), ms) for ms in up)
    base = statistics.median(lock_in(audio, ms) for ms in windows(record)[1])
    assert 20 * np.log10(base / lower) == pytest.approx(10, abs=1.0)
    assert mp3.name == "r--music-30db.mp3"


@pytest.mark.integration
def test_two_builds_with_the_pad_give_the_same_mp3(tmp_path):
    first, _ = build_with(tmp_path, SHORT, "--music", "ambient")
    before = first.read_bytes()
    again = CliRunner().invoke(cli, ["build", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "out"), "--music", "ambient", "--force"],
                               env={"VOICEGUIDE_CACHE_DIR": str(tmp_path.parent / "music-cache")})
    assert again.exit_code == 0, again.output
    assert first.read_bytes() == before


MUSIC_VARIANTS = {
    "default": {},
    "minimal": dict(verbosity="minimal", countdown=5, halfway=False, rate=220, chimes="none"),
    "loudest bed": dict(music_level=-16.0),
}


@pytest.mark.integration
@pytest.mark.parametrize("variant", list(MUSIC_VARIANTS))
@pytest.mark.parametrize("name", SEEDS)
def test_every_seed_session_with_the_pad_keeps_its_loudness_and_true_peak(tmp_path, name, variant, seed_cache):
    from voiceguide.build import Options, build
    from voiceguide.measure import decode
    from voiceguide.routine.load import load

    from .test_quality import ebur128

    options = Options(music="ambient", **MUSIC_VARIANTS[variant])
    result = build(load(ROOT / "routines" / f"{name}.yaml"), tmp_path, options, cache=seed_cache, jobs=2)
    assert result.mp3.name.startswith(f"{name}--") and "ambient" in result.mp3.name
    assert decode(result.mp3, RATE).size == result.duration_ms * RATE // 1000
    measured = ebur128(result.mp3)
    assert measured["TP"] <= -1.0 and -17.0 <= measured["I"] <= -15.0, measured


@pytest.fixture(scope="module")
def seed_cache(tmp_path_factory):
    from voiceguide.speech.cache import ClipCache

    return ClipCache(tmp_path_factory.mktemp("seed-cache"))


@pytest.mark.integration
@pytest.mark.parametrize("case", ["missing", "not audio", "no audio stream", "missing --music", "text --music"])
def test_bad_music_is_one_line_naming_the_file_and_nothing_is_written(tmp_path, case):
    (tmp_path / "notes.mp3").write_text("these are not sounds\n")
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=16x16:d=1", "-frames:v", "1",
                    str(tmp_path / "picture.png")], check=True)
    (tmp_path / "picture.ogg").write_bytes((tmp_path / "picture.png").read_bytes())
    music, option = {"missing": ("gone.mp3", []), "not audio": ("notes.mp3", []), "no audio stream": ("picture.ogg", []),
                     "missing --music": ("ambient", ["--music", str(tmp_path / "gone.mp3")]),
                     "text --music": ("ambient", ["--music", str(tmp_path / "notes.mp3")])}[case]
    routine = tmp_path / "r.yaml"
    routine.write_text(f"title: T\ndefaults:\n  music: {music}\nexercises:\n  - name: S\n")
    result = CliRunner().invoke(cli, ["build", str(routine), "--out", str(tmp_path / "out"), *option])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    if option:
        assert lines[0].startswith("error: --music: expected ") and option[1] in lines[0]
    else:
        assert lines[0].startswith(f"{routine}:3:10: defaults.music: expected ") and music in lines[0]
    assert not (tmp_path / "out").exists()
