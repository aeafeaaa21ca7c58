"""A SQLite warehouse read and written by one run while another process commits to it (two
jobs, or two daemons' children, on one warehouse): neither waits on the other beyond the
other's own write.

The source's driver (adbc-driver-sqlite) links its own copy of SQLite, so this process's
read lock does not let the sink's connection (Python's SQLite) through the other process's
pending commit, and a read transaction left open on Python's side blocks that commit while
the driver's read waits on it. The first two cases below stood still until the other
process's busy timeout ran out, and that process's write failed ("database is locked"). The
third: a read locked out for longer than the busy timeout fails as a transient error (the
retry policy's), not as a reason to read the day again the slow way.
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.config import SqlOutput, SqlSource
from jobs.db import sqlite_adbc
from jobs.errors import TransientError
from jobs.sinks.sql import SqlDaySink
from jobs.sources.sql import SqlDaySource
from tests.jobs.helpers import DAY, scored_batch

ROWS, CHUNK = 20_000, 500  # 40 chunks, read as the sink asks for them
WAIT_S = 20  # the other process's busy timeout: a wait this long is the deadlock

# The other process: a write transaction on the warehouse, committed when told to.
OTHER_WRITER = f"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout={WAIT_S}, isolation_level=None)
con.execute("BEGIN " + sys.argv[2])
con.execute("INSERT INTO other VALUES (1)")
print("reserved", flush=True)
sys.stdin.readline()
started = time.monotonic()
try:
    con.execute("COMMIT")
except sqlite3.Error as exc:
    print("failed", exc, flush=True)
else:
    print("committed after %.2f s" % (time.monotonic() - started), flush=True)
"""


def _warehouse(path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE features (customer_id INTEGER, snapshot_date DATE, x REAL)")
    con.execute("CREATE TABLE other (a INTEGER)")
    con.executemany("INSERT INTO features VALUES (?, ?, ?)",
                    [(i, str(day), i / 3) for day in (DAY - timedelta(days=1), DAY) for i in range(ROWS)])
    con.commit()
    con.close()


def _other_writer(path, begin: str = "IMMEDIATE") -> subprocess.Popen:
    """The other process, holding its write transaction (not committed yet); ``EXCLUSIVE``:
    readers locked out too."""
    proc = subprocess.Popen([sys.executable, "-c", OTHER_WRITER, str(path), begin], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "reserved"
    return proc


def _commit(proc: subprocess.Popen) -> None:
    """Tell the other process to commit: it now waits for every reader of the file."""
    proc.stdin.write("\n")
    proc.stdin.flush()
    time.sleep(0.5)  # its COMMIT is waiting by now


def _outcome(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=WAIT_S + 30)
    return out.strip()


def _scored(batches):
    start = 0
    for batch in batches:
        yield scored_batch(batch.num_rows, start=start)
        start += batch.num_rows


def _source(url: str) -> SqlDaySource:
    config = SqlSource(kind="sql", url=url, table="features", date_column="snapshot_date")
    return SqlDaySource(config, chunk_size=CHUNK, wanted=["customer_id", "x"])


def test_the_day_is_staged_while_another_process_waits_for_our_read_to_end(tmp_path):
    path = tmp_path / "w.db"
    _warehouse(path)
    url = f"sqlite:///{path}"
    sink = SqlDaySink(SqlOutput(kind="sql", url=url, table="scores"))
    with sink.begin(DAY):
        batches = _source(url).iter_batches(DAY)
        first = next(batches)  # the driver's read is open: it holds its read lock until the day is read
        other = _other_writer(path)
        _commit(other)  # waits for our read to end; our staging must not wait for it
        started = time.monotonic()
        written = sink.replace_day(DAY, scored_batch(1).schema, _scored(itertools.chain([first], batches)))
        seconds = time.monotonic() - started
    assert written == ROWS
    assert _outcome(other).startswith("committed"), "the other process's commit timed out"
    assert seconds < WAIT_S / 2
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM scores").fetchone() == (ROWS,)
    assert con.execute("SELECT count(*) FROM other").fetchone() == (1,)
    con.close()


def test_the_driver_opens_its_read_while_another_process_commits(tmp_path, monkeypatch):
    path = tmp_path / "w.db"
    _warehouse(path)
    url = f"sqlite:///{path}"
    other = _other_writer(path)
    real_read = sqlite_adbc.read

    def read_when_the_other_commits(*args):
        _commit(other)  # between the table's reflection and the driver's read
        started = time.monotonic()
        yield from real_read(*args)
        read_when_the_other_commits.seconds = time.monotonic() - started

    monkeypatch.setattr(sqlite_adbc, "read", read_when_the_other_commits)
    rows = sum(batch.num_rows for batch in _source(url).iter_batches(DAY))
    assert rows == ROWS
    assert _outcome(other).startswith("committed"), "the other process's commit timed out"
    assert read_when_the_other_commits.seconds < WAIT_S / 2


def test_a_read_locked_out_longer_than_the_busy_timeout_is_a_transient_error(tmp_path, monkeypatch):
    path = tmp_path / "w.db"
    _warehouse(path)
    monkeypatch.setattr(sqlite_adbc, "BUSY_TIMEOUT_MS", 300)
    other = _other_writer(path, "EXCLUSIVE")
    try:
        # Not a reason to read the day again the slow way (sqlite_adbc.Unread): the same lock
        # would keep that read waiting too. The run's retry policy takes it from here.
        table = sa.table("features", sa.column("customer_id", sa.Integer), sa.column("x", sa.Float))
        stmt = sa.select(table.c.customer_id, table.c.x)
        with pytest.raises(TransientError, match="database is locked"):
            next(sqlite_adbc.read(path, stmt, sqlite_adbc.plan(stmt), CHUNK, "features"))
    finally:
        _commit(other)
        assert _outcome(other).startswith("committed")
