"""The scoring thread gets the requests of one event-loop iteration as one unit: one
``score_chunk`` call for all of them, each request with its own scores."""

from __future__ import annotations

import asyncio
import time

import orjson

from jobs import config as config_mod
from jobs.serve import batcher as batcher_mod
from jobs.serve.batcher import Batcher
from jobs.serve.online import Served
from pipelines.registry import Registry
from pipelines.settings import Settings
from tests.jobs.helpers import Project
from tests.jobs.serve.helpers import committed, source_records


def served_of(root, job_name: str) -> Served:
    settings = Settings.resolve({"config_dir": str(root / "configs")}, env={})
    job = config_mod.load_named(settings.config_dir, job_name)
    registry = Registry(settings.models_root)
    return Served.of(job, registry.load(registry.resolve(job.pipeline.name, job.pipeline.version)))


def count_calls(monkeypatch) -> list[int]:
    """The requests each scoring call of the batcher took, in order (the real scoring runs)."""
    calls: list[int] = []
    real = batcher_mod.score_batches

    def counted(served_, batches):
        calls.append(len(batches))
        return real(served_, batches)

    monkeypatch.setattr(batcher_mod, "score_batches", counted)
    return calls


def test_requests_of_one_loop_iteration_are_scored_in_one_call_each_with_its_own_scores(served_template, monkeypatch):
    project = Project(served_template)
    served = served_of(served_template, "tier")
    records = source_records(project)[:8]
    expected = committed(project, "tier")
    calls = count_calls(monkeypatch)
    batcher = Batcher()
    batcher.start()
    try:
        async def together():
            return await asyncio.gather(*(batcher.score(served, [r]) for r in records))

        bodies = asyncio.run(together())
        lone = asyncio.run(batcher.score(served, [records[3]]))
    finally:
        batcher.stop()
    assert calls == [8, 1]
    for record, body in zip(records, bodies, strict=True):
        scores = orjson.loads(body)["scores"]
        assert [(s["score"], s["label"]) for s in scores] == [expected[record["customer_id"]]]
    assert orjson.loads(lone) == orjson.loads(bodies[3])


def test_an_idle_server_or_a_lone_client_is_scored_at_once_concurrent_load_lingers_for_the_last_calls_clients(served_template, monkeypatch):
    project = Project(served_template)
    served = served_of(served_template, "tier")
    rows = source_records(project)
    records = rows[:3]
    expected = committed(project, "tier")
    calls = count_calls(monkeypatch)
    batcher = Batcher(linger_s=3.0, busy_s=60.0)  # long enough to tell a linger from none
    batcher.start()
    try:
        waits = []
        for record in records[:2]:  # idle, then a lone client's next request: no linger
            started = time.monotonic()
            batcher.submit(served, [record]).result(timeout=60)
            waits.append(time.monotonic() - started)

        async def together():
            return await asyncio.gather(*(batcher.score(served, [r]) for r in records[:2]))

        asyncio.run(together())  # one call of two requests: concurrent load
        started = time.monotonic()
        second = batcher.submit(served, [records[1]])  # the thread lingers for more...
        time.sleep(0.3)
        third = batcher.submit(served, [records[2]])  # ...until as many as the last call had
        bodies = [second.result(timeout=60), third.result(timeout=60)]
        waits.append(time.monotonic() - started)

        async def large():  # two requests, 300 rows: the next call does not wait for more
            return await asyncio.gather(batcher.score(served, rows[:150]), batcher.score(served, rows[150:300]))

        asyncio.run(large())
        started = time.monotonic()
        batcher.submit(served, [records[0]]).result(timeout=60)
        waits.append(time.monotonic() - started)
    finally:
        batcher.stop()
    assert max(waits) < 2.5  # none waited out a linger of 3 s (the linger ended with the second request)
    assert calls == [1, 1, 2, 2, 2, 1]
    for record, body in zip(records[1:], bodies, strict=True):
        scores = orjson.loads(body)["scores"]
        assert [(s["score"], s["label"]) for s in scores] == [expected[record["customer_id"]]]
