"""PostgreSQL's binary COPY from Arrow: the SQL sink's write path.

Rows go from Arrow batches to the server as binary COPY, never as Python rows: pgpq encodes
each batch (Rust), psycopg sends it, inside the sink's one transaction. ADBC's PostgreSQL
driver can ingest Arrow too, but its wheels from 1.9.0 on are built without optimization: it
spent 0.62-0.66 s of CPU writing the benchmark day's 1M output rows where this path spends
0.18-0.19 s (``python -m benchmarks.write_paths``; benchmarks/RESULTS.md, "Eighth session").
Reads stay with ADBC (``jobs.db.adbc``).

Optional: without ``pgpq`` and ``psycopg`` (the ``postgres`` extra) the sink uses its generic
SQLAlchemy path, which stores the same values, more slowly.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL

from jobs import db
from jobs.errors import BatchScoreError
from pipelines.basics import first_line

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

DIALECT = postgresql.psycopg.dialect()  # %(name)s placeholders, as psycopg binds them
QUOTE = DIALECT.identifier_preparer


def available(url: str | URL) -> bool:
    """True when ``url`` is PostgreSQL and the encoder and psycopg are installed."""
    return db.is_postgres(url) and not _missing()


@functools.cache
def _missing() -> list[str]:
    """The encoder's packages not installed; said once per process, not once per question."""
    missing = [name for name in ("pgpq", "psycopg") if importlib.util.find_spec(name) is None]
    if missing:
        log.info("%s not installed (pip install 'batchscore[postgres]'): writing through the slower "
                 "SQLAlchemy path", " and ".join(missing))
    return missing


def connect(url: str | URL, what: str) -> psycopg.Connection:
    """A psycopg connection in a transaction (autocommit off); the caller commits and closes."""
    import psycopg

    try:
        return psycopg.connect(db.libpq_uri(url), autocommit=False)
    except psycopg.Error as exc:
        raise db.cannot_connect(url, what, exc) from exc


def execute(conn: psycopg.Connection, statement: sa.sql.ClauseElement) -> list[tuple]:
    """Run a SQLAlchemy statement with its bound values in ``conn``'s transaction; its rows."""
    compiled = statement.compile(dialect=DIALECT)
    with conn.cursor() as cursor:
        cursor.execute(compiled.string, compiled.construct_params())
        return cursor.fetchall() if cursor.description else []


def cancel(conn: psycopg.Connection) -> None:
    """Cancel what ``conn`` is running (from another thread): a lock being awaited."""
    conn.cancel_safe()


def ingest_types(columns: dict[str, sa.types.TypeEngine], schema: pa.Schema) -> dict[str, pa.DataType] | None:
    """For each output column, the Arrow type whose binary COPY PostgreSQL accepts for the
    table's real column type; None if one has no such type or the encoder cannot encode it
    (the sink then uses text COPY, where the server converts)."""
    import pgpq

    types = {}
    for field in schema:
        want = _binary_type(columns[field.name], field.type)
        if want is None:
            return None
        if pa.types.is_timestamp(want) and pa.types.is_timestamp(field.type) and (want.tz is None) != (field.type.tz is None):
            return None  # naive <-> aware follows the server's time zone: let it convert
        types[field.name] = want
    try:
        pgpq.ArrowToPostgresBinaryEncoder(pa.schema(list(types.items())))
    except ValueError as exc:  # a type the encoder does not know (a decimal over 38 digits)
        log.info("writing through text COPY: %s", first_line(exc))
        return None
    return types


def _binary_type(kind: sa.types.TypeEngine, current: pa.DataType) -> pa.DataType | None:
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.SmallInteger):
        return pa.int16()
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Integer):
        return pa.int32()
    if isinstance(kind, sa.Float):  # before Numeric: a Float is a Numeric in SQLAlchemy
        return pa.float32() if isinstance(kind, postgresql.REAL) else pa.float64()
    if isinstance(kind, sa.Numeric):
        if kind.precision is not None:
            return pa.decimal128(kind.precision, kind.scale or 0) if kind.precision <= 38 else None
        return current if pa.types.is_decimal128(current) else None
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us", tz="UTC") if kind.timezone else pa.timestamp("us")
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, (sa.Text, sa.String)) and not isinstance(kind, sa.Enum):
        return pa.string() if pa.types.is_string(current) or pa.types.is_large_string(current) else None
    return None


def copy_batches(conn: psycopg.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch],
                 types: dict[str, pa.DataType]) -> int:
    """Append the batches with one binary COPY, in ``conn``'s open transaction; the rows'
    count. Each batch is cast to the table's types (a value that does not fit raises
    ``pa.ArrowInvalid``), encoded and sent as it comes: one batch in memory at a time."""
    import pgpq

    names = list(types)
    encoder = pgpq.ArrowToPostgresBinaryEncoder(pa.schema(list(types.items())))
    columns = ", ".join(QUOTE.quote(name) for name in names)
    rows = 0
    with conn.cursor() as cursor, cursor.copy(
        f"COPY {QUOTE.format_table(table)} ({columns}) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.write(encoder.write_header())
        for batch in batches:
            if not batch.num_rows:
                continue
            arrays = [batch.column(name) for name in names]
            arrays = [a if a.type == types[n] else a.cast(types[n]) for n, a in zip(names, arrays, strict=True)]
            copy.write(encoder.write_batch(pa.RecordBatch.from_arrays(arrays, names=names)))
            rows += batch.num_rows
        copy.write(encoder.finish())
    return rows


def translated(action: str, permanent: type[BatchScoreError], hint: str):
    """psycopg's errors become ours, once (``db.translating``): a lost connection, a server
    shutting down or a cancelled statement (an ``OperationalError``) can be retried."""
    import psycopg

    return db.translating(action, permanent, hint, errors=psycopg.Error,
                          transient=lambda exc: isinstance(exc, psycopg.OperationalError))
