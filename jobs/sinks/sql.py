"""SQL sink: delete the day and insert its scores (and its rejects) in ONE transaction.

PostgreSQL: ``COPY`` inside the transaction (MVCC keeps readers on the old day until commit):
binary COPY straight from Arrow (``jobs.db.binary_copy``) when its encoder is installed and
every column has a binary form, else text COPY through psycopg.
SQLite: batches are staged in TEMP tables first (``jobs.sinks.sqlite_stage``), so the
database's write lock is held only for the short delete + insert-select at the end, not while
the day is being scored.
Others: plain inserts inside the transaction.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import NamedTuple

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from jobs import db
from jobs.db import binary_copy
from jobs.config import SqlOutput
from jobs.errors import SinkError
from jobs.faults import BEFORE_COMMIT, pause_point
from jobs.output import SCORE_DATE
from jobs.sinks.base import Aside
from jobs.sinks.sqlite_stage import Staging
from pipelines.basics import first_line

log = logging.getLogger(__name__)

SQLITE_CACHE_KIB = 32 * 1024  # the SQLite writer's page cache, for this connection only


class SqlDaySink:
    def __init__(self, config: SqlOutput) -> None:
        self.config = config
        self._ahead: _DayAhead | None = None
        self._sqlite: tuple[date, sa.Connection] | None = None

    def describe(self) -> str:
        return self.config.table

    def recover(self, day: date) -> None:
        """Nothing to do: a crashed run's transaction was rolled back by the database."""

    @contextmanager
    def begin(self, day: date) -> Iterator[None]:
        """Begin the day's transaction ahead of its rows, where that saves time: on PostgreSQL
        with binary COPY, the wait for the day's lock and the delete of its old rows run on the
        server while this process loads the model. Nothing is committed before
        ``replace_day``; leaving the block without it rolls back."""
        url = db.parse_url(self.config.url)
        if db.is_sqlite(url):
            with self._sqlite_ahead(day):
                yield
            return
        if not binary_copy.available(url):
            yield
            return
        self._ahead = _DayAhead(url, self.config.table, day)
        try:
            yield
        finally:
            ahead, self._ahead = self._ahead, None
            ahead.close()

    @contextmanager
    def _sqlite_ahead(self, day: date) -> Iterator[None]:
        """SQLite: the output connection opened, and the database's schema read, before the
        source is: staging then touches the TEMP database only. A connection that first read
        the schema mid-day would wait for another process's commit, which waits for our
        source's read to end (the source's driver links its own SQLite, so this process's
        read lock does not let this connection through): neither would move until a busy
        timeout ran out."""
        engine = db.make_engine(self.config.url, writer=True)
        with db.connect(engine, "output") as conn, self._errors():
            _sqlite_writer(conn)
            self._sqlite = (day, conn)
            try:
                yield
            finally:
                self._sqlite = None

    def _errors(self):
        return db.translated(
            f"writing {self.config.table} (nothing was committed)", SinkError, "check the output table and its permissions"
        )

    def replace_day(
        self, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch], asides: Sequence[Aside] = ()
    ) -> int:
        """The day's rows (and each aside's, in its table) in one transaction; the scores' count."""
        parts = [_Part(table_for(self.config.table, schema), schema, batches)]
        parts += [_Part(table_for(aside.name, aside.schema), aside.schema, aside.batches) for aside in asides]
        if self._sqlite is not None and self._sqlite[0] == day:
            with self._errors():
                return _replace_sqlite(self._sqlite[1], parts, day)
        engine = db.make_engine(self.config.url, writer=True)
        ahead = self._ahead if self._ahead is not None and self._ahead.day == day else None
        with db.connect(engine, "output") as conn, self._errors():
            if db.is_sqlite(engine.url):
                return _replace_sqlite(_sqlite_writer(conn), parts, day)
            existing = [ensure_table(conn, part.table) for part in parts]
            fast = binary_copy.available(engine.url)
            types = [binary_copy.ingest_types(e, part.schema) for e, part in zip(existing, parts, strict=True)] if fast else [None]
            if None in types:
                if ahead is not None:
                    ahead.close()  # its lock would keep this connection waiting on our own
                write = _copy_postgres if db.is_postgres(engine.url) else insert_rows
                with conn.begin():
                    counts = []
                    for part in parts:
                        if db.is_postgres(engine.url):
                            conn.execute(*day_lock(part.table.fullname, day))
                        conn.execute(part.table.delete().where(part.table.c[SCORE_DATE] == day))
                        counts.append(sum(write(conn, part.table, batch) for batch in part.batches))
                    pause_point(BEFORE_COMMIT)
                    return counts[0]
        return _replace_postgres_binary(engine.url, parts, types, day, ahead)


class _Part(NamedTuple):
    """One table's share of a day: the scores, or the rows set aside."""

    table: sa.Table
    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]


