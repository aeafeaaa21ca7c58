"""The spark engine's reading: one day of a source as a Spark DataFrame.

Parquet with the day's filter (the source's ``day_rule``, rendered for Spark) pushed down to
the partitions; SQL with Spark's JDBC reader on the SQL source's own query of the day, split
on an integer id column into parallel reads (bounds from one driver query).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from jobs import db
from jobs.config import ParquetSource, SqlSource
from jobs.engines.spark.session import JDBC_DRIVERS, require_jar, spark_errors
from jobs.errors import ConfigError, SourceError
from jobs.sources.parquet import DATE, TEXT, TIMESTAMP, day_rule
from jobs.sources.sql import SqlDaySource
from jobs.vocabulary import PARQUET

log = logging.getLogger(__name__)

FETCH_SIZE = 10_000  # rows per JDBC round trip (bounded whatever the chunk size)
SQLITE_BUSY_MS = str(db.SQLITE_BUSY_TIMEOUT_S * 1000)


def source_errors(what: str):
    return db.translated(f"reading {what}", SourceError, "check the source table or query")


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
    if source.kind == PARQUET:
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
        found = types.get(name)
        rule = day_rule(source.path, name, _spark_kind(found), str(found), day)
        column = F.col(name)
        if rule.kind == TEXT:
            match = column == day.isoformat()
        elif rule.kind == DATE:
            match = column == F.lit(day)
        else:
            match = (column >= F.lit(rule.start)) & (column < F.lit(rule.end))
        # The filter on a partition column prunes directories; on a file column, row groups.
        frame = frame.where(match).select(*[n for n in wanted if n in types])
        return DayInput(frame, source.path, empty=False)  # counted as it is scored: no extra Spark job


def _read_jdbc(spark, source: SqlSource, wanted: list[str], day: date, *, chunk_size: int, partitions: int, column: str) -> DayInput:
    jdbc = jdbc_for(source.url)
    engine = db.make_engine(source.url, must_exist=True)
    day_source = SqlDaySource(source, chunk_size=chunk_size, wanted=wanted)
    with db.connect(engine, "source") as conn, source_errors(day_source.describe()):
        stmt, params = day_source.statement(conn, day)  # the pandas engine's query of the day
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


def _spark_kind(type_name: str | None) -> str | None:
    if type_name is None:
        return None
    if type_name == "string":
        return TEXT
    if type_name == "date":
        return DATE
    if type_name.startswith("timestamp"):
        return TIMESTAMP
    return "other"
