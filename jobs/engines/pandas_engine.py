"""The pandas engine: stream the day's batches through the pipeline in this process.

Memory is bounded by the chunk size: one source batch, its pandas features and its scored
batch at a time. The first chunk is read, checked and scored before the sink opens, so a
schema problem or an empty day writes nothing.
"""

from __future__ import annotations

import logging
import time
from itertools import chain

from jobs.engines import EngineResult, Progress, ScoringTask, StageTimer
from jobs.errors import NoInputRows
from jobs.quality import RunMonitor
from jobs.rejects import write_rejects
from jobs.scoring import check_columns, output_schema, reject_schema, score_chunk
from jobs.sinks import open_sink
from jobs.sources import open_source
from jobs.stats import ScoreStats

log = logging.getLogger(__name__)


def run(task: ScoringTask, progress: Progress | None = None) -> EngineResult:
    started = time.perf_counter()
    source = open_source(task.source, chunk_size=task.chunk_size, wanted=task.wanted_columns)
    sink = open_sink(task.output)
    timer = StageTimer()
    batches = timer.iterate("read", iter(source.iter_batches(task.day)))
    first = next((b for b in batches if b.num_rows), None)
    if first is None:
        raise NoInputRows(
            f"the source {source.describe()} has no rows for this day",
            hint="upstream may not be ready: run again later, or check the date column",
        )
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
    rejects = []

    def scored():
        for batch in chain([first], batches):
            with timer.stage("score"):
                result = score_chunk(
                    task.pipeline, batch, task.spec, task.positive, schema, task.lineage,
                    monitor=monitor, reject_schema=rejects_schema,
                )
                stats.update(result.scores)
            if result.rejects is not None:
                rejects.append(result.rejects)
                monitor.add_rejected(result.rejects.num_rows)
            counts["read"] += batch.num_rows
            if progress is not None:
                progress(counts["read"])
            yield result.output

    chunks = scored()
    first_scored = next(chunks)  # schema and pipeline errors surface before the sink opens
    # The monitor's verdict comes after the last batch, before the sink commits.
    written = sink.replace_day(task.day, schema, monitor.guard(chain([first_scored], chunks), stats))
    if rejecting:
        write_rejects(task.output, task.day, rejects_schema, rejects)
    total = time.perf_counter() - started
    timings = {k: round(v, 4) for k, v in timer.seconds.items()}
    timings["write"] = round(max(total - sum(timer.seconds.values()), 0.0), 4)
    timings["engine_total"] = round(total, 4)
    return EngineResult(
        rows_read=counts["read"], rows_written=written, rows_rejected=monitor.rejected, scores=stats.summary(),
        timings=timings, checks=monitor.figures, warnings=monitor.warnings(),
    )
