"""The daemon's promises (README, Scheduling), each on a clock of the test's own: the daemon
is ticked at chosen instants (``Daemon.tick``), its fires run real child processes.

- a child that dies hard (``os._exit``, SIGKILL, memory exhausted) leaves the daemon firing;
- a fire that comes while the job's previous fire still runs is skipped, and logged;
- a fire later than ``misfire_grace_s`` is dropped, logged, and caught up (``catchup: true``);
- two daemons on one PostgreSQL state database both work and never score a day twice; the
  race one of them lost (the day held by the other's live run) is logged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import signal
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from jobs.faults import BEFORE_COMMIT, PAUSE_ENV
from jobs.ledger import Ledger
from jobs.schedule.daemon import Daemon
from pipelines.registry import Registry
from tests.jobs.helpers import register_slow
from tests.jobs.schedule.helpers import make_project, succeeded_days, wait_for, write_job
from tests.jobs.schedule.dying_model import register_dying

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

UTC = timezone.utc
END = date(2026, 11, 28)  # the warehouse's last day
FIRE = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # "0 2 * * *" on END: scores END - 1
CHILD_S = 120  # a child's run: spawn, imports, one small day


class Clock:
    """The daemon's clock: what the test sets, and nothing else."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def started(daemon: Daemon, at: datetime) -> threading.Thread:
    """Tick at ``at``; the one fire it started."""
    [thread] = daemon.tick(at)
    return thread


def finish(thread: threading.Thread) -> None:
    thread.join(CHILD_S)
    assert not thread.is_alive(), "the fire did not end"


