"""How clips and sessions are made: the numbers that go into cache and build keys.

Kept apart from the modules that do the work (speak, loudness), which need numpy, so that
deciding a session is up to date imports nothing heavy.
"""

SAMPLE_RATE = 22050
"""Every session and every cached clip: mono at this rate."""

CLIP_FORMAT_VERSION = 9
"""6: trimmed, band-limited to 7.5 kHz, loudness-normalized, true-peak limited.
7: eSpeak NG lines said from a fresh state each (reproducible); entries carry their record.
8: --rate is the pace as measured (eSpeak NG's own rate and Piper's length scale calibrated);
Piper says each sentence of a line apart, with a pause between.
9: band limit and K-weighting from one FFT of a 5-smooth length (samples within a 16-bit step
of 8's); with it, sessions encoded in two halves joined in a silence (audio/export.py)."""

TARGET_LUFS = -16.0
"""Spoken-word podcast convention, for the whole session."""
SPEECH_LUFS = TARGET_LUFS + 1.5
"""Each line is made a little louder than the session target: the 400 ms blocks that
straddle the pauses between lines pull the session's gated loudness about 1 LU lower."""
CEILING_DBTP = -3.0
"""True-peak ceiling before encoding: the MP3 overshoots it by about 1 dB."""
LOWPASS_HZ = 7500.0
"""Speech is band-limited here (see loudness._band_limited_and_weighted)."""

PLAN_VERSION = 2
"""How sessions are paced (plan/): 2: the safety opening, flows paced by breath, stays."""

CLIP_RECIPE = {"format": CLIP_FORMAT_VERSION, "lufs": SPEECH_LUFS, "ceiling": CEILING_DBTP, "lowpass": LOWPASS_HZ}
"""Everything about how clips are made besides their voice and text; part of every cache key."""

MUSIC_RECIPE = {
    "version": 1,  # of the ambient pad and of how music is mixed
    "duck_db": 10.0, "lead_ms": 250, "after_ms": 250, "release_ms": 900, "min_up_ms": 1500,
    "fade_in_ms": 3000, "fade_out_ms": 6000, "crossfade_ms": 3000,
}
"""How music is laid under the voice (audio/ducking.py, audio/music.py); part of the build key
of every session with music."""
