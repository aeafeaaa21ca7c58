"""The daemon as users run it: ``batchscore scheduler`` processes, real child processes, the
real SQLite state database, schedules firing every few seconds (``--seconds``)."""

from __future__ import annotations

import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jobs.config import load_named
from jobs.faults import AFTER_FIRST_CHUNK, PAUSE_ENV
from jobs.ledger import Ledger
from jobs.runner import run_day
from jobs.schedule.cron import catchup_days, scored_day
from tests.jobs.schedule.helpers import (
    make_project,
    start_daemon,
    stop_daemon,
    succeeded_days,
    wait_for,
    write_job,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
UTC = ZoneInfo("UTC")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def log_of(root) -> str:
    path = root / "data" / "logs" / "scheduler.log"
    return path.read_text() if path.exists() else ""


def test_a_fire_scores_the_day_named_by_score_date_in_the_job_time_zone(tmp_path):
    tz = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its "yesterday" is often the UTC today
    expected = scored_day(now_utc(), tz, "yesterday")
    settings = make_project(tmp_path, end=expected + timedelta(days=1), days=4, n_customers=200)
    write_job(tmp_path, schedule="* * * * *", timezone="Pacific/Kiritimati")
    daemon = start_daemon(tmp_path, "--seconds", "*/2")
    try:
        wait_for(lambda: succeeded_days(settings, "churn"), 60, "the first fire's run")
        time.sleep(3)  # later fires of the same day are skips: no second row
        assert daemon.poll() is None
    finally:
        code = stop_daemon(daemon)
    assert code == 0
    assert succeeded_days(settings, "churn") == [expected]
    assert len(Ledger(settings.state_url).history("churn")) == 1
    log = log_of(tmp_path)
    assert f"scoring {expected} in child pid" in log
    assert f"churn {expected}: succeeded, 200 rows written" in log


def test_a_missed_window_is_caught_up_oldest_first_on_start(tmp_path):
    now = now_utc()
    settings = make_project(tmp_path, end=now.date(), days=8, n_customers=200)
    write_job(tmp_path, schedule="0 2 * * *", catchup=True, max_catchup_days=5)
    window = catchup_days("0 2 * * *", UTC, "yesterday", now, 5, [])
    assert len(window) == 5
    # The daemon was down for days; one day in the middle was scored by hand meanwhile.
    by_hand = window[2]
    run_day(load_named(settings.config_dir, "churn"), by_hand, settings)
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: set(window) <= set(succeeded_days(settings, "churn")), 60, "the catch-up")
    finally:
        code = stop_daemon(daemon)
    assert code == 0
    rows = sorted(Ledger(settings.state_url).history("churn"), key=lambda r: r["started_at"])
    assert [r["score_date"] for r in rows] == [by_hand] + [d for d in window if d != by_hand]
    assert all(r["status"] == "succeeded" for r in rows)
    missed = ", ".join(str(d) for d in window if d != by_hand)
    assert f"scoring {missed} in child pid" in log_of(tmp_path)


