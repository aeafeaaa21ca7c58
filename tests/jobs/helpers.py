"""Helpers shared by the test modules of ``tests/jobs``: the per-test project (its constants,
``Project`` and the CLI's ``Result``), the lifecycle tests' project on SQLite or PostgreSQL
(``Lifecycle``), edits of its warehouse that checks and rejects react to, scored batches and
table reads for the SQL sinks, and a slowed-down model.

Imported by test modules and by the conftest files (``tests/conftest.py``'s ``project``,
``tests/jobs/conftest.py``'s ``lc``); no test module imports another.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier

from jobs import cli, db
from jobs.db import adbc
from jobs.output import output_schema
from pipelines import churn
from pipelines.demo_data import make_customer_frame
from pipelines.registry import Registry

REPO = Path(__file__).resolve().parents[2]
DAYS = (date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27))
DAY = DAYS[-1]
N_CUSTOMERS = 500
ENV_KEYS = ("BATCHSCORE_CONFIG_DIR", "BATCHSCORE_STATE_URL", "BATCHSCORE_MODELS", "BATCHSCORE_LOG_DIR", "WAREHOUSE_URL")


# --- the project of a test (see the ``project`` fixture) ----------------------------------

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


# --- the lifecycle tests' project (see the ``lc`` fixture) --------------------------------

@dataclass
class Lifecycle:
    """The project on SQLite or PostgreSQL: the warehouse (features, labels, scores) and the
    state database on one or the other."""

    project: Project
    url: str  # the warehouse: features, labels, scores
    state_url: str | None  # None: the project's SQLite state database

    @property
    def direct_url(self) -> str:
        """The warehouse URL for SQLAlchemy from the test (absolute SQLite path)."""
        return f"sqlite:///{self.project.warehouse}" if self.url.startswith("sqlite") else self.url

    @property
    def state(self) -> str:
        return self.state_url or f"sqlite:///{self.project.state_db}"

    def cli(self, *args: str) -> Result:
        extra = ("--state-url", self.state_url) if self.state_url else ()
        return self.project.cli(*args, *extra)

    def train(self, day: date) -> int:
        """``batchscore train`` on ``day``: the new version."""
        result = self.cli("train", "churn", "--date", day.isoformat())
        assert result.code == 0, result.err
        return int(result.out.strip().splitlines()[-1])

    def score(self, *days: date, extra: tuple[str, ...] = ()) -> None:
        for day in days:
            result = self.cli("run", "churn", "--date", day.isoformat(), *extra)
            assert result.code == 0, result.err

    def write_job(self, **overrides) -> None:
        source = lambda table: {"kind": "sql", "url": self.url, "table": table, "date_column": "snapshot_date"}  # noqa: E731
        job = {
            "source": source("customer_features"),
            "output": {"kind": "sql", "url": self.url, "table": "churn_scores"},
            "training": {"factory": "pipelines.churn:build", "source": source("churn_labels"),
                         "label_column": "churned", "window_days": 7, "holdout_days": 2},
            "outcomes": {"source": source("churn_labels"), "label_column": "churned", "delay_days": 0},
        }
        job.update(overrides)
        self.project.write_job(**job)

    def execute(self, statement: str, url: str | None = None) -> None:
        engine = db.make_engine(url or self.direct_url)
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
        engine.dispose()

    def query(self, statement: str, url: str | None = None, **params) -> list[tuple]:
        engine = db.make_engine(url or self.direct_url)
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(sa.text(statement), params)]
        engine.dispose()
        return rows


# --- a broken upstream: the checks' and rejects' input ------------------------------------

WATCHED = ["tenure_days", "support_calls", "plan", "region"]  # features a drift section watches
BAD_IDS = [5, 250, 499]  # rows given a plan the strict pipeline's encoder never saw


def alter(project: Project, assignment: str, where: str = "1 = 1", day: date = DAY) -> None:
    """Change the day's rows of the SQLite source, like a broken upstream would."""
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn, conn:
        conn.execute(f"UPDATE customer_features SET {assignment} WHERE snapshot_date = ? AND ({where})", [day.isoformat()])


def bad_plan(project: Project, ids=BAD_IDS) -> None:
    """Rows ``ids`` of the day get plan 'platinum', unknown to every fitted encoder."""
    alter(project, "plan = 'platinum'", f"customer_id IN ({', '.join(map(str, ids))})")


def rows_written(project: Project, day: date = DAY, table: str = "churn_scores") -> int:
    """Rows of ``day`` in the warehouse's ``table`` (0 when the table does not exist)."""
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [table]).fetchone()
        if not exists:
            return 0
        return conn.execute(f"SELECT COUNT(*) FROM {table} WHERE score_date = ?", [day.isoformat()]).fetchone()[0]


def read_rejects(project: Project, day: date = DAY) -> pd.DataFrame:
    """The day's rows of the SQLite rejects table ``churn_scores_rejects``, by customer_id."""
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn:
        return pd.read_sql_query(
            "SELECT * FROM churn_scores_rejects WHERE score_date = ? ORDER BY customer_id", conn, params=[day.isoformat()]
        )


