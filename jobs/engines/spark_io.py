"""The spark engine's source and sink: one day in as a Spark DataFrame, one day of scores out.

Reading: Parquet with the day's filter pushed down to the partitions; SQL with Spark's JDBC
reader, split on an integer id column into parallel reads (bounds from one driver query).
Writing: the day is scored and written aside in one Spark job (``stage_day``) -- Parquet into
a hidden directory beside ``score_date=D``, SQL into a staging table -- and, once the run's
checks pass, swapped in on the driver (``StagedDay.commit``): two renames for Parquet, ONE
transaction for SQL. What a killed run left aside is cleared by the next run: the day's hidden
directories (Parquet), the output table's staging tables no live run owns (SQL,
``spark_staging``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol
from datetime import date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa

from jobs import db
from jobs.config import ParquetOutput, ParquetSource, SqlOutput, SqlSource
from jobs.engines.spark_session import JDBC_DRIVERS, require_jar, spark_errors
from jobs.engines.spark_staging import StageLock, stage_name
from jobs.engines.spark_staging import clear_leftovers as clear_stages  # parquet's is clear_leftovers
from jobs.errors import ConfigError, SinkError, SourceError, TransientError
from jobs.scoring import MODEL_NAME, MODEL_VERSION, RUN_ID, SCORE_DATE, SCORED_AT, Lineage
from jobs.sinks.parquet import clear_leftovers, day_dir, staging_dir, swap_in
from jobs.sinks.sql import create_table, day_lock, table_for
from jobs.sources.sql import SqlDaySource

log = logging.getLogger(__name__)

FETCH_SIZE = 10_000  # rows per JDBC round trip (bounded whatever the chunk size)
WRITE_BATCH = 10_000  # rows per JDBC insert batch
SQLITE_BUSY_MS = str(db.SQLITE_BUSY_TIMEOUT_S * 1000)
CONSTANTS = (SCORE_DATE, MODEL_NAME, MODEL_VERSION, RUN_ID, SCORED_AT)  # added by the swap


def source_errors(what: str):
    return db.translated(f"reading {what}", SourceError, "check the source table or query")


def sink_errors(what: str):
    return db.translated(f"writing {what} (nothing was committed)", SinkError, "check the output table and its permissions")


@dataclass
class DayInput:
    frame: object  # pyspark DataFrame of the day's rows: the wanted columns that exist
    describe: str  # as the pandas engine's source names itself in errors
    empty: bool  # known to be empty before scoring (SQL: the driver counts the day's rows)
    queries: int = 1  # JDBC queries reading the day in parallel (SQL sources)


# --- JDBC connection ---------------------------------------------------------------------

@dataclass(frozen=True)
class Jdbc:
    url: str
    options: dict[str, str]  # driver class, credentials, URL query parameters
    backend: str


def jdbc_for(url: str) -> Jdbc:
    """The JDBC URL and properties of a SQLAlchemy URL (credentials kept out of the URL)."""
    parsed = db.parse_url(url)
    backend = parsed.get_backend_name()
    if backend not in JDBC_DRIVERS:
        raise ConfigError(
            f"the spark engine reads and writes SQL on PostgreSQL and SQLite, not {backend}",
            hint="use engine: pandas for this job",
        )
    require_jar(backend)
    options = {"driver": JDBC_DRIVERS[backend][1]}
    if backend == "sqlite":
        path = db.sqlite_path(parsed)
        if path is None:
            raise ConfigError("the spark engine cannot use an in-memory SQLite database", hint="use a file")
        return Jdbc(f"jdbc:sqlite:{path.resolve()}", {**options, "busy_timeout": SQLITE_BUSY_MS}, backend)
    options.update({k: str(v) for k, v in parsed.query.items()})
    if parsed.username:
        options["user"] = parsed.username
    if parsed.password is not None:
        options["password"] = parsed.password
    host = parsed.host or "localhost"
    return Jdbc(f"jdbc:postgresql://{host}:{parsed.port or 5432}/{parsed.database or ''}", options, backend)


def _sql_text(stmt, engine: sa.Engine) -> str:
    """The statement as SQL text with its values inlined, for Spark's ``dbtable``."""
    # A named-paramstyle dialect leaves % alone (psycopg's would double it).
    dialect = type(engine.dialect)(paramstyle="named")
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip().rstrip(";")


# --- reading -----------------------------------------------------------------------------

def read_day(spark, source: ParquetSource | SqlSource, wanted: list[str], day: date, *, chunk_size: int, partitions: int, partition_column: str) -> DayInput:
    if source.kind == "parquet":
        return _read_parquet(spark, source, wanted, day)
    return _read_jdbc(spark, source, wanted, day, chunk_size=chunk_size, partitions=partitions, column=partition_column)


def _read_parquet(spark, source: ParquetSource, wanted: list[str], day: date) -> DayInput:
    from pyspark.sql import functions as F

    if "://" not in source.path and not Path(source.path).exists():
        raise SourceError(f"Parquet path {source.path} does not exist", hint="check source.path")
    with spark_errors(f"reading Parquet {source.path}", SourceError):
        frame = spark.read.parquet(source.path)
        types = {f.name: f.dataType.typeName() for f in frame.schema.fields}
        name = source.date_column
        if name not in types:
            raise SourceError(
                f"Parquet {source.path} has no {name} column nor {name}=YYYY-MM-DD directories",
                hint="fix source.date_column",
            )
        column, kind = F.col(name), types[name]
        if kind == "string":
            match = column == day.isoformat()
        elif kind == "date":
            match = column == F.lit(day)
        elif kind.startswith("timestamp"):
            start = datetime.combine(day, time())
            match = (column >= F.lit(start)) & (column < F.lit(start + timedelta(days=1)))
        else:
            raise SourceError(
                f"Parquet column {name} is {kind}, not a date", hint="use a date, timestamp or YYYY-MM-DD text column"
            )
        # The filter on a partition column prunes directories; on a file column, row groups.
        frame = frame.where(match).select(*[n for n in wanted if n in types])
        return DayInput(frame, source.path, empty=False)  # counted as it is scored: no extra Spark job


