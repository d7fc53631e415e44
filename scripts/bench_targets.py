"""The rows of `scripts/bench.py --only targets`: start-up and every engine against its floor.

    .venv/bin/python scripts/bench.py --only targets [--runs N]

Every case runs as a user runs it, the whole `voiceguide` program (the console script of
this environment), and every floor is measured in the same run, interleaved with the cases
it is the floor of (this machine is shared: a floor measured minutes apart means little).

  Python            `python -I -S -c pass`, `python -S -c pass`, `python -c pass`, and an
                    empty console script (what pip writes for any entry point: it imports re)
  up to date        `build sore-back`, `build --all` (4 routines), `--help`, `list` with
                    every session built: median of 5, each against <= 0.10 / 0.15 s
  cold sore-back    against eSpeak NG saying all unique text through the wheel's library
                    (pyttsx3's ctypes bindings, synchronous mode, one process; there is no
                    espeak-ng program here) plus ffmpeg encoding only what the splice sends
                    the encoder (the session's PCM with long silences cut as export cuts them)
  cold with Piper   against Piper saying all unique text alone, in as many processes as the
                    build has workers, each loading the voice once
  batch             build --all --jobs 2 against the ceiling: two --jobs 1 batches at once
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = Path(sys.executable).with_name("voiceguide")
UP_TO_DATE_RUNS = 5

ESPEAK_FLOOR = """
import ctypes, sys
library, data, voice, rate, text = sys.argv[1:6]
ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
import os
os.environ["ESPEAK_DATA_PATH"] = data
from pyttsx3.drivers import _espeak
samples = []
def collect(wav, count, events):
    if wav:
        samples.append(ctypes.string_at(wav, count * 2))
    return 0
assert _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0) > 0
_espeak.SetSynthCallback(collect)
assert _espeak.SetVoiceByName(voice.encode()) == _espeak.EE_OK
_espeak.SetParameter(_espeak.RATE, int(rate), 0)
for line in open(text, encoding="utf-8").read().splitlines():
    _espeak.Synth(line.encode(), flags=_espeak.CHARS_UTF8)
_espeak.Synchronize()
assert sum(map(len, samples)) > 0
"""

PIPER_FLOOR = """
import re, sys, unicodedata
import onnxruntime
from phonemizer.backend import EspeakBackend
from piper_onnx import Piper
model, config, scale, text, part, parts = sys.argv[1:7]
options = onnxruntime.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
piper = Piper.from_session(onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"]), config)
phonemizer = EspeakBackend(piper.config.get("espeak", {}).get("voice", "en-us"), preserve_punctuation=True,
                           with_stress=True, language_switch="remove-flags")
lines = open(text, encoding="utf-8").read().splitlines()[int(part)::int(parts)]
for line in lines:
    for sentence in re.split(r"(?<=[.!?])\\s+", line.strip()):
        phonemes = unicodedata.normalize("NFD", phonemizer.phonemize([sentence], strip=True)[0])
        piper.create(phonemes, is_phonemes=True, length_scale=float(scale))
"""


def wall(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def together(commands: list[list[str]], env: dict | None = None) -> float:
    """Wall time of running `commands` all at once."""
    started = time.perf_counter()
    processes = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands]
    if any(p.wait() for p in processes):
        raise SystemExit(f"failed: {commands}")
    return time.perf_counter() - started


def interleaved(runs: int, cases: dict[str, tuple]) -> dict[str, float]:
    """The median wall time of each case, its runs taken in turn with the others' (case:
    (prepare, run) where run() returns seconds)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (prepare, measure) in cases.items():
            prepare()
            times[name].append(measure())
    return {name: statistics.median(values) for name, values in times.items()}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Space:
    def __init__(self, root: Path, name: str):
        self.dir = root / name
        self.dir.mkdir()
        self.out, self.cache = self.dir / "out", self.dir / "cache"
        self.env = dict(os.environ, VOICEGUIDE_CACHE_DIR=str(self.cache))

    def voiceguide(self, *args: str) -> list[str]:
        return [str(PROGRAM), *args, "--out", str(self.out), "--routines", str(ROOT / "routines")]

    def empty(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)


