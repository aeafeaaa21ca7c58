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
from itertools import chain

import pyarrow as pa

from jobs.engines import EngineResult, Progress, ScoringTask, StageTimer
from jobs.engines.overlap import Prefetch, WorkerPool
from jobs.errors import NoInputRows
from jobs.quality.monitor import RunMonitor
from jobs.sinks.rejects import rejects_aside
from jobs.scoring import ChunkResult, score_chunk
from pipelines.spec import check_columns
from jobs.output import output_schema, reject_schema
from jobs.sinks import open_sink
from jobs.sources import open_source
from pipelines.distribution import ScoreStats

log = logging.getLogger(__name__)

READ_AHEAD = 1  # source chunks waiting for the scorer (one more may be being read)
WRITE_BEHIND = 2  # scored chunks waiting for the sink


def run(task: ScoringTask, progress: Progress | None = None) -> EngineResult:
    started = time.perf_counter()
    source = open_source(task.source, chunk_size=task.chunk_size, wanted=task.wanted_columns)
    sink = open_sink(task.output)
    timer = StageTimer()
    with ExitStack() as stack:
        # Closed in reverse order: the writer's feed first, then the scorers, then the reader,
        # then the output's transaction (rolled back unless replace_day committed it).
        stack.enter_context(sink.begin(task.day))
        reader = stack.enter_context(
            Prefetch(timer.iterate("read", iter(source.iter_batches(task.day))), READ_AHEAD, "read")
        )
        # Loaded here, not before the run: the model's load (scikit-learn's import included)
        # holds one core while the reader fetches the first chunks on the other.
        pipeline = task.pipeline
        batches = iter(reader)
        first = next((b for b in batches if b.num_rows), None)
        if first is None:
            raise NoInputRows.in_source(source.describe())
        check_columns(first.schema.names, task.spec, also=[*task.id_columns, *task.passthrough])
        schema = output_schema(
            [first.schema.field(n) for n in task.id_columns],
            [first.schema.field(n) for n in task.passthrough],
            task.spec.task,
        )
        stats = ScoreStats(task.histogram_edges)
        counts = {"read": 0}
        monitor = RunMonitor.for_task(task)
        rejecting = task.quality.on_bad_rows == "reject"
        rejects_schema = reject_schema([first.schema.field(n) for n in task.id_columns]) if rejecting else None
        rejects: list[pa.RecordBatch] = []
        pool = None
        if task.workers > 1:
            # The workers count each chunk's checks into an empty copy of the monitor.
            payload = (pipeline, task.spec, task.positive, schema, task.lineage, rejects_schema, monitor.empty_copy())
            pool = stack.enter_context(WorkerPool(task.workers, payload))

        def score_here(batch: pa.RecordBatch) -> tuple[int, ChunkResult]:
            """One chunk through the one scoring path, in this process."""
            with timer.stage("score"):
                return batch.num_rows, score_chunk(
                    pipeline, batch, task.spec, task.positive, schema, task.lineage,
                    monitor=monitor, reject_schema=rejects_schema,
                )

        def scored_in_pool(rest):
            # Each chunk's counts are merged in chunk order, so the figures are those of one
            # process; a max_rows exceeded by the total stops the run here, as observe would.
            for rows, result, seen in timer.iterate("score", pool.map(rest)):
                monitor.merge(seen, stop_early=True)
                yield rows, result

        def scored_chunks(rest):
            # The first chunk in this process: its errors surface before the sink opens.
            results = chain([score_here(first)], scored_in_pool(rest) if pool else map(score_here, rest))
            for rows, result in results:
                stats.update(result.scores)
                if result.rejects is not None:
                    rejects.append(result.rejects)
                    monitor.add_rejected(result.rejects.num_rows)
                counts["read"] += rows
                if progress is not None:
                    progress(counts["read"])
                yield result.output

        chunks = scored_chunks(batches)
        first_scored = next(chunks)
        writer_feed = stack.enter_context(Prefetch(chain([first_scored], chunks), WRITE_BEHIND, "score"))
        write_started = time.perf_counter()
        waited = StageTimer()
        # The monitor's verdict comes after the last batch, before the sink commits.
        feed = monitor.guard(waited.iterate("wait", iter(writer_feed)), stats)
        aside = rejects_aside(task.output, rejects_schema, rejects) if rejecting else None
        written = sink.replace_day(task.day, schema, feed, aside)
        write_seconds = time.perf_counter() - write_started - waited.seconds.get("wait", 0.0)
    total = time.perf_counter() - started
    # Busy seconds per stage; they overlap, so their sum may exceed engine_total.
    timings = {k: round(v, 4) for k, v in timer.seconds.items()}
    timings["write"] = round(write_seconds, 4)
    timings["engine_total"] = round(total, 4)
    return EngineResult(
        rows_read=counts["read"], rows_written=written, rows_rejected=monitor.rejected, scores=stats.summary(),
        timings=timings, checks=monitor.figures, warnings=monitor.warnings(),
    )

