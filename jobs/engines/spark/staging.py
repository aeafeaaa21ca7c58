"""Staging tables of the spark engine's SQL output: their names, who owns them, and clearing
the ones a killed run left.

A Spark run stages its day in ``batchscore_stage_<table>_<run>`` (``<run>``: the first 12 hex
digits of its run id) and swaps it in on the driver. A run killed with ``kill -9`` cannot drop
its staging table, so the next run of any day writing to the same table clears the staging
tables of that table that no live run owns -- and never one that a live run owns, such as the
staging table of another day's run of the same job going on at the same time.

Ownership is a lock that the database server or the kernel holds for the owner while it lives
and releases the moment it dies, taken before the staging table is created and released only
after it is dropped:

- PostgreSQL: a session-level advisory lock keyed by the staging table's name, held on a
  connection of the driver (two-key form, a key space apart from the sinks' one-key day
  locks). A killed driver's connection closes, and the server releases the lock.
- SQLite: ``flock`` on a hidden lock file beside the database, named after the staging table.
  The kernel releases it when the process dies. A staging table without its lock file has no
  owner: the owner creates the file first and removes it last.

A clearing run takes the lock of each candidate without waiting: if it gets it, the owner is
gone, and it drops the table (and the lock file) while holding the lock; if not, the table is
kept. Why not the run ledger: the ledger's lock rows say whether a (job, day) run is alive,
but they live in the state database, which the engine is not given, and a killed run's ledger
row stays ``running`` until its own day is claimed again; the lock beside the staging table,
in the output database, decides ownership exactly whatever state database a run used.
(PostgreSQL behind a transaction-pooling proxy does not keep session locks: use a direct
connection for the output of spark jobs.)
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
from pathlib import Path

import sqlalchemy as sa

from jobs import db
from jobs.errors import SinkError, TransientError

log = logging.getLogger(__name__)

PREFIX = "batchscore_stage_"
RUN_DIGITS = 12  # hex digits of the run id in a staging table's name
MAX_NAME = 63  # PostgreSQL truncates longer identifiers: the run id would be cut off
STAGE_LOCK_CLASS = 0x62737467  # the first key of every staging table's advisory lock ("bstg")


def _table_part(table: str) -> str:
    room = MAX_NAME - len(PREFIX) - 1 - RUN_DIGITS
    if len(table) <= room:
        return table
    digest = hashlib.sha256(table.encode()).hexdigest()[:8]
    return f"{table[: room - 9]}_{digest}"


def stage_name(table: str, run_id: str) -> str:
    """The staging table of ``table`` for the run ``run_id``: at most 63 characters, so the
    run id is never truncated away (a long table name is shortened, with a hash of it)."""
    return f"{PREFIX}{_table_part(table)}_{run_id.replace('-', '')[:RUN_DIGITS]}"


def _is_stage_of(table: str, name: str) -> bool:
    return re.fullmatch(rf"{re.escape(PREFIX + _table_part(table))}_[0-9a-f]{{{RUN_DIGITS}}}", name) is not None


class StageLock:
    """The ownership of one staging table (see the module docstring)."""

    def __init__(self, engine: sa.Engine, schema: str | None, name: str) -> None:
        self.engine, self.schema, self.name = engine, schema, name
        qualified = f"{schema}.{name}" if schema else name
        self._key = int.from_bytes(hashlib.sha256(qualified.encode()).digest()[:4], "big", signed=True)
        self._file = _lock_file(engine, qualified)
        self._conn: sa.Connection | None = None
        self._fd: int | None = None

    def hold(self) -> None:
        """Take the lock as the table's owner, before creating it."""
        if not self._take(create=True):
            raise SinkError(f"the staging table {self.name} belongs to a live run", hint="run again")

    def try_take(self) -> bool:
        """Take the lock if its owner is gone (True), else leave it (False)."""
        return self._take(create=False)

    def release(self) -> None:
        """Let the lock go, after the table was dropped (the lock file goes first)."""
        if self._fd is not None:
            _remove(self._file)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            self._conn.close()  # a session lock ends with its session
            self._conn = None

    def _take(self, *, create: bool) -> bool:
        if self._file is None:
            conn = self.engine.connect()  # kept open while the lock is held
            try:
                taken = conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(:cls, :key)"), {"cls": STAGE_LOCK_CLASS, "key": self._key}
                ).scalar_one()
                conn.commit()  # the session lock stays; no transaction is left open
            except BaseException:
                conn.close()
                raise
            if taken:
                self._conn = conn
            else:
                conn.close()
            return bool(taken)
        return self._take_file(create)

    def _take_file(self, create: bool) -> bool:
        path = self._file
        while True:
            try:
                fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
            except FileNotFoundError:
                return True  # no lock file: the owner is gone (it creates the file first)
            except OSError as exc:
                raise _file_error(path, exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    return False  # held: its owner lives
                raise _file_error(path, exc) from exc
            if not create or _same_file(fd, path):
                self._fd = fd
                return True
            os.close(fd)  # a clearing run removed the file between our open and our flock: again


def _file_error(path: Path, exc: OSError) -> SinkError:
    return SinkError(
        f"cannot lock the staging table's file {path}: {exc.strerror or exc}",
        hint="the directory of the SQLite output database must be writable",
    )


def _lock_file(engine: sa.Engine, qualified: str) -> Path | None:
    """The SQLite lock file of a staging table (None on PostgreSQL)."""
    if not db.is_sqlite(engine.url):
        return None
    database = db.sqlite_path(engine.url)
    return database.with_name(f".{database.name}.{qualified}.lock")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _candidates(engine: sa.Engine, target: sa.Table) -> set[str]:
    """Staging tables of ``target``, and (SQLite) staging tables whose lock file is left."""
    with db.connect(engine, "output") as conn:
        names = {n for n in sa.inspect(conn).get_table_names(schema=target.schema) if _is_stage_of(target.name, n)}
    if db.is_sqlite(engine.url):
        database = db.sqlite_path(engine.url)
        lead = f".{database.name}.{target.schema + '.' if target.schema else ''}"
        for entry in os.listdir(database.parent):
            if entry.startswith(lead) and entry.endswith(".lock"):
                name = entry[len(lead) : -len(".lock")]
                if _is_stage_of(target.name, name):
                    names.add(name)
    return names


def clear_stale_stages(engine: sa.Engine, target: sa.Table, own: str, run: str) -> list[str]:
    """Drop the staging tables of ``target`` that no live run owns (a killed run's); returns
    their names. ``own`` (this run's, already held) is left alone."""
    dropped = []
    for name in sorted(_candidates(engine, target) - {own}):
        lock = StageLock(engine, target.schema, name)
        if not lock.try_take():
            log.info("%s: kept the staging table %s: its run is still going", run, name)
            continue
        try:
            with db.connect(engine, "output") as conn, conn.begin():
                sa.Table(name, sa.MetaData(), schema=target.schema).drop(conn, checkfirst=True)
        except (sa.exc.SQLAlchemyError, TransientError) as exc:
            # This run's day does not depend on it; the next run tries again.
            log.warning("%s: could not drop the staging table %s left by a killed run: %s", run, name, db.describe_db_error(exc))
            continue
        finally:
            lock.release()
        log.warning("%s: dropped the staging table %s left by a run that did not finish", run, name)
        dropped.append(name)
    return dropped