def spliced_pcm(mp3: Path, work: Path) -> tuple[Path, float]:
    """What the encoder is sent for the session `mp3`: its PCM with the long silences cut
    (audio.silence.SilenceGaps, as export cuts them); and the share of the session that is."""
    from voiceguide.audio.export import to_pcm16
    from voiceguide.audio.mp3 import samples_per_frame
    from voiceguide.audio.silence import SilenceGaps
    from voiceguide.measure import decode
    from voiceguide.recipe import SAMPLE_RATE

    pcm = to_pcm16(decode(mp3, SAMPLE_RATE))
    gaps = SilenceGaps(samples_per_frame(SAMPLE_RATE))
    sent = work / "sent.pcm"
    sent.write_bytes(gaps.feed(pcm) + gaps.finish())
    return sent, gaps.sent_samples / gaps.samples


def target_rows(root: Path, runs: int) -> list[tuple[str, float, float, str, str]]:
    from bench import encode_command  # noqa: PLC0415 (bench.py runs this module)

    from voiceguide.plan import phrases
    from voiceguide.routine.load import load
    from voiceguide.build import Options
    from voiceguide.speech.espeak_library import library
    from voiceguide.speech.pyttsx3_engine import DEFAULT_VOICE, espeak_rate

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "voiceguide")], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})  # as pip installs
    load_before = load_average()
    rows: list[tuple[str, float, float, str, str]] = []
    python = sys.executable
    script = root / "console-script"
    script.write_text(f"#!{python}\nimport re\nimport sys\nif __name__ == '__main__':\n    sys.exit(0)\n")
    script.chmod(0o755)
    one, every = Space(root, "one"), Space(root, "every")
    subprocess.run(one.voiceguide("build", "sore-back"), env=one.env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(every.voiceguide("build", "--all"), env=every.env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(every.voiceguide("list"), env=every.env, check=True, stdout=subprocess.DEVNULL)
    nothing = lambda: None  # noqa: E731
    startup = interleaved(max(runs, UP_TO_DATE_RUNS), {
        "python -I -S -c pass": (nothing, lambda: wall([python, "-I", "-S", "-c", "pass"])),
        "python -S -c pass": (nothing, lambda: wall([python, "-S", "-c", "pass"])),
        "python -c pass": (nothing, lambda: wall([python, "-c", "pass"])),
        "an empty console script": (nothing, lambda: wall([str(script)])),
        "up-to-date build sore-back": (nothing, lambda: wall(one.voiceguide("build", "sore-back"), one.env)),
        "up-to-date build --all (4 routines)": (nothing, lambda: wall(every.voiceguide("build", "--all"), every.env)),
        "voiceguide --help": (nothing, lambda: wall([str(PROGRAM), "--help"], every.env)),
        "list, every session built": (nothing, lambda: wall(every.voiceguide("list"), every.env)),
    })
    floor = startup["python -c pass"]
    targets = {"up-to-date build --all (4 routines)": 0.15}
    for name, seconds in startup.items():
        if name.startswith(("python", "an empty")):
            rows.append((f"floor: {name}", seconds, 0, "", ""))
        else:
            target = targets.get(name, 0.10)
            met = "met" if seconds <= target else "not met"
            rows.append((name, seconds, 0, f"{seconds - floor:+.3f} s over python -c pass", f"<= {target:.2f} s: {met}"))

    _show(rows)

    # cold sore-back, against eSpeak NG on all unique text plus ffmpeg on what the splice encodes
    routine = load(ROOT / "routines" / "sore-back.yaml")
    text = root / "sore-back.txt"
    text.write_text("\n".join(dict.fromkeys(phrases(routine))) + "\n")
    import espeakng_loader

    sent, share = spliced_pcm(one.out / "sore-back.mp3", root)
    voice = Options().voice_for(routine)
    espeak = [python, "-c", ESPEAK_FLOOR, library()[0], espeakng_loader.get_data_path(), voice.voice or DEFAULT_VOICE,
              str(espeak_rate(voice.rate)), str(text)]
    cold = Space(root, "cold")
    sound = interleaved(runs, {
        "espeak": (nothing, lambda: wall(espeak)),
        "encode": (nothing, lambda: wall(encode_command(sent, root / "sent.mp3"))),
        "cold": (cold.empty, lambda: wall(cold.voiceguide("build", "sore-back"), cold.env)),
    })
    both = sound["espeak"] + sound["encode"]
    rows += [
        (f"floor: eSpeak NG library, {text.read_text().count(chr(10))} unique lines", sound["espeak"], 0, "", ""),
        (f"floor: ffmpeg encoding what the splice sends ({share:.0%} of the session)", sound["encode"], 0, "", ""),
        ("cold sore-back", sound["cold"], 0, f"{sound['cold'] / both:.2f}x floor", _target(sound["cold"] / both, 1.3, "<=")),
    ]

    _show(rows)

    # cold sore-back with Piper, against Piper alone on all unique text
    try:
        from voiceguide.speech import piper_engine

        model = piper_engine.resolve("")
        workers = piper_engine.workers(os.cpu_count() or 1)
        scale = piper_engine.length_scale(piper_engine.config(model), routine.voice.rate)
    except Exception as error:  # noqa: BLE001 - Piper is optional
        rows.append((f"cold sore-back with Piper: not measured ({error})", 0, 0, "", ""))
    else:
        piper_text = root / "piper.txt"
        piper_text.write_text("\n".join(dict.fromkeys(phrases(routine))) + "\n")
        floor_commands = [[python, "-c", PIPER_FLOOR, str(model.model), str(model.config), str(scale), str(piper_text), str(n), str(workers)]
                          for n in range(workers)]
        piper = Space(root, "piper")
        spoken = interleaved(runs, {
            "alone": (nothing, lambda: together(floor_commands)),
            "cold": (piper.empty, lambda: wall(piper.voiceguide("build", "sore-back", "--engine", "piper"), piper.env)),
        })
        ratio = spoken["cold"] / spoken["alone"]
        rows += [
            (f"floor: Piper alone, all unique text, {workers} processes", spoken["alone"], 0, "", ""),
            ("cold sore-back with Piper", spoken["cold"], 0, f"{ratio:.2f}x floor", _target(ratio, 1.5, "<=")),
        ]

    _show(rows)

    # batch: --jobs 2 against two --jobs 1 batches at once
    batch, twins = Space(root, "batch"), [Space(root, f"twin-{n}") for n in "ab"]
    batches = interleaved(runs, {
        "one": (batch.empty, lambda: wall(batch.voiceguide("build", "--all", "--jobs", "1"), batch.env)),
        "two": (batch.empty, lambda: wall(batch.voiceguide("build", "--all", "--jobs", "2"), batch.env)),
        "twins": (lambda: [twin.empty() for twin in twins],
                  lambda: together([twin.voiceguide("build", "--all", "--jobs", "1") for twin in twins], twins[0].env)),
    })
    speedup, ceiling = batches["one"] / batches["two"], 2 * batches["one"] / batches["twins"]
    rows += [
        ("build --all --jobs 1 cold", batches["one"], 0, "", ""),
        ("two --jobs 1 batches at once", batches["twins"], 0, f"{ceiling:.2f}x faster than in turn", "(the ceiling)"),
        ("build --all --jobs 2 cold", batches["two"], 0, f"{speedup:.2f}x faster, {speedup / ceiling:.0%} of the ceiling",
         _target(speedup / ceiling, 0.95, ">=")),
    ]
    rows.append((f"load average before {load_before}, after {load_average()}", 0, 0, "", ""))
    return rows


def _show(rows: list) -> None:
    """Each row as soon as it is measured (on stderr): a long run keeps what it found."""
    for name, seconds, _, ratio, target in rows:
        print(f"| {name} | {seconds:.3f} | {ratio} | {target} |", file=sys.stderr, flush=True)


def _target(value: float, target: float, sense: str) -> str:
    met = value <= target if sense == "<=" else value >= target
    shown = f"{target:.0%}" if target < 1 else f"{target}x"
    return f"{sense} {shown}: {'met' if met else 'not met'}"
