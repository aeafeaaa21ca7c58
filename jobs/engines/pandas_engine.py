"""The pandas engine: stream the day's batches through the pipeline on this machine.

Reading the next chunk, scoring this one and writing the last one overlap (threads, at most
``READ_AHEAD`` and ``WRITE_BEHIND`` chunks waiting); with ``workers > 1`` chunks are scored
in that many processes. Memory is bounded by the chunk size (times the chunks in flight),
never by the day. The first chunk is read, checked and scored before the sink writes, so a
schema problem or an empty day writes nothing. Chunks reach the sink in source order.

The start overlaps too: the sink begins the day's transaction (PostgreSQL: the day's lock and
the delete of its old rows, uncommitted) and the reader fetches the first chunks while the
model is loaded.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain

import pyarrow as pa
from threadpoolctl import threadpool_limits

from jobs.engines.task import EngineResult, Progress, ScoringTask, StageTimer, id_reader
from pipelines.model import ModelHandle
from jobs.engines.cores import WorkerPlan, plan_workers
from jobs.engines.overlap import Prefetch, WorkerPool
from jobs.engines.row_threads import RowThreads
from jobs.errors import NoInputRows
from jobs.vocabulary import Engine
from jobs.faults import after_first
from jobs.quality.duplicates import REASON as DUPLICATE_ID, Duplicates, find_duplicates, set_aside
from jobs.quality.monitor import RunMonitor
from jobs.sinks.rejects import rejects_aside
from jobs.shadow import ShadowDay, ShadowScorer
from jobs.scoring import ChunkResult, score_chunk
from pipelines.spec import check_columns
from jobs.output import output_schema, reject_batch, reject_schema
from jobs.sinks import open_sink
from jobs.sources import open_source
from pipelines.distribution import ScoreStats

log = logging.getLogger(__name__)

READ_AHEAD = 1  # source chunks waiting for the scorer (one more may be being read)
WRITE_BEHIND = 2  # scored chunks waiting for the sink


def run(task: ScoringTask, model: ModelHandle, progress: Progress | None = None) -> EngineResult:
    started = time.perf_counter()
    source = open_source(task.source, chunk_size=task.chunk_size, wanted=task.wanted_columns)
    sink = open_sink(task.output)
    timer = StageTimer()
    with ExitStack() as stack:
        # Closed in reverse order: the writer's feed first, then the scorers, then the reader,
        # then the output's transaction (rolled back unless replace_day committed it).
        stack.enter_context(sink.begin(task.day))
        reread = id_reader(task)
        duplicates = None
        if task.quality.on_duplicate_ids == "reject":
            # A first pass over the ids alone, before any row reaches the sink: every row of
            # a duplicated id, in whichever chunk, is set aside (jobs.quality.duplicates).
            with timer.stage("duplicate_ids"):
                duplicates = find_duplicates(reread(), task.id_columns, reread)
        reader = stack.enter_context(
            Prefetch(timer.iterate("read", iter(source.iter_batches(task.day))), READ_AHEAD, "read")
        )
        # Loaded here, not before the run: the model's load (scikit-learn's import included)
        # holds one core while the reader fetches the first chunks on the other.
        with timer.stage("model_load"):
            pipeline = model.load()
        batches = iter(reader)
        first = next((b for b in batches if b.num_rows), None)
        if first is None:
            raise NoInputRows.in_source(source.describe())
        day = _Day.start(task, pipeline, first)
        day.shadow = stack.enter_context(ShadowDay(task.shadows, day.schema, task.histogram_edges))
        if task.shadows:
            with timer.stage("shadow_load"):
                day.scorer = day.shadow.load()
        plan, pool, scoring = _scorers(stack, day, pipeline)
        batches = chain([first], batches)
        if duplicates:
            batches = day.set_aside(batches, duplicates)
        chunks = _scored(day, batches, scoring, pool, timer, progress)
        first_output = next(chunks, None)  # scored here: its errors surface before the sink writes
        head = [first_output] if first_output is not None else []
        writer_feed = stack.enter_context(Prefetch(chain(head, chunks), WRITE_BEHIND, "score"))
        write_started = time.perf_counter()
        waited = StageTimer()
        # The monitor's verdict comes after the last batch, before the sink commits.
        feed = after_first(day.monitor.guard(waited.iterate("wait", iter(writer_feed)), day.stats, reread))
        asides = [rejects_aside(task.output, day.rejects_schema, day.rejects)] if day.rejects_schema else []
        if task.shadows:
            asides.append(day.shadow.aside(task.output))
        written = sink.replace_day(task.day, day.schema, feed, asides)
        write_seconds = time.perf_counter() - write_started - waited.seconds.get("wait", 0.0)
    # Busy seconds per stage; they overlap, so their sum may exceed engine_total.
    timings = {k: round(v, 4) for k, v in timer.seconds.items()}
    timings["write"] = round(write_seconds, 4)
    timings["engine_total"] = round(time.perf_counter() - started, 4)
    if task.shadows:
        timings["shadow_score"] = round(day.shadow.seconds, 4)
    return EngineResult(
        rows_read=day.rows, rows_written=written, rows_rejected=day.monitor.rejected, scores=day.stats.summary(),
        timings=timings, checks=day.monitor.figures, warnings=[*day.monitor.warnings(), *day.shadow.warnings()],
        shadow=day.shadow.figures(), details={Engine.PANDAS.value: plan.to_json()},
    )


@dataclass
class _Day:
    """What the day's chunks share once the first chunk is read: the output schema (its ids'
    and passthrough's types), the checks, the score distribution and the rejects so far."""

    task: ScoringTask
    schema: pa.Schema
    monitor: RunMonitor
    stats: ScoreStats
    rejects_schema: pa.Schema | None  # either reject mode
    bad_rows_schema: pa.Schema | None  # on_bad_rows: reject (score_chunk isolates bad rows)
    rejects: list[pa.RecordBatch] = field(default_factory=list)
    rows: int = 0
    shadow: ShadowDay | None = None  # the shadow models' side of the day
    scorer: ShadowScorer = field(default_factory=ShadowScorer)

    @classmethod
    def start(cls, task: ScoringTask, pipeline, first: pa.RecordBatch) -> _Day:
        """Checks the first chunk's columns (nothing is written before this passes)."""
        check_columns(first.schema.names, task.spec, also=[*task.id_columns, *task.passthrough])
        ids = [first.schema.field(n) for n in task.id_columns]
        schema = output_schema(ids, [first.schema.field(n) for n in task.passthrough], task.spec.task)
        q = task.quality
        rejects = reject_schema(ids) if "reject" in (q.on_bad_rows, q.on_duplicate_ids) else None
        return cls(
            task, schema, RunMonitor.for_task(task, pipeline), ScoreStats(task.histogram_edges),
            rejects, rejects if q.on_bad_rows == "reject" else None,
        )

    def payload(self, pipeline) -> tuple:
        """What each worker process needs: it counts each chunk's checks into an empty copy
        of the monitor, merged here in chunk order."""
        t = self.task
        return (pipeline, t.spec, t.positive, self.schema, t.lineage, self.bad_rows_schema, self.monitor.empty_copy(), self.scorer)

    def score_here(self, pipeline, batch: pa.RecordBatch) -> tuple[int, ChunkResult]:
        """One chunk through the one scoring path, in this process."""
        t = self.task
        result = score_chunk(
            pipeline, batch, t.spec, t.positive, self.schema, t.lineage,
            monitor=self.monitor, reject_schema=self.bad_rows_schema,
        )
        return batch.num_rows, self.scorer.score(batch, result, self.schema)

    def set_aside(self, batches, duplicates: Duplicates):
        """``batches`` without the rows of a duplicated id: those go to the rejects, never scored."""
        for batch in batches:
            batch, aside = set_aside(batch, duplicates)
            if aside is not None:
                n = aside.num_rows
                self.rejects.append(reject_batch(aside, [DUPLICATE_ID] * n, self.rejects_schema, self.task.lineage))
                self.monitor.add_rejected(n, scored=False)
                self.rows += n
            if batch.num_rows:
                yield batch

    def add(self, rows: int, result: ChunkResult) -> pa.RecordBatch:
        """Count a scored chunk in; its output rows, for the sink."""
        self.stats.update(result.scores)
        if result.rejects is not None:
            self.rejects.append(result.rejects)
            self.monitor.add_rejected(result.rejects.num_rows)
        self.rows += rows
        self.shadow.add(result)
        return result.output


