"""The batch: many routines built at once; each phrase spoken once, sessions encoded in parallel.

Sessions that are up to date are skipped before anything is started. The others are built
in two passes: first the unique phrases of all of them are spoken together (one `speak` call
per voice, `jobs` engine workers), and every session is planned with its clips; then each
session is rendered and encoded in a process of its own (encoding is the expensive part),
its clips already in the cache. A session that fails in either pass fails alone: the others
are built, and the failure is reported at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, TypeVar

from .build import BuildResult, Options, Planned, planned_with, rebuild_reason, up_to_date, write
from .errors import SpeechError, VoiceguideError
from .routine.model import Routine, Voice
from .processes import die_with_parent
from .plan import Timeline, phrases

if TYPE_CHECKING:
    from .publish import Published
    from .speech.cache import ClipCache

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """A session that could not be built, and why."""

    routine: Routine
    message: str


@dataclass
class Status:
    """How far a batch has got; handed to the progress callback at every step."""

    sessions: int
    """Sessions in the batch."""
    done: int = 0
    """Sessions finished: built, up to date or failed."""
    phrases: int = 0
    """Unique phrases of the sessions to build, from the cache or synthesized."""
    synthesized: int = 0
    """Phrases synthesized so far."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


Progress = Callable[[str, Status, "BuildResult | Failure | None"], None]
"""Told what happened, the batch's status, and the session concerned.

What happened: 'up to date', 'built' or 'failed' (a session is done, and comes with it);
'speaking' (status.phrases is known), 'phrase' (one more synthesized), 'spoken' and
'writing' (the planned sessions are rendered and encoded now).
"""


@dataclass
class BatchResult:
    results: list[BuildResult]
    """Sessions built or up to date, by routine id."""
    failures: list[Failure]
    """Sessions that could not be built, by routine id."""
    seconds: float
    synthesized: int
    """Phrases synthesized (the others came from the cache)."""
    published: Published | None = None
    """The playlist, index page and feed, if this batch published them."""
    publish_error: str = ""
    """Why they could not be written, if they could not."""

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)

    def summary(self) -> str:
        return (
            f"{self.count('built')} built, {self.count('up to date')} up to date, "
            f"{len(self.failures)} failed in {self.seconds:.1f} s"
        )


