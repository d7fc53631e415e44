"""The safety advice every session opens with, and the fuller text the page and feed show.

The facts come from the back-stretch guides voiceguide's routines are made from: see a doctor
before starting (above all with a disc problem), warm up, wear comfortable clothes, choose a
calm place, breathe steadily, make no sudden moves, never overstretch, stop at pain. A routine
can shorten the spoken opening (`safety: brief`) or replace it with its own lines.
"""

from __future__ import annotations

SPOKEN = (
    "Check with your doctor first that these stretches suit you, above all with a disc problem.",
    "Warm up with a few minutes of walking; pause here if you need to.",
    "Wear loose clothes, find a calm spot, and breathe steadily.",
    "Move slowly, never bounce, and stretch only to a gentle pull.",
    "If anything hurts, stop; if pain lasts, see a doctor.",
)
"""The opening, spoken once at the start of every session: under 30 seconds."""

BRIEF = ("Move slowly, breathe, and stop if anything hurts.",)
"""`safety: brief`, and the opening of a session narrated with verbosity minimal."""

WRITTEN = (
    "Ask your doctor or physical therapist whether these exercises suit you before you start, "
    "and above all if your pain comes from a disc problem (a herniated or bulging disc) or "
    "another condition of the spine.",
    "Warm up first, for example with a few minutes of walking.",
    "Wear comfortable clothing that lets you move freely, and choose a calm, quiet place.",
    "Breathe steadily and never hold your breath.",
    "Move slowly and smoothly, with no sudden movements or bouncing, and stretch only to a "
    "gentle pull, never to pain.",
    "Stop if anything hurts, and see a doctor or physical therapist if the pain lasts.",
)
"""The full advice, for reading: on the page and in the feed."""

FORMS = {"full": SPOKEN, "brief": BRIEF}
"""The built-in openings a routine can name with `safety:`."""


def spoken(own: tuple[str, ...], minimal: bool) -> tuple[str, ...]:
    """What a session says on safety: the routine's own lines, else the built-in opening
    (brief when narration is minimal)."""
    return own or (BRIEF if minimal else SPOKEN)


def written(own: tuple[str, ...]) -> tuple[str, ...]:
    """What the page and feed show: a routine's own advice, else the full text."""
    return own if own and own not in FORMS.values() else WRITTEN
