"""kill -9 at a named point of the write (``BATCHSCORE_PAUSE_AT``), with a reader polling the
day's output the whole time: it only ever sees the complete old day (or no day, before a
first run) or the complete new one; the re-run is not blocked by the dead run and completes
the day. Run with ``pytest -s`` to see, for each case, what the reader saw (rows per observed
state) and what the re-run did."""

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

from jobs.engines.spark.staging import PREFIX as STAGE_PREFIX
from jobs.faults import AFTER_FIRST_CHUNK, AFTER_STAGE, BEFORE_COMMIT, PAUSE_ENV
from jobs.ledger import Ledger
from jobs.sinks.parquet import OLD, STAGING
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
    """What the reader saw: rows per observed state (the assertion message until it is checked)."""
    names = {old: "old", new: "new", EMPTY: "no day"}
    parts = [f"{names.get(state, f'OTHER {state}')} {state[0]} x{n} polls" for state, n in reader.seen.most_common()]
    return f"{label}: reader saw " + ", ".join(parts) + f" ({reader.retries} polls busy)"


def _rerun_line(new, history: list[dict], *checks: str) -> str:
    """The re-run's outcome, as asserted: exit 0 (``_rerun``), the new day's rows under its one
    run id, the ledger's rows of the day oldest first (a dead run's as ``failed(died)``)."""
    statuses = [f"{r['status']}(died)" if "died" in (r["error"] or "") else r["status"] for r in reversed(history)]
    return "re-run: " + "; ".join([f"exit 0, {new[0]} rows, one run_id", f"ledger {','.join(statuses)}", *checks])


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


def _integrity(project, backend: str) -> list[str]:
    """PRAGMA integrity_check on SQLite; what was checked, for the summary."""
    if backend != "sqlite":
        return []
    assert project.sql("PRAGMA integrity_check") == [("ok",)]
    return ["integrity_check ok"]


def _leftovers(project, backend: str, pg_url: str | None) -> list[str]:
    """What a run writes aside before its commit: hidden directories beside the day (Parquet);
    Spark's staging tables (SQL) and, on SQLite, their lock files beside the database."""
    if backend == "parquet":
        return sorted(p.name for p in (project.root / "data" / "scores").iterdir() if p.name.startswith("."))
    if backend == "sqlite":
        tables = [n for (n,) in project.sql("SELECT name FROM sqlite_master WHERE type = 'table'") if n.startswith(STAGE_PREFIX)]
        lead = f".{project.warehouse.name}.{STAGE_PREFIX}"
        return sorted(tables + [p.name for p in project.warehouse.parent.iterdir() if p.name.startswith(lead)])
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return sorted(n for n in sa.inspect(conn).get_table_names() if n.startswith(STAGE_PREFIX))
    finally:
        engine.dispose()


def _kinds(names: list[str]) -> str:
    """``_leftovers`` names counted by kind, for the summary."""
    kinds = Counter(
        "lock file" if n.endswith(".lock") else "staging table" if n.startswith(STAGE_PREFIX)
        else "staging directory" if n.startswith(STAGING) else "old day directory" if n.startswith(OLD) else n
        for n in names
    )
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


def _prove(
    project, monkeypatch, backend: str, point: str, first: bool, pg_url: str | None, label: str, *, staged: bool = False
) -> None:
    """The whole proof for one point: previous day (unless ``first``), reader on, pause, kill -9,
    old day still whole, integrity, re-run, new day whole, reader saw nothing else.
    ``staged``: the run writes the day aside before the point (Spark; Parquet), so the kill
    must leave it there, and the re-run must clear it."""
    old = EMPTY
    reader = DayReader(backend, project, pg_url)
    if not first:
        done = project.cli("run", "churn", "--date", DAY.isoformat())
        assert done.code == 0, done.err
        old = reader.observe()
        assert old[0] == N_CUSTOMERS and len(old[1]) == 1, old
    before = _frame(project, backend, pg_url)
    reader.start()
    try:
        child, _ = _pause(project, monkeypatch, point)
        _kill_9(child)
        aside = _leftovers(project, backend, pg_url)
        if staged:  # the kill landed after the day was written aside
            assert aside, aside
        assert reader.observe() == old  # the killed run left nothing: the old day, whole
        after = _frame(project, backend, pg_url)
        if first:  # no day (PostgreSQL: an empty table may exist, committed on its own)
            assert after.empty, after
        else:
            pd.testing.assert_frame_equal(after, before)  # to the last column
        _integrity(project, backend)
        history = Ledger(f"sqlite:///{project.state_db}").history("churn")
        assert history[0]["status"] == "running"  # the dead run's row, still open
        _rerun(project)  # not blocked by the dead run's lock
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
    checks = _integrity(project, backend)
    assert _leftovers(project, backend, pg_url) == []  # what the killed run wrote aside is gone
    if aside:
        checks.append(f"cleared what the killed run left aside ({_kinds(aside)})")
    print(f"{text} | {_rerun_line(new, history, *checks)}")


