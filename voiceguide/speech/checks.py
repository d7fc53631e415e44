"""Stage 2, speak: is a synthesized clip the line it was asked for, at the rate asked for?

Two checks. Each clip alone must be complete, not silent, and of a length its text can
take. And the clips one worker says must, taken together, have the pace of the rate asked
for: a single line's length depends too much on its words to tell 160 wpm from 200 wpm
(0.69x to 1.54x of an estimate from its syllables and punctuation), but the median over a
worker's lines does not (1.00 to 1.02 for eSpeak NG at 120, 160 and 220 wpm), so a worker
that speaks at the wrong rate is caught even when every line alone looks plausible.
"""

from __future__ import annotations

import re
import statistics
import unicodedata

from ..recipe import SAMPLE_RATE

# Seconds at 160 wpm: per syllable, per comma (colon, semicolon), per full stop, per line.
# Fitted to the 279 lines of the seed routines as eSpeak NG and Piper said them at 120, 160
# and 220 wpm when they spoke 1.157x faster than asked (0.215, 0.5, 0.31, -0.12 s), then
# scaled by 1.157 when --rate became the pace as measured; the time scales with 160 / rate.
SYLLABLE_S, COMMA_S, STOP_S, LINE_S = 0.249, 0.579, 0.359, -0.139

LINE_BOUNDS = (0.55, 1.8, 0.5)
"""A clip in Latin letters may be 0.55x to 1.8x its estimate, plus 0.5 s (measured on the
seed lines: 0.69x to 1.54x)."""
SHORT_SLACK_S = 0.1
"""A clip may also be this much shorter than the lower bound: at 400 wpm "Two." takes 60 ms."""
OTHER_SCRIPT_BOUNDS = (0.2, 6.0, 2.0)
"""Other scripts are estimated from their letters only, and some voices spell what they
cannot read, so their bounds are wide."""

PACE_MIN_LINES = 12
"""The pace check needs this many lines in Latin letters from one worker."""
PACE_BOUNDS = {"pyttsx3": (0.86, 1.25), "piper": (0.84, 1.22)}
"""The median of clip length / estimate for an English voice of each engine at the right rate
lies inside these, so a worker 20% off its rate (0.83x or 1.25x) fails. Measured on the 289
seed lines in their spoken form at 120 and 160 wpm with --rate the measured pace: eSpeak NG's
median 1.03 and 1.02, and 0.907 to 1.214 for the worst of 20,000 random sets of 12 lines.
Piper's joe voice was 0.98 and 1.00 at 120 and 160, but does not speed up in proportion to
its length scale (1.14 at 220, 1.35 at 400 wpm), so its upper bound grows above 160 wpm by
PIPER_HIGH_PER_WPM."""
PIPER_HIGH_PER_WPM = 0.0016
"""Piper's upper pace bound grows by this for each wpm above 160 (1.6 at 400)."""

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(number: int) -> str:
    """An English reading of `number`, for counting its syllables."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        return _TENS[number // 10] + ("" if number % 10 == 0 else " " + _ONES[number % 10])
    if number < 1000:
        rest = number % 100
        return _ONES[number // 100] + " hundred" + (" " + number_words(rest) if rest else "")
    return " ".join(_ONES[int(digit)] for digit in str(number))


def estimate(text: str, words_per_minute: int) -> tuple[float, bool]:
    """(seconds `text` takes at `words_per_minute`, whether it is written in Latin letters)."""
    spelled = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()[:9]))} ", text.lower())
    syllables = 0.0
    latin = True
    for word in re.findall(r"[^\W\d_]+", spelled):
        if word.isascii():
            stem = word[:-1] if len(word) > 2 and word.endswith("e") else word
            syllables += max(1, len(re.findall(r"[aeiouy]+", stem)))
            continue
        for char in word:
            name = unicodedata.name(char, "")
            if name.startswith("LATIN"):
                syllables += 0.4
                continue
            latin = False
            # Ideographs, kana and Hangul are a syllable each; other letters about 0.4.
            syllables += 1.0 if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) else 0.4
    # Symbols are read out as words ("&" is "and", "<" is "less than"): two syllables each.
    syllables += 2 * len(re.findall(r"[&<>@#%*+=/\\|~^$€£]", text))
    commas, stops = len(re.findall(r"[,;:]", text)), len(re.findall(r"[.!?]", text))
    seconds = (SYLLABLE_S * syllables + COMMA_S * commas + STOP_S * stops + LINE_S) * 160 / words_per_minute
    return max(seconds, 0.05), latin


def check_clip(samples, rate: int, text: str, words_per_minute: int) -> str:
    """Why a synthesized clip is unusable, or '' if it looks like the whole line."""
    import numpy as np

    if rate != SAMPLE_RATE:
        return f"expected {SAMPLE_RATE} Hz audio, found {rate} Hz"
    if samples.size == 0:
        return "empty clip"
    if float(np.max(np.abs(samples))) < 0.01:
        return "silent clip"
    expected, latin = estimate(text, words_per_minute)
    low, high, slack = LINE_BOUNDS if latin else OTHER_SCRIPT_BOUNDS
    seconds = samples.size / rate
    if seconds < low * expected - SHORT_SLACK_S or seconds < 0.03:
        return f"clip too short ({seconds:.2f} s for about {expected:.1f} s of speech)"
    if seconds > high * expected + slack:
        return f"clip too long ({seconds:.2f} s for about {expected:.1f} s of speech)"
    return ""


def check_pace(engine: str, english: bool, clips: list[tuple[str, int]], words_per_minute: int) -> str:
    """Why the clips one worker said (text, samples) are not at `words_per_minute`, or ''.

    Only for English voices (the estimate counts English syllables) and enough lines.
    """
    bounds = PACE_BOUNDS.get(engine)
    if not english or bounds is None:
        return ""
    ratios = []
    for text, samples in clips:
        expected, latin = estimate(text, words_per_minute)
        if latin and expected > 0:
            ratios.append(samples / SAMPLE_RATE / expected)
    if len(ratios) < PACE_MIN_LINES:
        return ""
    pace = statistics.median(ratios)
    low, high = bounds
    if engine == "piper":
        high += PIPER_HIGH_PER_WPM * max(0, words_per_minute - 160)
    if low <= pace <= high:
        return ""
    return (f"its {len(ratios)} lines took {pace:.2f}x as long as {words_per_minute} wpm gives "
            f"(expected {low:.2f}x to {high:.2f}x): the engine is not speaking at the rate asked for")