def build_batch(
    routines: list[Routine],
    out_dir: Path,
    options: Options = Options(),
    cache: ClipCache | None = None,
    jobs: int = 1,
    force: bool = False,
    publish: bool = False,
    base_url: str | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> BatchResult:
    """Build the session of every routine that is not up to date, `jobs` at a time.

    A VoiceguideError fails only its own session. With `publish`, the playlist, index page
    and feed of out_dir are brought up to date with every session in it (see publish.py);
    the feed names the files under `base_url` (by default the one given last for out_dir,
    else publish.DEFAULT_BASE_URL).
    """
    status = Status(len(routines))
    report = progress or _quiet
    results: list[BuildResult] = []
    failures: list[Failure] = []

    def finish(outcome: BuildResult | Failure) -> None:
        status.done += 1
        if isinstance(outcome, Failure):
            failures.append(outcome)
            report("failed", status, outcome)
        else:
            if outcome.status == "built":
                outcome.rebuilt = reasons.get(outcome.routine.id, "")
            results.append(outcome)
            report(outcome.status, status, outcome)

    from .atomic import sweep_temporaries

    sweep_temporaries(out_dir)  # even when every session is up to date
    # Up to date: hashes and file stamps only, no speech engine, no ffmpeg.
    pending, reasons = [], {}
    for routine in routines:
        current = None if force else up_to_date(routine, out_dir, options)
        if current:
            finish(current)
        else:
            pending.append(routine)
            if not force:  # say why a session built before is built again
                try:
                    reasons[routine.id] = rebuild_reason(routine, out_dir, options)
                except VoiceguideError:
                    pass

    if pending:
        from .speech.cache import ClipCache, cache_dir

        cache = cache or ClipCache(cache_dir())
        if executor:  # the lines are said by the cluster's workers, into the shared cache
            speak_ahead(lines_needed(pending, [options] * len(pending)), cache, jobs, executor)
        # Speak every phrase once for the whole batch; plan each session with the real clips,
        # so a session too long to build fails here, before anything is encoded.
        planned = []
        for session in _speak_and_plan(pending, options, cache, jobs, status, report):
            if isinstance(session, Failure):
                finish(session)
            else:
                planned.append(session)
        # Longest first, so the batch does not end waiting on one long session.
        planned.sort(key=lambda session: -session.timeline.duration_ms)
        if planned:
            report("writing", status, None)
        for outcome in _write_each(planned, out_dir, cache, jobs, executor):
            finish(outcome)

    results.sort(key=lambda result: result.routine.id)
    failures.sort(key=lambda failure: failure.routine.id)
    published, problem = None, ""
    if publish:
        try:
            from .publish import publish as publish_sessions

            published = publish_sessions(out_dir, base_url)
        except VoiceguideError as error:  # reported with the failed sessions, not instead of them
            problem = str(error)
    return BatchResult(results, failures, status.seconds, status.synthesized, published, problem)


def plan_all(
    routines: list[Routine], options: Options = Options(), cache: ClipCache | None = None, jobs: int = 1
) -> list[Timeline | Failure]:
    """The plan of every routine's session, each phrase spoken once for all of them."""
    from .speech.cache import ClipCache, cache_dir

    status = Status(len(routines))
    sessions = _speak_and_plan(routines, options, cache or ClipCache(cache_dir()), jobs, status, _quiet)
    return [session if isinstance(session, Failure) else session.timeline for session in sessions]


def _speak_and_plan(
    routines: list[Routine], options: Options, cache: ClipCache, jobs: int, status: Status, report: Progress
) -> list[Planned | Failure]:
    """The first half of the build of every session (build.speak_and_plan), with each line
    spoken once for all of them."""
    from .estimate import too_long
    from .speech.speak import speak

    narrations = [options.narration(routine) for routine in routines]
    # A session estimated over the limit (with --hold-scale 4, say) fails before anything is said.
    over = [too_long(routine, narration, options.voice_for(routine).rate) for routine, narration in zip(routines, narrations)]
    # A voice that does not speak the routine's language fails that session only.
    over = [problem or _language_problem(options.voice_for(routine), narration.language)
            for problem, routine, narration in zip(over, routines, narrations)]
    needed = [[] if problem else phrases(routine, narration) for routine, narration, problem in zip(routines, narrations, over)]
    by_voice: dict[tuple[Voice, tuple], list[int]] = {}  # the routines said alike
    for i, routine in enumerate(routines):
        by_voice.setdefault((options.voice_for(routine), routine.pronounce), []).append(i)
    status.phrases = sum(len({text for i in members for text in needed[i]}) for members in by_voice.values())
    report("speaking", status, None)

    def synthesized(text: str) -> None:
        status.synthesized += 1
        report("phrase", status, None)

    clips: list[dict | None] = [None] * len(routines)
    problems = [str(problem) if problem else "" for problem in over]
    for (voice, pronounce), members in by_voice.items():
        try:
            spoken, _ = speak([text for i in members for text in needed[i]], voice, cache, jobs, synthesized, pronounce)
            for i in members:
                clips[i] = spoken
        except SpeechError:
            # A line the engine cannot say must fail only the sessions that need it: speak
            # them one at a time (what was said before the failure is in the cache now).
            for i in members:
                try:
                    clips[i], _ = speak(needed[i], voice, cache, jobs, synthesized, pronounce)
                except SpeechError as error:
                    problems[i] = str(error)
    report("spoken", status, None)

    sessions: list[Planned | Failure] = []
    for routine, found, problem in zip(routines, clips, problems):
        if found is None or problem:
            sessions.append(Failure(routine, problem))
            continue
        try:
            sessions.append(planned_with(routine, options, found))
        except VoiceguideError as error:  # e.g. longer than the maximum session
            sessions.append(Failure(routine, str(error)))
    return sessions


def _language_problem(voice: Voice, language: str) -> str | None:
    from .errors import LanguageError
    from .speech.languages import check_language

    try:
        check_language(voice, language)
    except LanguageError as error:
        return str(error)
    return None


def _write_each(sessions: list[Planned], out_dir: Path, cache: ClipCache, jobs: int,
                executor: Executor | None = None) -> Iterator[BuildResult | Failure]:
    """The second half of every build (build.write), in up to `jobs` processes (or as tasks
    of `executor`), as they finish. A session written in a process of its own encodes its
    halves one after the other (write's `cores`): the other processes have the other cores."""
    if executor is None and min(jobs, len(sessions)) <= 1:
        for session in sessions:
            yield _write_one(session, out_dir, cache)
        return
    # The clips stay behind: each process reads its session's from the cache.
    tasks = [partial(_write_in_worker, replace(session, clips=None), out_dir, cache, 1) for session in sessions]
    for index, outcome in (executor or LocalExecutor(jobs)).each(tasks):
        if isinstance(outcome, BaseException):  # a worker process that died (out of memory, a crash)
            outcome = Failure(sessions[index].routine, f"the build process failed: {type(outcome).__name__}: {outcome}")
        yield outcome


class Executor(Protocol):
    """Where the tasks of a batch run: this machine's processes, or a cluster (cluster.py)."""

    def each(self, tasks: list[Callable[[], T]]) -> Iterator[tuple[int, T | BaseException]]:
        """(index, what tasks[index]() returned, or the exception that ended it) for every
        task, as they finish."""
        ...


class LocalExecutor:
    """Tasks in up to `jobs` processes of this machine."""

    def __init__(self, jobs: int):
        self.jobs = jobs

    def each(self, tasks: list[Callable[[], T]]) -> Iterator[tuple[int, T | BaseException]]:
        if min(self.jobs, len(tasks)) <= 1:
            for index, task in enumerate(tasks):
                yield index, task()
            return
        # Processes, because mixing is Python and numpy; 'spawn', because a fork of a process
        # running threads (speech, progress) can deadlock, and costs only a fresh import here.
        pool = ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))
        try:
            futures = {pool.submit(task): index for index, task in enumerate(tasks)}
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as error:
                    yield futures[future], error
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after Ctrl-C, start no more sessions