def test_sigterm_during_a_run_rolls_the_day_back_and_the_daemon_exits_0(tmp_path, monkeypatch):
    now = now_utc()
    settings = make_project(tmp_path, end=now.date(), days=3, n_customers=4000)
    write_job(tmp_path, schedule="0 2 * * *", catchup=True, max_catchup_days=1, chunk_size=20)
    [day] = catchup_days("0 2 * * *", UTC, "yesterday", now, 1, [])
    # The run holds itself once its first chunk reached the sink, nothing committed, until
    # it is stopped: a run in the middle of its write whatever the machine's speed.
    monkeypatch.setenv(PAUSE_ENV, AFTER_FIRST_CHUNK)  # read by the daemon's child
    daemon = start_daemon(tmp_path, "--grace", "0.5")
    ledger = Ledger(settings.state_url)
    try:
        wait_for(lambda: [r for r in ledger.history("churn") if r["status"] == "running"], 60, "the run to start")
        wait_for(lambda: f"paused at {AFTER_FIRST_CHUNK}" in (tmp_path / "daemon.err").read_text(), 60,
                 "the run to hold its first chunk")
    finally:
        code = stop_daemon(daemon)
    assert code == 0
    [row] = ledger.history("churn")
    assert row["score_date"] == day and row["status"] == "failed"
    assert "terminated" in row["error"]
    with sqlite3.connect(tmp_path / "data" / "warehouse.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "churn_scores" in tables:
            assert conn.execute("SELECT COUNT(*) FROM churn_scores WHERE score_date = ?", [day.isoformat()]).fetchone()[0] == 0
    with sqlite3.connect(tmp_path / "data" / "batchscore.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM batchscore_locks").fetchone()[0] == 0
    log = log_of(tmp_path)
    assert "still running after the grace period; terminating" in log
    assert "scheduler stopped" in log


def test_sigterm_lets_a_running_job_finish_within_the_grace_period(tmp_path):
    now = now_utc()
    settings = make_project(tmp_path, end=now.date(), days=3, n_customers=2000)
    write_job(tmp_path, schedule="0 2 * * *", catchup=True, max_catchup_days=1, chunk_size=20)
    [day] = catchup_days("0 2 * * *", UTC, "yesterday", now, 1, [])
    daemon = start_daemon(tmp_path, "--grace", "60")
    ledger = Ledger(settings.state_url)
    try:
        wait_for(lambda: [r for r in ledger.history("churn") if r["status"] == "running"], 60, "the run to start")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    finally:
        stop_daemon(daemon)
    [row] = ledger.history("churn")
    assert row["score_date"] == day and row["status"] == "succeeded" and row["rows_written"] == 2000
    assert "waiting up to 60s for 1 running job(s)" in log_of(tmp_path)


def test_two_schedulers_on_one_state_database_score_each_day_exactly_once_and_both_stay_up(tmp_path):
    now = now_utc()
    settings = make_project(tmp_path, end=now.date(), days=6, n_customers=200)
    write_job(tmp_path, schedule="* * * * *", catchup=True, max_catchup_days=2)
    window = catchup_days("* * * * *", UTC, "yesterday", now, 2, [], second="*/2")
    first = start_daemon(tmp_path, "--seconds", "*/2", log_name="first.err")
    second = start_daemon(tmp_path, "--seconds", "*/2", log_name="second.err")
    try:
        wait_for(lambda: set(window) <= set(succeeded_days(settings, "churn")), 90, "every day of the window")
        time.sleep(3)  # more fires of both, all of them finding the days done
        assert first.poll() is None and second.poll() is None
    finally:
        codes = [stop_daemon(first), stop_daemon(second)]
    assert codes == [0, 0]
    rows = Ledger(settings.state_url).history("churn")
    assert sorted(r["score_date"] for r in rows if r["status"] == "succeeded") == window
    assert [r for r in rows if r["status"] != "succeeded"] == []
    for name in ("first.err", "second.err"):
        assert " ERROR " not in (tmp_path / name).read_text()


def test_a_second_scheduler_takes_over_a_day_whose_scheduler_died_mid_run(tmp_path):
    import os

    now = now_utc()
    settings = make_project(tmp_path, end=now.date(), days=2, n_customers=3000)
    write_job(tmp_path, schedule="* * * * *", chunk_size=20)
    day = scored_day(now, UTC, "yesterday")
    ledger = Ledger(settings.state_url)
    first = start_daemon(tmp_path, "--seconds", "*/3", log_name="first.err")
    second = None
    try:
        wait_for(lambda: [r for r in ledger.history("churn") if r["status"] == "running"], 60, "the first run")
        second = start_daemon(tmp_path, "--seconds", "*/3", log_name="second.err")
        with sqlite3.connect(tmp_path / "data" / "batchscore.db") as conn:
            [(child_pid,)] = conn.execute("SELECT pid FROM batchscore_locks").fetchall()
        # The first scheduler's machine dies: the daemon and its child vanish at once.
        first.kill()
        os.kill(child_pid, signal.SIGKILL)
        first.wait(10)
        wait_for(lambda: day in succeeded_days(settings, "churn"), 90, "the second scheduler to score the day")
        assert second.poll() is None
    finally:
        stop_daemon(first)
        codes = [stop_daemon(second)] if second else []
    assert codes == [0]
    rows = sorted(ledger.history("churn"), key=lambda r: r["started_at"])
    assert [(r["score_date"], r["status"]) for r in rows] == [(day, "failed"), (day, "succeeded")]
    assert "died" in rows[0]["error"]


def test_sighup_reloads_jobs_and_a_broken_file_keeps_the_previous_version(tmp_path):
    settings = make_project(tmp_path, end=now_utc().date(), days=2, n_customers=100)
    write_job(tmp_path, schedule="0 2 * * *")
    daemon = start_daemon(tmp_path)
    try:
        wait_for(lambda: "scheduler started" in log_of(tmp_path), 30, "the daemon to start")
        (tmp_path / "configs" / "churn.yaml").write_text("name: churn\nschedule: [not, a, cron]\n")
        write_job(tmp_path, "other", schedule="30 3 * * *", timezone="Europe/Paris")
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "other: scheduled '30 3 * * *' Europe/Paris" in log_of(tmp_path), 30, "the reload")
        assert "keeping its previous version" in log_of(tmp_path)
        assert daemon.poll() is None
    finally:
        code = stop_daemon(daemon)
    assert code == 0
    assert settings.config_dir.is_dir()