def _read_jdbc(spark, source: SqlSource, wanted: list[str], day: date, *, chunk_size: int, partitions: int, column: str) -> DayInput:
    jdbc = jdbc_for(source.url)
    engine = db.make_engine(source.url, must_exist=True)
    day_source = SqlDaySource(source, chunk_size=chunk_size, wanted=wanted)
    with db.connect(engine, "source") as conn, source_errors(day_source.describe()):
        stmt, params = day_source._statement(conn, day)  # the pandas engine's query of the day
        stmt = stmt.params(**params)
    dbtable = f"({_sql_text(stmt, engine)}) batchscore_day"
    reader = spark.read.format("jdbc").option("url", jdbc.url).option("dbtable", dbtable)
    reader = reader.options(**jdbc.options).option("fetchsize", str(min(chunk_size, FETCH_SIZE)))
    with spark_errors(f"reading {day_source.describe()}", SourceError):
        probe = reader.load()  # the columns and their JDBC types; no rows are read
        custom = _custom_schema(probe.schema, jdbc.backend)
        if custom:
            reader = reader.option("customSchema", custom)
            probe = reader.load()
    types = {f.name: f.dataType.typeName() for f in probe.schema.fields}
    split = column in types and types[column] in ("long", "integer", "short", "byte")
    count, low, high = _bounds(engine, stmt, column if split else None, day_source.describe())
    queries = 1
    if split and count > 1 and low is not None and high > low:
        queries = max(1, min(partitions, count, high - low + 1))
        reader = reader.options(
            partitionColumn=column, lowerBound=str(low), upperBound=str(high), numPartitions=str(queries)
        )
    with spark_errors(f"reading {day_source.describe()}", SourceError):
        frame = reader.load()
        frame = frame.select(*[n for n in wanted if n in types])
    return DayInput(frame, day_source.describe(), count == 0, queries)


def _bounds(engine: sa.Engine, stmt, column: str | None, what: str) -> tuple[int, int | None, int | None]:
    """Rows of the day, and the smallest and largest value of ``column`` among them."""
    if isinstance(stmt, sa.TextClause):
        stmt = stmt.columns(*([sa.column(column)] if column else []))
    day = stmt.subquery("batchscore_day")
    parts = [sa.func.count()]
    if column:
        parts += [sa.func.min(day.c[column]), sa.func.max(day.c[column])]
    with db.connect(engine, "source") as conn, source_errors(what):
        row = conn.execute(sa.select(*parts).select_from(day)).one()
    return (int(row[0]), *(int(v) if v is not None else None for v in row[1:])) if column else (int(row[0]), None, None)


def _custom_schema(schema, backend: str) -> str:
    """Spark types that keep the values as the pandas engine's driver gives them.

    SQLite has no column types: its values are 64-bit integers, doubles and text, whatever
    the declaration (which the JDBC driver maps to 32-bit INTEGER, FLOAT, DECIMAL, DATE...).
    A 4-byte float read as double avoids a float32 detour everywhere.
    """
    wanted = {}
    for field in schema.fields:
        kind = field.dataType.typeName()
        if kind == "float" or (backend == "sqlite" and kind == "decimal"):
            wanted[field.name] = "DOUBLE"
        elif backend == "sqlite" and kind in ("integer", "short", "byte", "boolean"):
            wanted[field.name] = "BIGINT"
        elif backend == "sqlite" and kind in ("date", "timestamp", "timestamp_ntz"):
            wanted[field.name] = "STRING"
    return ", ".join(f"`{name.replace('`', '``')}` {kind}" for name, kind in wanted.items())


# --- writing -----------------------------------------------------------------------------

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


@dataclass
class _ParquetStage:
    dirs: HadoopDirs
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
    final = day_dir(output.path, day)
    with spark_errors(f"writing {output.path}"):
        dirs = HadoopDirs(spark, output.path)
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
    output table that nobody holds (a killed run's) are dropped first (``spark_staging``)."""
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
            clear_stages(engine, target, stage.name, run)
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
    names = [c.name for c in target.columns]
    columns = [
        sa.literal(*constants[n]).label(n) if n in constants else stage.c[n] for n in names
    ]
    with db.connect(engine, "output") as conn, sink_errors(what), conn.begin():
        if db.is_postgres(engine.url):
            conn.execute(*day_lock(what, lineage.day))  # the pandas engine's sink's lock: one writer per (table, day)
        create_table(conn, target)
        conn.execute(target.delete().where(target.c[SCORE_DATE] == lineage.day))
        conn.execute(target.insert().from_select(names, sa.select(*columns)))
        # Counted, as drivers do not all report an INSERT ... SELECT's rowcount.
        return int(conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one())


def _drop(engine: sa.Engine, stage: sa.Table, run: str) -> None:
    try:
        with db.connect(engine, "output") as conn, conn.begin():
            stage.drop(conn, checkfirst=True)
    except (sa.exc.SQLAlchemyError, TransientError) as exc:
        # The run's outcome stands either way; the leftover only takes space.
        log.warning("%s: could not drop the staging table %s: %s (drop it by hand)", run, stage.name, db.describe_db_error(exc))