def messages(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def ledger_rows(settings, job="churn") -> list[dict]:
    return sorted(Ledger(settings.state_url).history(job), key=lambda r: r["started_at"])


@pytest.fixture
def daemons():
    """Daemons started by a test, shut down after it."""
    made: list[Daemon] = []

    def make(settings, clock: Clock, **kwargs) -> Daemon:
        daemon = Daemon(settings, clock=clock, grace_s=30, **kwargs)
        made.append(daemon)
        daemon.start()
        return daemon

    yield make
    for daemon in made:
        daemon.shutdown()


# --- a child that dies hard ------------------------------------------------------------------

@pytest.mark.parametrize("how, exit_code", [("exit", 70), ("signal", -9), ("memory", 1)])
def test_a_child_that_dies_hard_leaves_the_daemon_firing(tmp_path, logs, daemons, how, exit_code):
    settings = make_project(tmp_path, end=END + timedelta(days=1), days=3, n_customers=100)
    registry = Registry(settings.models_root)
    good = registry.resolve("churn", "production").version
    register_dying(registry, how)
    write_job(tmp_path, schedule="0 2 * * *")
    clock = Clock(FIRE - timedelta(minutes=1))
    daemon = daemons(settings, clock)

    finish(started(daemon, FIRE + timedelta(seconds=1)))
    assert f"churn: fire of 2026-11-28 02:00:00 UTC ended with exit code {exit_code}" in messages(logs)
    [dead] = ledger_rows(settings)
    assert dead["score_date"] == END - timedelta(days=1) and dead["status"] in ("running", "failed")
    if how == "memory":  # the run saw its MemoryError: recorded as failed
        assert dead["status"] == "failed" and "memory" in dead["error"].lower(), dead["error"]

    # The daemon goes on: the next fire starts a child again, which (the model fixed) scores its day.
    registry.promote("churn", good, "production")
    finish(started(daemon, FIRE + timedelta(days=1, seconds=1)))
    assert END in succeeded_days(settings, "churn")
    assert "churn: fire of 2026-11-29 02:00:00 UTC done" in messages(logs)


# --- a fire while the previous one still runs --------------------------------------------------

def test_a_fire_while_the_previous_fire_runs_is_skipped_and_logged(tmp_path, logs, daemons):
    settings = make_project(tmp_path, end=END, days=2, n_customers=200)
    register_slow(Registry(settings.models_root), delay_s=0.5, alias="production")
    write_job(tmp_path, schedule="0 * * * *", chunk_size=50)  # hourly: 4 chunks, 2 s of predict
    daemon = daemons(settings, Clock(FIRE - timedelta(minutes=1)))

    first = started(daemon, FIRE + timedelta(seconds=1))
    wait_for(daemon.children, 60, "the first fire's child")
    assert daemon.tick(FIRE + timedelta(hours=1, seconds=1)) == []  # the next hourly fire
    assert "churn: fire of 2026-11-28 03:00:00 UTC skipped: the previous fire is still running" in messages(logs)
    finish(first)
    rows = ledger_rows(settings)
    assert [(r["score_date"], r["status"]) for r in rows] == [(END - timedelta(days=1), "succeeded")]
    # Once it ended, the job fires again (its day is done: nothing to score, no child).
    finish(started(daemon, FIRE + timedelta(hours=2, seconds=1)))
    assert "churn: fire of 2026-11-28 04:00:00 UTC: nothing to score" in messages(logs)


# --- a fire later than misfire_grace_s --------------------------------------------------------

def test_a_fire_later_than_the_grace_is_dropped_logged_and_caught_up(tmp_path, logs, daemons):
    settings = make_project(tmp_path, end=END + timedelta(days=1), days=5, n_customers=100)
    write_job(tmp_path, schedule="0 2 * * *", catchup=True, max_catchup_days=2, misfire_grace_s=60)
    clock = Clock(FIRE - timedelta(hours=1))
    daemon = daemons(settings, clock)
    # On start, the catch-up of the window's days (fires of 11-26 and 11-27).
    finish(started(daemon, clock.now))
    assert succeeded_days(settings, "churn") == [date(2026, 11, 25), date(2026, 11, 26)]

    # The daemon was stopped (suspended, a long GC, the host asleep) over the 02:00 fire.
    assert daemon.tick(FIRE + timedelta(minutes=5)) == []
    assert ("churn: fire of 2026-11-28 02:00:00 UTC missed by more than misfire_grace_s (300s late, limit 60s); "
            "skipped") in messages(logs)
    assert END - timedelta(days=1) not in succeeded_days(settings, "churn")

    # The next fire catches the dropped fire's day up, oldest first, with its own.
    finish(started(daemon, FIRE + timedelta(days=1, seconds=2)))
    assert "scoring 2026-11-27, 2026-11-28 in child pid" in messages(logs)
    rows = ledger_rows(settings)
    assert [r["score_date"] for r in rows] == [date(2026, 11, d) for d in (25, 26, 27, 28)]
    assert {r["status"] for r in rows} == {"succeeded"}


# --- two daemons, one PostgreSQL state database ------------------------------------------------

@pytest.mark.postgres
def test_two_daemons_on_postgresql_share_the_days_and_never_score_one_twice(
    tmp_path, logs, daemons, pg_database, capfd, monkeypatch
):
    """Both daemons fire the same catch-up at the same instant of their clocks. The first's
    child is made to hold the oldest day (``BATCHSCORE_PAUSE_AT=before_commit``: claimed,
    every row written, not committed) until the second's child has met it, so the race is
    real whatever the machine's speed: the second leaves that day to the live run and scores
    the others; released, the first commits its day and finds the rest done."""
    base = make_project(tmp_path, end=END, days=6, n_customers=200)
    settings = dataclasses.replace(base, state_url=pg_database)
    # The scores on PostgreSQL too: its per-day locks let the second write its days while the
    # first holds its own transaction open (SQLite's one write lock would queue them).
    write_job(tmp_path, schedule="0 2 * * *", catchup=True, max_catchup_days=5, chunk_size=50,
              output={"kind": "sql", "url": pg_database, "table": "churn_scores"})
    window = [date(2026, 11, d) for d in range(22, 28)][-5:]
    now = FIRE + timedelta(minutes=30)
    first, second = daemons(settings, Clock(now)), daemons(settings, Clock(now))

    # The first daemon's fire: its child claims the oldest day and stops before the commit.
    monkeypatch.setenv(PAUSE_ENV, BEFORE_COMMIT)  # read by the child it spawns, not by the daemon
    holding = started(first, now)
    err: list[str] = []
    wait_for(lambda: err.append(capfd.readouterr().err) or f"paused at {BEFORE_COMMIT}\n" in "".join(err),
             CHILD_S, "the first daemon's child to pause holding the oldest day")
    monkeypatch.delenv(PAUSE_ENV)  # the child is spawned (it paused): the second's runs do not pause
    [holder] = first.children()
    [held] = [r for r in ledger_rows(settings) if r["status"] == "running"]
    assert held["score_date"] == window[0], held

    # The second daemon's fire, at the same instant: the oldest day is still to score for it.
    finish(started(second, now))
    # Released, the first commits its day and moves on.
    os.kill(holder, signal.SIGUSR1)
    finish(holding)
    assert "paused at" not in capfd.readouterr().err  # no other run of the first child paused

    rows = ledger_rows(settings)
    seen = [(r["score_date"], r["status"], r["error"]) for r in rows]
    assert sorted(r["score_date"] for r in rows if r["status"] == "succeeded") == window, (seen, messages(logs))
    assert [r for r in rows if r["status"] != "succeeded"] == [], (seen, messages(logs))  # a lost race is no failed run
    engine = sa.create_engine(pg_database)
    try:
        with engine.connect() as conn:
            per_day = conn.execute(sa.text("SELECT score_date, COUNT(*), COUNT(DISTINCT run_id) FROM churn_scores "
                                           "GROUP BY score_date ORDER BY score_date")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in per_day] == [(d, 200, 1) for d in window]  # every day once

    # Which child is which: the daemons log the pid of each child they start.
    children = {int(m) for r in logs.records for m in re.findall(r"in child pid (\d+)", r.getMessage())}
    [loser] = children - {holder}

    def lines(pid: int, needle: str) -> list[str]:
        return [r.getMessage() for r in logs.records if r.process == pid and needle in r.getMessage()]

    # The lost race: the second's child met the first's live run on the oldest day, left it.
    lost = lines(loser, "leaving the day to that run")
    assert len(lost) == 1, messages(logs)
    assert lost[0].startswith(f"churn {window[0]}: already being scored by run {held['run_id']} (pid {holder} on "), lost
    # Both did work: the first scored the day it held, the second every other day.
    assert [m.split(":")[0] for m in lines(holder, "rows written")] == [f"churn {window[0]}"], messages(logs)
    assert [m.split(":")[0] for m in lines(loser, "rows written")] == [f"churn {d}" for d in window[1:]], messages(logs)
    # ... and the first, released, found those done: skipped, not scored again.
    assert [m.split(":")[0] for m in lines(holder, "skipped, the day already succeeded")] == [
        f"churn {d}" for d in window[1:]
    ], messages(logs)
    print(f"two daemons: the second's child (pid {loser}) lost the race for {window[0]}: {lost[0]}")
    print(f"  the first's child (pid {holder}) scored {window[0]}, then skipped {', '.join(map(str, window[1:]))} "
          f"(already succeeded); the second's scored {', '.join(map(str, window[1:]))}; "
          f"churn_scores: {len(per_day)} days of 200 rows, one run_id each; ledger: {len(rows)} runs, all succeeded")
