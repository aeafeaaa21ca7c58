"""The Arrow-native fast paths give the same data as the generic SQLAlchemy paths.

PostgreSQL: ADBC reads and binary-COPY writes (pgpq's encoder) against the SQLAlchemy/psycopg paths on the same
rows (NUMERIC, dates, timestamps with time zone, text with NULLs and empty strings, floats to
the bit). SQLite: ADBC reads against SQLAlchemy's rows; the column-wise staging insert against
SQLAlchemy's own insert.
"""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from jobs.db import adbc, binary_copy
from jobs.config import SqlOutput, SqlSource
from jobs.errors import SinkError, TransientError
from jobs.sinks import sql as sql_sink, sqlite_stage
from jobs.sinks.sql import SqlDaySink
from jobs.sources.sql import SqlDaySource
from tests.jobs.helpers import FLOATS, TEXTS, float_bits, scored_batch, table_rows, use_driver
from tests.pgserver import terminate_backends

DAY = date(2026, 11, 27)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def pg_rows(pg_database):
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE src (id bigint, small integer, snapshot_date date, price numeric(12, 4), "
            "anything numeric, seen timestamptz, naive timestamp, note text, x double precision, r real)"
        ))
        for i, (f, t) in enumerate(zip(FLOATS, TEXTS, strict=True)):
            conn.execute(
                sa.text("INSERT INTO src VALUES (:i, :s, :d, :p, :a, :ts, :n, :t, :x, :r)"),
                {"i": i, "s": i * 10, "d": DAY, "p": Decimal("12.3400") if i % 3 else None, "a": Decimal(f"{i}.{i}5") if i % 2 else None,
                 "ts": datetime(2026, 11, 27, 10, i, tzinfo=timezone(timedelta(hours=2))) if i != 2 else None,
                 "n": datetime(2026, 11, 27, 3, i, 7, 123456), "t": t, "x": f, "r": 0.1 * i if i != 4 else None},
            )
        conn.execute(sa.text("INSERT INTO src (id, snapshot_date, note) VALUES (99, '2026-11-26', 'other day')"))
    engine.dispose()
    return pg_database


def _read(url, monkeypatch, fast: bool, **source) -> pa.Table:
    monkeypatch.setattr(adbc, "available", (lambda u: adbc.db.is_postgres(u)) if fast else (lambda u: False))
    config = SqlSource(kind="sql", url=url, **source)
    wanted = ["id", "small", "snapshot_date", "price", "anything", "seen", "naive", "note", "x", "r"]
    batches = list(SqlDaySource(config, chunk_size=3, wanted=wanted).iter_batches(DAY))
    return pa.Table.from_batches(batches).sort_by("id")


def _comparable(table: pa.Table) -> dict:
    out = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        if name in ("x", "r"):
            values = [float_bits(v) for v in values]
        out[name] = values
    return out


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["wheel", "built"])
def test_postgres_adbc_read_gives_the_generic_paths_values_to_the_bit(pg_rows, monkeypatch, driver):
    use_driver(monkeypatch, driver)  # the wheel's library and the optimized build read the same
    fast = _read(pg_rows, monkeypatch, True, table="src", date_column="snapshot_date")
    slow = _read(pg_rows, monkeypatch, False, table="src", date_column="snapshot_date")
    assert fast.num_rows == slow.num_rows == len(FLOATS)
    assert _comparable(fast) == _comparable(slow)
    assert fast.column("note").to_pylist() == TEXTS  # NULL and '' kept apart
    for name in ("id", "small", "x", "r", "snapshot_date", "note"):
        assert fast.schema.field(name).type == slow.schema.field(name).type, name
    assert pa.types.is_decimal(fast.schema.field("price").type)
    assert fast.schema.field("seen").type.tz is not None


@pytest.mark.postgres
def test_postgres_adbc_query_source_binds_score_date_and_keeps_percent_signs(pg_rows, monkeypatch):
    query = "SELECT * FROM src WHERE snapshot_date = :score_date AND (note LIKE '%' OR note IS NULL) AND id::int >= 0"
    fast = _read(pg_rows, monkeypatch, True, query=query)
    slow = _read(pg_rows, monkeypatch, False, query=query)
    assert fast.num_rows == len(FLOATS)
    assert _comparable(fast) == _comparable(slow)


