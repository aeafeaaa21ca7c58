"""Reading a job's committed output back: one id's score, or one day's rows in batches.

The output is the job's SQL table or its Parquet directory (``path/score_date=D/``), as the
sinks wrote it; nothing here writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

from jobs import db
from jobs.config import ParquetOutput, SqlOutput
from jobs.errors import SinkError, UsageError
from jobs.output import SCORE_DATE
from jobs.sinks.parquet import STAGING, OLD, day_dir
from jobs.sources.sql import rows_to_batch
from jobs.vocabulary import PARQUET, SQL
from pipelines.basics import json_default


def plain(value):
    """A value of an output row as JSON data."""
    if isinstance(value, (date, datetime)):
        return json_default(value)
    return value


class OutputReader:
    """The committed rows of one job's output; the constructor does no I/O."""

    def __init__(self, output: SqlOutput | ParquetOutput, id_columns: Sequence[str]) -> None:
        self.output = output
        self.id_columns = list(id_columns)
        self._engine: sa.Engine | None = None
        self._table: sa.Table | None = None

    # --- one id ----------------------------------------------------------------------------

    def find(self, ids: Sequence[str], day: date | None) -> dict | None:
        """The row of the id (values as text, in id_columns order) on ``day``, or on the newest
        day that has it; None when there is none."""
        if len(ids) != len(self.id_columns):
            raise UsageError(
                f"the id has {len(ids)} part(s), the job's id_columns are {', '.join(self.id_columns)}",
                hint="give the id as its values joined by commas, in id_columns order",
            )
        if self.output.kind == SQL:
            return self._find_sql(ids, day)
        return self._find_parquet(ids, day)

    def _find_sql(self, ids: Sequence[str], day: date | None) -> dict | None:
        table = self._sql_table()
        stmt = sa.select(table)
        for name, text in zip(self.id_columns, ids, strict=True):
            stmt = stmt.where(table.c[name] == _typed(text, table.c[name].type))
        if day is not None:
            stmt = stmt.where(table.c[SCORE_DATE] == sa.bindparam("day", day, type_=sa.Date))
        stmt = stmt.order_by(table.c[SCORE_DATE].desc()).limit(1)
        with self._translated(), self._sql_engine().connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else {k: plain(v) for k, v in row.items()}

    def _find_parquet(self, ids: Sequence[str], day: date | None) -> dict | None:
        import pyarrow.dataset as ds

        for candidate in [day] if day is not None else self.parquet_days():
            path = day_dir(self.output.path, candidate)
            if not os.path.isdir(path):
                continue
            dataset = ds.dataset(path, format="parquet")
            condition = None
            for name, text in zip(self.id_columns, ids, strict=True):
                field = dataset.schema.field(name)
                test = ds.field(name) == pa.scalar(_typed_arrow(text, field.type), field.type)
                condition = test if condition is None else condition & test
            table = dataset.to_table(filter=condition)
            if table.num_rows:
                row = table.slice(0, 1).to_pylist()[0]
                row[SCORE_DATE] = candidate.isoformat()
                return {k: plain(v) for k, v in row.items()}
        return None

    def parquet_days(self) -> list[date]:
        """The committed days of a Parquet output, newest first."""
        try:
            names = os.listdir(self.output.path)
        except FileNotFoundError:
            return []
        days = []
        for name in names:
            if name.startswith((STAGING, OLD)) or not name.startswith(f"{SCORE_DATE}="):
                continue
            try:
                days.append(date.fromisoformat(name.split("=", 1)[1]))
            except ValueError:
                continue
        return sorted(days, reverse=True)

    # --- one day ---------------------------------------------------------------------------

    def iter_day(self, day: date, columns: Sequence[str], chunk_size: int = 50_000) -> Iterator[pa.RecordBatch]:
        """The day's committed rows, ``columns`` only, in batches of at most ``chunk_size``."""
        import pyarrow.dataset as ds

        if self.output.kind == PARQUET:
            path = day_dir(self.output.path, day)
            if not os.path.isdir(path):
                return
            yield from ds.dataset(path, format="parquet").to_batches(columns=[c for c in columns if c != SCORE_DATE], batch_size=chunk_size)
            return
        table = self._sql_table()
        present = [table.c[c] for c in columns if c in table.c]
        stmt = sa.select(*present).where(table.c[SCORE_DATE] == sa.bindparam("day", day, type_=sa.Date))
        with self._translated(), self._sql_engine().connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(stmt)
            names = list(result.keys())
            for rows in result.partitions(chunk_size):
                yield rows_to_batch([tuple(plain(v) if isinstance(v, date) else v for v in r) for r in rows], names)

    def columns(self, day: date) -> list[str]:
        """The output's column names (Parquet: those of the day's files)."""
        import pyarrow.dataset as ds

        if self.output.kind == SQL:
            return [c.name for c in self._sql_table().columns]
        path = day_dir(self.output.path, day)
        return ds.dataset(path, format="parquet").schema.names if os.path.isdir(path) else []

    # --- helpers ---------------------------------------------------------------------------

    def _sql_engine(self) -> sa.Engine:
        if self._engine is None:
            url = db.parse_url(self.output.url)
            if db.is_sqlite(url):
                self._engine = db.make_engine(self.output.url, must_exist=True)
            else:  # a server: keep a few connections, lookups are many and small
                self._engine = sa.create_engine(url, poolclass=QueuePool, pool_size=4, pool_pre_ping=True)
        return self._engine

    def _sql_table(self) -> sa.Table:
        if self._table is None:
            schema, name = db.table_parts(self.output.table)
            with self._translated(), self._sql_engine().connect() as conn:
                try:
                    self._table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
                except sa.exc.NoSuchTableError as exc:
                    raise SinkError(
                        f"the output table {self.output.table} does not exist yet",
                        hint="run the job for a day first",
                    ) from exc
        return self._table

    def _translated(self):
        return db.translated(f"reading the output {self.output.describe()}", SinkError, "check output.url and the table")


def _typed(text: str, kind: sa.types.TypeEngine):
    """An id from a URL path as the column's Python type."""
    try:
        python = kind.python_type
    except NotImplementedError:
        return text
    return _convert(text, python)


def _typed_arrow(text: str, kind: pa.DataType):
    if pa.types.is_integer(kind):
        return _convert(text, int)
    if pa.types.is_floating(kind):
        return _convert(text, float)
    return text


def _convert(text: str, python: type):
    if python in (int, float):
        try:
            return python(text)
        except ValueError as exc:
            raise UsageError(f"id {text!r} is not a {python.__name__}", hint="give the id as the output stores it") from exc
    return text
