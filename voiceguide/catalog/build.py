"""Building a catalog: every audience's sessions, page, feed and playlist in its own directory.

Sessions that are current are left alone. Of the others, every line is spoken once for the
whole catalog (batch.speak_ahead), each session is rendered once (build.build, as a task of
this machine's pool or of a cluster) and linked into the other audiences that list it. Then
sessions an audience no longer lists are taken out of its directory, and each audience is
published with its own title and author.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..batch import Executor, Failure, LocalExecutor, Progress, Status, lines_needed, speak_ahead
from ..build import BuildResult, Options, speak_and_plan, up_to_date, write
from ..errors import VoiceguideError
from ..plan import phrases
from ..routine.model import Routine
from .model import Audience, Catalog
from .sessions import Copy, Render, link_copy, prune, renders
from .tokens import tokens_for

if TYPE_CHECKING:
    from ..publish import Published
    from ..speech.cache import ClipCache


@dataclass
class AudienceResult:
    audience: Audience
    directory: Path
    base_url: str
    """Where its feed says its files are: the catalog's base URL and its token."""
    published: Published | None = None
    removed: list[str] = field(default_factory=list)
    """Sessions taken out of its directory: the catalog no longer lists them for it."""


@dataclass
class CatalogResult:
    audiences: list[AudienceResult]
    results: list[BuildResult]
    """Every session once: built or up to date."""
    failures: list[Failure]
    linked: int
    """Copies put in another audience's directory (hard links, or copies)."""
    copies: int
    """Sessions in the catalog, every audience's counted."""
    seconds: float
    lines: int
    """Lines said in all the sessions built, every session's counted."""
    unique_lines: int
    """The same, each line once per voice: what was spoken (from the cache or synthesized)."""
    synthesized: int
    publish_errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)

    def summary(self) -> str:
        return (f"{len(self.audiences)} audiences, {self.copies} sessions: {self.count('built')} built, "
                f"{self.count('up to date')} up to date, {self.linked} linked, {len(self.failures)} failed "
                f"in {self.seconds:.1f} s")


def build_catalog(
    catalog: Catalog, out_dir: Path, cache: ClipCache | None = None, jobs: int = 1, force: bool = False,
    executor: Executor | None = None, base_url: str | None = None, rotate: tuple[str, ...] = (),
    progress: Progress | None = None,
) -> CatalogResult:
    """Build every audience of `catalog` into out_dir/<token>/ and publish it.

    `rotate` names audiences that get a new token (their directory moves; the old address
    no longer works). With an `executor`, its workers must reach `out_dir` and the cache at
    the same paths.
    """
    from ..atomic import sweep_temporaries
    from ..publish.base_url import base_url_for, remember
    from ..speech.cache import ClipCache, cache_dir

    report = progress or (lambda what, status, session: None)
    out_dir = out_dir.absolute()  # the paths tasks get: the same on every worker
    cache = cache or ClipCache(cache_dir())
    tokens, rotated = tokens_for(out_dir, [audience.name for audience in catalog.audiences], rotate)
    for name, old in rotated.items():
        if (out_dir / old).is_dir() and not (out_dir / tokens[name]).exists():
            os.rename(out_dir / old, out_dir / tokens[name])  # its sessions stay current
    for audience in catalog.audiences:
        sweep_temporaries(out_dir / tokens[audience.name])
    every = renders(catalog, out_dir, tokens, force)
    status = Status(len(every))
    results: list[BuildResult] = []
    failures: list[Failure] = []
    linked = 0

    def finish(render: Render, outcome: BuildResult | Failure) -> None:
        nonlocal linked
        status.done += 1
        if isinstance(outcome, Failure):
            failures.append(outcome)
            report("failed", status, outcome)
            return
        results.append(outcome)
        report(outcome.status, status, outcome)
        source = render.source if outcome.status == "up to date" else render.copies[0]
        for copy in render.copies:
            if copy is not source and copy not in render.current:
                try:
                    link_copy(source, copy)
                    linked += 1
                except VoiceguideError as error:
                    failures.append(Failure(copy.entry.routine, f"{copy.audience.name}: {error}"))

    pending = []
    for render in every:
        source = render.source
        current = up_to_date(source.entry.routine, source.directory, source.entry.options) if render.current else None
        if current:
            finish(render, current)
        else:
            pending.append(render)

    firsts = [render.copies[0] for render in pending]
    needed = lines_needed([copy.entry.routine for copy in firsts], [copy.entry.options for copy in firsts])
    lines = sum(len(phrases(copy.entry.routine, copy.entry.options.narration(copy.entry.routine))) for copy in firsts)
    if pending:
        status.phrases = sum(len(group) for group in needed.values())
        report("speaking", status, None)

        def told(said: int, synthesized: int) -> None:
            status.synthesized += synthesized
            report("phrase", status, None)

        speak_ahead(needed, cache, jobs, executor, told)
        report("spoken", status, None)
        report("writing", status, None)
        # Longest first (by what the routine asks for), so the build does not end waiting on one.
        pending.sort(key=lambda render: -_weight(render.copies[0]))
        # A session beside others on the same cores encodes its halves one after the other.
        cores = None if executor is None and min(jobs, len(pending)) <= 1 else 1
        tasks = [partial(render_session, copy.entry.routine, copy.directory, copy.entry.options, cache, force, cores)
                 for copy in (render.copies[0] for render in pending)]
        for index, outcome in (executor or LocalExecutor(jobs)).each(tasks):
            if isinstance(outcome, BaseException):  # a process that died, every retry spent
                outcome = Failure(pending[index].copies[0].entry.routine, f"the build process failed: {type(outcome).__name__}: {outcome}")
            finish(pending[index], outcome)

    given, origin = base_url_for(out_dir, base_url)
    if origin == "given":
        remember(out_dir, given)
    audiences, errors = [], []
    for audience in catalog.audiences:
        directory = out_dir / tokens[audience.name]
        done = AudienceResult(audience, directory, f"{given}{tokens[audience.name]}/")
        keep = {copy.name for render in every for copy in render.copies if copy.audience is audience}
        if directory.is_dir():
            done.removed = prune(directory, keep)
        try:
            from ..publish import publish

            done.published = publish(directory, done.base_url, title=audience.title, author=audience.author)
        except VoiceguideError as error:
            errors.append(f"{audience.name}: {error}")
        audiences.append(done)
    results.sort(key=lambda result: str(result.mp3))
    return CatalogResult(audiences, results, failures, linked, sum(len(r.copies) for r in every), status.seconds,
                         lines, status.phrases, status.synthesized, errors)


def render_session(routine: Routine, out_dir: Path, options: Options, cache: ClipCache, force: bool,
                   cores: int | None = None) -> BuildResult | Failure:
    """One session built (its lines already in the cache); a task of a pool or a cluster.

    It is build.build without the sweep of temporaries: on a cluster another machine's
    process ids mean nothing here, so build_catalog sweeps each directory before any task
    starts. A failure comes back as a value: errors with their own __init__ do not travel well.
    """
    started = time.perf_counter()
    try:
        if not force and (current := up_to_date(routine, out_dir, options)):
            return current
        return write(speak_and_plan(routine, options, cache), out_dir, cache, started, cores)
    except VoiceguideError as error:
        return Failure(routine, str(error))


def _weight(copy: Copy) -> float:
    scale = copy.entry.options.narration(copy.entry.routine).hold_scale
    return sum(exercise.hold_ms * exercise.reps for exercise in copy.entry.routine.exercises) * scale

