"""Staging tables of the spark engine's SQL output: a run killed with kill -9 leaves its
staging table behind, and the next run of the same job (any day) drops it; a staging table
whose run is still going (another day of the same job, at the same time) is never dropped.

The killed and the live runs are real child processes that take the staging table's lock and
create it as the spark engine does; the clearing runs are real Spark runs (local mode) on
SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from jobs import db
from jobs.config import load_job
from jobs.engines.spark.staging import PREFIX, StageLock, clear_stale_stages, stage_name
from jobs.runner import run_day
from pipelines.settings import Settings
from pipelines import churn
from pipelines.demo_data import build_warehouse
from tests.jobs.helpers import REPO

END = date(2026, 11, 27)
BEFORE = date(2026, 11, 26)
N = 200
TABLE = "staged_scores"

# What the spark engine does before Spark writes: take the lock, create the staging table (and
# here write a few rows, as Spark's tasks would have), then go on "scoring" until killed.
CHILD = textwrap.dedent("""
    import sys, time
    import sqlalchemy as sa
    from jobs import db
    from jobs.engines.spark.staging import StageLock
    url, name = sys.argv[1], sys.argv[2]
    engine = db.make_engine(url, writer=True)
    lock = StageLock(engine, None, name)  # kept: the lock lives as long as this object
    lock.hold()
    table = sa.Table(name, sa.MetaData(), sa.Column("customer_id", sa.BigInteger), sa.Column("score", sa.Float))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"customer_id": i, "score": 0.5} for i in range(10)])
    print("staging", flush=True)
    time.sleep(600)
""")


class StagingRun:
    """A child process that owns a staging table, as a spark run does while it scores."""

    def __init__(self, url: str, table: str = TABLE) -> None:
        self.name = stage_name(table, str(uuid.uuid4()))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, self.name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        assert line.strip() == "staging", self.process.stderr.read()

    def kill(self) -> None:
        """kill -9: the run cannot drop its staging table."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def staging_runs():
    runs: list[StagingRun] = []

    def start(url: str, table: str = TABLE) -> StagingRun:
        runs.append(StagingRun(url, table))
        return runs[-1]

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.kill()


def killed_run(start, url: str, table: str = TABLE) -> str:
    """The staging table a run killed with kill -9 leaves: its rows, its (SQLite) lock file."""
    run = start(url, table)
    run.kill()
    return run.name


def tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def lock_files(url: str) -> list[str]:
    path = db.sqlite_path(url)
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.") and p.name.endswith(".lock"))


def target(url: str, table: str = TABLE) -> tuple[sa.Engine, sa.Table]:
    return db.make_engine(url, writer=True), sa.Table(table, sa.MetaData())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'out.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def output_url(request) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_database")


# --- ownership, without Spark ---------------------------------------------------------------

def test_a_staging_table_is_kept_while_its_run_lives_and_dropped_once_it_is_killed(output_url, staging_runs):
    run = staging_runs(output_url)
    engine, scores = target(output_url)
    assert clear_stale_stages(engine, scores, own="", run="job day") == []
    assert run.name in tables(output_url)
    run.kill()
    assert clear_stale_stages(engine, scores, own="", run="job day") == [run.name]
    assert run.name not in tables(output_url)
    if db.is_sqlite(output_url):
        assert lock_files(output_url) == []  # the killed run's lock file goes with its table


def test_only_the_staging_tables_of_the_output_table_are_cleared(output_url, staging_runs):
    other = killed_run(staging_runs, output_url, table=f"{TABLE}_x")  # another table's, dead too
    mine = killed_run(staging_runs, output_url)
    engine, scores = target(output_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {PREFIX}{TABLE}_notarun (x INTEGER)"))
    assert clear_stale_stages(engine, scores, own="", run="job day") == [mine]
    assert {other, f"{PREFIX}{TABLE}_notarun"} <= tables(output_url)


def test_a_sqlite_staging_table_without_its_lock_file_has_no_owner(sqlite_url, staging_runs):
    name = killed_run(staging_runs, sqlite_url)
    for lock in lock_files(sqlite_url):
        os.unlink(db.sqlite_path(sqlite_url).parent / lock)  # the owner died before creating it
    engine, scores = target(sqlite_url)
    assert clear_stale_stages(engine, scores, own="", run="job day") == [name]


def test_the_owner_holds_its_staging_lock_until_it_releases_it(output_url):
    engine, _ = target(output_url)
    name = stage_name(TABLE, str(uuid.uuid4()))
    owner, other = StageLock(engine, None, name), StageLock(engine, None, name)
    owner.hold()
    try:
        assert not other.try_take()
    finally:
        owner.release()
    assert other.try_take()
    other.release()


def test_staging_names_keep_the_whole_run_id_whatever_the_table_name():
    run_a, run_b = str(uuid.uuid4()), str(uuid.uuid4())
    short = stage_name("scores", run_a)
    assert short == f"{PREFIX}scores_{run_a.replace('-', '')[:12]}"
    long_table = "customer_churn_scores_of_the_whole_company_daily"
    a, b = stage_name(long_table, run_a), stage_name(long_table, run_b)
    assert len(a) <= 63 and a.endswith(run_a.replace("-", "")[:12]) and a != b
    assert a[:-12] != stage_name(long_table + "_2", run_a)[:-12]  # the hash tells long names apart


# --- real Spark runs -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("staging_warehouse")
    info = build_warehouse(root, end=END, days=2, n_customers=N)
    churn.train_and_register(root / "data" / "models", info.training_path)
    return info


def spark_job(tmp_path: Path, warehouse, output_url: str):
    (tmp_path / "configs").mkdir()
    settings = Settings(
        config_dir=tmp_path / "configs", state_url=f"sqlite:///{tmp_path / 'state.db'}",
        models_root=warehouse.root / "data" / "models", log_dir=tmp_path / "logs",
    )
    body = {
        "name": "staged",
        "source": {"kind": "parquet", "path": str(warehouse.features_path), "date_column": "snapshot_date"},
        "pipeline": {"name": "churn", "version": "production"},
        "id_columns": ["customer_id"],
        "output": {"kind": "sql", "url": output_url, "table": TABLE},
        "engine": "spark",
    }
    path = settings.config_dir / "staged.yaml"
    path.write_text(yaml.safe_dump(body))
    return load_job(path), settings


@pytest.mark.spark
def test_the_next_spark_run_of_any_day_clears_a_killed_runs_staging_table_but_not_a_live_ones(
    output_url, staging_runs, warehouse, tmp_path, spark
):
    job, settings = spark_job(tmp_path, warehouse, output_url)
    killed = killed_run(staging_runs, output_url)  # a run of END, killed while it staged
    live = staging_runs(output_url)  # a run of another day, still scoring
    outcome = run_day(job, BEFORE, settings)  # the next run, of another day
    left = tables(output_url)
    assert killed not in left
    assert live.name in left
    assert not [t for t in left if t.startswith(PREFIX) and t != live.name]  # its own is gone too
    engine = db.make_engine(output_url)
    with engine.connect() as conn:
        written = conn.execute(sa.text(f"SELECT COUNT(*), COUNT(DISTINCT run_id) FROM {TABLE}")).one()
    engine.dispose()
    assert tuple(written) == (N, 1) and outcome.rows_written == N
    live.kill()  # the live run is killed in turn: the next run clears its table
    run_day(job, END, settings)
    assert not [t for t in tables(output_url) if t.startswith(PREFIX)]
    if db.is_sqlite(output_url):
        assert lock_files(output_url) == []