SPEECH_TASK_LINES = 200
"""Lines in one speech task of speak_ahead: enough to keep a task's engine busy, few enough
that the clips one task holds stay small."""


def speak_ahead(needed: dict[tuple[Voice, tuple], list[str]], cache: ClipCache, jobs: int,
                executor: Executor | None = None, told: Callable[[int, int], None] | None = None) -> int:
    """Put every line of `needed` ((voice, pronounce) -> lines) in the cache, in speech tasks
    of SPEECH_TASK_LINES lines (on `executor`, or here with `jobs` engine workers); the
    clips themselves are not kept; `told` hears (lines, synthesized) of every task done.
    Returns how many lines were synthesized."""
    tasks = [partial(_speak_task, lines[i: i + SPEECH_TASK_LINES], voice, pronounce, cache, 1 if executor else jobs)
             for (voice, pronounce), lines in needed.items()
             for i in range(0, len(lines), SPEECH_TASK_LINES)]
    synthesized = 0
    for index, outcome in (executor or LocalExecutor(1)).each(tasks):
        if isinstance(outcome, BaseException):
            raise outcome
        synthesized += outcome
        if told:
            told(len(tasks[index].args[0]), outcome)
    return synthesized


def lines_needed(routines: list[Routine], options: list[Options]) -> dict[tuple[Voice, tuple], list[str]]:
    """Every line the sessions of `routines` (each built with its options) say, once per
    (voice, pronounce), as `speak_and_plan` would ask for them."""
    needed: dict[tuple[Voice, tuple], dict[str, None]] = {}
    for routine, chosen in zip(routines, options):
        lines = needed.setdefault((chosen.voice_for(routine), routine.pronounce), {})
        lines.update(dict.fromkeys(phrases(routine, chosen.narration(routine))))
    return {group: list(lines) for group, lines in needed.items()}


def _speak_task(lines: list[str], voice: Voice, pronounce: tuple, cache: ClipCache, jobs: int) -> int:
    """Speak `lines` into the cache; how many were synthesized. A line that cannot be said is
    left out here: the session that needs it fails alone, when it is built."""
    from .speech.speak import speak

    try:
        return speak(lines, voice, cache, jobs, pronounce=pronounce)[1].synthesized
    except SpeechError:
        return 0


def _write_one(session: Planned, out_dir: Path, cache: ClipCache, cores: int | None = None) -> BuildResult | Failure:
    """Write one planned session; a failure comes back as a value, because errors with their
    own __init__ (RoutineError) do not survive the trip between processes."""
    try:
        return write(session, out_dir, cache, cores=cores)
    except VoiceguideError as error:
        return Failure(session.routine, str(error))


_interrupted = False
"""In a worker process: Ctrl-C was pressed; the sessions already queued to it are skipped."""


def _write_in_worker(session: Planned, out_dir: Path, cache: ClipCache, cores: int | None = None) -> BuildResult | Failure:
    global _interrupted
    if _interrupted:
        return Failure(session.routine, "interrupted")
    try:
        return _write_one(session, out_dir, cache, cores)
    except KeyboardInterrupt:
        _interrupted = True
        raise


def _quiet(what: str, status: Status, session: BuildResult | Failure | None) -> None:
    pass
