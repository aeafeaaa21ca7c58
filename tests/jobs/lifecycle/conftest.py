"""The lifecycle tests' project on SQLite or PostgreSQL (``lc``): the warehouse (features,
labels, scores) and the state database on one or the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from jobs import db
from tests.jobs.helpers import Project, Result


@dataclass
class Lifecycle:
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


@pytest.fixture(params=["sqlite", "postgres"])
def lc(request, project) -> Lifecycle:
    if request.param == "sqlite":
        return Lifecycle(project, "sqlite:///data/warehouse.db", None)
    url = request.getfixturevalue("pg_database")
    engine = sa.create_engine(url)
    for table in ("customer_features", "churn_labels"):
        frame = pd.DataFrame(project.sql(f"SELECT * FROM {table}"), columns=[c[1] for c in project.sql(f"PRAGMA table_info({table})")])
        frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
        frame.to_sql(table, engine, index=False, dtype={"snapshot_date": sa.Date})
    engine.dispose()
    return Lifecycle(project, url.replace("postgresql+psycopg://", "postgresql://"), url)


