"""Fixtures shared by the whole suite: a real PostgreSQL server, started once per session; a
small real project per test (SQLite warehouse, hive Parquet, a registered demo model); one
local Spark.

The project's warehouse and model are built once per session and copied for each test, so
every test starts from the same files and may change them freely. ``Project`` and the
constants (``DAYS``, ``N_CUSTOMERS``) live in ``tests/jobs/helpers.py``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pipelines import churn
from pipelines.demo_data import build_warehouse
from tests.jobs.helpers import DAYS, ENV_KEYS, N_CUSTOMERS, Project
from tests.pgserver import PostgresNotInstalled, PostgresServer, create_database, drop_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the database ``batchscore_test`` on a private PostgreSQL server for this session."""
    # Not under pytest's basetemp: any other pytest session on the machine chmods
    # /tmp/pytest-of-USER to 0700, which locks the server's unprivileged user out of its files.
    base = Path(tempfile.mkdtemp(prefix="batchscore-pg-"))
    server = PostgresServer(base)
    missing = None
    try:
        server.start()
    except PostgresNotInstalled as exc:
        missing = str(exc)
    if missing:
        # Fail, not skip: a suite that silently skips its PostgreSQL tests proves nothing.
        pytest.fail(missing, pytrace=False)
    try:
        url = server.url("batchscore_test")
        create_database(url)
        yield url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database for one test, dropped afterwards."""
    url = make_url(postgres_url).set(database=f"test_{uuid.uuid4().hex[:16]}")
    rendered = url.render_as_string(hide_password=False)
    create_database(rendered)
    try:
        yield rendered
    finally:
        drop_database(rendered)


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


@pytest.fixture(scope="session")
def spark():
    """One local Spark for every Spark test (2 cores, no UI): starting one takes seconds.

    Built the way the spark engine builds its own (JDBC jars included); the engine joins it.
    """
    from jobs.config import SparkSettings
    from jobs.engines.spark.session import spark_session

    settings = SparkSettings(
        master="local[2]",
        conf={
            "spark.ui.enabled": False,
            "spark.sql.shuffle.partitions": 2,
            "spark.default.parallelism": 2,
            "spark.driver.memory": "1g",
        },
    )
    with spark_session(settings, "batchscore tests", {}) as session:
        yield session
