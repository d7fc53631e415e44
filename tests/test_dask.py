"""A catalog built on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1.

It gives the same plan records, durations and feeds as a build on this machine, and when one
worker is killed in the middle of the build, Dask runs its tasks on the other and every
session still ends whole. Speech is the real engine: the sessions are short.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from voiceguide import batch  # noqa: E402
from voiceguide.build import current_record  # noqa: E402
from voiceguide.catalog.build import build_catalog  # noqa: E402
from voiceguide.catalog.load import load_catalog  # noqa: E402
from voiceguide.catalog.tokens import TOKENS_NAME  # noqa: E402
from voiceguide.cluster import DaskExecutor  # noqa: E402
from voiceguide.speech.cache import ClipCache  # noqa: E402

from .conftest import TINY  # noqa: E402

pytestmark = pytest.mark.integration
DASK = Path(sys.executable).parent / "dask"
CATALOG = """\
audiences:
  - name: anna
    title: Anna's sessions
    sessions: [alpha, {routine: beta, verbosity: brief}]
  - name: ben
    sessions: [alpha, {routine: beta, hold_scale: 2}]
"""
LONGER = """\
title: Longer Stretch
exercises:
  - name: Reach up
    steps: Reach up.
    hold: 40
  - name: Fold
    steps: Fold forward.
    hold: 40
    sides: both
