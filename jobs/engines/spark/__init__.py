"""The spark engine: the day is read, scored and written by Spark, on a cluster or locally.

Every chunk of ``chunk_size`` rows goes through ``jobs.scoring.score_chunk``, the pandas
engine's per-chunk function (type checks, input checks, predict, output rows), so both engines
give the same rows and the same scores to the last bit. Two paths:

- Parquet to Parquet at file paths (``arrow``): Spark runs n tasks that each read,
  score and write their share of the day with pyarrow; the JVM never touches a row.
- anything else (here): Spark reads the day (Parquet, JDBC), scores it in ``mapInArrow`` and
  writes it aside (a staging directory or table) in ONE Spark job.

Either way the checks are judged on the driver from the tasks' counts and only then is the
day swapped in. The pipeline travels once, as a broadcast of the registry's verified bytes;
each Python worker checks their sha256 before unpickling them, once (it keeps the pipeline
for its later tasks and days). The ledger and the lock stay on the driver (``jobs.runner``).
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from contextlib import ExitStack
from dataclasses import replace

import numpy as np

from jobs.engines.task import EngineResult, Progress, ScoringTask, StageTimer, driver_monitor, id_reader
from jobs.engines.spark import arrow as spark_arrow
from jobs.engines.spark.read import read_day
from jobs.engines.spark.rejects import DayRejects, day_rejects, without
from jobs.engines.spark.stage import stage_day
from jobs.engines.spark.worker import executor_pipeline
from jobs.engines.spark.session import PANDAS_WARNING, marked, spark_errors, spark_session
from jobs.engines.spark.shadow import SparkShadows, executor_shadows, task_part
from jobs.errors import BatchScoreError, NoInputRows, ScoringError
from jobs.faults import AFTER_STAGE, pause_point
from pipelines.spec import check_columns
from jobs.output import output_schema
from jobs.scoring import score_chunk
from jobs.sinks.base import shadow_name
from jobs.shadow_compare import ShadowTallies
from jobs.vocabulary import SQL, Engine
from pipelines.distribution import ScoreStats
from pipelines.model import ModelHandle

log = logging.getLogger(__name__)


def run(task: ScoringTask, handle: ModelHandle, progress: Progress | None = None) -> EngineResult:
    started = time.perf_counter()
    timer = StageTimer()
    sql_conf = {
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(task.chunk_size),
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",  # as pyarrow writes it
        "spark.sql.session.timeZone": "UTC",
    }
    with ExitStack() as stack, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS_WARNING)
        with timer.stage("spark_start"):
            spark = stack.enter_context(spark_session(task.spark, f"batchscore {task.job} {task.day}", sql_conf))
        sc = spark.sparkContext
        log.info("%s %s: Spark %s on %s", task.job, task.day, spark.version, sc.master)
        # The handle: the registry's bytes (sha256-checked here and again on every executor)
        # and the compiled library of a treelite version, so executors score as the driver would.
        model = sc.broadcast(handle)
        shadows = SparkShadows(sc, task.shadows, task.histogram_edges)
        # The tasks get the shadows without their bytes (broadcast, as the main model's).
        task = replace(task, shadows=tuple(replace(s, handle=None) for s in task.shadows))
        try:
            if spark_arrow.applies(task):
                log.info("%s %s: Parquet to Parquet: the tasks read, score and write with pyarrow", task.job, task.day)
                result = spark_arrow.run(spark, task, handle, (model, shadows), timer, progress)
            else:
                result = _run(spark, task, handle, (model, shadows), timer, progress)
        finally:
            with spark_errors("releasing the model's broadcast"):
                model.destroy()
            shadows.destroy()
        if shadows:
            result.shadow = shadows.figures()
            result.warnings = [*result.warnings, *shadows.warnings()]
            timer.seconds["shadow_score"] = shadows.seconds  # in the tasks, next to the main model's
        result.details = {Engine.SPARK.value: {"application_id": sc.applicationId, "master": sc.master, "version": spark.version}}
    result.timings = {k: round(v, 4) for k, v in timer.seconds.items()}
    result.timings["engine_total"] = round(time.perf_counter() - started, 4)
    return result


def _run(spark, task: ScoringTask, handle: ModelHandle, models, timer: StageTimer, progress: Progress | None) -> EngineResult:
    """Spark's own path: Spark reads the day, scores it in mapInArrow and writes it aside
    (the shadows' rows with the main rows, told apart by model_version)."""
    shadows = models[1]
    sc = spark.sparkContext
    with timer.stage("read"):
        day = read_day(
            spark, task.source, task.wanted_columns, task.day, chunk_size=task.chunk_size,
            partitions=task.spark.read_partitions or sc.defaultParallelism,
            partition_column=task.spark.partition_column or task.id_columns[0],
        )
    if task.source.kind == SQL:
        log.info("%s %s: reading %s with %d JDBC queries", task.job, task.day, day.describe, day.queries)
    if day.empty:
        raise NoInputRows.in_source(day.describe)
    check_columns(day.frame.columns, task.spec, also=[*task.id_columns, *task.passthrough])
    monitor = driver_monitor(task, handle, timer)  # the pandas engine's checks, counted per partition
    with timer.stage("duplicate_ids"):
        rejects = day_rejects(task)  # on_duplicate_ids: reject (jobs.engines.spark.rejects)
    schema, scored, (stats, checks, tallies) = _scored_frame(day, task, models, monitor, rejects)
    staged = None
    try:
        # ONE pass: Spark reads, scores and writes the day aside; nothing is visible yet.
        with timer.stage("score"):
            staged = stage_day(scored, task.output, schema, task.lineage, task.job, shadow_name(task.output) if shadows else None)
        pause_point(AFTER_STAGE)  # written aside, not swapped in
        summary = stats.value  # complete: the accumulators of every task of that job
        rows = summary.count
        set_aside = rejects.rows if rejects else 0
        if rows + set_aside == 0:  # a Parquet day is only counted as it is scored
            raise NoInputRows.in_source(day.describe)
        if progress is not None:
            progress(rows + set_aside)
        log.info("%s %s: Spark scored %d rows", task.job, task.day, rows)
        seen = checks.value
        seen.add_rejected(set_aside, scored=False)
        scores = summary.summary()
        figures = seen.finish(scores, id_reader(task))  # a failed check raises: the day is not swapped in
        shadows.merge(tallies.value)
        with timer.stage("write"):
            written = staged.commit(shadows.ok(), [rejects.aside(task.output)] if rejects else [])
        written = rows if written is None else written
    finally:
        if staged is not None:
            with spark_errors("removing the scores written aside"):
                staged.discard()
    return EngineResult(
        rows_read=rows + set_aside, rows_written=written, rows_rejected=seen.rejected, scores=scores,
        checks=figures, warnings=seen.warnings(),
    )


def _scored_frame(day, task: ScoringTask, models, monitor, rejects: DayRejects | None):
    """The day's frame scored in mapInArrow (lazily: nothing runs yet), its output schema and
    the accumulators its tasks fill; the rows of duplicated ids are left out (``rejects``)."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    model, shadows = models
    with spark_errors(f"scoring {day.describe}", ScoringError):
        source_schema = to_arrow_schema(day.frame.schema, timezone="UTC")
        schema = output_schema(
            [source_schema.field(n) for n in task.id_columns],
            [source_schema.field(n) for n in task.passthrough],
            task.spec.task,
        )
        accumulators = _accumulators(day.frame.sparkSession.sparkContext, task.histogram_edges, monitor.empty_copy(), shadows.edges)
        stats, checks, tallies = accumulators
        scorer = partition_scorer(
            model, task, source_schema, schema, stats, checks, monitor, (shadows.shipped, tallies),
            duplicates=rejects.duplicates if rejects else None,
        )
        # mapInArrow hands the partition's Arrow batches over as they are: mapInPandas would
        # convert every chunk to pandas and back on the way in and again on the way out.
        scored = day.frame.mapInArrow(scorer, from_arrow_schema(schema, prefer_timestamp_ntz=False))
    return schema, scored, accumulators


def _accumulators(sc, edges, empty, shadow_edges):
    """The tasks' score summaries, check counts and shadow tallies, merged on the driver.
    Made from plain values, not the task (it holds the pipeline) nor the shadows (their bytes)."""
    stats = sc.accumulator(ScoreStats(edges), _Merged(lambda: ScoreStats(edges)))
    checks = sc.accumulator(copy.deepcopy(empty), _Merged(lambda: copy.deepcopy(empty)))
    tallies = sc.accumulator(ShadowTallies(shadow_edges), _Merged(lambda: ShadowTallies(shadow_edges)))
    return stats, checks, tallies


def partition_scorer(model, task: ScoringTask, source_schema, schema, stats, checks, monitor, shadows=((), None), duplicates=None):
    """The function each Spark partition runs: Arrow batches in, scored Arrow batches out.
    ``shadows``: (the shipped shadow models, the accumulator of their tallies); each chunk's
    shadow rows follow its main rows. ``duplicates``: ids whose rows are left out (rejects)."""
    version, spec, positive, lineage = task.model, task.spec, task.positive, task.lineage
    edges = task.histogram_edges
    shipped, shadow_tallies = shadows
    shadow_edges = None if edges is None else np.asarray(edges, dtype=float)

    def score_partition(batches):
        warnings.filterwarnings("ignore", message=PANDAS_WARNING)
        try:
            pipeline = executor_pipeline(model, version)  # sha256 checked again, on the executor
            seen, observed = ScoreStats(edges), monitor.empty_copy()
            if shipped:
                shadow_scorer, tallies = executor_shadows(shipped, shadow_edges, task_part())
            for batch in batches:
                if batch.schema != source_schema:  # should Spark hand over other Arrow types
                    batch = batch.cast(source_schema)
                batch = without(batch, duplicates)  # the driver's rejects
                if batch.num_rows == 0:
                    continue  # nothing to score
                result = score_chunk(pipeline, batch, spec, positive, schema, lineage, monitor=observed)
                seen.update(result.scores)
                yield result.output
                if shipped:
                    yield from tallies.add(shadow_scorer.score(batch, result, schema)).values()
            stats.add(seen)
            checks.add(observed)
            if shipped:
                shadow_tallies.add(tallies)
        except BatchScoreError as exc:
            # Our error, with its kind and hint, must reach the driver through the JVM.
            raise ScoringError(marked(exc)) from exc

    return score_partition


class _Merged:
    """A Spark accumulator of ScoreStats or RunMonitor: partitions' summaries merged on the driver."""

    def __init__(self, empty) -> None:
        self.empty = empty  # makes a new, empty summary

    def zero(self, value):
        return self.empty()

    def addInPlace(self, total, more):
        total.merge(more)
        return total
