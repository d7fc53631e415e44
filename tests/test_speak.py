"""Speech: the cache, clip checks, and recovery from a failing or hung engine."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from voiceguide import pyttsx3_engine
from voiceguide.errors import SpeechError
from voiceguide.model import Voice
from voiceguide.speak import SAMPLE_RATE, ClipCache, check_clip, clean_clip, speak, write_wav


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_cache_round_trip_and_torn_entries_are_misses(tmp_path):
    cache = ClipCache(tmp_path)
    cache.put("ab" * 32, tone(0.5))
    assert cache.get("ab" * 32).size == SAMPLE_RATE // 2
    torn = cache.path("ab" * 32)
    torn.write_bytes(torn.read_bytes()[:-1000])  # as if a writer died half way
    assert cache.get("ab" * 32) is None
    torn.write_bytes(b"junk")
    assert cache.get("ab" * 32) is None
    assert cache.get("cd" * 32) is None
    assert not list(tmp_path.rglob(".tmp-*"))


def test_check_clip_rejects_empty_silent_short_and_long_clips():
    text = "Lie on your back and breathe slowly."  # about 2.3 s at 160 wpm
    assert check_clip(tone(2.3), SAMPLE_RATE, text, 160) == ""
    assert "empty" in check_clip(np.zeros(0, np.float32), SAMPLE_RATE, text, 160)
    assert "silent" in check_clip(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE, text, 160)
    assert "too short" in check_clip(tone(0.3), SAMPLE_RATE, text, 160)
    assert "too long" in check_clip(tone(20), SAMPLE_RATE, text, 160)
    assert "Hz" in check_clip(tone(2.3), 16000, text, 160)


def test_clean_clip_trims_silence_and_fades_edges():
    padded = np.concatenate([np.zeros(2000, np.float32), tone(0.5), np.zeros(3000, np.float32)])
    cleaned = clean_clip(padded)
    assert abs(cleaned.size - SAMPLE_RATE // 2) < 10
    assert abs(cleaned[0]) < 1e-3 and abs(cleaned[-1]) < 1e-2


class FlakyWorker:
    """Writes a truncated clip on the first try of each phrase, a good one after."""

    tries: dict[str, int] = {}

    def __init__(self, voice, rate):
        pass

    def synthesize(self, text, path: Path):
        FlakyWorker.tries[text] = FlakyWorker.tries.get(text, 0) + 1
        seconds = 0.05 if FlakyWorker.tries[text] == 1 else len(text) / 15
        with open(path, "wb") as f:
            write_wav(f, tone(seconds), SAMPLE_RATE)

    def stop(self):
        pass


def test_bad_clips_are_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(pyttsx3_engine, "Worker", FlakyWorker)
    clips, stats = speak(["Hold it there.", "Now relax."], Voice(), ClipCache(tmp_path), jobs=2)
    assert stats.synthesized == 2 and stats.retries == 2
    assert all(clip.size > SAMPLE_RATE // 2 for clip in clips.values())
    again, stats = speak(["Hold it there.", "Now relax."], Voice(), ClipCache(tmp_path))
    assert stats.synthesized == 0


def test_a_hung_engine_times_out_with_a_clear_error(tmp_path, monkeypatch):
    hang = "import sys, time; print('{\"ok\": true}', flush=True); sys.stdin.readline(); time.sleep(60)"

    def start(self):
        import subprocess

        self.process = subprocess.Popen([sys.executable, "-c", hang], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self._read_reply(5)["ok"]

    monkeypatch.setattr(pyttsx3_engine.Worker, "start", start)
    monkeypatch.setattr(pyttsx3_engine, "phrase_timeout", lambda text: 0.3)
    started = time.monotonic()
    with pytest.raises(SpeechError) as error:
        speak(["Breathe in."], Voice(), ClipCache(tmp_path))
    assert time.monotonic() - started < 10
    assert 'could not say "Breathe in."' in str(error.value) and "pyttsx3" in str(error.value)
    assert "did not answer" in str(error.value)


def test_a_missing_engine_is_a_clear_error(tmp_path, monkeypatch):
    def missing():
        raise SpeechError("eSpeak NG not found: install it with 'pip install espeakng-loader'")

    monkeypatch.setattr(pyttsx3_engine, "library", missing)
    with pytest.raises(SpeechError, match="eSpeak NG not found"):
        speak(["Hello."], Voice(), ClipCache(tmp_path))


@pytest.mark.integration
def test_the_real_engine_says_each_line_completely(tmp_path):
    lines = ["Three.", "Hold for 30 seconds.", "Let both knees fall slowly to one side, and keep your shoulders down."]
    clips, stats = speak(lines, Voice(), ClipCache(tmp_path), jobs=2)
    assert stats.synthesized == 3 and stats.retries == 0
    for line in lines:
        assert check_clip(clips[line], SAMPLE_RATE, line, 160) == ""
    assert clips["Three."].size < SAMPLE_RATE  # a countdown number fits in its second
