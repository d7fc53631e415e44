"""Stage 6, publish: the files beside each MP3, made from the same plan as the audio.

NAME.vtt            WebVTT transcript, one cue per spoken line, timed to the speech
NAME.chapters.json  Podcasting 2.0 chapters (version 1.2.0)
"""

from __future__ import annotations

import html
import json

from ..plan import Event, Timeline


def vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def transcript_vtt(timeline: Timeline) -> str:
    cues = ["WEBVTT", ""]
    for event in timeline.speech():
        cues += [f"{vtt_time(event.start_ms)} --> {vtt_time(event.end_ms)}", vtt_text(event.text), ""]
    return "\n".join(cues)


def vtt_text(text: str) -> str:
    """A line as a cue's payload: on one line (a blank line would end the cue), and with
    '&', '<' and '>' escaped, so no markup is read into it and no '-->' starts a new cue."""
    return " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def read_vtt(text: str) -> list[Event]:
    """The spoken lines of a transcript written by `transcript_vtt`, as speech events."""
    cues = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            start, arrow, end = line.partition(" --> ")
            if arrow:
                words = html.unescape(" ".join(lines[i + 1 :]).strip())
                cues.append(Event(_vtt_ms(start), _vtt_ms(end.split()[0]), "speech", words))
                break
    return cues


def _vtt_ms(stamp: str) -> int:
    """'01:02:03.456' (or '02:03.456') -> 3723456."""
    *hours, minutes, seconds = stamp.strip().split(":")
    whole, _, millis = seconds.partition(".")
    return ((int(hours[0]) if hours else 0) * 60 + int(minutes)) * 60_000 + int(whole) * 1000 + int(millis.ljust(3, "0"))


def chapters_json(timeline: Timeline) -> str:
    chapters = [
        {"startTime": c.start_ms / 1000, "endTime": c.end_ms / 1000, "title": c.title}
        for c in timeline.chapters
    ]
    return json.dumps({"version": "1.2.0", "chapters": chapters}, indent=1, ensure_ascii=False)
