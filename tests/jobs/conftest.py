"""The lifecycle project on SQLite or PostgreSQL (``lc``), for the lifecycle tests and the
report's realized metrics. ``project`` and ``project_template`` are in ``tests/conftest.py``;
``Lifecycle`` is in ``tests/jobs/helpers.py``."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.jobs.helpers import Lifecycle


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
