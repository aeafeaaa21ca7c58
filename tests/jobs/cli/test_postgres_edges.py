"""PostgreSQL as psql users write it: ``postgres://`` URLs everywhere, no server-side warning
per run, the ledger's stats as jsonb (a ledger made with json keeps working)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.jobs.helpers import DAYS

pytestmark = pytest.mark.postgres
DAY = DAYS[-1]


def server_log(url: str) -> Path:
    """The test server's log file (tests/pgserver.py: beside its data directory)."""
    with sa.create_engine(url).connect() as conn:
        data_dir = conn.execute(sa.text("SHOW data_directory")).scalar_one()
    return Path(data_dir).parent / "postgres.log"


def to_postgres(project, url: str) -> None:
    """The project's SQLite customer_features, with real DATEs, in PostgreSQL."""
    frame = pd.read_sql("SELECT * FROM customer_features", sa.create_engine(f"sqlite:///{project.warehouse}"))
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    engine = sa.create_engine(url)
    frame.to_sql("customer_features", engine, index=False)
    engine.dispose()


def test_postgres_urls_work_for_source_output_and_state_and_a_run_leaves_no_server_warning(project, pg_database):
    to_postgres(project, pg_database)
    plain = pg_database.replace("postgresql+psycopg://", "postgres://")  # as psql and libpq accept it
    project.write_job(
        source={"kind": "sql", "url": plain, "table": "customer_features", "date_column": "snapshot_date"},
        output={"kind": "sql", "url": plain, "table": "churn_scores"},
    )
    log = server_log(pg_database)
    start = log.stat().st_size
    for extra in ([], ["--force"]):
        result = project.cli("run", "churn", "--date", DAY.isoformat(), "--state-url", plain, *extra)
        assert result.code == 0, result.err
    with log.open(errors="replace") as f:
        f.seek(start)
        assert "already a transaction in progress" not in f.read()
    status = project.cli("status", "churn", "--state-url", plain, "--format", "json")
    assert status.code == 0, status.err
    assert [r["status"] for r in json.loads(status.out)] == ["succeeded", "succeeded"]
    with sa.create_engine(pg_database).connect() as conn:
        kind = conn.execute(sa.text(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'batchscore_runs' AND column_name = 'stats'"
        )).scalar_one()
        assert kind == "jsonb"
        # jsonb: operators and indexes work on the figures
        assert conn.execute(sa.text("SELECT count(*) FROM batchscore_runs WHERE stats ? 'scores'")).scalar_one() == 2


def test_a_ledger_made_with_a_json_stats_column_keeps_working(project, pg_database):
    with sa.create_engine(pg_database).begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE batchscore_runs (run_id varchar(36) PRIMARY KEY, job varchar(200) NOT NULL, score_date date NOT NULL, "
            "status varchar(16) NOT NULL, attempt integer NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz, "
            "rows_read bigint, rows_written bigint, rows_rejected bigint, model_name varchar(200), model_version integer, "
            "engine varchar(16), error text, stats json)"
        ))
    project.write_job()
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--state-url", pg_database)
    assert result.code == 0, result.err
    [row] = json.loads(project.cli("status", "churn", "--state-url", pg_database, "--format", "json").out)
    assert row["stats"]["scores"]["count"] == row["rows_written"]
