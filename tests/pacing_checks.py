"""What every built session promises a listener on the floor, checked on its plan record's
events (the real clips' lengths): time to get into position, no line over a ringing chime,
calm holds, one short safety opening."""

from __future__ import annotations

from voiceguide.routine import phrases


def pacing_problems(events: list[dict], opening_limit_ms: int | None = 30_000) -> list[str]:
    speech = [e for e in events if e["kind"] == "speech"]
    chimes = [e for e in events if e["kind"] == "chime"]
    starts = {c["start_ms"] for c in chimes if c["sound"] == "hold_start"}
    problems = []
    for chime in chimes:
        if chime["sound"] == "hold_start":
            last = max((e["end_ms"] for e in speech if e["end_ms"] <= chime["start_ms"]), default=0)
            if chime["start_ms"] - last < 3000:
                problems.append(f"{chime['start_ms'] - last} ms of quiet before the start chime at {chime['start_ms']}")
        for line in speech:
            if chime["start_ms"] <= line["start_ms"] < chime["end_ms"]:
                problems.append(f"{line['text']!r} at {line['start_ms']} starts under the {chime['sound']} chime")
    for hold in (e for e in events if e["kind"] == "hold" and e["start_ms"] in starts):
        lo, hi = hold["start_ms"], hold["end_ms"]
        inside = sorted((e["start_ms"], e["end_ms"]) for e in speech if lo <= e["start_ms"] < hi)
        marks = [lo + 1400] + [t for span in inside for t in span] + [hi]  # the start chime rings 1.4 s
        quiet = max(b - a for a, b in zip(marks[::2], marks[1::2]))
        if quiet < min(0.4 * (hi - lo), 5000):
            problems.append(f"hold {hold['text']!r}: its longest quiet stretch is {quiet} ms")
        if hi - lo < 10_000 and sum(b - a for a, b in inside) > (hi - lo) / 2:
            problems.append(f"hold {hold['text']!r}: more than half of a short hold is speech")
    openings = {line for code in phrases.languages() for form in ("full", "brief")
                for line in phrases.pack(code).spoken_safety(form)}
    advice = [e for e in speech if e["text"] in openings]
    if len(advice) != len({e["text"] for e in advice}):
        problems.append("the safety opening is said more than once")
    if advice and opening_limit_ms and advice[-1]["end_ms"] - advice[0]["start_ms"] >= opening_limit_ms:
        problems.append(f"the safety opening lasts {advice[-1]['end_ms'] - advice[0]['start_ms']} ms")
    return problems
