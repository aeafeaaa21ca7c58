"""SQLite read through ADBC (``adbc-driver-sqlite``, the ``sqlite`` extra): the SQL source's
Arrow-native path for SQLite tables. The driver builds the Arrow batches in C; the generic
path makes a Python tuple per row and infers each column's type from the values.

Used for table sources whose wanted columns are all of a declared type with one plain Arrow
form (integer, float, text, date); anything else (queries, NUMERIC, DATETIME, BOOLEAN ...)
keeps the generic path. The batches carry the types the generic path gives for the same rows.

The driver infers a column's type from its first batch of rows; a column that is NULL in all
of them comes out as int64, and the first real value later would fail the read. When the
first batch has such a column, the query is read again behind one row of typed placeholder
values, and that row is dropped. A value the
driver cannot give that type (text in a FLOAT column, a real in an INTEGER one) fails the
read: before any batch was handed on, the day is read the generic way instead (``Unread``),
so such data fails or passes as it always did; later, the error names the columns.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from jobs import db
from jobs.errors import SourceError, TransientError
from pipelines.basics import first_line

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = db.SQLITE_BUSY_TIMEOUT_S * 1000  # as the generic path's SQLite engine
# SQLite's storage classes each Arrow type is read from (REAL affinity stores integers as reals)
STORED_AS = {pa.int64(): ("integer", "null"), pa.float64(): ("real", "integer", "null"),
             pa.string(): ("text", "null"), pa.date32(): ("text", "null")}


class Unread(Exception):
    """The driver failed on the day's values before a batch was handed on: read it the generic way."""


def available(url) -> bool:
    """True when the SQLite ADBC driver is installed and may read ``url`` (a SQLite URL).

    The driver links its own copy of SQLite. Closing a file through one copy drops every lock
    the process holds on it through the other (POSIX locks belong to the process), so the
    driver never reads a file this process keeps its state in: the ledger's heartbeat closes
    a connection to it while the day is read, and another process could then write under the
    read."""
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        log.info("adbc-driver-sqlite is not installed (pip install 'batchscore[sqlite]'): "
                 "using the slower SQLAlchemy path")
        return False
    if db.holds_state(url):
        log.info("%s is also the state database: read through the slower SQLAlchemy path, not the "
                 "driver (point BATCHSCORE_STATE_URL at a file of its own for the fast read)", db.redact(url))
        return False
    return True


def _arrow_type(kind: sa.types.TypeEngine) -> tuple[pa.DataType, object] | None:
    """The Arrow type the generic path gives a declared column type, and a placeholder value
    the driver reads as that type; None when the driver's form is not that type's."""
    if isinstance(kind, sa.Boolean):
        return None
    if isinstance(kind, sa.Integer):
        return pa.int64(), 0
    if isinstance(kind, sa.Float):  # before Numeric: a Float is a Numeric in SQLAlchemy
        return pa.float64(), 0.5
    if isinstance(kind, (sa.Text, sa.String)) and not isinstance(kind, sa.Enum):
        return pa.string(), ""
    if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
        return pa.date32(), "1970-01-01"  # stored as ISO text; cast after the read
    return None


def plan(stmt: sa.Select) -> dict[str, tuple[pa.DataType, object]] | None:
    """Each selected column's Arrow type and placeholder, or None if one has no plain form."""
    types = {}
    for column in stmt.selected_columns:
        found = _arrow_type(column.type)
        if found is None:
            return None
        types[column.name] = found
    return types


def read(path: Path, stmt: sa.Select, types: dict[str, tuple[pa.DataType, object]], chunk_size: int,
         what: str) -> Iterator[pa.RecordBatch]:
    """The rows of ``stmt`` (its bound values are dates and numbers we computed) in batches of
    ``chunk_size`` rows, typed as ``types`` says."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    schema = pa.schema([(name, kind) for name, (kind, _) in types.items()])
    placeholder = sa.select(*[sa.literal(value).label(name) for name, (_, value) in types.items()])
    handed = False
    try:
        with adbc_sqlite.connect(str(path)) as conn:
            batches = _batches(conn, stmt, chunk_size)
            first = next(batches, None)
            if first is not None and _untyped(first, schema):
                # A column all NULL in the first batch: read again behind the placeholder row
                # (this first batch is then one row short of chunk_size).
                batches.close()
                batches = _batches(conn, sa.union_all(placeholder, stmt), chunk_size)
                first = next(batches).slice(1)
            for batch in itertools.chain([first] if first is not None else [], batches):
                if batch.num_rows:
                    batch = _typed(batch, schema)
                    handed = True
                    yield batch
    except (adbc_sqlite.Error, OSError, pa.ArrowInvalid) as exc:
        if db.transient_message(exc):  # another process's write outlasted the busy timeout, an I/O error
            raise TransientError(f"reading {what} failed: {first_line(exc)}", hint="the run can be retried") from exc
        if not handed:
            raise Unread(str(exc)) from exc
        odd = _odd_columns(path, stmt, schema)
        raise SourceError(
            f"reading {what} failed: {', '.join(odd) or 'a column'} "
            f"{'holds' if len(odd) < 2 else 'hold'} values of another type than declared ({str(exc).strip()[:200]})",
            hint="fix the values, or cast the column in the query",
        ) from exc


def _batches(conn, stmt: sa.Select, chunk_size: int) -> Iterator[pa.RecordBatch]:
    sql = str(stmt.compile(dialect=db.sqlite_dialect(), compile_kwargs={"literal_binds": True}))
    with conn.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(chunk_size)})
        cursor.execute(sql)
        yield from cursor.fetch_record_batch()


def _untyped(batch: pa.RecordBatch, schema: pa.Schema) -> bool:
    """A column the driver could not type from this batch: all NULL, and not int64 (what it guesses)."""
    return any(field.type != pa.int64() and column.null_count == len(column)
               for column, field in zip(batch.columns, schema, strict=True))


def _odd_columns(path: Path, stmt: sa.Select, schema: pa.Schema) -> list[str]:
    """The columns of ``stmt`` holding values stored as another class than their type's."""
    import sqlite3

    checks = [sa.func.sum(sa.case((sa.func.typeof(column).not_in(STORED_AS[field.type]), 1), else_=0))
              for column, field in zip(stmt.selected_columns, schema, strict=True)]
    sql = str(stmt.with_only_columns(*checks).compile(dialect=db.sqlite_dialect(), compile_kwargs={"literal_binds": True}))
    con = sqlite3.connect(path)
    try:
        counts = con.execute(sql).fetchone()
    except sqlite3.Error:
        return []
    finally:
        con.close()
    return [field.name for field, count in zip(schema, counts, strict=True) if count]


def _typed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    arrays = [column if column.type == field.type else column.cast(field.type)
              for column, field in zip(batch.columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