@pytest.mark.slow
@pytest.mark.parametrize("first", [False, True], ids=["replace", "first"])
@pytest.mark.parametrize("point", [AFTER_FIRST_CHUNK, BEFORE_COMMIT])
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "parquet"])
def test_kill_9_at_a_fault_point_leaves_the_whole_old_day_and_the_rerun_completes_it(
    project, monkeypatch, request, backend, point, first
):
    pg_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    project.write_job(chunk_size=CHUNK, output=_output(backend, pg_url))
    label = f"pandas {backend} {point} {'first' if first else 'replace'}"
    _prove(project, monkeypatch, backend, point, first, pg_url, label, staged=backend == "parquet")


# The run's open write transaction: the session holding the day's lock (an advisory
# transaction lock, jobs.sinks.sql.day_lock) or a transaction id (it has deleted the old day,
# or COPY has begun to insert; it may be between chunks or inside its COPY). The reader's
# sessions hold neither.
WRITER = "backend_xid IS NOT NULL OR pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"


@pytest.mark.slow
@pytest.mark.parametrize("first", [False, True], ids=["replace", "first"])
def test_postgres_connection_terminated_mid_write_fails_the_run_and_leaves_the_old_day(project, monkeypatch, pg_database, first):
    project.write_job(chunk_size=CHUNK, output=_output("postgres", pg_database))
    reader = DayReader("postgres", project, pg_database)
    old = EMPTY
    if not first:
        assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
        old = reader.observe()
        assert old[0] == N_CUSTOMERS and len(old[1]) == 1, old
    reader.start()
    try:
        child, lines = _pause(project, monkeypatch, AFTER_FIRST_CHUNK)
        killed = terminate_backends(pg_database, WRITER)
        assert killed and all(killed)
        child.send_signal(signal.SIGUSR1)  # let it go on, into the dead connection
        assert child.wait(timeout=60) == 1
        assert reader.observe() == old  # first: no day (at most the empty table, committed on its own)
        _rerun(project)
        new = reader.observe()
        time.sleep(0.3)
    finally:
        reader.stop()
    text = _summary(f"pandas postgres pg_terminate_backend {'first' if first else 'replace'}", reader, old, new)
    err_line = [line for line in lines if line.strip()][-1].strip()
    assert err_line.startswith("error: churn") and "nothing was committed" in err_line, "".join(lines)
    history = Ledger(f"sqlite:///{project.state_db}").history("churn")
    assert [r["status"] for r in history] == ["succeeded", "failed"] + ([] if first else ["succeeded"])
    assert new[0] == N_CUSTOMERS and new[1] == (history[0]["run_id"],)
    _check_seen(reader, {old, new}, text)
    print(f"{text} | the terminated run: exit 1, {err_line} | {_rerun_line(new, history)}")


def _spark_job(project, source: str, output: dict) -> None:
    sources = {
        "sql": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features", "date_column": "snapshot_date"},
        "parquet": {"kind": "parquet", "path": "data/features", "date_column": "snapshot_date"},
    }
    project.write_job(
        chunk_size=CHUNK, engine="spark", source=sources[source], output=output,
        spark={"master": "local[1]", "conf": {"spark.ui.enabled": False, "spark.sql.shuffle.partitions": 1, "spark.driver.memory": "512m"}},
    )


def _spark_cases():
    """Every route at both points over a previous day; a first run (no previous day) on the
    PostgreSQL route only: each case starts Spark three times, and the swaps of a first day
    are those the pandas cases prove on every backend."""
    routes = ["sql-to-sqlite", "sql-to-postgres", "sql-to-parquet", "parquet-to-parquet"]
    cases = [(route, point, False) for route in routes for point in (AFTER_STAGE, BEFORE_COMMIT)]
    cases += [("sql-to-postgres", point, True) for point in (AFTER_STAGE, BEFORE_COMMIT)]
    return [
        pytest.param(
            route, point, first, id=f"{route}-{point}-{'first' if first else 'replace'}",
            marks=[pytest.mark.postgres] if route.endswith("postgres") else [],
        )
        for route, point, first in cases
    ]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("route, point, first", _spark_cases())
def test_spark_kill_9_at_a_fault_point_leaves_the_whole_old_day_and_the_rerun_completes_it(
    project, monkeypatch, request, route, point, first
):
    """sql-to-sqlite: Spark's staging table (JDBC) and the SQL swap; sql-to-postgres: the
    same on PostgreSQL (an UNLOGGED staging table, the swap under the day's advisory lock);
    sql-to-parquet: Spark's staging directory, exchanged with the old day in one step
    (``renameat2``: a local path under a local master); parquet-to-parquet: the pyarrow
    tasks' directory, exchanged in one step likewise."""
    source, _, backend = route.partition("-to-")
    pg_url = request.getfixturevalue("pg_database") if backend == "postgres" else None
    _spark_job(project, source, _output(backend, pg_url))
    label = f"spark {route} {point} {'first' if first else 'replace'}"
    _prove(project, monkeypatch, backend, point, first, pg_url, label, staged=True)
