"""Stage 3, plan: Routine -> Timeline, every cue, chime, hold and rest at an absolute ms. Pure.

`planner` lays the session out; `timeline` is what it makes (events and chapters) and the
script and JSON made from it.
"""

from .planner import LINE_GAP_MS, SWITCH_QUIET_MS, lay_out, phrases, plan, spoken_side
from .timeline import CHIME_MS, Chapter, Event, SpeechMeasure, Timeline, format_time, plan_json, script

__all__ = [
    "CHIME_MS", "Chapter", "Event", "LINE_GAP_MS", "SWITCH_QUIET_MS", "SpeechMeasure", "Timeline",
    "format_time", "lay_out", "phrases", "plan", "plan_json", "script", "spoken_side",
]
