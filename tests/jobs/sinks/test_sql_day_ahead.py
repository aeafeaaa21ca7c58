"""PostgreSQL: the day's transaction begun ahead of its rows (``SqlDaySink.begin``).

The lock and the delete of the old day run while the model loads; until ``replace_day``
commits, readers see the old day, a failure rolls it back, and nothing waits on a lock that
the run itself holds or on another day's open write.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from jobs import db
from jobs.db import binary_copy
from jobs.config import SqlOutput
from jobs.errors import SchemaMismatch
from jobs.sinks.sql import SqlDaySink
from tests.jobs.helpers import DAY, DAYS, N_CUSTOMERS, scored_batch, table_rows

pytestmark = pytest.mark.postgres
PATIENCE_S = 60  # a run that has not finished by then is waiting on a lock


def _in_thread(work) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def _finished_while(holder: psycopg.Connection, work) -> dict:
    """Run ``work`` while ``holder``'s transaction stays open; it must finish without it."""
    thread, outcome = _in_thread(work)
    thread.join(PATIENCE_S)
    waited = thread.is_alive()
    holder.rollback()  # lets a waiting run go, so that a failing test still ends
    thread.join(PATIENCE_S)
    assert not waited, "the run waited for another transaction"
    return outcome


def _libpq(url: str) -> str:
    return db.libpq_uri(url)


def _until_the_day_is_locked(url: str) -> None:
    """Wait until the transaction begun ahead holds the day's lock."""
    deadline = time.monotonic() + PATIENCE_S
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()[0]:
            assert time.monotonic() < deadline, "the day's lock was never taken"
            time.sleep(0.01)


def test_readers_see_the_old_day_until_the_new_one_commits(pg_database):
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="scores"))
    first = scored_batch(3)
    assert sink.replace_day(DAY, first.schema, iter([first])) == 3
    with sink.begin(DAY):
        # The old rows are being deleted (or already are) in the open transaction.
        assert [r[0] for r in table_rows(pg_database, "scores")] == [0, 1, 2]
        assert sink.replace_day(DAY, first.schema, iter([scored_batch(2, start=10)])) == 2
    assert [r[0] for r in table_rows(pg_database, "scores")] == [10, 11]


def test_a_day_begun_but_never_written_is_rolled_back(pg_database):
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="scores"))
    first = scored_batch(3)
    sink.replace_day(DAY, first.schema, iter([first]))
    with pytest.raises(RuntimeError, match="schema problem"), sink.begin(DAY):
        raise RuntimeError("a schema problem found in the first chunk")
    assert [r[0] for r in table_rows(pg_database, "scores")] == [0, 1, 2]
    # Nothing of it is left holding the day: the next run writes at once.
    thread, outcome = _in_thread(lambda: sink.replace_day(DAY, first.schema, iter([scored_batch(1, start=7)])))
    thread.join(PATIENCE_S)
    assert outcome == {"value": 1}


def test_a_run_failing_early_does_not_wait_for_another_writer_of_its_day(pg_database):
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="scores"))
    first = scored_batch(3)
    sink.replace_day(DAY, first.schema, iter([first]))
    with psycopg.connect(_libpq(pg_database)) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"batchscore:scores:{DAY.isoformat()}"])

        def fail_early():
            with sink.begin(DAY):
                raise RuntimeError("the source is empty")

        outcome = _finished_while(holder, fail_early)
    assert isinstance(outcome.get("error"), RuntimeError)
    assert [r[0] for r in table_rows(pg_database, "scores")] == [0, 1, 2]


@pytest.mark.parametrize("fast", [True, False], ids=["binary_copy", "generic"])
def test_a_day_is_written_while_another_day_of_the_table_is_open(pg_database, monkeypatch, fast):
    if not fast:
        monkeypatch.setattr(binary_copy, "available", lambda u: False)
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="scores"))
    first = scored_batch(3)
    sink.replace_day(DAY, first.schema, iter([first]))
    other = DAY - timedelta(days=1)
    with psycopg.connect(_libpq(pg_database)) as holder:
        # Another day's run in the middle of its write: ROW EXCLUSIVE on the table, uncommitted.
        holder.execute("DELETE FROM scores WHERE score_date = %s", [other])

        def write():
            with sink.begin(DAY):
                return sink.replace_day(DAY, first.schema, iter([scored_batch(2, start=20)]))

        outcome = _finished_while(holder, write)
    assert outcome == {"value": 2}
    assert [r[0] for r in table_rows(pg_database, "scores")] == [20, 21]


def test_a_table_without_a_binary_copy_form_is_written_after_a_day_begun_ahead(pg_database):
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:  # unconstrained NUMERIC for the float score: text COPY
        conn.execute(sa.text(
            "CREATE TABLE loose (customer_id bigint, score_date date, score numeric, note text, price numeric(12, 4), "
            "seen timestamptz, model_name text, model_version integer, run_id text, scored_at timestamptz)"
        ))
    engine.dispose()
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="loose"))
    first = scored_batch(3)
    sink.replace_day(DAY, first.schema, iter([first]))

    def rewrite():
        with sink.begin(DAY):
            _until_the_day_is_locked(pg_database)
            return sink.replace_day(DAY, first.schema, iter([scored_batch(4, start=30)]))

    thread, outcome = _in_thread(rewrite)
    thread.join(PATIENCE_S)
    assert outcome == {"value": 4}, "the generic path waited on the lock its own run holds"
    assert [r[0] for r in table_rows(pg_database, "loose")] == [30, 31, 32, 33]


def test_a_failed_rerun_keeps_the_day_it_began_to_replace(project, pg_database):
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE features (customer_id bigint, snapshot_date date, plan text)"))
        conn.execute(sa.text("INSERT INTO features VALUES (1, :d, 'basic')"), {"d": DAYS[-1]})
    engine.dispose()
    project.write_job(output={"kind": "sql", "url": pg_database, "table": "scores"})
    day = DAYS[-1].isoformat()
    assert project.cli("run", "churn", "--date", day).code == 0
    # The same day again, from a source that lacks the model's features: refused after the
    # output's transaction began (and deleted the day), before anything was written.
    project.write_job(
        source={"kind": "sql", "url": pg_database, "table": "features", "date_column": "snapshot_date"},
        output={"kind": "sql", "url": pg_database, "table": "scores"},
    )
    result = project.cli("run", "churn", "--date", day, "--force")
    assert result.code == SchemaMismatch.exit_code, result.err
    engine = sa.create_engine(pg_database)
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT COUNT(*) FROM scores WHERE score_date = :d"), {"d": DAYS[-1]}).scalar_one()
    engine.dispose()
    assert kept == N_CUSTOMERS
