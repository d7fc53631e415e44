"""Files beside each MP3, made from the same plan as the audio (part of export).

NAME.vtt            WebVTT transcript, one cue per spoken line, timed to the speech
NAME.chapters.json  Podcasting 2.0 chapters (version 1.2.0)
"""

from __future__ import annotations

import json

from .plan import Timeline


def vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def transcript_vtt(timeline: Timeline) -> str:
    cues = ["WEBVTT", ""]
    for event in timeline.speech():
        cues += [f"{vtt_time(event.start_ms)} --> {vtt_time(event.end_ms)}", event.text, ""]
    return "\n".join(cues)


def chapters_json(timeline: Timeline) -> str:
    chapters = [
        {"startTime": c.start_ms / 1000, "endTime": c.end_ms / 1000, "title": c.title}
        for c in timeline.chapters
    ]
    return json.dumps({"version": "1.2.0", "chapters": chapters}, indent=1, ensure_ascii=False)
