"""ADBC (Arrow Database Connectivity) for PostgreSQL: the Arrow-native read of the SQL source.
Rows arrive as Arrow batches (binary COPY), never as Python rows. (The sink writes with binary
COPY through ``jobs.db.binary_copy``.)

Optional: without ``adbc-driver-postgresql`` (the ``postgres`` extra) the SQL source uses its
generic SQLAlchemy path, which gives the same data, more slowly.

The driver's library: the wheels of ``adbc-driver-postgresql`` 1.9 to 1.13 ship a build without
compiler optimization, which spends 2.5x the CPU of an optimized one decoding a day's rows
(benchmarks/RESULTS.md, "Tenth session: ADBC's PostgreSQL driver built with optimization"). ``scripts/setup``
builds the same driver from the vendored source (``third_party/arrow-adbc``,
``scripts/build-adbc-postgresql``) into ``BUILT_DRIVER``; reads load that build when it is
there, the wheel's library otherwise (``driver_library``).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL

from jobs import db
from jobs.errors import BatchScoreError, ConfigError, SourceError

log = logging.getLogger(__name__)

UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a relation that does not exist

# Where scripts/build-adbc-postgresql puts the optimized build: the environment's own lib/.
BUILT_DRIVER = Path(sys.prefix) / "lib" / "batchscore" / "libadbc_driver_postgresql.so"
# A driver library of the user's choice, or "wheel" for the library the wheel ships.
DRIVER_ENV = "BATCHSCORE_ADBC_POSTGRESQL_DRIVER"
WHEEL = "wheel"

# $1, $2 ... placeholders: what libpq (and so ADBC) binds.
DIALECT = postgresql.psycopg.dialect(paramstyle="numeric_dollar")


def available(url: str | URL) -> bool:
    """True when ``url`` is PostgreSQL and the ADBC driver is installed."""
    if not db.is_postgres(url):
        return False
    try:
        import adbc_driver_postgresql  # noqa: F401  (not its DB-API module: see _low_level)
    except ImportError:
        log.info("adbc-driver-postgresql is not installed (pip install 'batchscore[postgres]'): "
                 "using the slower SQLAlchemy path")
        return False
    return True


def compile_sql(stmt: sa.sql.ClauseElement) -> tuple[str, tuple]:
    """A SQLAlchemy statement with its bound values -> (``$n`` SQL text, positional values)."""
    compiled = stmt.compile(dialect=DIALECT)
    params = compiled.construct_params()
    return compiled.string, tuple(params[name] for name in compiled.positiontup or ())


def inline_dates(sql: str, params: tuple) -> str:
    """``$n`` placeholders replaced by the DATE literals they stand for.

    libpq cannot COPY a query that has parameters, and without COPY the driver fetches the
    whole result in one piece (a day's rows in memory at once). Our statements bind only the
    dates we compute ourselves, so they are safe to write into the SQL.
    """
    def literal(match: re.Match) -> str:
        value = params[int(match.group(1)) - 1]
        if not isinstance(value, date) or isinstance(value, datetime):
            raise TypeError(f"only dates are inlined, not {type(value).__name__}")
        return f"CAST('{value.isoformat()}' AS DATE)"

    return re.sub(r"\$(\d+)(?!\d)", literal, sql)


def _low_level():
    """ADBC's driver manager and PostgreSQL driver without their DB-API module, whose import
    imports ``pyarrow.dataset`` and, through it, pandas: about 0.2 s of the interpreter that
    would come before a source's first row. Their errors are the DB-API's error classes."""
    import adbc_driver_manager
    import adbc_driver_postgresql

    return adbc_driver_manager, adbc_driver_postgresql


def driver_library() -> str | None:
    """The PostgreSQL driver library reads load: ``$BATCHSCORE_ADBC_POSTGRESQL_DRIVER`` when set
    (``wheel``: the wheel's own), else the optimized build when ``scripts/setup`` made one,
    else None (the wheel's)."""
    chosen = os.environ.get(DRIVER_ENV, "").strip()
    if chosen == WHEEL:
        return None
    if chosen:
        if not Path(chosen).is_file():
            raise ConfigError(
                f"{DRIVER_ENV}={chosen}: no such file",
                hint=f"point it at a built libadbc_driver_postgresql.so, set it to '{WHEEL}' for the "
                     "driver's own library, or unset it",
            )
        return chosen
    return str(BUILT_DRIVER) if BUILT_DRIVER.is_file() else None


def _open_database(manager, driver, uri: str):
    """An ``AdbcDatabase`` on ``uri`` through ``driver_library()``'s library."""
    library = driver_library()
    _say_library(library)
    if library is None:
        return driver.connect(uri)
    return manager.AdbcDatabase(driver=library, uri=uri)


@functools.cache
def _say_library(library: str | None) -> None:
    """Which driver library PostgreSQL reads load: said once per process and library."""
    if library is None:
        log.info("PostgreSQL reads through the adbc-driver-postgresql wheel's library, built without "
                 "optimization (scripts/build-adbc-postgresql builds the faster one)")
    else:
        log.info("PostgreSQL reads through ADBC's driver at %s", library)


class Result(NamedTuple):
    """A query's result: its columns, and its batches as they stream."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


class Reader:
    """A read-only ADBC connection through the driver's low-level API, in autocommit mode
    (no transaction: the driver sends no BEGIN, and the server warns of none in progress)."""

    def __init__(self, url: str | URL, what: str) -> None:
        manager, driver = _low_level()
        self._manager = manager
        database = None
        try:
            database = _open_database(manager, driver, db.libpq_uri(url))
            self._connection = manager.AdbcConnection(database)
        except manager.Error as exc:
            if database is not None:
                database.close()
            raise db.cannot_connect(url, what, exc) from exc
        self._database = database

    @contextmanager
    def query(self, sql: str) -> Iterator[Result]:
        """The result of ``sql`` (no parameters), its batches streamed, open for the block."""
        statement = self._manager.AdbcStatement(self._connection)
        try:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            with pa.RecordBatchReader.from_stream(stream) as batches:
                yield Result(batches.schema, self._driver_errors(batches))
        finally:
            statement.close()

    def _driver_errors(self, batches: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """``batches``, with a failure of the driver mid-stream (the server gone, the
        connection terminated), which Arrow raises as ``OSError`` or ``ArrowException``,
        raised as the driver's own error class, as every other failure of the driver is."""
        try:
            yield from batches
        except OSError as exc:
            raise self._manager.OperationalError(str(exc), status_code=self._manager.AdbcStatusCode.IO) from exc
        except pa.ArrowException as exc:
            raise self._manager.DatabaseError(str(exc), status_code=self._manager.AdbcStatusCode.INTERNAL) from exc

    def close(self) -> None:
        try:
            self._connection.close()
        finally:
            self._database.close()


@contextmanager
def reading(url: str | URL, what: str) -> Iterator[Reader]:
    """A ``Reader`` for the length of a block."""
    reader = Reader(url, what)
    try:
        yield reader
    finally:
        reader.close()


def undefined_table(exc: BaseException) -> bool:
    """``exc`` is the driver's error for a table (or view) that does not exist."""
    manager, _ = _low_level()
    return isinstance(exc, manager.Error) and getattr(exc, "sqlstate", None) == UNDEFINED_TABLE


def is_transient(exc: BaseException) -> bool:
    """A lost connection or a server going away, as opposed to bad SQL or bad data."""
    manager, _ = _low_level()

    if isinstance(exc, manager.OperationalError):
        return True
    text = str(exc).lower()
    return any(m in text for m in ("connection", "server closed", "terminating", "timeout"))


# --- reading -------------------------------------------------------------------------------

def read(reader: Reader, sql: str, params: tuple) -> Iterator[pa.RecordBatch]:
    """The result of ``sql`` as Arrow batches, streamed (binary COPY), with the types the
    generic SQLAlchemy path gives for the same rows (see ``as_generic``)."""
    with reader.query(inline_dates(sql, params)) as result:
        for batch in result.batches:
            yield as_generic(batch)


def as_generic(batch: pa.RecordBatch) -> pa.RecordBatch:
    """ADBC's Arrow types -> what the generic path infers from psycopg's Python values.

    NUMERIC(p, s) arrives as text: decimal128(p, s) (unconstrained NUMERIC: inferred from the
    values, as pyarrow does for Decimals); REAL: its shortest decimal text read as a double,
    as psycopg does; smaller integers widen to int64; ADBC's type metadata is dropped.
    """
    arrays, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        kind = field.type
        if isinstance(kind, pa.BaseExtensionType):
            column = column.storage if hasattr(column, "storage") else column
            if (field.metadata or {}).get(b"POSTGRESQL:type") == b"numeric":
                column = _numeric(field, column)
        elif pa.types.is_float32(kind):
            column = column.cast(pa.string()).cast(pa.float64())
        elif pa.types.is_integer(kind) and kind != pa.int64():
            column = column.cast(pa.int64())
        arrays.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def translated(action: str, permanent: type[BatchScoreError], hint: str):
    """ADBC's driver errors become ours, once (``db.translating``)."""
    manager, _ = _low_level()
    return db.translating(action, permanent, hint, errors=manager.Error, transient=is_transient)


def _numeric(field: pa.Field, text: pa.Array) -> pa.Array:
    """NUMERIC sent as text -> decimal128(p, s) of the column (unconstrained NUMERIC: inferred
    from the values, as pyarrow does for psycopg's Decimals)."""
    from decimal import Decimal

    typmod = int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
    try:
        if typmod >= 4:
            precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
            kind = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
            return text.cast(kind)
        return pa.array([None if v is None else Decimal(v) for v in text.to_pylist()])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SourceError(
            f"source column {field.name} has NUMERIC values Arrow cannot hold (NaN or infinity?): {exc}",
            hint="cast the column in the query",
        ) from exc