# --- scored batches for the SQL sinks -----------------------------------------------------

FLOATS = [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, 123456.789012345678, None, 2.0**-40]
TEXTS = ["a", "", None, "é ünïcode", "comma, \"quote\"", "\\N", "x" * 50, "NULL"]


def float_bits(value):
    """A float's exact bytes (None stays None): compares floats to the bit, -0.0 included."""
    return None if value is None else struct.pack("<d", value)


def scored_batch(n: int, start: int = 0) -> pa.RecordBatch:
    """``n`` scored rows of ``DAY`` (ids from ``start``): awkward floats, texts, decimals, times."""
    schema = output_schema(
        [pa.field("customer_id", pa.int64())],
        [pa.field("note", pa.string()), pa.field("price", pa.decimal128(12, 4)), pa.field("seen", pa.timestamp("us", tz="UTC"))],
        "binary",
    )
    rows = []
    for i in range(start, start + n):
        rows.append({
            "customer_id": i, "score_date": DAY, "score": FLOATS[i % len(FLOATS)] or 0.5,
            "note": TEXTS[i % len(TEXTS)], "price": Decimal("1.2345") if i % 2 else None,
            "seen": datetime(2026, 11, 27, 8, 0, i % 60, tzinfo=timezone.utc) if i % 3 else None,
            "model_name": "m", "model_version": 3, "run_id": "r", "scored_at": datetime(2026, 11, 28, tzinfo=timezone.utc),
        })
    return pa.RecordBatch.from_pylist(rows, schema=schema)


def table_rows(url: str, table: str, day: date = DAY) -> list[tuple]:
    """The day's rows of ``table``, by customer_id, floats as their bits."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {table} WHERE score_date = :d ORDER BY customer_id"), {"d": day}).all()
    engine.dispose()
    return [tuple(float_bits(v) if isinstance(v, float) else v for v in row) for row in rows]


# --- a slow model -------------------------------------------------------------------------
# A classifier that wraps a fitted pipeline and sleeps in every predict_proba call: long
# enough runs to kill, or to race, in the middle. Importable by child processes (pickled by
# reference to this module).

class Wrapper(ClassifierMixin, BaseEstimator):
    """A classifier around a fitted pipeline (``inner``): its classes and features, scored by
    it. Subclasses misbehave in ``predict_proba`` (sleep, die, raise) to test what a run does."""

    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, X, y=None):
        self.classes_ = self.inner.classes_
        self.feature_names_in_ = self.inner.feature_names_in_
        self.n_features_in_ = len(self.feature_names_in_)
        return self


class SlowClassifier(Wrapper):
    def __init__(self, inner=None, delay_s: float = 0.2):
        self.inner = inner
        self.delay_s = delay_s

    def predict_proba(self, X):
        time.sleep(self.delay_s)
        return self.inner.predict_proba(X)

    def predict(self, X):
        return self.inner.predict(X)


class ThreadCountClassifier(SlowClassifier):
    """Scores every row with the most threads any of its process's thread pools (OpenMP,
    BLAS) may run, over 100: what ``workers`` left the process that scored the row."""

    def predict_proba(self, X):
        from threadpoolctl import threadpool_info

        threads = max((pool["num_threads"] for pool in threadpool_info()), default=0)
        return np.tile([1 - threads / 100, threads / 100], (len(X), 1))


class SliceThreadsHGB(HistGradientBoostingClassifier):
    """A fitted HistGradientBoosting that scores every row with the OpenMP threads its predict
    may run on the calling thread, over 100, plus 0.5 when that thread is one of the pandas
    engine's row-slice threads: how the row was predicted."""

    def predict_proba(self, X):
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        sliced = threading.current_thread().name.startswith("batchscore-predict")
        p = _openmp_effective_n_threads() / 100 + (0.5 if sliced else 0.0)
        return np.tile([1 - p, p], (len(X), 1))


def register_slow(registry, delay_s: float = 0.2, alias: str | None = None) -> int:
    """Register the production churn model, slowed down, as a new version."""
    base = registry.load(registry.resolve("churn", "production")).pipeline
    slow = SlowClassifier(base, delay_s).fit(None)
    training = pd.read_parquet(registry.root.parent / "training.parquet")
    return registry.register("churn", slow, training_frame=training[list(base.feature_names_in_)], alias=alias)


def use_driver(monkeypatch: pytest.MonkeyPatch, driver: str) -> None:
    """Reads in this test load ``driver``: ``wheel`` (the wheel's library) or ``built``
    (scripts/setup's optimized build; CI must have it, elsewhere the test is skipped)."""
    if driver == "wheel":
        monkeypatch.setenv(adbc.DRIVER_ENV, adbc.WHEEL)
        return
    if not adbc.BUILT_DRIVER.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"scripts/setup did not build {adbc.BUILT_DRIVER} (scripts/build-adbc-postgresql)")
        pytest.skip(f"no optimized driver at {adbc.BUILT_DRIVER}: run scripts/build-adbc-postgresql")
    monkeypatch.setenv(adbc.DRIVER_ENV, str(adbc.BUILT_DRIVER))
