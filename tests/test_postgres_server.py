"""The PostgreSQL fixtures the suite relies on: a real server, and one fresh database per test."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

_databases_seen: set[str] = set()


def test_server_answers_select_version(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar_one()
            database = conn.execute(sa.text("select current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL ")
    assert database == "batchscore_test"


# Run twice: whichever instance runs second would see the first one's table if databases were
# shared or not dropped, so the pair checks isolation in any order.
@pytest.mark.parametrize("instance", ["first", "second"])
def test_pg_database_is_fresh_and_private_to_one_test(
    postgres_url: str, pg_database: str, instance: str
) -> None:
    name = sa.engine.make_url(pg_database).database
    assert name not in _databases_seen
    assert name != sa.engine.make_url(postgres_url).database
    _databases_seen.add(name)

    engine = sa.create_engine(pg_database)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("create table leftover (id integer primary key)"))
            conn.execute(sa.text("insert into leftover values (1)"))
        assert sa.inspect(engine).get_table_names() == ["leftover"]
    finally:
        engine.dispose()

    # The session database is a different database: the table is not there either.
    shared = sa.create_engine(postgres_url)
    try:
        assert "leftover" not in sa.inspect(shared).get_table_names()
    finally:
        shared.dispose()