FIRST_BATCH_WITHOUT_PANDAS = """
import sys
from datetime import date
from jobs.config import SqlSource
from jobs.sources.sql import SqlDaySource
source = SqlDaySource(SqlSource(kind="sql", url=sys.argv[1], table="src", date_column="snapshot_date"), chunk_size=3, wanted=["id", "x"])
first = next(iter(source.iter_batches(date(2026, 11, 27))))
print(first.num_rows, "pandas" in sys.modules)
"""


@pytest.mark.postgres
def test_postgres_adbc_read_has_its_first_batch_before_pandas_is_imported(pg_rows):
    # The pandas engine reads in a thread while the model loads; ADBC's DB-API module would
    # import pyarrow.dataset and pandas (about 0.2 s) before the first row.
    done = subprocess.run([sys.executable, "-c", FIRST_BATCH_WITHOUT_PANDAS, pg_rows], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "False"]


def _sql(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


@pytest.mark.postgres
def test_postgres_binary_copy_write_stores_what_text_copy_stores(pg_database, monkeypatch):
    batches = [scored_batch(5), scored_batch(4, start=5)]
    monkeypatch.setattr(binary_copy, "available", lambda u: True)
    assert SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="fast")).replace_day(DAY, batches[0].schema, iter(batches)) == 9
    monkeypatch.setattr(binary_copy, "available", lambda u: False)
    assert SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="slow")).replace_day(DAY, batches[0].schema, iter(batches)) == 9
    assert table_rows(pg_database, "fast") == table_rows(pg_database, "slow")
    assert len(table_rows(pg_database, "fast")) == 9


@pytest.mark.postgres
def test_postgres_binary_copy_write_casts_to_an_existing_tables_narrower_types(pg_database):
    _sql(pg_database,
         "CREATE TABLE narrow (customer_id integer, score_date date, score real, note varchar(100), price numeric(12, 4), "
         "seen timestamptz, model_name text, model_version smallint, run_id text, scored_at timestamptz, extra text DEFAULT 'kept')")
    batch = scored_batch(6)
    assert SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="narrow")).replace_day(DAY, batch.schema, iter([batch])) == 6
    rows = table_rows(pg_database, "narrow")
    assert [r[0] for r in rows] == list(range(6))
    assert all(r[-1] == "kept" for r in rows)


@pytest.mark.postgres
def test_postgres_write_into_a_column_binary_copy_cannot_encode_goes_through_text_copy(pg_database, monkeypatch):
    """A NUMERIC of more than 38 digits has no Arrow decimal128: that table is written by text
    COPY, where the server converts, and stores the same values."""
    _sql(pg_database,
         "CREATE TABLE wide (customer_id bigint, score_date date, score double precision, note text, price numeric(50, 4), "
         "seen timestamptz, model_name text, model_version integer, run_id text, scored_at timestamptz)")
    monkeypatch.setattr(binary_copy, "copy_batches", lambda *a: pytest.fail("binary COPY of numeric(50, 4)"))
    batch = scored_batch(6)
    assert SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="wide")).replace_day(DAY, batch.schema, iter([batch])) == 6
    assert [r[4] for r in table_rows(pg_database, "wide")] == [Decimal("1.2345") if i % 2 else None for i in range(6)]


@pytest.mark.postgres
def test_postgres_binary_copy_write_failing_midway_leaves_the_old_day(pg_database):
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="scores"))
    first = scored_batch(3)
    assert sink.replace_day(DAY, first.schema, iter([first])) == 3

    def broken():
        yield scored_batch(2, start=10)
        raise RuntimeError("scoring blew up")

    with pytest.raises(RuntimeError):
        sink.replace_day(DAY, first.schema, broken())
    assert [r[0] for r in table_rows(pg_database, "scores")] == [0, 1, 2]

    _sql(pg_database, "ALTER TABLE scores ALTER COLUMN customer_id TYPE integer")
    too_big = scored_batch(2, start=2**40)
    with pytest.raises(SinkError, match="does not fit|out of range|overflow"):
        sink.replace_day(DAY, first.schema, iter([scored_batch(2, start=20), too_big]))
    assert [r[0] for r in table_rows(pg_database, "scores")] == [0, 1, 2]


