"""Retries of transient errors and waits for input rows, with the real runner and ledger;
the sleep is injected, and the world changes while the job "sleeps"."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jobs.schedule.backfill import run_days
from jobs.config import load_named
from jobs.errors import EXIT_FAILED, EXIT_NO_INPUT, ModelNotFound, NoInputRows, TransientError
from jobs.ledger import Ledger
from jobs.schedule.retry import MAX_BACKOFF_S, backoff, run_with_retries
from tests.jobs.helpers import DAYS, N_CUSTOMERS, REPO, Project
from tests.jobs.schedule.helpers import child_env, settings_of

DAY = DAYS[-1]


def parquet_job(project: Project, **overrides):
    """A job writing Parquet under data/scores; a plain file there makes every write fail with
    an I/O error (transient) until it is removed."""
    project.write_job(output={"kind": "parquet", "path": "data/scores/churn"}, **overrides)
    settings = settings_of(project.root)
    return load_named(settings.config_dir, "churn"), settings


def block_output(project: Project) -> Path:
    blocker = project.root / "data" / "scores"
    blocker.write_text("not a directory")
    return blocker


def attempts(settings, job="churn") -> list[tuple[int, str]]:
    rows = Ledger(settings.state_url).history(job)
    return sorted((r["attempt"], r["status"]) for r in rows)


def test_backoff_doubles_from_the_base_delay_and_is_capped():
    assert [backoff(60, n) for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff(60, 30) == MAX_BACKOFF_S


def test_a_transient_failure_is_retried_with_backoff_and_each_attempt_is_in_the_ledger(project):
    job, settings = parquet_job(project, retries=3, retry_delay_s=5)
    blocker = block_output(project)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            blocker.unlink()  # the disk came back

    outcome = run_with_retries(job, DAY, settings, sleep=sleep)
    assert outcome.status == "succeeded" and outcome.rows_written == N_CUSTOMERS
    assert waits == [5, 10]
    assert attempts(settings) == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    errors = [r["error"] for r in Ledger(settings.state_url).history("churn") if r["status"] == "failed"]
    assert all("writing" in e for e in errors)


def test_transient_retries_give_up_after_retries_and_raise_the_last_error(project):
    job, settings = parquet_job(project, retries=2, retry_delay_s=1)
    block_output(project)
    waits = []
    with pytest.raises(TransientError):
        run_with_retries(job, DAY, settings, sleep=waits.append)
    assert waits == [1, 2]
    assert attempts(settings) == [(1, "failed"), (2, "failed"), (3, "failed")]


def test_an_error_a_retry_cannot_fix_fails_at_once(project):
    job, settings = parquet_job(project, retries=5, retry_delay_s=1, pipeline={"name": "churn", "version": 99})
    waits = []
    with pytest.raises(ModelNotFound):
        run_with_retries(job, DAY, settings, sleep=waits.append)
    assert waits == []
    assert attempts(settings) == [(1, "failed")]


def hold_back_day(project: Project, day: date) -> None:
    """Upstream not ready: move the day's rows aside."""
    with sqlite3.connect(project.warehouse) as conn:
        conn.execute("CREATE TABLE held AS SELECT * FROM customer_features WHERE snapshot_date = ?", [day.isoformat()])
        conn.execute("DELETE FROM customer_features WHERE snapshot_date = ?", [day.isoformat()])


def deliver_day(project: Project) -> None:
    with sqlite3.connect(project.warehouse) as conn:
        conn.execute("INSERT INTO customer_features SELECT * FROM held")
        conn.execute("DROP TABLE held")


def test_a_day_with_no_rows_yet_waits_and_succeeds_when_rows_appear(project):
    project.write_job(wait_for_data_s=3600, retry_delay_s=30)

    settings = settings_of(project.root)
    job = load_named(settings.config_dir, "churn")
    hold_back_day(project, DAY)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 3:
            deliver_day(project)

    outcome = run_with_retries(job, DAY, settings, sleep=sleep)
    assert outcome.status == "succeeded" and outcome.rows_written == N_CUSTOMERS
    assert waits == [30, 60, 120]
    assert attempts(settings) == [(1, "failed"), (2, "failed"), (3, "failed"), (4, "succeeded")]


def test_no_rows_fails_with_that_reason_when_wait_for_data_runs_out(project):
    project.write_job(wait_for_data_s=100, retry_delay_s=30, retries=5)

    settings = settings_of(project.root)
    job = load_named(settings.config_dir, "churn")
    hold_back_day(project, DAY)
    clock = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    with pytest.raises(NoInputRows, match="still none after waiting 100s") as info:
        run_with_retries(job, DAY, settings, sleep=sleep, monotonic=lambda: clock[0])
    assert info.value.exit_code == EXIT_NO_INPUT
    assert waits == [30, 60, 10]  # the last wait is what is left of wait_for_data_s
    rows = Ledger(settings.state_url).history("churn")
    assert len(rows) == 4 and all(r["status"] == "failed" and "no rows" in r["error"] for r in rows)


def test_no_rows_fails_at_once_without_wait_for_data(project):
    project.write_job(retries=3, retry_delay_s=1)

    settings = settings_of(project.root)
    hold_back_day(project, DAY)
    waits = []
    with pytest.raises(NoInputRows):
        run_with_retries(load_named(settings.config_dir, "churn"), DAY, settings, sleep=waits.append)
    assert waits == []
    assert attempts(settings) == [(1, "failed")]


def test_backfill_retries_transient_failures_of_each_day(project):
    job, settings = parquet_job(project, retries=1, retry_delay_s=0)
    block_output(project)
    results = run_days(job, [DAY], settings)
    assert results[0].status == "failed" and results[0].exit_code == EXIT_FAILED
    assert attempts(settings) == [(1, "failed"), (2, "failed")]


def test_batchscore_run_retries_transient_failures_and_exits_1_when_they_persist(project):
    parquet_job(project, retries=2, retry_delay_s=0.05)
    block_output(project)
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "run", "churn", "--date", DAY.isoformat(), "--config-dir", str(project.configs)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == EXIT_FAILED, done.stderr
    assert done.stderr.count("transient failure, retry") == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: churn 2026-11-27: writing")

    assert attempts(settings_of(project.root)) == [(1, "failed"), (2, "failed"), (3, "failed")]