"""
TOKENS = {"tokens": {"anna": "AAAAAAAAAAAAAAAAAAAAAA", "ben": "BBBBBBBBBBBBBBBBBBBBBB"}}


class Cluster:
    """`dask scheduler` and two `dask worker` processes (no nanny: a killed worker stays dead)."""

    def __init__(self, tmp: Path):
        self.processes: list[subprocess.Popen] = []
        scheduler_file = tmp / "scheduler.json"
        self.processes.append(self._start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                           "--scheduler-file", str(scheduler_file)], tmp / "scheduler.log"))
        deadline = time.monotonic() + 120
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline and self.processes[0].poll() is None, (tmp / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        self.url = address.replace("tcp://", "dask://")
        self.workers = {}
        for name in ("w0", "w1"):
            self.workers[name] = self._start([str(DASK), "worker", address, "--no-nanny", "--nthreads", "1", "--name", name,
                                              "--host", "127.0.0.1", "--no-dashboard"], tmp / f"{name}.log")
            self.processes.append(self.workers[name])
        from distributed import Client

        self.client = Client(address, timeout=60)
        self.client.wait_for_workers(2, timeout=120)

    @staticmethod
    def _start(command: list[str], log: Path) -> subprocess.Popen:
        return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=log.parent)

    def address_of(self, name: str) -> str:
        return next(address for address, worker in self.client.scheduler_info()["workers"].items() if worker["name"] == name)

    def close(self) -> None:
        self.client.close()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path)
    yield running
    running.close()


def project(tmp: Path, catalog: str, routines: dict[str, str]) -> Path:
    (tmp / "routines").mkdir(exist_ok=True)
    for name, text in routines.items():
        (tmp / "routines" / f"{name}.yaml").write_text(text)
    (tmp / "catalog.yaml").write_text(catalog)
    return tmp / "catalog.yaml"


def build_in(out: Path, catalog, cache: Path, executor=None):
    out.mkdir()
    (out / TOKENS_NAME).write_text(json.dumps(TOKENS))  # the same addresses, so the feeds can be compared
    return build_catalog(catalog, out, ClipCache(cache), jobs=1, executor=executor)


def sessions(out: Path) -> dict[str, dict]:
    """Every session's record, by audience directory and name, without what differs by build
    (when and where its files were written)."""
    found = {}
    for record in sorted(out.glob("*/*.json")):
        if record.name.endswith(".chapters.json") or not record.with_suffix(".mp3").exists():
            continue
        data = json.loads(record.read_text())
        found[f"{record.parent.name}/{record.stem}"] = {key: data[key] for key in ("duration_ms", "events", "chapters", "build_key", "title", "notes")}
    return found


def feed(path: Path) -> str:
    return re.sub(r"<(pubDate|lastBuildDate)>[^<]*</\1>", "", path.read_text())


def test_a_catalog_built_on_the_cluster_is_the_one_built_here(cluster, tmp_path, monkeypatch):
    catalog = load_catalog(project(tmp_path, CATALOG, TINY), tmp_path / "routines")
    here = build_in(tmp_path / "here", catalog, tmp_path / "cache-here")
    assert not here.failures and here.linked == 1

    def not_here(self, tasks):
        raise AssertionError("a task ran on this machine")

    monkeypatch.setattr(batch.LocalExecutor, "each", not_here)  # every task goes to the cluster
    with DaskExecutor(cluster.url) as executor:
        there = build_in(tmp_path / "there", catalog, tmp_path / "cache-there", executor)
    assert not there.failures and there.linked == 1 and there.synthesized == here.synthesized > 0
    assert sessions(tmp_path / "there") == sessions(tmp_path / "here") != {}
    for name in TOKENS["tokens"].values():
        for listed in ("feed.xml", "playlist.m3u"):
            mine, theirs = tmp_path / "here" / name / listed, tmp_path / "there" / name / listed
            assert (feed(theirs) if listed == "feed.xml" else theirs.read_text()) == (feed(mine) if listed == "feed.xml" else mine.read_text())
    ran = {name: len(cluster.client.run(lambda: 0, workers=[cluster.address_of(name)])) for name in cluster.workers}
    assert ran == {"w0": 1, "w1": 1}  # both still up

    # build --all through the cluster: the same sessions as here (batch.build_batch)
    from voiceguide.routine.load import load_all

    routines = load_all(sorted((tmp_path / "routines").glob("*.yaml")))
    with DaskExecutor(cluster.url) as executor:
        batch_there = batch.build_batch(routines, tmp_path / "all-there", cache=ClipCache(tmp_path / "cache-there"),
                                        publish=True, executor=executor)
    monkeypatch.undo()
    batch_here = batch.build_batch(routines, tmp_path / "all-here", cache=ClipCache(tmp_path / "cache-here"), publish=True)
    assert not batch_there.failures and batch_there.count("built") == batch_here.count("built") == 2
    for name in ("alpha", "beta"):
        mine, theirs = (json.loads((tmp_path / where / f"{name}.json").read_text()) for where in ("all-here", "all-there"))
        assert {k: theirs[k] for k in ("duration_ms", "events", "build_key")} == {k: mine[k] for k in ("duration_ms", "events", "build_key")}
    assert feed(tmp_path / "all-there" / "feed.xml") == feed(tmp_path / "all-here" / "feed.xml")


def test_a_worker_killed_mid_build_still_leaves_every_session_whole(cluster, tmp_path):
    from voiceguide.measure import decode
    from voiceguide.recipe import SAMPLE_RATE

    entries = ", ".join(f"{{routine: longer, hold_scale: {scale}}}" for scale in (0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5))
    text = f"audiences:\n  - name: anna\n    sessions: [{entries}]\n  - name: ben\n    sessions: [{entries}]\n"
    catalog = load_catalog(project(tmp_path, text, {"longer": LONGER}), tmp_path / "routines")
    victim = cluster.address_of("w1")
    outcome = {}

    def run() -> None:
        with DaskExecutor(cluster.url) as executor:
            outcome["result"] = build_in(tmp_path / "out", catalog, tmp_path / "cache", executor)

    builder = threading.Thread(target=run)
    builder.start()
    deadline = time.monotonic() + 300
    while not any("render_session" in str(key) for key in cluster.client.processing().get(victim, ())):
        assert time.monotonic() < deadline and builder.is_alive(), "w1 never rendered a session"
        time.sleep(0.02)
    time.sleep(0.3)  # into the render
    os.kill(cluster.workers["w1"].pid, signal.SIGKILL)
    builder.join(300)
    result = outcome["result"]
    # (a render killed after its set was swapped in finds it current when it is run again)
    assert not result.failures and result.count("built") + result.count("up to date") == 8 and result.linked == 8
    assert cluster.workers["w1"].wait(10) == -signal.SIGKILL
    out = tmp_path / "out"
    for name in TOKENS["tokens"].values():
        mp3s = sorted((out / name).glob("*.mp3"))
        assert len(mp3s) == 8
        for mp3 in mp3s:
            record = json.loads(mp3.with_suffix(".json").read_text())
            files = {kind: out / name / file for kind, file in record["files"].items()}
            assert current_record(files, record["build_key"]) is not None  # the set is whole and of one build
            assert abs(decode(mp3, SAMPLE_RATE).size * 1000 / SAMPLE_RATE - record["duration_ms"]) <= 100
    with DaskExecutor(cluster.url) as executor:  # and the next build finds nothing to do
        again = build_catalog(catalog, out, ClipCache(tmp_path / "cache"), executor=executor)
    assert again.count("up to date") == 8 and again.count("built") == 0
    assert list(out.glob("*/.*.tmp")) == []  # what the killed worker was writing is swept
