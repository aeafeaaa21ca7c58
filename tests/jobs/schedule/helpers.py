"""Helpers of the scheduling tests: a throwaway batchscore project (demo warehouse, registered
demo model, one job file, settings pointing everything inside the project), the daemon in its
own process, and waiting for what it does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml

from jobs.ledger import Ledger
from pipelines.settings import Settings
from pipelines import churn
from pipelines.demo_data import build_warehouse
from pipelines.registry import Registry
from tests.jobs.helpers import REPO


def make_project(root: Path, *, end: date, days: int = 10, n_customers: int = 300) -> Settings:
    """Warehouse with ``days`` days up to ``end``, the churn model as production, no job yet."""
    info = build_warehouse(root, end=end, days=days, n_customers=n_customers)
    churn.train_and_register(Registry(root / "data" / "models"), info.training_path)
    (root / "configs").mkdir()
    return settings_of(root)


def settings_of(root: Path) -> Settings:
    return Settings.resolve({"config_dir": str(root / "configs")}, env={})


def write_job(root: Path, name: str = "churn", **overrides) -> Path:
    """A SQL -> SQL churn job on the project's warehouse; ``overrides`` replace top-level keys."""
    job = {
        "name": name,
        "source": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features", "date_column": "snapshot_date"},
        "pipeline": {"name": "churn", "version": "production"},
        "id_columns": ["customer_id"],
        "output": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"},
    }
    job.update(overrides)
    path = root / "configs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def succeeded_days(settings: Settings, job: str) -> list[date]:
    rows = Ledger(settings.state_url).history(job)
    return sorted(r["score_date"] for r in rows if r["status"] == "succeeded")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    for key in ("BATCHSCORE_CONFIG_DIR", "BATCHSCORE_STATE_URL", "BATCHSCORE_MODELS", "BATCHSCORE_LOG_DIR"):
        env.pop(key, None)
    return env


def start_daemon(root: Path, *extra: str, log_name: str = "daemon.err") -> subprocess.Popen:
    """``batchscore scheduler`` of the project in its own process; its stderr goes to a file."""
    with open(root / log_name, "wb") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "jobs", "scheduler", "--config-dir", str(root / "configs"), *extra],
            cwd=REPO, env=child_env(), stderr=err, stdout=subprocess.DEVNULL,
        )


def stop_daemon(proc: subprocess.Popen, timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def wait_for(condition: Callable[[], object], timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
