"""SQL source: a table filtered on its date column, or a query bound with ``:score_date``.

PostgreSQL with the ADBC driver: the rows stream as Arrow batches (binary COPY), no Python
row in between. Elsewhere: a server-side cursor (``stream_results``), ``chunk_size`` rows at
a time, turned into Arrow column by column. Either way memory does not grow with the day,
and both give the same Arrow types for the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, timedelta

import pyarrow as pa
import sqlalchemy as sa

from jobs.db import adbc
from jobs import db
from jobs.config import SqlSource
from jobs.errors import SourceError
from jobs.db import sqlite_adbc
from jobs.sources.batches import split

log = logging.getLogger(__name__)


class SqlDaySource:
    def __init__(self, config: SqlSource, *, chunk_size: int, wanted: list[str]) -> None:
        self.config = config
        self.chunk_size = chunk_size
        self.wanted = wanted

    def describe(self) -> str:
        return self.config.table or "query"

    def columns(self) -> list[str]:
        engine = db.make_engine(self.config.url, must_exist=True)
        with db.connect(engine, "source") as conn, _translated(self.describe()):
            if self.config.table:
                return [c.name for c in self._table(conn).columns]
            result = conn.execute(sa.text(self.config.query), {"score_date": date(1970, 1, 1)})
            names = list(result.keys())
            result.close()
            return names

    def iter_batches(self, day: date) -> Iterator[pa.RecordBatch]:
        url = db.parse_url(self.config.url)
        if adbc.available(url):
            yield from split(self._iter_adbc(url, day), self.chunk_size)
            return
        engine = db.make_engine(self.config.url, must_exist=True)
        built = None  # (statement, params), reflected once for whichever path reads
        if self.config.table and db.is_sqlite(url) and sqlite_adbc.available(url):
            # The statement is built on a connection closed before the driver reads: the
            # driver links its own SQLite, and a read transaction left open here would be one
            # another process's commit waits on while our read waits on that commit.
            with db.connect(engine, "source") as conn, _translated(self.describe()):
                built = stmt, params = self.statement(conn, day)
            types = sqlite_adbc.plan(stmt)
            if types is not None:
                try:
                    yield from sqlite_adbc.read(db.sqlite_path(url), stmt.params(params), types, self.chunk_size, self.describe())
                    return
                except sqlite_adbc.Unread as exc:  # values the driver cannot type: the generic path judges them
                    log.info("reading %s as SQLAlchemy rows: %s", self.describe(), exc)
        with db.connect(engine, "source") as conn, _translated(self.describe()):
            stmt, params = built or self.statement(conn, day)
            result = conn.execution_options(stream_results=True, yield_per=self.chunk_size).execute(
                stmt, params
            )
            names = list(result.keys())
            for rows in result.partitions(self.chunk_size):
                yield rows_to_batch(rows, names)

    def _iter_adbc(self, url, day: date) -> Iterator[pa.RecordBatch]:
        """One ADBC connection: the table's columns from the server (a query that returns no
        rows, resolved as the day's query will be), then the day. No SQLAlchemy connection:
        its reflection cost the start about 0.4 s of the interpreter, which the model's load
        needs at that moment."""
        with adbc.reading(url, "source") as reader, adbc.translated(
            f"reading {self.describe()}", SourceError, "check the source table or query"
        ):
            if self.config.query:
                stmt, params = self._query_statement(day)
            else:
                stmt, params = self._select(self._adbc_table(reader), day)
            yield from adbc.read(reader, *adbc.compile_sql(stmt.params(params)))

    def _adbc_table(self, reader: adbc.Reader) -> sa.TableClause:
        schema, name = db.table_parts(self.config.table)
        quoted = adbc.DIALECT.identifier_preparer.format_table(sa.table(name, schema=schema))
        try:
            with reader.query(f"SELECT * FROM {quoted} LIMIT 0") as result:
                names = result.schema.names
        except Exception as exc:  # only a missing table is ours to name; the rest, translated
            if adbc.undefined_table(exc):
                raise self._missing_table() from exc
            raise
        return sa.table(name, *[sa.column(n) for n in names], schema=schema)

    def _table(self, conn: sa.Connection) -> sa.Table:
        schema, name = db.table_parts(self.config.table)
        try:
            return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
        except sa.exc.NoSuchTableError as exc:
            raise self._missing_table() from exc

    def _missing_table(self) -> SourceError:
        return SourceError(
            f"source table {self.config.table} does not exist in {db.redact(self.config.url)}",
            hint="check source.table and source.url",
        )

    def _query_statement(self, day: date):
        return sa.text(self.config.query).bindparams(sa.bindparam("score_date", type_=sa.Date)), {"score_date": day}

    def statement(self, conn: sa.Connection, day: date):
        """The day's query and its parameters: the one both engines run (Spark through JDBC)."""
        if self.config.query:
            return self._query_statement(day)
        return self._select(self._table(conn), day)

    def _select(self, table: sa.TableClause, day: date):
        """The day's rows of the wanted columns ``table`` has."""
        if self.config.date_column not in table.c:
            raise SourceError(
                f"source table {self.config.table} has no column {self.config.date_column}",
                hint="fix source.date_column",
            )
        present = [table.c[name] for name in self.wanted if name in table.c]
        column = table.c[self.config.date_column]
        # A half-open range matches DATE, TIMESTAMP and ISO text columns alike.
        stmt = sa.select(*present).where(
            column >= sa.bindparam("start", type_=sa.Date),
            column < sa.bindparam("end", type_=sa.Date),
        )
        return stmt, {"start": day, "end": day + timedelta(days=1)}


def rows_to_batch(rows: list, names: list[str]) -> pa.RecordBatch:
    """Row tuples -> an Arrow batch, types inferred from the values (NULLs stay null)."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    arrays = []
    for name, values in zip(names, columns, strict=True):
        try:
            arrays.append(pa.array(values, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(
                f"source column {name} mixes types that cannot share one column: {exc}",
                hint="cast the column in the query",
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _translated(what: str):
    return db.translated(f"reading {what}", SourceError, "check the source table or query")