def table_for(name: str, schema: pa.Schema) -> sa.Table:
    """The output table, typed from the scored batches' Arrow schema."""
    schema_name, table_name = db.table_parts(name)
    columns = [sa.Column(f.name, _sql_type(f.type), nullable=f.nullable) for f in schema]
    table = sa.Table(table_name, sa.MetaData(), *columns, schema=schema_name)
    # Days are appended in order, so on PostgreSQL a BRIN index (a few pages for the whole
    # table) finds a day as well as a B-tree, which would cost an index entry per row written.
    sa.Index(
        f"ix_{table_name}_{SCORE_DATE}", table.c[SCORE_DATE],
        postgresql_using="brin", postgresql_with={"autosummarize": "on"},
    )
    return table


def ensure_table(conn: sa.Connection, table: sa.Table) -> dict[str, sa.types.TypeEngine]:
    """Create the table and its score_date index if missing, committed on their own (an empty
    table is no half-written day, and concurrent days of a backfill need not wait on it).
    Returns the table's real column types."""
    with conn.begin():
        return create_table(conn, table)


def create_table(conn: sa.Connection, table: sa.Table) -> dict[str, sa.types.TypeEngine]:
    """In the current transaction: create the table and its index if missing. A table that
    exists is not altered: its indexes are its owner's choice, and on PostgreSQL even
    ``CREATE INDEX IF NOT EXISTS`` waits for every open write to the table (another day's
    run, or this run's own transaction begun ahead). It must have every column."""
    if not sa.inspect(conn).has_table(table.name, schema=table.schema):
        conn.execute(CreateTable(table, if_not_exists=True))
        for index in table.indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))
    existing = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
    missing = [c.name for c in table.columns if c.name not in existing]
    if missing:
        raise SinkError(
            f"output table {table.fullname} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            hint="add them with ALTER TABLE, or write to a new table",
        )
    return existing


def day_lock(name: str, day: date) -> tuple:
    # Two runs of the same day (a --force next to a scheduled run) queue here, not interleave.
    return sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"batchscore:{name}:{day.isoformat()}"}


def swap_day(conn: sa.Connection, table: sa.Table, rows: sa.Select, day: date, *, lock: bool) -> None:
    """Replace ``day`` of ``table`` by ``rows`` (INSERT ... SELECT) in ``conn``'s transaction:
    the day's lock first (``lock``: PostgreSQL), the table created when missing, the old day
    deleted. The one SQL swap of a staged day, for both engines (SQLite's TEMP staging here,
    Spark's staging table in ``jobs.engines.spark.stage``)."""
    clear_day(conn, table, day, lock=lock)
    conn.execute(table.insert().from_select([c.name for c in table.columns], rows))


def swap_aside(conn: sa.Connection, aside: Aside, day: date, *, lock: bool) -> int:
    """Replace ``day`` of an aside's table by its rows in ``conn``'s transaction, as
    ``swap_day`` does (Spark's driver: the rejects it found); returns the rows."""
    table = table_for(aside.name, aside.schema)
    clear_day(conn, table, day, lock=lock)
    return sum(insert_rows(conn, table, batch) for batch in aside.batches)


def clear_day(conn: sa.Connection, table: sa.Table, day: date, *, lock: bool) -> None:
    """In ``conn``'s transaction: the day's lock (``lock``: PostgreSQL), the table created
    when missing, the day's rows deleted."""
    if lock:
        conn.execute(*day_lock(table.fullname, day))
    create_table(conn, table)
    conn.execute(table.delete().where(table.c[SCORE_DATE] == day))


def _replace_postgres_binary(url, parts: list[_Part], types: list[dict], day: date, ahead: _DayAhead | None) -> int:
    """Lock, delete and binary-COPY the day, table after table, on one psycopg connection,
    committed once (the scores' lock and delete may have been done ahead, by
    ``SqlDaySink.begin``). Returns the scores' count."""
    action = f"writing {parts[0].table.fullname} (nothing was committed)"
    conn, cleared = ahead.take() if ahead is not None else (binary_copy.connect(url, "output"), False)
    try:
        with binary_copy.translated(action, SinkError, "check the output table and its permissions"):
            counts = []
            for part, kinds in zip(parts, types, strict=True):
                if not (cleared and part is parts[0]):
                    _lock_and_clear(conn, part.table.fullname, day)
                try:
                    counts.append(binary_copy.copy_batches(conn, part.table, part.batches, kinds))
                except pa.ArrowInvalid as exc:
                    raise SinkError(f"{action}: {exc}", hint="a value does not fit its column: widen the column") from exc
            pause_point(BEFORE_COMMIT)
            conn.commit()
            return counts[0]
    except BaseException:
        _rollback_quietly(conn)
        raise
    finally:
        conn.close()


def _rollback_quietly(conn) -> None:
    """Roll back after a failure without hiding it: a connection the server dropped
    (pg_terminate_backend, a restart) cannot roll back, and needs not -- the server did."""
    try:
        conn.rollback()
    except Exception as exc:  # the run's own error is the one to report
        log.warning("rolling back the output transaction failed: %s (the server rolls it back)", first_line(exc))


