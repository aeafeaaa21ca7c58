"""The spark engine's writing: the day is scored and written aside in one Spark job
(``stage_day``) -- Parquet into a hidden directory beside ``score_date=D``, SQL into a staging
table -- and, once the run's checks pass, swapped in on the driver (``StagedDay.commit``) by
the sinks' own swaps: ``jobs.sinks.parquet.swap_in`` (one renameat2 exchange at a local
path, two renames on Hadoop's file system) and ``jobs.sinks.sql.swap_day`` (lock, delete,
insert-select in ONE transaction), with the rows
the driver holds aside (the rejects of duplicated ids: in that transaction, or a directory
swapped in just before the scores'). What a killed run left aside is cleared by the next
run: the day's hidden directories (Parquet), the output table's staging tables no live run
owns (SQL, ``jobs.engines.spark.staging``).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import sqlalchemy as sa

from jobs import db
from jobs.config import ParquetOutput, SqlOutput
from jobs.engines.spark.read import jdbc_for
from jobs.engines.spark.session import spark_errors
from jobs.engines.spark.staging import StageLock, clear_stale_stages, stage_name
from jobs.errors import SinkError, TransientError
from jobs.output import MODEL_NAME, MODEL_VERSION, RUN_ID, SCORE_DATE, SCORED_AT, Lineage
from jobs.faults import BEFORE_COMMIT, pause_point
from jobs.sinks.parquet import LocalDirs, clear_leftovers, day_dir, prepare_days, restore_day, staging_dir, swap_in, write_file
from jobs.sinks.base import Aside
from jobs.sinks.sql import swap_aside, swap_day, table_for
from jobs.vocabulary import PARQUET

log = logging.getLogger(__name__)

WRITE_BATCH = 10_000  # rows per JDBC insert batch
CONSTANTS = (SCORE_DATE, MODEL_NAME, MODEL_VERSION, RUN_ID, SCORED_AT)  # added by the swap
VERSION_DIR = "batchscore_version"  # staged Parquet with shadow rows: a directory per model version


def sink_errors(what: str):
    return db.translated(f"writing {what} (nothing was committed)", SinkError, "check the output table and its permissions")


class StagedDay(Protocol):
    """A day's scores written aside by Spark, not yet visible in the output."""

    def commit(self, shadows: Sequence[int] = (), asides: Sequence[Aside] = ()) -> int | None:
        """Swap the day in (the old day out) on the driver, with the day of the shadow
        versions ``shadows`` (the others' rows are left out) when it was staged with a shadow
        output, and the day of each aside the driver holds (the rejects), just before the
        scores; returns the rows written, or None when they are the rows scored (files hold
        what the tasks wrote)."""

    def discard(self) -> None:
        """Remove what was written aside (after a commit: nothing is left to remove)."""


