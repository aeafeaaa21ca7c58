"""kill -9 at a named point of the write (``BATCHSCORE_PAUSE_AT``), with a reader polling the
day's output the whole time: it only ever sees the complete old day (or no day, before a
first run) or the complete new one; the re-run is not blocked by the dead run and completes
the day. Run with ``pytest -s`` to see what the reader saw."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections import Counter

import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from jobs.faults import AFTER_FIRST_CHUNK, AFTER_STAGE, BEFORE_COMMIT, PAUSE_ENV
from jobs.ledger import Ledger
from tests.jobs.helpers import DAY, N_CUSTOMERS
from tests.pgserver import terminate_backends

CHUNK = 50  # 10 chunks: after the first one the day is well under way
POLL_S = 0.003
EMPTY = (0, (), 0.0)  # no day: no table, no directory, or no rows


class DayReader(threading.Thread):
    """Reads the day's row count, run ids and score checksum every few ms, as a downstream
    reader would, and counts each distinct state it saw."""

    def __init__(self, backend: str, project, pg_url: str | None) -> None:
        super().__init__(daemon=True, name="day-reader")
        self.backend, self.project, self.pg_url = backend, project, pg_url
        self.seen: Counter = Counter()
        self.retries = 0  # polls that could not read (a busy database): no state seen
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            state = self.observe()
            if state is None:
                self.retries += 1
            else:
                self.seen[state] += 1
            time.sleep(POLL_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)

    def observe(self):
        try:
            return {"sqlite": self._sqlite, "postgres": self._postgres, "parquet": self._parquet}[self.backend]()
        except (sqlite3.OperationalError, psycopg.OperationalError, FileNotFoundError):
            return None  # locked or gone mid-read: poll again

    def _sqlite(self):
        with contextlib.closing(sqlite3.connect(self.project.warehouse, timeout=5, isolation_level=None)) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'churn_scores'").fetchall():
                return EMPTY
            rows = conn.execute(
                "SELECT run_id, COUNT(*), SUM(score) FROM churn_scores WHERE score_date = ? GROUP BY run_id",
                [DAY.isoformat()],
            ).fetchall()
        return _state(rows)

    def _postgres(self):
        with psycopg.connect(self.pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('churn_scores')").fetchone()[0] is None:
                return EMPTY
            rows = conn.execute(
                "SELECT run_id, COUNT(*), SUM(score) FROM churn_scores WHERE score_date = %s GROUP BY run_id", [DAY]
            ).fetchall()
        return _state(rows)

    def _parquet(self):
        # Through a descriptor of the directory: its files are those of one directory,
        # whatever is renamed meanwhile (a reader that lists, then opens by path, may not
        # be so lucky across a swap of a many-file day).
        path = self.project.root / "data" / "scores" / f"score_date={DAY}"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            return EMPTY
        try:
            totals: Counter = Counter()
            sums: dict[str, float] = {}
            for name in sorted(os.listdir(fd)):
                if not name.endswith(".parquet"):
                    continue
                with os.fdopen(os.open(name, os.O_RDONLY, dir_fd=fd), "rb") as f:
                    table = pq.read_table(f, columns=["run_id", "score"])
                for run_id, score in zip(table["run_id"].to_pylist(), table["score"].to_pylist(), strict=True):
                    totals[run_id] += 1
                    sums[run_id] = sums.get(run_id, 0.0) + score
            if os.fstat(fd).st_nlink == 0:
                return None  # the old day was removed while it was read: read the day again
        finally:
            os.close(fd)
        return _state([(r, totals[r], sums[r]) for r in totals])


def _state(rows) -> tuple:
    """(rows, run ids, checksum of the scores) of one read of the day."""
    if not rows:
        return EMPTY
    return (sum(n for _, n, _ in rows), tuple(sorted(r for r, _, _ in rows)), round(sum(s for _, _, s in rows), 6))


def _output(backend: str, pg_url: str | None) -> dict:
    if backend == "sqlite":
        return {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"}
    if backend == "postgres":
        return {"kind": "sql", "url": pg_url, "table": "churn_scores"}
    return {"kind": "parquet", "path": "data/scores"}


def _pause(project, monkeypatch, point: str, *args: str):
    """A run of the day in a child process, paused at ``point`` (its stderr lines so far)."""
    monkeypatch.setenv(PAUSE_ENV, point)
    child = project.spawn("run", "churn", "--date", DAY.isoformat(), "--force", *args)
    monkeypatch.delenv(PAUSE_ENV)
    lines: list[str] = []
    paused = threading.Event()

    def pump():
        for line in child.stderr:
            lines.append(line)
            if line.strip() == f"paused at {point}":
                paused.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 180
    while not paused.wait(0.1):
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"the run never paused at {point} (exit {child.poll()}):\n{''.join(lines)}")
    return child, lines


def _kill_9(child) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


def _rerun(project, *args: str):
    child = project.spawn("run", "churn", "--date", DAY.isoformat(), "--force", *args)
    _, err = child.communicate(timeout=600)
    assert child.returncode == 0, err
    return err


def _summary(label: str, reader: DayReader, old, new) -> str:
    names = {old: "old", new: "new", EMPTY: "no day"}
    parts = [f"{names.get(state, f'OTHER {state}')} {state[0]} x{n} polls" for state, n in reader.seen.most_common()]
    text = f"{label}: reader saw " + ", ".join(parts) + f" ({reader.retries} polls busy)"
    print(text)
    return text


def _check_seen(reader: DayReader, allowed: set, text: str) -> None:
    others = set(reader.seen) - allowed
    assert not others, text
    assert sum(reader.seen.values()) > 20, text  # the reader really polled throughout


def _frame(project, backend: str, pg_url: str | None) -> pd.DataFrame:
    """The day's rows, every column, by customer_id."""
    if backend == "sqlite":
        return project.scores(DAY) if project.sql("SELECT name FROM sqlite_master WHERE name = 'churn_scores'") else pd.DataFrame()
    if backend == "postgres":
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT to_regclass('churn_scores')")).scalar() is None:
                return pd.DataFrame()
            frame = pd.read_sql(sa.text("SELECT * FROM churn_scores WHERE score_date = :d ORDER BY customer_id"), conn, params={"d": DAY})
        engine.dispose()
        return frame
    path = project.root / "data" / "scores" / f"score_date={DAY}"
    return pd.read_parquet(path).sort_values("customer_id").reset_index(drop=True) if path.exists() else pd.DataFrame()


