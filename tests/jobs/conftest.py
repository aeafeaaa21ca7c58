"""A small real project per test: SQLite warehouse, hive Parquet, a registered demo model.

The warehouse and the model are built once per session and copied for each test, so every
test starts from the same files and may change them freely.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from jobs import cli
from pipelines import churn
from pipelines.demo_data import build_warehouse, make_customer_frame
from pipelines.registry import Registry

REPO = Path(__file__).resolve().parents[2]
DAYS = (date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27))
N_CUSTOMERS = 500
ENV_KEYS = ("BATCHSCORE_CONFIG_DIR", "BATCHSCORE_STATE_URL", "BATCHSCORE_MODELS", "BATCHSCORE_LOG_DIR", "WAREHOUSE_URL")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def last_err_line(self) -> str:
        lines = [line for line in self.err.splitlines() if line.strip()]
        return lines[-1] if lines else ""


@dataclass
class Project:
    root: Path

    @property
    def configs(self) -> Path:
        return self.root / "configs"

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse.db"

    @property
    def state_db(self) -> Path:
        return self.root / "data" / "batchscore.db"

    @property
    def registry(self) -> Registry:
        return Registry(self.root / "data" / "models")

    def write_job(self, name: str = "churn", **overrides) -> Path:
        """A job file: SQLite customer_features -> churn_scores, with ``overrides`` merged."""
        job = {
            "name": name,
            "source": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features", "date_column": "snapshot_date"},
            "pipeline": {"name": "churn", "version": "production"},
            "id_columns": ["customer_id"],
            "passthrough": ["plan"],
            "output": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"},
        }
        for key, value in overrides.items():
            if value is None:
                job.pop(key, None)
            else:
                job[key] = value
        path = self.configs / f"{name}.yaml"
        path.write_text(yaml.safe_dump(job, sort_keys=False))
        return path

    def cli(self, *args: str) -> Result:
        """``batchscore ARGS`` in-process, with this project's config dir."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*args, "--config-dir", str(self.configs)])
        return Result(code, out.getvalue(), err.getvalue())

    def spawn(self, *args: str, **kwargs) -> subprocess.Popen:
        """``python -m jobs ARGS`` in a child process (for locks, kills and concurrency)."""
        env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
        env["PYTHONPATH"] = str(REPO)
        return subprocess.Popen(
            [sys.executable, "-m", "jobs", *args, "--config-dir", str(self.configs)],
            cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
        )

    def sql(self, query: str, db: Path | None = None) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(db or self.warehouse)) as conn:
            return conn.execute(query).fetchall()

    def scores(self, day: date, table: str = "churn_scores") -> pd.DataFrame:
        with contextlib.closing(sqlite3.connect(self.warehouse)) as conn:
            return pd.read_sql_query(
                f"SELECT * FROM {table} WHERE score_date = ? ORDER BY customer_id", conn, params=[day.isoformat()]
            )

    def ledger(self) -> pd.DataFrame:
        with contextlib.closing(sqlite3.connect(self.state_db)) as conn:
            return pd.read_sql_query("SELECT * FROM batchscore_runs ORDER BY started_at", conn)


@pytest.fixture(scope="session")
def project_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template")
    info = build_warehouse(root, end=DAYS[-1], days=len(DAYS), n_customers=N_CUSTOMERS)
    churn.train_and_register(root / "data" / "models", info.training_path)
    (root / "configs").mkdir()
    return root


@pytest.fixture
def project(project_template, tmp_path, monkeypatch) -> Project:
    root = tmp_path / "project"
    shutil.copytree(project_template, root)
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # relative paths must resolve against the project, not the cwd
    return Project(root)


def assert_one_line_error(result: Result, *needles: str) -> None:
    """The run ended with one ``error:`` line on stderr, naming every needle, and no traceback."""
    line = result.last_err_line
    assert line.startswith("error: "), result.err
    for needle in needles:
        assert needle in line, line
    assert "Traceback" not in result.err


def expected_scores(project: Project, day: date) -> pd.Series:
    """The pipeline's own predict_proba on the day's rows, by customer_id."""
    mv = project.registry.resolve("churn", "production")
    pipeline = project.registry.load(mv).pipeline
    frame = make_customer_frame(day, N_CUSTOMERS)
    proba = pipeline.predict_proba(frame[list(churn.FEATURES)])[:, 1]
    return pd.Series(proba, index=frame["customer_id"].to_numpy()).sort_index()