def stage_day(
    scored, output: ParquetOutput | SqlOutput, schema, lineage: Lineage, job: str, shadow: str | None = None
) -> StagedDay:
    """Score the day and write it aside, in one Spark job (scores are never kept in memory).
    ``shadow``: the shadow output (``<table>_shadow`` or ``<path>_shadow``) when ``scored``
    holds shadow rows too (their model_version is not the run's)."""
    if output.kind == PARQUET:
        return _stage_parquet(scored, output, lineage, shadow)
    return _stage_sql(scored, output, schema, lineage, job, shadow)


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

    def makedirs(self, path: str) -> None:
        if not self._fs.mkdirs(self._path(path)):
            raise SinkError(f"creating {path} failed", hint="check the output path and its permissions")

    def names(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        return [status.getPath().getName() for status in self._fs.listStatus(self._path(path))]

    def sync(self, path: str) -> None:
        pass  # the file system's rename is durable once it returns

    def exchange(self, a: str, b: str) -> bool:
        return False  # Hadoop's FileSystem has no exchange: swap_in takes its two renames

    def write(self, path: str, data: bytes) -> None:
        """A small file written from the driver (an aside's day)."""
        stream = self._fs.create(self._path(path), True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()


@dataclass
class _ParquetStage:
    dirs: HadoopDirs | LocalDirs
    staging: str
    final: str
    shadow_final: str | None = None  # <path>_shadow/score_date=D: staging holds one directory per version
    main_version: int | None = None

    def commit(self, shadows: Sequence[int] = (), asides: Sequence[Aside] = ()) -> None:
        for aside in asides:
            self._swap_aside(aside)
        if self.shadow_final is None:
            swap_in(self.dirs, self.staging, self.final)
            return
        shadow_staging = staging_dir(self.shadow_final)
        self.dirs.makedirs(shadow_staging)
        try:
            for version in shadows:
                written = posixpath.join(self.staging, f"{VERSION_DIR}={version}")
                for name in self.dirs.names(written):
                    if not name.startswith((".", "_")):  # Hadoop's checksums follow their files
                        self.dirs.rename(posixpath.join(written, name), posixpath.join(shadow_staging, f"v{version}-{name}"))
            # As the pandas sink: the shadow day just before the scores'.
            swap_in(self.dirs, shadow_staging, self.shadow_final)
        finally:
            self.dirs.remove(shadow_staging)
        swap_in(self.dirs, posixpath.join(self.staging, f"{VERSION_DIR}={self.main_version}"), self.final)

    def discard(self) -> None:
        self.dirs.remove(self.staging)

    def _swap_aside(self, aside: Aside) -> None:
        """An aside's day (``<path>_rejects/score_date=D``), written and swapped in as the
        pandas sink does: one file, ``part-0.parquet``, even without rows."""
        root = aside.name.removeprefix("file://") if isinstance(self.dirs, LocalDirs) else aside.name
        final = posixpath.join(root.rstrip("/"), posixpath.basename(self.final))
        [staging] = prepare_days(self.dirs, [final])
        try:
            path = posixpath.join(staging, "part-0.parquet")
            if isinstance(self.dirs, LocalDirs):
                write_file(path, aside.schema, aside.batches, always=True)
            else:
                buffer = pa.BufferOutputStream()
                write_file(buffer, aside.schema, aside.batches, always=True)
                self.dirs.write(path, buffer.getvalue().to_pybytes())
            swap_in(self.dirs, staging, final)
        finally:
            self.dirs.remove(staging)


def _stage_parquet(scored, output: ParquetOutput, lineage: Lineage, shadow: str | None) -> _ParquetStage:
    """The day's files in a hidden directory beside ``score_date=D``, as the pandas engine's
    Parquet sink stages them (score_date lives in the directory name). With shadow rows, one
    directory per model version inside it (``VERSION_DIR=V``, the files keep model_version),
    taken apart by ``commit``."""
    spark = scored.sparkSession
    root, dirs = _day_dirs(spark, output.path)
    final = day_dir(root, lineage.day)
    shadow_final = None if shadow is None else day_dir(_day_dirs(spark, shadow)[0], lineage.day)
    with spark_errors(f"writing {output.path}"):
        for day in (final, shadow_final) if shadow_final else (final,):
            restore_day(dirs, day)  # a day a killed swap left absent, first
            clear_leftovers(dirs, day)  # a killed run's, of this day (we hold its lock)
    stage = _ParquetStage(dirs, staging_dir(final), final, shadow_final, lineage.model_version)
    frame = scored.drop(SCORE_DATE)
    try:
        with spark_errors(f"writing {final}"):
            writer = frame.write
            if shadow_final is not None:
                writer = frame.withColumn(VERSION_DIR, frame[MODEL_VERSION]).write.partitionBy(VERSION_DIR)
            (
                writer.mode("errorifexists")
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
    shadow: sa.Table | None = None  # <table>_shadow: the stage holds shadow rows too

    def commit(self, shadows: Sequence[int] = (), asides: Sequence[Aside] = ()) -> int:
        return _swap(self.engine, (self.target, self.shadow), self.stage, self.lineage, self.what, (shadows, asides))

    def discard(self) -> None:
        try:
            _drop(self.engine, self.stage, self.run)
        finally:
            self.lock.release()


def _stage_sql(scored, output: SqlOutput, schema, lineage: Lineage, job: str, shadow: str | None) -> _SqlStage:
    """Spark writes the scores into a staging table; ``commit`` then deletes the day and
    inserts it from the staging table in ONE transaction on the driver (with shadow rows:
    the main version's rows into the output table, the shadow versions' into ``shadow``).

    The staging table is this run's while it holds its lock; staging tables of the same
    output table that nobody holds (a killed run's) are dropped first (``jobs.engines.spark.staging``)."""
    from pyspark.sql import functions as F

    jdbc = jdbc_for(output.url)
    engine = db.make_engine(output.url, writer=True)
    target = table_for(output.table, schema)
    run = f"{job} {lineage.day}"
    kept = {MODEL_VERSION} if shadow is not None else set()  # it tells the main rows from the shadows'
    stage = sa.Table(
        stage_name(target.name, lineage.run_id),
        sa.MetaData(),
        *[sa.Column(c.name, c.type) for c in target.columns if c.name not in CONSTANTS or c.name in kept],
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
    staged = _SqlStage(engine, target, stage, lock, lineage, output.table, run, None if shadow is None else table_for(shadow, schema))
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


def _swap(engine: sa.Engine, targets: tuple, stage: sa.Table, lineage: Lineage, what: str, kept: tuple) -> int:
    """The day's rows from the stage into the output table and (``targets``: (output table,
    shadow table or None)) the shadow versions' rows into the shadow table, and (``kept``:
    (shadow versions, asides)) each aside's rows into its table, in ONE transaction, as the
    pandas sink writes its asides; the output table's rows are counted."""
    target, shadow = targets
    shadows, asides = kept
    main = None if shadow is None else stage.c[MODEL_VERSION] == lineage.model_version
    with db.connect(engine, "output") as conn, sink_errors(what), conn.begin():
        lock = db.is_postgres(engine.url)
        swap_day(conn, target, _staged_rows(target, stage, lineage, main), lineage.day, lock=lock)
        if shadow is not None:
            rows = _staged_rows(shadow, stage, lineage, stage.c[MODEL_VERSION].in_(list(shadows)), own_version=True)
            swap_day(conn, shadow, rows, lineage.day, lock=lock)
        for aside in asides:
            swap_aside(conn, aside, lineage.day, lock=lock)
        # Counted, as drivers do not all report an INSERT ... SELECT's rowcount.
        counted = sa.select(sa.func.count()).select_from(stage)
        count = int(conn.execute(counted if main is None else counted.where(main)).scalar_one())
        pause_point(BEFORE_COMMIT)
        return count


def _staged_rows(target: sa.Table, stage: sa.Table, lineage: Lineage, where=None, own_version: bool = False) -> sa.Select:
    """The staged rows as ``target``'s columns: the run's constants added (``own_version``:
    each row's model_version is its own, a shadow's)."""
    constants = {
        SCORE_DATE: (lineage.day, target.c[SCORE_DATE].type),
        MODEL_NAME: (lineage.model_name, target.c[MODEL_NAME].type),
        MODEL_VERSION: (lineage.model_version, target.c[MODEL_VERSION].type),
        RUN_ID: (lineage.run_id, target.c[RUN_ID].type),
        SCORED_AT: (lineage.scored_at, target.c[SCORED_AT].type),
    }
    if own_version:
        del constants[MODEL_VERSION]
    rows = sa.select(*[
        sa.literal(*constants[c.name]).label(c.name) if c.name in constants else stage.c[c.name]
        for c in target.columns
    ])
    return rows if where is None else rows.where(where)


def _drop(engine: sa.Engine, stage: sa.Table, run: str) -> None:
    try:
        with db.connect(engine, "output") as conn, conn.begin():
            stage.drop(conn, checkfirst=True)
    except (sa.exc.SQLAlchemyError, TransientError) as exc:
        # The run's outcome stands either way; the leftover only takes space.
        log.warning("%s: could not drop the staging table %s: %s (drop it by hand)", run, stage.name, db.describe_db_error(exc))
