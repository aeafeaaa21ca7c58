"""kill -9 in the middle of a day, and two runs of one day at once: never a partial or
duplicated day, and the next run completes it."""

from __future__ import annotations

import signal
import time

import pandas as pd
import pytest
import sqlalchemy as sa

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


def _output(kind: str, project, pg_url: str | None):
    if kind == "sqlite":
        return {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"}
    if kind == "postgres":
        return {"kind": "sql", "url": pg_url, "table": "churn_scores"}
    return {"kind": "parquet", "path": "data/scores"}


def _read(kind: str, project, pg_url: str | None) -> pd.DataFrame:
    if kind == "sqlite":
        return project.scores(DAY)
    if kind == "postgres":
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            frame = pd.read_sql(sa.text("SELECT * FROM churn_scores WHERE score_date = :d ORDER BY customer_id"), conn, params={"d": DAY})
        engine.dispose()
        return frame
    path = project.root / "data" / "scores" / f"score_date={DAY}"
    return pd.read_parquet(path).sort_values("customer_id").reset_index(drop=True) if path.exists() else pd.DataFrame()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres", "parquet"])
def test_kill_9_mid_day_leaves_the_old_day_whole_and_the_next_run_completes_it(project, kind, request):
    pg_url = request.getfixturevalue("pg_database") if kind == "postgres" else None
    project.write_job(chunk_size=CHUNK, output=_output(kind, project, pg_url))
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    before = _read(kind, project, pg_url)
    assert len(before) == N_CUSTOMERS
    slow = register_slow(project.registry)

    child = project.spawn("run", "churn", "--date", DAY.isoformat(), "--force", "--pipeline-version", str(slow))
    _wait_for_running(project)
    time.sleep(0.8)  # well into the day: some chunks scored and staged or copied
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    after_kill = _read(kind, project, pg_url)
    pd.testing.assert_frame_equal(after_kill, before)  # whole old day, nothing of the killed run
    statuses = Ledger(f"sqlite:///{project.state_db}").history("churn")
    assert [r["status"] for r in statuses][0] == "running"  # the dead run's row, still open

    rerun = project.cli("run", "churn", "--date", DAY.isoformat(), "--force", "--pipeline-version", str(slow))
    assert rerun.code == 0, rerun.err  # the dead owner's lock does not block
    done = _read(kind, project, pg_url)
    assert len(done) == N_CUSTOMERS and done["customer_id"].is_unique
    assert set(done["model_version"]) == {slow}
    history = Ledger(f"sqlite:///{project.state_db}").history("churn")
    assert [r["status"] for r in history] == ["succeeded", "failed", "succeeded"]
    assert "died" in history[1]["error"]
    if kind == "parquet":  # the killed run's staging directory is cleared by the next run
        assert [p.name for p in (project.root / "data" / "scores").iterdir()] == [f"score_date={DAY}"]


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