def _scorers(stack: ExitStack, day: _Day, pipeline) -> tuple[WorkerPlan, WorkerPool | None, object]:
    """The run's worker processes (None: chunks are scored in this process), with the thread
    pools here and in each worker capped so that workers x threads <= cores; and the pipeline
    that scores here (its rows sliced over threads when the plan says so)."""
    task = day.task
    plan = plan_workers(task.workers, pipeline)
    sliced = f", rows sliced over {plan.row_threads} threads" if plan.row_threads > 1 else ""
    log.info("%s %s: %d scoring process(es), %d thread(s) each%s (workers: %s, %d cores)",
             task.job, task.day, plan.workers, plan.threads_per_worker, sliced, plan.setting, plan.cores)
    stack.enter_context(threadpool_limits(limits=plan.threads_per_worker))  # the chunks scored here
    if plan.row_threads > 1:
        return plan, None, stack.enter_context(RowThreads(pipeline, plan.row_threads))
    if plan.workers == 1:
        return plan, None, pipeline
    return plan, stack.enter_context(WorkerPool(plan.workers, day.payload(pipeline), plan.threads_per_worker)), pipeline


def _scored(day: _Day, batches, pipeline, pool: WorkerPool | None, timer: StageTimer, progress: Progress | None):
    """The day's output batches, in source order. The first chunk is scored in this process
    before anything is yielded, so its errors surface before the sink writes."""
    first = next(batches, None)
    if first is None:  # every row was set aside
        return
    with timer.stage("score"):
        results = [day.score_here(pipeline, first)]
    yield from _counted(day, results, progress)
    if pool is None:
        def here(batch):
            with timer.stage("score"):
                return day.score_here(pipeline, batch)
        yield from _counted(day, map(here, batches), progress)
        return
    # Each chunk's counts are merged in chunk order, so the figures are those of one process;
    # a max_rows exceeded by the total stops the run here, as observe would.
    for rows, result, seen in timer.iterate("score", pool.map(batches)):
        day.monitor.merge(seen, stop_early=True)
        yield from _counted(day, [(rows, result)], progress)


def _counted(day: _Day, results, progress: Progress | None):
    for rows, result in results:
        output = day.add(rows, result)
        if progress is not None:
            progress(day.rows)
        yield output