@pytest.mark.postgres
def test_postgres_binary_copy_write_refused_by_the_server_is_a_sink_error_and_leaves_the_old_day(pg_database):
    """A row the table refuses (a CHECK constraint here) fails the COPY on the server: the
    run's error is one SinkError naming the table and the server's reason, not psycopg's."""
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="checked"))
    first = scored_batch(3)
    assert sink.replace_day(DAY, first.schema, iter([first])) == 3
    _sql(pg_database, "ALTER TABLE checked ADD CONSTRAINT small_ids CHECK (customer_id < 100)")
    with pytest.raises(SinkError) as raised:
        sink.replace_day(DAY, first.schema, iter([scored_batch(2, start=10), scored_batch(2, start=100)]))
    assert "writing checked (nothing was committed) failed" in str(raised.value)
    assert "small_ids" in str(raised.value) and "\n" not in str(raised.value)
    assert [r[0] for r in table_rows(pg_database, "checked")] == [0, 1, 2]


def test_sqlite_column_wise_staging_stores_what_sqlalchemy_stores(tmp_path):
    batch = scored_batch(len(TEXTS) * 2)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    stored = {}
    with engine.begin() as conn:
        for name, insert in (("fast", sqlite_stage.insert_columns), ("slow", sql_sink.insert_rows)):
            table = sql_sink.table_for(name, batch.schema)
            table.create(conn)
            insert(conn, table, batch)
            stored[name] = conn.execute(sa.text(f"SELECT * FROM {name} ORDER BY customer_id")).all()
    engine.dispose()
    assert stored["fast"] == stored["slow"]
    assert len(stored["fast"]) == batch.num_rows
    assert [row[3] for row in stored["fast"][: len(TEXTS)]] == [t if t is not None else None for t in TEXTS]
    assert not any(isinstance(v, float) and math.isnan(v) for row in stored["fast"] for v in row)


def _sqlite_source_rows(tmp_path, nulls_first: int):
    """A SQLite table of every type the ADBC path takes, ``nulls_first`` all-NULL rows first
    (the driver infers types from its first batch), then the test values, and another day."""
    import sqlite3

    path = tmp_path / "src.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE src (id INTEGER, snapshot_date DATE, seen DATE, note TEXT, code VARCHAR(10), x FLOAT, r REAL)")
    rows = [(i, DAY.isoformat(), None, None, None, None, None) for i in range(nulls_first)]
    rows += [(nulls_first + i, DAY.isoformat(), (DAY - timedelta(days=i)).isoformat() if i % 3 else None, t, t and t[:10], f,
              None if f is None else f / 3) for i, (f, t) in enumerate(zip(FLOATS, TEXTS, strict=True))]
    rows.append((-1, (DAY - timedelta(days=1)).isoformat(), None, "other day", None, 1.0, 1.0))
    con.executemany("INSERT INTO src VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize("nulls_first", [0, 5])
def test_sqlite_adbc_read_gives_the_generic_paths_values_and_types(tmp_path, monkeypatch, nulls_first):
    from jobs.db import sqlite_adbc

    url = _sqlite_source_rows(tmp_path, nulls_first)
    config = SqlSource(kind="sql", url=url, table="src", date_column="snapshot_date")
    wanted = ["id", "seen", "note", "code", "x", "r"]
    read = {}
    for name, fast in (("fast", True), ("slow", False)):
        monkeypatch.setattr(sqlite_adbc, "available", lambda u, fast=fast: fast)
        batches = list(SqlDaySource(config, chunk_size=3, wanted=wanted).iter_batches(DAY))
        assert all(b.num_rows <= 3 for b in batches), name
        # (the generic path types a column from each chunk's values: NULLs alone give it none)
        read[name] = pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="permissive").sort_by("id")
    fast, slow = read["fast"], read["slow"]
    assert fast.num_rows == slow.num_rows == len(FLOATS) + nulls_first
    assert _comparable(fast) == _comparable(slow)
    assert fast.column("note").to_pylist()[nulls_first:] == TEXTS  # NULL and '' kept apart
    assert fast.schema.field("seen").type == pa.date32()
    for name in ("id", "seen", "note", "code", "x", "r"):
        assert fast.schema.field(name).type == slow.schema.field(name).type, name


def test_sqlite_adbc_read_leaves_unplain_types_to_the_generic_path(tmp_path, monkeypatch):
    from jobs.db import sqlite_adbc

    url = _sqlite_source_rows(tmp_path, 0)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE other (id INTEGER, snapshot_date DATE, price NUMERIC(10, 2))"))
        conn.execute(sa.text("INSERT INTO other VALUES (1, :d, 1.25)"), {"d": DAY.isoformat()})
    engine.dispose()
    monkeypatch.setattr(sqlite_adbc, "read", lambda *a, **k: pytest.fail("NUMERIC must take the generic path"))
    config = SqlSource(kind="sql", url=url, table="other", date_column="snapshot_date")
    batches = list(SqlDaySource(config, chunk_size=3, wanted=["id", "price"]).iter_batches(DAY))
    assert pa.Table.from_batches(batches).column("price").to_pylist() == [Decimal("1.25")]


