"""Fixtures shared by the whole suite: a real PostgreSQL server, started once per session."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

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
