"""The ledger knows where a day went: "already succeeded" holds for the same output target
only (the run, the backfill plan and the scheduler's catch-up agree), rows from before targets
were recorded count as the job's current target, and ``status`` shows each run's target."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from jobs import config as config_mod
from jobs.ledger import Ledger, runs
from jobs.schedule.backfill import plan
from jobs.schedule.daemon import Daemon
from jobs.sinks import output_target
from tests.jobs.helpers import DAY, DAYS, N_CUSTOMERS, table_rows
from tests.jobs.schedule.helpers import settings_of

SQLITE_OUT = {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"}


def _with_password(url: str) -> str:
    # The test server trusts local connections: the password is not checked, only never shown.
    return make_url(url).set(password="s3cret-pw").render_as_string(hide_password=False)


def test_a_day_scored_into_sqlite_is_scored_again_into_postgres_naming_where_it_went_before(project, pg_database):
    project.write_job(output=SQLITE_OUT)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    pg_url = _with_password(pg_database)
    project.write_job(output={"kind": "sql", "url": pg_url, "table": "churn_scores"})

    moved = project.cli("run", "churn", "--date", DAY.isoformat())  # no --force
    assert moved.code == 0, moved.err
    assert len(table_rows(pg_database, "churn_scores")) == N_CUSTOMERS
    before = [line for line in moved.err.splitlines() if "succeeded before into" in line]
    sqlite_target = f"sql sqlite:///{project.warehouse} churn_scores"
    assert len(before) == 1 and sqlite_target in before[0], moved.err
    assert "s3cret-pw" not in moved.err and "***" in before[0]

    again = project.cli("run", "churn", "--date", DAY.isoformat())
    assert again.code == 0 and "skipped" in again.err  # succeeded into PostgreSQL now
    project.write_job(output=SQLITE_OUT)
    back = project.cli("run", "churn", "--date", DAY.isoformat())
    assert back.code == 0 and "skipped" in back.err  # and it had into SQLite
    targets = project.ledger()["output_target"].tolist()
    assert targets[0] == sqlite_target and targets[1].startswith("sql postgresql+psycopg://") and "s3cret" not in targets[1]


def test_status_shows_each_runs_target(project):
    project.write_job(output=SQLITE_OUT)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    project.write_job(output={"kind": "parquet", "path": "data/scores"})
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    table = project.cli("status", "churn")
    assert "target" in table.out.splitlines()[0]
    newest, older = table.out.splitlines()[1:3]
    assert f"parquet {project.root / 'data' / 'scores'}" in newest and f"sql sqlite:///{project.warehouse} churn_scores" in older
    rows = json.loads(project.cli("status", "churn", "--format", "json").out)
    assert [r["output_target"] for r in rows] == [
        f"parquet {project.root / 'data' / 'scores'}", f"sql sqlite:///{project.warehouse} churn_scores",
    ]


@pytest.mark.parametrize("state", ["sqlite", "postgres"])
def test_a_ledger_from_before_targets_gets_the_column_and_its_rows_count_as_the_current_target(project, request, state):
    state_url = request.getfixturevalue("pg_database") if state == "postgres" else f"sqlite:///{project.state_db}"
    engine = sa.create_engine(state_url)
    old_table = sa.Table("batchscore_runs", sa.MetaData(), *[sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in runs.columns if c.name != "output_target"])
    with engine.begin() as conn:
        old_table.create(conn)
        conn.execute(old_table.insert().values(
            run_id="old-run", job="churn", score_date=DAY, status="succeeded", attempt=1,
            started_at=datetime(2026, 11, 28, tzinfo=timezone.utc), finished_at=datetime(2026, 11, 28, tzinfo=timezone.utc),
        ))
    project.write_job(output=SQLITE_OUT)

    skipped = project.cli("run", "churn", "--date", DAY.isoformat(), "--state-url", state_url)
    assert skipped.code == 0 and "skipped" in skipped.err, skipped.err  # as before: no change for existing users
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("batchscore_runs")}
        assert "output_target" in columns  # added by ALTER TABLE
        assert conn.execute(sa.text("SELECT output_target FROM batchscore_runs")).scalars().all() == [None]
    engine.dispose()
    other = project.cli("run", "churn", "--date", DAYS[0].isoformat(), "--state-url", state_url)
    assert other.code == 0, other.err
    assert Ledger(state_url).history("churn")[0]["output_target"] == f"sql sqlite:///{project.warehouse} churn_scores"


def test_the_backfill_plan_and_the_scheduler_score_days_that_succeeded_elsewhere(project):
    project.write_job(output=SQLITE_OUT, schedule="0 2 * * *", catchup=True, max_catchup_days=3)
    for day in DAYS:
        assert project.cli("run", "churn", "--date", day.isoformat()).code == 0
    settings = settings_of(project.root)
    job = config_mod.load_named(settings.config_dir, "churn")
    ledger = Ledger(settings.state_url)
    assert [p.action for p in plan(job, DAYS, ledger, force=False)] == ["skip"] * 3
    now = datetime(DAYS[-1].year, DAYS[-1].month, DAYS[-1].day + 1, 2, 0, 5, tzinfo=timezone.utc)
    assert Daemon(settings).days_for(job, now)[1] == []

    project.write_job(output={"kind": "parquet", "path": "data/scores"}, schedule="0 2 * * *", catchup=True, max_catchup_days=3)
    moved = config_mod.load_named(settings.config_dir, "churn")
    planned = plan(moved, DAYS, ledger, force=False)
    assert [p.action for p in planned] == ["score"] * 3
    assert "succeeded into sql sqlite:///" in planned[0].reason and output_target(moved.output) in planned[0].reason
    assert Daemon(settings).days_for(moved, now)[1] == list(DAYS)
    dry = project.cli("backfill", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(), "--dry-run")
    assert dry.out.count("succeeded into sql") == 3, dry.out


def test_force_still_rescores_the_same_target_and_logs_nothing_about_elsewhere(project):
    project.write_job(output=SQLITE_OUT)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    forced = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert forced.code == 0 and "succeeded before into" not in forced.err
