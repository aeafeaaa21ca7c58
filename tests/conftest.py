"""Fixtures shared by the whole suite: a real PostgreSQL server, started once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.pgserver import PostgresNotInstalled, PostgresServer, create_database, drop_database


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the database ``batchscore_test`` on a private PostgreSQL server for this session."""
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
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
