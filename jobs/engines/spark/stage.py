"""The spark engine's writing: the day is scored and written aside in one Spark job
(``stage_day``) -- Parquet into a hidden directory beside ``score_date=D``, SQL into a staging
table -- and, once the run's checks pass, swapped in on the driver (``StagedDay.commit``) by
the sinks' own swaps: ``jobs.sinks.parquet.swap_in`` (two renames on Hadoop's file system) and
``jobs.sinks.sql.swap_day`` (lock, delete, insert-select in ONE transaction). What a killed run
left aside is cleared by the next run: the day's hidden directories (Parquet), the output
table's staging tables no live run owns (SQL, ``jobs.engines.spark.staging``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import sqlalchemy as sa

from jobs import db
from jobs.config import ParquetOutput, SqlOutput
from jobs.engines.spark.read import jdbc_for
from jobs.engines.spark.session import spark_errors
from jobs.engines.spark.staging import StageLock, clear_stale_stages, stage_name
from jobs.errors import SinkError, TransientError
from jobs.output import MODEL_NAME, MODEL_VERSION, RUN_ID, SCORE_DATE, SCORED_AT, Lineage
from jobs.faults import BEFORE_COMMIT, pause_point
from jobs.sinks.parquet import LocalDirs, clear_leftovers, day_dir, restore_day, staging_dir, swap_in
from jobs.sinks.sql import swap_day, table_for

log = logging.getLogger(__name__)

WRITE_BATCH = 10_000  # rows per JDBC insert batch
CONSTANTS = (SCORE_DATE, MODEL_NAME, MODEL_VERSION, RUN_ID, SCORED_AT)  # added by the swap


def sink_errors(what: str):
    return db.translated(f"writing {what} (nothing was committed)", SinkError, "check the output table and its permissions")


class StagedDay(Protocol):
    """A day's scores written aside by Spark, not yet visible in the output."""

    def commit(self) -> int | None:
        """Swap the day in (the old day out) on the driver; returns the rows written, or None
        when they are the rows scored (files hold what the tasks wrote)."""

    def discard(self) -> None:
        """Remove what was written aside (after a commit: nothing is left to remove)."""


def stage_day(scored, output: ParquetOutput | SqlOutput, schema, lineage: Lineage, job: str) -> StagedDay:
    """Score the day and write it aside, in one Spark job (scores are never kept in memory)."""
    if output.kind == "parquet":
        return _stage_parquet(scored, output, lineage.day)
    return _stage_sql(scored, output, schema, lineage, job)


