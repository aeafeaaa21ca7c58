"""One environment everywhere: the scheduler, ``backfill`` and the spark-submit driver, started
with an environment that lacks WAREHOUSE_URL and BATCHSCORE_STATE_URL (as cron and a
cluster's driver start them), take both from the project's env file. (``run`` from a crontab
line: ``tests/jobs/schedule/test_crontab.py``; the file's format: ``tests/pipelines/test_envfile.py``.)"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.ledger import Ledger
from tests.jobs.helpers import DAYS, ENV_KEYS, N_CUSTOMERS, REPO
from tests.jobs.schedule.helpers import (
    make_project,
    start_daemon,
    stop_daemon,
    wait_for,
    write_job,
)

START, END = DAYS[0].isoformat(), DAYS[-1].isoformat()
# No default: a job file with these loads only where the env file reached the process.
FROM_ENV = {
    "source": {"kind": "sql", "url": "${WAREHOUSE_URL}", "table": "customer_features", "date_column": "snapshot_date"},
    "output": {"kind": "sql", "url": "${WAREHOUSE_URL}", "table": "churn_scores"},
}
STATE_DB = "data/state_from_env_file.db"  # not the default data/batchscore.db


def write_env_file(root: Path, name: str = ".env") -> str:
    """The project's env file naming its warehouse and a state database; the latter's URL."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"WAREHOUSE_URL=sqlite:///{root}/data/warehouse.db\nexport BATCHSCORE_STATE_URL=sqlite:///{STATE_DB}\n")
    return f"sqlite:///{root / STATE_DB}"


def succeeded(state_url: str) -> list:
    return sorted(r["score_date"] for r in Ledger(state_url).history("churn") if r["status"] == "succeeded")


def test_backfill_takes_the_warehouse_and_the_state_database_from_the_env_file(project):
    project.write_job(**FROM_ENV)
    state_url = write_env_file(project.root)
    backfill = project.spawn("backfill", "churn", "--start", START, "--end", END)  # ENV_KEYS left out
    out, err = backfill.communicate(timeout=120)
    assert backfill.returncode == 0, err
    assert out.splitlines()[-1] == f"backfill churn {START}..{END}: 3 succeeded, 0 skipped, 0 failed"
    assert [len(project.scores(day)) for day in DAYS] == [N_CUSTOMERS] * 3
    assert succeeded(state_url) == list(DAYS)
    assert not project.state_db.exists()  # the default state database was never opened


def test_the_spark_submit_driver_takes_them_from_the_file_batchscore_env_file_names(project, monkeypatch):
    project.write_job(**FROM_ENV)
    state_url = f"sqlite:///{project.root / STATE_DB}"
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{project.warehouse}")  # only to score the first day
    assert project.cli("run", "churn", "--date", START, "--state-url", state_url).code == 0
    monkeypatch.delenv("WAREHOUSE_URL")
    write_env_file(project.root, "secrets/driver.env")
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    # As spark-submit starts the driver: the script itself, the code on the path (--py-files).
    # A dry run needs no Spark: it shows what the driver read from the ledger.
    driver = subprocess.run(
        [sys.executable, "jobs/cli/spark_main.py", "backfill", "churn", "--start", START, "--end", END, "--dry-run",
         "--config-dir", str(project.configs)],
        cwd=REPO, env={**env, "PYTHONPATH": str(REPO), "BATCHSCORE_ENV_FILE": "secrets/driver.env"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert driver.returncode == 0, driver.stderr
    lines = driver.stdout.splitlines()
    assert lines[0].startswith(f"{DAYS[0]} would skip: succeeded at ")  # the run above, in the env file's ledger
    assert lines[-1] == f"dry run churn {START}..{END}: 2 to score, 1 to skip"
    assert not project.state_db.exists()


@pytest.mark.timeout(180)
def test_the_scheduler_takes_them_from_the_env_file(tmp_path, monkeypatch):
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    today = datetime.now(UTC).date()
    make_project(tmp_path, end=today, days=2, n_customers=100)
    write_job(tmp_path, schedule="* * * * *", **FROM_ENV)
    state_url = write_env_file(tmp_path)
    daemon = start_daemon(tmp_path, "--seconds", "*/1")
    try:
        wait_for(lambda: daemon.poll() is not None or succeeded(state_url), 60, "the first fire's run")
    finally:
        code = stop_daemon(daemon)
    assert code == 0, (tmp_path / "daemon.err").read_text()[-3000:]
    [day] = succeeded(state_url)
    assert day in (today - timedelta(days=1), datetime.now(UTC).date() - timedelta(days=1))  # midnight may pass
    assert not (tmp_path / "data" / "batchscore.db").exists()
