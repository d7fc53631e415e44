#!/usr/bin/env python3
"""Write a catalog of many sessions: the seed routines x build options, spread over audiences.

    .venv/bin/python scripts/generate_catalog.py --sessions 1000 --audiences 20 > big.yaml

Every session is a different variant (routine, hold_scale, verbosity, rate, chimes,
countdown), in a fixed shuffled order, so a catalog of 100 holds the first 100 of the one
of 1,000 and is as varied. Each audience gets its share, and every audience also gets the
first two variants: sessions shared by all of them, rendered once and linked (the catalog's
`--sessions` counts the variants; the copies in the audiences are `--sessions` plus
2 x (`--audiences` - 1)). Used for the catalog figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

ROUTINES = Path(__file__).resolve().parent.parent / "routines"
OVERRIDES = {
    "hold_scale": [0.5, 0.75, 1.0, 1.25, 1.5],
    "verbosity": ["full", "brief", "minimal"],
    "rate": [140, 160, 180],
    "chimes": ["soft", "bright", "none"],
    "countdown": [3, 5],
}
SHARED = 2


def variants(routines: list[str]) -> list[dict]:
    keys = list(OVERRIDES)
    every = [{"routine": routine, **dict(zip(keys, values))}
             for routine in routines for values in itertools.product(*OVERRIDES.values())]
    random.Random(0).shuffle(every)
    return every


def catalog(sessions: int, audiences: int, routines: list[str]) -> str:
    chosen = variants(routines)
    if sessions > len(chosen):
        sys.exit(f"at most {len(chosen)} different sessions from {len(routines)} routines")
    chosen = chosen[:sessions]
    lines = [f"# {sessions} sessions over {audiences} audiences: scripts/generate_catalog.py", "title: Generated catalog", "audiences:"]
    for index in range(audiences):
        lines += [f"  - name: audience-{index + 1:03d}", f"    title: Audience {index + 1}", "    author: voiceguide benchmark", "    sessions:"]
        mine = chosen[:SHARED] + [v for i, v in enumerate(chosen) if i >= SHARED and i % audiences == index]
        for variant in mine:
            lines.append("      - {" + ", ".join(f"{key}: {value}" for key, value in variant.items()) + "}")
    return "\n".join(lines) + "\n"


def stats(path: Path) -> str:
    """What a catalog asks for: copies, sessions, lines said in them, unique lines (no speech)."""
    from voiceguide.batch import lines_needed
    from voiceguide.catalog.load import load_catalog
    from voiceguide.plan import phrases

    loaded = load_catalog(path, ROUTINES)
    entries = {}
    for audience in loaded.audiences:
        for entry in audience.entries:
            entries.setdefault((entry.routine.id, entry.options), entry)
    unique = list(entries.values())
    lines = sum(len(phrases(e.routine, e.options.narration(e.routine))) for e in unique)
    needed = lines_needed([e.routine for e in unique], [e.options for e in unique])
    return (f"{loaded.entries} copies, {len(unique)} sessions, {lines} lines said in them, "
            f"{sum(len(group) for group in needed.values())} unique lines ({len(needed)} voices)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--audiences", type=int, default=20)
    parser.add_argument("--stats", type=Path, metavar="CATALOG", help="say what CATALOG asks for instead")
    args = parser.parse_args()
    if args.stats:
        print(stats(args.stats))
        return
    routines = sorted(path.stem for path in ROUTINES.glob("*.yaml"))
    sys.stdout.write(catalog(args.sessions, args.audiences, routines))


if __name__ == "__main__":
    main()