def _integrity(project, backend: str) -> None:
    if backend == "sqlite":
        assert project.sql("PRAGMA integrity_check") == [("ok",)]


def _leftovers(project, backend: str) -> list[str]:
    if backend != "parquet":
        return []
    return sorted(p.name for p in (project.root / "data" / "scores").iterdir() if p.name.startswith("."))


def _prove(project, monkeypatch, backend: str, point: str, first: bool, pg_url: str | None, label: str, args=()) -> None:
    """The whole proof for one point: previous day (unless ``first``), reader on, pause, kill -9,
    old day still whole, integrity, re-run, new day whole, reader saw nothing else."""
    old = EMPTY
    reader = DayReader(backend, project, pg_url)
    if not first:
        done = project.cli("run", "churn", "--date", DAY.isoformat(), *args)
        assert done.code == 0, done.err
        old = reader.observe()
        assert old[0] == N_CUSTOMERS and len(old[1]) == 1, old
    before = _frame(project, backend, pg_url)
    reader.start()
    try:
        child, _ = _pause(project, monkeypatch, point, *args)
        _kill_9(child)
        assert reader.observe() == old  # the killed run left nothing: the old day, whole
        after = _frame(project, backend, pg_url)
        if first:  # no day (PostgreSQL: an empty table may exist, committed on its own)
            assert after.empty, after
        else:
            pd.testing.assert_frame_equal(after, before)  # to the last column
        _integrity(project, backend)
        history = Ledger(f"sqlite:///{project.state_db}").history("churn")
        assert history[0]["status"] == "running"  # the dead run's row, still open
        _rerun(project, *args)  # not blocked by the dead run's lock
        new = reader.observe()
        time.sleep(0.3)  # the reader goes on reading the new day a little
    finally:
        reader.stop()
    text = _summary(label, reader, old, new)
    history = Ledger(f"sqlite:///{project.state_db}").history("churn")
    assert [r["status"] for r in history] == ["succeeded", "failed"] + ([] if first else ["succeeded"])
    assert "died" in history[1]["error"]
    assert new[0] == N_CUSTOMERS and new[1] == (history[0]["run_id"],), new
    assert _frame(project, backend, pg_url)["customer_id"].is_unique
    _check_seen(reader, {old, new}, text)
    _integrity(project, backend)
    assert _leftovers(project, backend) == []  # the killed run's hidden directories are gone


