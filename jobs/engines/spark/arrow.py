"""The spark engine's Parquet-to-Parquet path: Spark schedules the work, Python moves the rows.

When a job reads Parquet and writes Parquet at paths its executors open as files, Spark's
JVM never touches a row: each of n tasks reads its share of the day's row groups with pyarrow
(``ParquetDaySource.iter_batches(day, share=(k, n))``, the pandas engine's reader), scores it
with ``score_chunk`` and writes one Parquet file into the day's hidden staging directory;
the driver merges the tasks' score summaries and check counts, judges the checks and swaps
the day in with the pandas sink's ``swap_in``. Same rows, same files, same scores as the
pandas engine, with n processes predicting.

Why: Spark's own path converts every value Parquet -> JVM rows -> Arrow on the way in and
back again on the way out. On the benchmark's 2-core machine that round trip alone (no
scoring) used more CPU than the pandas engine's whole run (benchmarks/RESULTS.md). Other
sources and outputs (JDBC, hdfs://, s3a://) take Spark's own path (``jobs.engines.spark``).
"""

from __future__ import annotations

import os
import posixpath
import warnings

from jobs.engines.task import EngineResult, Progress, ScoringTask, StageTimer, driver_monitor, id_reader
from pipelines.model import ModelHandle
from jobs.engines.spark.rejects import day_rejects, without
from jobs.engines.spark.worker import executor_pipeline
from jobs.engines.spark.session import PANDAS_WARNING, marked, spark_errors
from jobs.engines.spark.shadow import ShadowFiles, executor_shadows, version_of
from jobs.errors import BatchScoreError, NoInputRows, ScoringError, TransientError
from jobs.quality.monitor import RunMonitor
from pipelines.spec import check_columns
from jobs.output import output_schema
from jobs.scoring import score_chunk
from jobs.sinks.base import shadow_name
from jobs.faults import AFTER_STAGE, pause_point
from jobs.sinks.parquet import LocalDirs, day_dir, prepare_days, swap_in, write_file
from jobs.sources.parquet import ParquetDaySource
from jobs.vocabulary import PARQUET
from pipelines.distribution import ScoreStats


def applies(task: ScoringTask) -> bool:
    """Parquet in and out, at file paths (no URL scheme but file://)."""
    return (
        task.source.kind == PARQUET and task.output.kind == PARQUET
        and _is_file_path(task.source.path) and _is_file_path(task.output.path)
    )


