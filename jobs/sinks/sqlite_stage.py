"""SQLite staging of a day: its rows kept in the connection's TEMP database until the swap, so
the database's write lock is held only for the short delete + insert-select at the end.

A column that holds one value for the whole day (the lineage: score_date, model, run id,
time) is stored once, in a one-row table ``batchscore_const_<table>``; only the columns that
vary go row by row into ``batchscore_stage_<table>``. Binding and storing the constant
columns for every row was most of the staging's time. The swap joins the staged rows to the
one-row table, so every value reaches the output table through a column of the same
declared type as before (the same affinity, the same stored value).
A batch whose "constant" differs from the first batch's folds the constants back into the
stage table (``_unlift``), and staging goes on with every column.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

STAGE_PREFIX = "batchscore_stage_"
CONST_PREFIX = "batchscore_const_"


class Staging:
    """One output table's share of the day, staged in TEMP tables of one connection."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self.constants: dict[str, pa.Scalar] = {}  # lifted column -> its one value
        self._stage = self._temp(STAGE_PREFIX, [c.name for c in table.columns])
        self._const: sa.Table | None = None
        self._started = False

    def fill(self, conn: sa.Connection, batches: Iterable[pa.RecordBatch]) -> int:
        """Stage every batch (a short transaction each, in the TEMP database only); the row count."""
        with conn.begin():  # a failed run's, had this connection made one
            for prefix in (STAGE_PREFIX, STAGE_PREFIX + "all_", CONST_PREFIX):
                _drop(conn, self._temp(prefix, []))
        rows = 0
        for batch in batches:
            if not batch.num_rows:
                continue
            with conn.begin():
                if not self._started:
                    self._start(conn, batch)
                elif not self._fits(batch):
                    self._unlift(conn)
                rows += insert_columns(conn, self._stage, batch.select(self._stage.columns.keys()))
        if not self._started:
            with conn.begin():
                self._stage.create(conn)
        return rows

    def rows(self) -> sa.Select:
        """The staged day in the output table's column order, for ``INSERT ... SELECT``: each
        staged row joined to the one row of constants."""
        if not self.constants:
            return sa.select(*[self._stage.c[c.name] for c in self.table.columns])
        columns = [(self._const if c.name in self.constants else self._stage).c[c.name] for c in self.table.columns]
        return sa.select(*columns).select_from(self._stage.join(self._const, sa.true()))

    def drop(self, conn: sa.Connection) -> None:
        """Drop the TEMP tables."""
        _drop(conn, self._stage)
        if self._const is not None:
            _drop(conn, self._const)

    def _start(self, conn: sa.Connection, first: pa.RecordBatch) -> None:
        """Lift the first batch's one-value columns (floats never: -0.0 and 0.0 pass for one value)."""
        self._started = True
        lifted = [name for name in first.schema.names if one_value(first.column(name))]
        if len(lifted) == first.num_columns or first.num_rows < 2:
            lifted = []  # a stage table needs a column; one row tells nothing of the day
        self.constants = {name: first.column(name)[0] for name in lifted}
        self._stage = self._temp(STAGE_PREFIX, [n for n in first.schema.names if n not in self.constants])
        self._stage.create(conn)
        if lifted:
            self._const = self._temp(CONST_PREFIX, lifted)
            self._const.create(conn)
            insert_columns(conn, self._const, first.select(lifted).slice(0, 1))

    def _fits(self, batch: pa.RecordBatch) -> bool:
        """Every lifted column holds the lifted value in this batch too."""
        return all(one_value(batch.column(name)) and batch.column(name)[0].equals(value)
                   for name, value in self.constants.items())

    def _unlift(self, conn: sa.Connection) -> None:
        """Stage every column from now on: the staged rows, constants filled in, copied to a
        stage table of all of them (in this batch's transaction)."""
        full = self._temp(STAGE_PREFIX + "all_", [c.name for c in self.table.columns])
        full.create(conn)
        conn.execute(full.insert().from_select([c.name for c in self.table.columns], self.rows()))
        self.drop(conn)
        self._stage, self._const, self.constants = full, None, {}

    def _temp(self, prefix: str, names: list[str]) -> sa.Table:
        """A TEMP table of the output table's ``names`` columns, of the same declared types.
        Named in ``temp`` (never looked up in the main database, whose lock staging never takes)."""
        return sa.Table(
            f"{prefix}{self.table.name}", sa.MetaData(),
            *[sa.Column(name, self.table.c[name].type) for name in names], prefixes=["TEMPORARY"], schema="temp",
        )


def _drop(conn: sa.Connection, table: sa.Table) -> None:
    """DROP TABLE IF EXISTS: SQLAlchemy's ``checkfirst`` asks the main database's schema too."""
    conn.execute(sa.schema.DropTable(table, if_exists=True))


def insert_columns(conn: sa.Connection, table: sa.Table, batch: pa.RecordBatch) -> int:
    """One list per column through SQLAlchemy's own bind processors (so values are stored as
    SQLAlchemy stores them), then one executemany: no dict per row."""
    if not batch.num_rows:
        return 0
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=batch.schema.names)
    columns = []
    for name in compiled.positiontup:
        process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if one_value(batch.column(name)):
            # One value for the whole batch: made and processed once, not once per row.
            value = batch.column(name)[0].as_py()
            columns.append(itertools.repeat(process(value) if process else value, batch.num_rows))
            continue
        values = batch.column(name).to_pylist()
        columns.append([process(v) for v in values] if process else values)
    conn.exec_driver_sql(compiled.string, list(zip(*columns, strict=True)))
    return batch.num_rows


def one_value(column: pa.Array) -> bool:
    """Every value the same (floats excluded: -0.0 and 0.0 would pass for one value)."""
    return not pa.types.is_floating(column.type) and pc.count_distinct(column, mode="all").as_py() == 1