class HadoopDirs:
    """``jobs.sinks.parquet.Dirs`` on Hadoop's file system: the one Spark writes to (local
    paths, hdfs://, s3a:// ...), so the swap sees the files where Spark put them."""

    def __init__(self, spark, path: str) -> None:
        self._path = spark._jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(path).getFileSystem(spark._jsc.hadoopConfiguration())

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._path(path)))

    def rename(self, source: str, target: str) -> None:
        if not self._fs.rename(self._path(source), self._path(target)):
            raise SinkError(f"renaming {source} to {target} failed", hint="check the output path and its permissions")

    def remove(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def names(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        return [status.getPath().getName() for status in self._fs.listStatus(self._path(path))]

    def sync(self, path: str) -> None:
        pass  # the file system's rename is durable once it returns

    def exchange(self, a: str, b: str) -> bool:
        return False  # Hadoop's FileSystem has no exchange: swap_in takes its two renames


@dataclass
class _ParquetStage:
    dirs: HadoopDirs | LocalDirs
    staging: str
    final: str

    def commit(self) -> None:
        swap_in(self.dirs, self.staging, self.final)

    def discard(self) -> None:
        self.dirs.remove(self.staging)


def _stage_parquet(scored, output: ParquetOutput, day: date) -> _ParquetStage:
    """The day's files in a hidden directory beside ``score_date=D``, as the pandas engine's
    Parquet sink stages them (score_date lives in the directory name)."""
    spark = scored.sparkSession
    root, dirs = _day_dirs(spark, output.path)
    final = day_dir(root, day)
    with spark_errors(f"writing {output.path}"):
        restore_day(dirs, final)  # a day a killed swap left absent, first
        clear_leftovers(dirs, final)  # a killed run's, of this day (we hold its lock)
    stage = _ParquetStage(dirs, staging_dir(final), final)
    try:
        with spark_errors(f"writing {final}"):
            (
                scored.drop(SCORE_DATE).write.mode("errorifexists")
                .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")  # no _SUCCESS file
                .parquet(stage.staging)
            )
    except BaseException:
        stage.discard()
        raise
    return stage


def _day_dirs(spark, path: str):
    """Where the day is swapped, and by whom. A path this process opens as a local file (a
    ``file://`` URL, or a plain path under a local master) is swapped by the pandas sink's
    ``LocalDirs``: one ``renameat2`` exchange, no instant without the day. Any other (hdfs://,
    s3a://, a plain path on a cluster's default file system) by Hadoop's file system: two
    renames."""
    local = path.startswith("file://") or ("://" not in path and spark.sparkContext.master.startswith("local"))
    if local:
        return path.removeprefix("file://"), LocalDirs()
    return path, HadoopDirs(spark, path)


@dataclass
class _SqlStage:
    engine: sa.Engine
    target: sa.Table
    stage: sa.Table
    lock: StageLock  # held while the staging table exists: it is this run's
    lineage: Lineage
    what: str
    run: str

    def commit(self) -> int:
        return _swap(self.engine, self.target, self.stage, self.lineage, self.what)

    def discard(self) -> None:
        try:
            _drop(self.engine, self.stage, self.run)
        finally:
            self.lock.release()


def _stage_sql(scored, output: SqlOutput, schema, lineage: Lineage, job: str) -> _SqlStage:
    """Spark writes the scores into a staging table; ``commit`` then deletes the day and
    inserts it from the staging table in ONE transaction on the driver.

    The staging table is this run's while it holds its lock; staging tables of the same
    output table that nobody holds (a killed run's) are dropped first (``jobs.engines.spark.staging``)."""
    from pyspark.sql import functions as F

    jdbc = jdbc_for(output.url)
    engine = db.make_engine(output.url, writer=True)
    target = table_for(output.table, schema)
    run = f"{job} {lineage.day}"
    stage = sa.Table(
        stage_name(target.name, lineage.run_id),
        sa.MetaData(),
        *[sa.Column(c.name, c.type) for c in target.columns if c.name not in CONSTANTS],
        schema=target.schema,
        prefixes=["UNLOGGED"] if jdbc.backend == "postgresql" else [],  # scratch: no WAL
    )
    lock = StageLock(engine, target.schema, stage.name)
    with sink_errors(output.table):
        lock.hold()  # before the table exists: a clearing run never sees it unowned
    try:
        with sink_errors(output.table):
            clear_stale_stages(engine, target, stage.name, run)
        with db.connect(engine, "output") as conn, sink_errors(output.table), conn.begin():
            stage.create(conn)
    except BaseException:
        lock.release()
        raise
    staged = _SqlStage(engine, target, stage, lock, lineage, output.table, run)
    try:
        frame = scored.select(*[_stage_column(F, scored.schema[c.name], jdbc.backend) for c in stage.columns])
        if jdbc.backend == "sqlite":
            # One writer, as SQLite has one write lock; the shuffle also ends every read of
            # the source (often the same file) before the first write.
            frame = frame.repartition(1)
        with spark_errors(f"writing the scores to {stage.name}"):
            (
                frame.write.format("jdbc").mode("append")
                .option("url", jdbc.url)
                .option("dbtable", engine.dialect.identifier_preparer.format_table(stage))
                .options(**jdbc.options)
                .option("batchsize", str(WRITE_BATCH))
                .save()
            )
    except BaseException:
        staged.discard()
        raise
    return staged


def _stage_column(F, field, backend: str):
    # SQLite keeps dates as ISO text (as SQLAlchemy writes them); its JDBC driver would
    # store epoch milliseconds.
    kind = field.dataType.typeName()
    if backend == "sqlite" and kind == "date":
        return F.date_format(F.col(field.name), "yyyy-MM-dd").alias(field.name)
    if backend == "sqlite" and kind.startswith("timestamp"):
        return F.date_format(F.col(field.name), "yyyy-MM-dd HH:mm:ss.SSSSSS").alias(field.name)
    return F.col(field.name)


def _swap(engine: sa.Engine, target: sa.Table, stage: sa.Table, lineage: Lineage, what: str) -> int:
    constants = {
        SCORE_DATE: (lineage.day, target.c[SCORE_DATE].type),
        MODEL_NAME: (lineage.model_name, target.c[MODEL_NAME].type),
        MODEL_VERSION: (lineage.model_version, target.c[MODEL_VERSION].type),
        RUN_ID: (lineage.run_id, target.c[RUN_ID].type),
        SCORED_AT: (lineage.scored_at, target.c[SCORED_AT].type),
    }
    rows = sa.select(*[
        sa.literal(*constants[c.name]).label(c.name) if c.name in constants else stage.c[c.name]
        for c in target.columns
    ])
    with db.connect(engine, "output") as conn, sink_errors(what), conn.begin():
        swap_day(conn, target, rows, lineage.day, lock=db.is_postgres(engine.url))
        # Counted, as drivers do not all report an INSERT ... SELECT's rowcount.
        count = int(conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one())
        pause_point(BEFORE_COMMIT)
        return count


def _drop(engine: sa.Engine, stage: sa.Table, run: str) -> None:
    try:
        with db.connect(engine, "output") as conn, conn.begin():
            stage.drop(conn, checkfirst=True)
    except (sa.exc.SQLAlchemyError, TransientError) as exc:
        # The run's outcome stands either way; the leftover only takes space.
        log.warning("%s: could not drop the staging table %s: %s (drop it by hand)", run, stage.name, db.describe_db_error(exc))
