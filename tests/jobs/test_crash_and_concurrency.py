"""Two runs of one day at once, --force next to a live run, SIGTERM mid-run: never a partial
or duplicated day. (kill -9 at each point of the write: tests/jobs/test_exactly_once.py.)"""

from __future__ import annotations

import signal
import time

import pytest

from jobs.ledger import Ledger
from tests.jobs.helpers import DAYS, N_CUSTOMERS, register_slow

DAY = DAYS[-1]
CHUNK = 50  # 10 chunks of 0.2 s each: a run of about 2 s


def _wait_for_running(project, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if project.state_db.exists():
            try:
                rows = Ledger(f"sqlite:///{project.state_db}").history("churn")
            except Exception:
                rows = []
            if any(r["status"] == "running" for r in rows):
                return
        time.sleep(0.05)
    raise AssertionError("the child never started its run")


@pytest.mark.slow
def test_two_concurrent_runs_of_one_day_score_it_once(project):
    project.write_job(chunk_size=CHUNK)
    register_slow(project.registry, alias="production")
    children = [project.spawn("run", "churn", "--date", DAY.isoformat()) for _ in range(2)]
    results = [(c.wait(timeout=120), c.stderr.read()) for c in children]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 3], results
    locked_err = next(err for code, err in results if code == 3)
    assert "already being scored" in locked_err.strip().splitlines()[-1]
    scores = project.scores(DAY)
    assert len(scores) == N_CUSTOMERS and scores["customer_id"].is_unique
    ledger = project.ledger()
    assert ledger["status"].tolist() == ["succeeded"]  # the locked attempt got no row


@pytest.mark.slow
def test_force_never_overrides_a_live_run(project):
    project.write_job(chunk_size=CHUNK)
    register_slow(project.registry, delay_s=0.3, alias="production")
    child = project.spawn("run", "churn", "--date", DAY.isoformat())
    try:
        _wait_for_running(project)
        forced = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
        assert forced.code == 3
        assert "--force does not override" in forced.last_err_line
    finally:
        assert child.wait(timeout=120) == 0
    assert len(project.scores(DAY)) == N_CUSTOMERS


@pytest.mark.slow
def test_sigterm_mid_run_rolls_back_and_records_the_failure(project):
    project.write_job(chunk_size=CHUNK)
    register_slow(project.registry, alias="production")
    child = project.spawn("run", "churn", "--date", DAY.isoformat())
    _wait_for_running(project)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 143
    assert "terminated" in child.stderr.read().strip().splitlines()[-1]
    assert project.sql("SELECT name FROM sqlite_master WHERE name = 'churn_scores'") == [] or project.scores(DAY).empty
    ledger = project.ledger()
    assert ledger["status"].tolist() == ["failed"]
    assert project.sql("SELECT COUNT(*) FROM batchscore_locks", project.state_db)[0][0] == 0
