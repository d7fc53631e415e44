"""The mixer: exact placement, and memory that does not grow with the session's length."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np

from voiceguide.audio.chimes import chime
from voiceguide.plan import CHIME_MS
from voiceguide.routine.model import Exercise, Routine
from voiceguide.plan import plan
from voiceguide.audio.render import BLOCK_MS, QUIET_CELLS_AROUND_CUT, quiet_cut, render, sounds
from voiceguide.recipe import SAMPLE_RATE

RATE = SAMPLE_RATE


def fake_clip(text: str) -> np.ndarray:
    """A 'clip' whose length follows its text, with a marker value in its first sample."""
    clip = np.full(70 * len(text) * RATE // 1000, 0.1, dtype=np.float32)
    clip[0] = 0.5
    return clip


def routine_of(minutes: int) -> Routine:
    exercise = Exercise(name="Stretch", steps=("Lie down.",), hold_ms=45_000, reps=2, rest_ms=10_000, sides=("right", "left"))
    count = max(1, round(minutes * 60 / 210))
    return Routine(id="r", path=Path("r.yaml"), title="Long", exercises=(exercise,) * count)


def session(minutes: int):
    routine = routine_of(minutes)
    clips: dict[str, np.ndarray] = {}

    def measure(text: str) -> int:
        clips[text] = fake_clip(text)
        return round(clips[text].size * 1000 / RATE)

    return plan(routine, measure), clips


def test_every_sound_lands_on_its_exact_sample():
    timeline, clips = session(2)
    audio = np.concatenate(list(render(timeline, clips, RATE, chimes="none")))
    assert audio.size == timeline.duration_ms * RATE // 1000
    for event in timeline.speech():
        start = event.start_ms * RATE // 1000
        assert audio[start] == np.float32(0.5)
        assert audio[start - 1] == 0.0


def test_chimes_are_mixed_in_full():
    timeline, clips = session(1)
    event = next(e for e in timeline.events if e.kind == "chime")
    audio = np.concatenate(list(render(timeline, clips, RATE)))
    start = event.start_ms * RATE // 1000
    sound = chime(event.sound, RATE)
    assert sound.size == CHIME_MS[event.sound] * RATE // 1000
    np.testing.assert_allclose(audio[start: start + 100], sound[:100], atol=1e-6)


def peak_bytes_while_rendering(minutes: int) -> tuple[int, int]:
    timeline, clips = session(minutes)
    tracemalloc.start()
    largest = 0
    for block in render(timeline, clips, RATE):
        largest = max(largest, block.nbytes)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, largest


def test_memory_stays_flat_as_sessions_get_longer():
    peak_10, block_10 = peak_bytes_while_rendering(10)
    peak_60, block_60 = peak_bytes_while_rendering(60)
    assert block_10 == block_60 <= BLOCK_MS * RATE // 1000 * 4  # float32 blocks of fixed size
    assert peak_60 < 1.3 * peak_10 + 1_000_000
    assert peak_60 < 16_000_000  # a 60-minute session would be 300 MB as float32


def test_the_cut_for_two_encoders_falls_in_silence_nearest_the_middle_of_the_sound():
    cell, quiet = 576, QUIET_CELLS_AROUND_CUT * 576
    sound = np.ones(100_000, np.float32)
    placed = [(0, sound), (150_000, sound), (300_000, sound), (450_000, sound[:10])]
    cut = quiet_cut(placed, cell)
    # 200,000 of the 300,010 samples of sound before it: nearer half than 100,000 or 300,000.
    assert cut % cell == 0 and 250_000 + quiet <= cut <= 300_000 - quiet
    # Silences too short for the margins on both sides, or only before the first sound or
    # after the last, give no cut.
    assert quiet_cut([(0, sound), (100_000 + 2 * quiet - cell, sound)], cell) is None
    assert quiet_cut([(500_000, sound)], cell) is None
    assert quiet_cut([], cell) is None


def test_a_session_rendered_in_two_halves_is_the_session():
    timeline, clips = session(5)
    whole = np.concatenate(list(render(timeline, clips, RATE)))
    cut = quiet_cut(sounds(timeline, clips, RATE, "soft"), 576)
    assert cut is not None and not whole[cut - 16 * 576: cut + 16 * 576].any()
    halves = list(render(timeline, clips, RATE, end=cut)) + list(render(timeline, clips, RATE, start=cut))
    assert np.array_equal(np.concatenate(halves), whole)