@pytest.mark.parametrize("bad_row", [0, 7])
def test_sqlite_adbc_read_of_text_in_a_float_column_reads_generically_or_names_the_column(tmp_path, bad_row):
    import sqlite3

    from jobs.errors import SourceError

    path = tmp_path / "src.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE src (id INTEGER, snapshot_date DATE, x FLOAT)")
    con.executemany("INSERT INTO src VALUES (?, ?, ?)", [(i, DAY.isoformat(), "n/a" if i == bad_row else i / 2) for i in range(9)])
    con.commit()
    con.close()
    config = SqlSource(kind="sql", url=f"sqlite:///{path}", table="src", date_column="snapshot_date")
    batches = SqlDaySource(config, chunk_size=3, wanted=["id", "x"]).iter_batches(DAY)
    # Nothing handed on yet: the generic path reads the day and judges it, as it always did.
    message = "column x mixes types" if bad_row == 0 else "x holds values of another type"
    with pytest.raises(SourceError, match=message):
        list(batches)



KEYWORD_COLUMNS = ["nothing", "returning", "window", "order"]  # SQLite keywords; SQLAlchemy quoted only "order"


def test_sqlite_columns_named_after_sqlite_keywords_are_read_and_written(tmp_path, monkeypatch):
    import sqlite3

    from jobs.db import sqlite_adbc

    path = tmp_path / "w.db"
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE src (id INTEGER, snapshot_date DATE, {', '.join(f'[{c}] INTEGER' for c in KEYWORD_COLUMNS)})")
    con.executemany("INSERT INTO src VALUES (?, ?, ?, ?, ?, ?)", [(i, DAY.isoformat(), i, 7, i * 2, i % 2) for i in range(5)])
    con.commit()
    con.close()
    url = f"sqlite:///{path}"
    config = SqlSource(kind="sql", url=url, table="src", date_column="snapshot_date")
    for fast in (True, False):
        monkeypatch.setattr(sqlite_adbc, "available", lambda u, fast=fast: fast)
        read = pa.Table.from_batches(list(SqlDaySource(config, chunk_size=2, wanted=["id", *KEYWORD_COLUMNS]).iter_batches(DAY)))
        assert read.column("returning").to_pylist() == [7] * 5 and read.column("window").to_pylist() == [0, 2, 4, 6, 8], fast
    # Written: "returning" has one value for the day (staged once, joined at the swap), the others vary.
    batch = scored_batch(5)
    for name in KEYWORD_COLUMNS:
        batch = batch.append_column(name, read.column(name).combine_chunks())
    sink = SqlDaySink(SqlOutput(kind="sql", url=url, table="scores"))
    for _ in range(2):  # the second run replaces the first's day
        assert sink.replace_day(DAY, batch.schema, iter([batch.slice(0, 2), batch.slice(2)])) == 5
    con = sqlite3.connect(path)
    stored = con.execute('SELECT customer_id, "nothing", "returning", "window", "order" FROM scores ORDER BY customer_id').fetchall()
    con.close()
    assert stored == [(i, i, 7, i * 2, i % 2) for i in range(5)]


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["wheel", "built"])
def test_postgres_source_connection_terminated_mid_read_is_a_transient_error_naming_the_read(pg_database, monkeypatch, driver):
    use_driver(monkeypatch, driver)
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:  # about 60 MB: more than the first batch and the sockets' buffers hold
        conn.execute(sa.text(
            "CREATE TABLE big AS SELECT i AS id, DATE '2026-11-27' AS snapshot_date, i::float8 AS x, repeat('x', 100) AS pad "
            "FROM generate_series(1, 400000) AS i"
        ))
        conn.execute(sa.text("ALTER TABLE big SET (parallel_workers = 0)"))  # one backend to terminate, no workers
    config = SqlSource(kind="sql", url=pg_database, table="big", date_column="snapshot_date")
    batches = SqlDaySource(config, chunk_size=10_000, wanted=["id", "x", "pad"]).iter_batches(DAY)
    assert next(batches).num_rows > 0
    engine.dispose()
    killed = terminate_backends(pg_database, "query LIKE 'COPY%'")
    assert killed == [True]  # the COPY's backend
    with pytest.raises(TransientError, match="reading big failed: .*(server closed|terminat)"):
        for _ in batches:
            pass