@pytest.mark.slow
@pytest.mark.parametrize("first", [False, True], ids=["replace", "first"])
@pytest.mark.parametrize("point", [AFTER_FIRST_CHUNK, BEFORE_COMMIT])
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "parquet"])
def test_kill_9_at_a_fault_point_leaves_the_whole_old_day_and_the_rerun_completes_it(
    project, monkeypatch, request, backend, point, first
):
    pg_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    project.write_job(chunk_size=CHUNK, output=_output(backend, pg_url))
    _prove(project, monkeypatch, backend, point, first, pg_url, f"pandas {backend} {point} {'first' if first else 'replace'}")


@pytest.mark.slow
def test_postgres_connection_terminated_mid_write_fails_the_run_and_leaves_the_old_day(project, monkeypatch, pg_database):
    project.write_job(chunk_size=CHUNK, output=_output("postgres", pg_database))
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    reader = DayReader("postgres", project, pg_database)
    old = reader.observe()
    reader.start()
    try:
        child, lines = _pause(project, monkeypatch, AFTER_FIRST_CHUNK)
        # The run's open write transaction: the only session holding a transaction id (it has
        # deleted the old day; it may be between chunks or inside its COPY).
        killed = terminate_backends(pg_database, "backend_xid IS NOT NULL")
        assert killed and all(killed)
        child.send_signal(signal.SIGUSR1)  # let it go on, into the dead connection
        assert child.wait(timeout=60) == 1
        assert reader.observe() == old
        _rerun(project)
        new = reader.observe()
        time.sleep(0.3)
    finally:
        reader.stop()
    text = _summary("pandas postgres pg_terminate_backend", reader, old, new)
    err_line = [line for line in lines if line.strip()][-1]
    print(f"  the terminated run's last line: {err_line.strip()}")
    assert err_line.startswith("error: churn") and "nothing was committed" in err_line, "".join(lines)
    history = Ledger(f"sqlite:///{project.state_db}").history("churn")
    assert [r["status"] for r in history] == ["succeeded", "failed", "succeeded"]
    assert new[0] == N_CUSTOMERS and new[1] == (history[0]["run_id"],)
    _check_seen(reader, {old, new}, text)


def _spark_job(project, source: str, output: dict) -> None:
    sources = {
        "sql": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features", "date_column": "snapshot_date"},
        "parquet": {"kind": "parquet", "path": "data/features", "date_column": "snapshot_date"},
    }
    project.write_job(
        chunk_size=CHUNK, engine="spark", source=sources[source], output=output,
        spark={"master": "local[1]", "conf": {"spark.ui.enabled": False, "spark.sql.shuffle.partitions": 1, "spark.driver.memory": "512m"}},
    )


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("point", [AFTER_STAGE, BEFORE_COMMIT])
@pytest.mark.parametrize(
    "route", ["sql-to-sqlite", "sql-to-parquet", "parquet-to-parquet"],
)
def test_spark_kill_9_at_a_fault_point_leaves_the_whole_old_day_and_the_rerun_completes_it(
    project, monkeypatch, route, point
):
    """sql-to-sqlite: Spark's staging table and the SQL swap; sql-to-parquet: Spark's staging
    directory swapped on Hadoop's file system (two renames); parquet-to-parquet: the pyarrow
    tasks' directory, exchanged in one step."""
    source, _, backend = route.partition("-to-")
    _spark_job(project, source, _output(backend, None))
    _prove(project, monkeypatch, backend, point, False, None, f"spark {route} {point} replace")