def _is_file_path(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def run(spark, task: ScoringTask, handle: ModelHandle, models, timer: StageTimer, progress: Progress | None) -> EngineResult:
    """Score the day in Spark tasks that read, score and write with pyarrow (the shadows'
    rows into files of their own, ``<path>_shadow``; the rejects of duplicated ids, found on
    the driver, into ``<path>_rejects``); swap it in."""
    model, shadows = models
    sc = spark.sparkContext
    shares = task.spark.read_partitions or sc.defaultParallelism
    source = ParquetDaySource(_local(task.source), chunk_size=task.chunk_size, wanted=task.wanted_columns)
    with timer.stage("read"):
        columns = source.schema()  # the source exists and has its columns, or a clear error
    check_columns(columns.names, task.spec, also=[*task.id_columns, *task.passthrough])
    schema = output_schema(
        [columns.field(n) for n in task.id_columns], [columns.field(n) for n in task.passthrough], task.spec.task
    )
    monitor = driver_monitor(task, handle, timer)
    with timer.stage("duplicate_ids"):
        rejects = day_rejects(task)  # on_duplicate_ids: reject (jobs.engines.spark.rejects)
    asides = [rejects.aside(_local(task.output))] if rejects else []
    # The tasks get the task without the pipeline (each worker unpickles the broadcast once).
    dirs, final = LocalDirs(), day_dir(_local(task.output).path, task.day)
    finals = [final, day_dir(shadow_name(_local(task.output)), task.day)] if shadows else [final]
    days = [*finals, *(day_dir(a.name, task.day) for a in asides)]
    stagings = prepare_days(dirs, days)
    try:
        with timer.stage("score"), spark_errors(f"scoring {source.describe()}", ScoringError):
            scorer = _scorer((model, shadows.shipped, shadows.edges), task, schema, monitor.empty_copy(), stagings[:len(finals)], shares,
                             rejects.duplicates if rejects else None)
            parts = sc.parallelize(range(shares), shares).mapPartitions(scorer).collect()
        pause_point(AFTER_STAGE)  # the day's files are in the staging directory, not swapped in
        stats, rows = _merged(parts, task, monitor, shadows)
        set_aside = rejects.rows if rejects else 0
        if rows + set_aside == 0:
            raise NoInputRows.in_source(source.describe())
        if progress is not None:
            progress(rows + set_aside)
        monitor.add_rejected(set_aside, scored=False)
        scores = stats.summary()
        figures = monitor.finish(scores, id_reader(task))  # a failed check raises: the day is not swapped in
        with timer.stage("write"):
            if shadows:
                _keep_only(dirs, stagings[1], shadows.ok())
            for aside, staging in zip(asides, stagings[len(finals):], strict=True):
                write_file(posixpath.join(staging, "part-0.parquet"), aside.schema, aside.batches, always=True)
            # As the pandas sink: the rejects' and shadow days just before the scores'.
            for staging, day in reversed(list(zip(stagings, days, strict=True))):
                dirs.sync(staging)
                swap_in(dirs, staging, day)
    finally:
        for staging in stagings:
            dirs.remove(staging)
    return EngineResult(
        rows_read=rows + set_aside, rows_written=rows, rows_rejected=monitor.rejected, scores=scores,
        checks=figures, warnings=monitor.warnings(),
    )


def _merged(parts, task: ScoringTask, monitor: RunMonitor, shadows) -> tuple[ScoreStats, int]:
    """The tasks' score summaries, check counts and shadow tallies, merged; the rows scored."""
    stats, rows = ScoreStats(task.histogram_edges), 0
    for part_rows, part_stats, part_monitor, part_shadows in parts:
        rows += part_rows
        stats.merge(part_stats)
        monitor.merge(part_monitor)
        shadows.merge(part_shadows)
    return stats, rows


def _local(config):
    """The config with a file:// path as a plain path (pyarrow and os take those)."""
    if config.path.startswith("file://"):
        return config.model_copy(update={"path": config.path.removeprefix("file://")})
    return config


def _keep_only(dirs: LocalDirs, staging: str, versions) -> None:
    """Remove the shadow files of the versions that failed in some task."""
    keep = {str(v) for v in versions}
    for name in dirs.names(staging):
        if version_of(name) not in keep:
            os.remove(posixpath.join(staging, name))


def _scorer(models, task: ScoringTask, schema, monitor: RunMonitor, stagings: list[str], shares: int, duplicates=None):
    """What each Spark task runs: its shares of the day read, scored and written to a file
    (each shadow version's rows to a file of its own), the rows of ``duplicates`` left out."""
    model, shipped, shadow_edges = models

    def score_shares(indexes):
        warnings.filterwarnings("ignore", message=PANDAS_WARNING)
        try:
            pipeline = executor_pipeline(model, task.model)  # sha256 checked, once per worker
            for k in indexes:
                source = ParquetDaySource(_local(task.source), chunk_size=task.chunk_size, wanted=task.wanted_columns)
                stats, seen = ScoreStats(task.histogram_edges), monitor.empty_copy()
                shadow_scorer, tallies = executor_shadows(shipped, shadow_edges, k)
                files = ShadowFiles(stagings[-1], k, schema) if shipped else None

                def outputs():
                    for batch in source.iter_batches(task.day, share=(k, shares)):
                        batch = without(batch, duplicates)  # the driver's rejects
                        if duplicates and not batch.num_rows:
                            continue
                        result = score_chunk(pipeline, batch, task.spec, task.positive, schema, task.lineage, monitor=seen)
                        stats.update(result.scores)
                        if files is not None:
                            files.write(tallies.add(shadow_scorer.score(batch, result, schema)))
                        yield result.output

                try:
                    try:
                        rows = write_file(posixpath.join(stagings[0], f"part-{k:05d}.parquet"), schema, outputs())
                    finally:
                        if files is not None:
                            files.close()
                except OSError as exc:
                    raise TransientError(f"writing {stagings[0]} failed: {exc}", hint="the run can be retried") from exc
                yield rows, stats, seen, tallies
        except BatchScoreError as exc:
            # Our error, with its kind and hint, must reach the driver through the JVM.
            raise ScoringError(marked(exc)) from exc

    return score_shares
