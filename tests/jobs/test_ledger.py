"""The ledger's lock: live owners block, dead owners are cleared, attempts are numbered."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from jobs.errors import JobLocked
from jobs.run_stats import RunStats
from jobs.ledger import LEASE_S, Ledger, locks, runs

DAY = date(2026, 11, 27)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(f"sqlite:///{tmp_path / 'state.db'}")


def _steal(ledger, claim, **values):
    with ledger.engine.begin() as conn:
        conn.execute(locks.update().where(locks.c.run_id == claim.run_id).values(**values))


def test_a_live_owner_blocks_and_a_finished_one_does_not(ledger):
    claim = ledger.claim("j", DAY)
    with pytest.raises(JobLocked):
        ledger.claim("j", DAY, force=True)
    ledger.finish(claim, rows_read=1, rows_written=1, rows_rejected=0, stats=RunStats())
    assert ledger.claim("j", DAY) is None  # succeeded: skip
    again = ledger.claim("j", DAY, force=True)
    assert again.attempt == 2
    ledger.fail(again, "boom")


def test_a_dead_local_pid_is_cleared_and_its_run_marked_failed(ledger):
    claim = ledger.claim("j", DAY)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _steal(ledger, claim, pid=dead.pid)
    fresh = ledger.claim("j", DAY)
    assert fresh is not None and fresh.attempt == 2
    old = next(r for r in ledger.history("j") if r["run_id"] == claim.run_id)
    assert old["status"] == "failed" and "died" in old["error"]
    ledger.fail(fresh, "x")
    ledger.fail(claim, "x")  # the cleared claim's own end: stops its heartbeat


def test_another_hosts_lock_is_live_until_its_heartbeat_is_older_than_the_lease(tmp_path):
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    clock = {"now": now}
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: clock["now"])
    # The day's lock as another host's run wrote it, whose last heartbeat was at ``now``.
    with ledger.engine.begin() as conn:
        conn.execute(locks.insert().values(
            job="j", score_date=DAY, run_id=str(uuid.uuid4()), host="elsewhere-" + socket.gethostname(), pid=1,
            pid_started=None, acquired_at=now, heartbeat_at=now,
        ))
    clock["now"] = now + timedelta(seconds=LEASE_S - 1)
    with pytest.raises(JobLocked, match="elsewhere"):
        ledger.claim("j", DAY)
    clock["now"] = now + timedelta(seconds=LEASE_S + 1)
    taken = ledger.claim("j", DAY)
    assert taken is not None
    ledger.fail(taken, "x")


def test_different_days_and_jobs_do_not_block_each_other(ledger):
    a = ledger.claim("j", DAY)
    b = ledger.claim("j", DAY + timedelta(days=1))
    c = ledger.claim("k", DAY)
    for claim in (a, b, c):
        ledger.finish(claim, rows_read=0, rows_written=0, rows_rejected=0, stats=RunStats.from_json({"x": 1}))
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(locks)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() == 3


def test_ledger_works_on_postgres(pg_database):
    ledger = Ledger(pg_database)
    claim = ledger.claim("j", DAY)
    with pytest.raises(JobLocked):
        Ledger(pg_database).claim("j", DAY)
    ledger.finish(claim, rows_read=3, rows_written=3, rows_rejected=0, stats=RunStats.from_json({"scores": {"mean": 0.5}}))
    (row,) = ledger.history("j")
    assert row["status"] == "succeeded" and row["stats"] == {"scores": {"mean": 0.5}}
    assert row["started_at"].tzinfo is not None


def test_the_model_choice_is_a_typed_section_kept_as_it_was_written(ledger):
    choice = {"ref": "production", "how": "as_of_day", "version": 3, "alias_set_at": "2026-11-26T12:00:00+00:00", "train_end": "2026-11-20"}
    written = {"timings": {"total": 1.0}, "warnings": [], "model_choice": choice, "runtime": "sklearn"}
    stats = RunStats.from_json(written)
    assert stats.model_choice.how == "as_of_day" and stats.model_choice.version == 3 and stats.model_choice.note is None
    assert stats.extra == {}
    claim = ledger.claim("j", DAY)
    ledger.finish(claim, rows_read=1, rows_written=1, rows_rejected=0, stats=stats)
    (row,) = ledger.history("j")
    assert row["stats"] == written
    assert RunStats.from_json(row["stats"]).model_choice.alias_set_at == choice["alias_set_at"]
    assert RunStats.from_json({"timings": {}}).model_choice is None  # a failed run records none
    assert "model_choice" not in RunStats.from_json({"timings": {}}).to_json()