def _lock_and_clear(conn, name: str, day: date) -> bool:
    """In ``conn``'s transaction (psycopg): wait for the day's lock, then delete the day's
    rows if the table exists. True when it does."""
    schema, table_name = db.table_parts(name)
    table = sa.table(table_name, sa.column(SCORE_DATE), schema=schema)
    lock, params = day_lock(name, day)
    binary_copy.execute(conn, lock.bindparams(**params))
    quoted = binary_copy.QUOTE.format_table(table)
    if binary_copy.execute(conn, sa.select(sa.func.to_regclass(sa.literal(quoted, sa.Text))))[0][0] is None:
        return False
    binary_copy.execute(conn, table.delete().where(table.c[SCORE_DATE] == sa.bindparam("day", day, type_=sa.Date)))
    return True


class _DayAhead:
    """The day's transaction begun in a thread, ahead of its rows: a psycopg connection, the
    day's lock and (when the table exists) the delete of its old rows. Taken by
    ``replace_day``; otherwise rolled back on ``close``."""

    def __init__(self, url, name: str, day: date) -> None:
        self.day = day
        self._conn = None
        self._cleared = False
        self._error: BaseException | None = None
        # A daemon: a process that exits while the lock is awaited does not wait for it.
        self._thread = threading.Thread(target=self._begin, args=(url, name), name="batchscore-output", daemon=True)
        self._thread.start()

    def _begin(self, url, name: str) -> None:
        try:
            self._conn = binary_copy.connect(url, "output")
            with binary_copy.translated(f"writing {name} (nothing was committed)", SinkError, "check the output table and its permissions"):
                self._cleared = _lock_and_clear(self._conn, name, self.day)
        except BaseException as exc:  # handed over by take(), in the run's thread
            self._error = exc

    def take(self):
        """(connection, whether the day is already cleared): the caller commits or rolls
        back, and closes it. Raises what beginning raised."""
        self._thread.join()
        conn, self._conn = self._conn, None
        if self._error is not None:
            if conn is not None:
                conn.close()
            raise self._error
        return conn, self._cleared

    def close(self) -> None:
        """Roll back and close what was not taken. A lock still awaited is cancelled: a run
        that failed before its rows were written does not wait for another run's day. What
        beginning raised is dropped with it: the run failed for its own reason, or wrote
        through another connection."""
        while self._thread.is_alive():
            conn = self._conn
            if conn is not None:
                binary_copy.cancel(conn)
            self._thread.join(0.1)
        conn, self._conn = self._conn, None
        if conn is not None:
            _rollback_quietly(conn)
            conn.close()


def _sql_type(kind: pa.DataType) -> sa.types.TypeEngine:
    if pa.types.is_boolean(kind):
        return sa.Boolean()
    if pa.types.is_integer(kind):
        return sa.BigInteger() if kind.bit_width == 64 or pa.types.is_unsigned_integer(kind) else sa.Integer()
    if pa.types.is_floating(kind):
        return sa.Double()
    if pa.types.is_decimal(kind):
        return sa.Numeric(kind.precision, kind.scale)
    if pa.types.is_date(kind):
        return sa.Date()
    if pa.types.is_timestamp(kind):
        return sa.DateTime(timezone=kind.tz is not None)
    return sa.Text()


def insert_rows(conn: sa.Connection, table: sa.Table, batch: pa.RecordBatch) -> int:
    if batch.num_rows:
        conn.execute(table.insert(), batch.to_pylist())
    return batch.num_rows


def _copy_postgres(conn: sa.Connection, table: sa.Table, batch: pa.RecordBatch) -> int:
    """COPY one batch as CSV: pyarrow writes floats in shortest round-trip form, so scores
    arrive bit for bit; an unquoted empty field is NULL, a quoted one an empty string."""
    if not batch.num_rows:
        return 0
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in batch.schema.names)
    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {quote.format_table(table)} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())
    return batch.num_rows


def _sqlite_writer(conn: sa.Connection) -> sa.Connection:
    """A SQLite connection made ready for ``_replace_sqlite``: its page cache set and the
    database's schema read (once read, statements on the TEMP database alone take no lock on
    the main file)."""
    conn.execution_options(sqlite_begin="BEGIN")
    with conn.begin():
        # SQLite's default page cache (2 MiB) fills with the swap's dirty pages many times
        # over; each spill syncs the journal and locks the file exclusively, in mid-swap.
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")
    return conn


def _replace_sqlite(conn: sa.Connection, parts: list[_Part], day: date) -> int:
    # Staging touches only the connection's temp database: a plain BEGIN, no lock on the
    # main file, so readers (our own source included) and other writers go on while the day
    # is scored (``conn`` comes from ``_sqlite_writer``: a plain BEGIN, the schema read).
    stages = [Staging(part.table) for part in parts]
    counts = [stage.fill(conn, part.batches) for part, stage in zip(parts, stages, strict=True)]
    # The source is exhausted by now (its cursor held a read lock on the file until then):
    # create, delete and insert, every table, in one short write transaction.
    conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
    with conn.begin():
        for part, stage in zip(parts, stages, strict=True):
            swap_day(conn, part.table, stage.rows(), day, lock=False)
        pause_point(BEFORE_COMMIT)  # inside the write transaction: the day deleted and inserted
    with conn.begin():
        for stage in stages:
            stage.drop(conn)
    return counts[0]
