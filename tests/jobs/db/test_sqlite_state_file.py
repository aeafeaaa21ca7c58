"""A SQLite warehouse that is also the state database is read without adbc-driver-sqlite.

The driver links its own copy of SQLite; closing a file through one copy drops the locks the
process holds on it through the other. The ledger's heartbeat opens, writes and closes the
state database all through a run, so the driver's read lock on that same file would not hold.
"""

from __future__ import annotations

import numpy as np

from jobs.db import sqlite_adbc
from tests.jobs.helpers import DAYS, expected_scores


def test_a_warehouse_that_is_also_the_state_database_is_read_without_the_driver(project, monkeypatch):
    reads = []
    real_read = sqlite_adbc.read

    def counted(*args):
        reads.append(args[0])
        yield from real_read(*args)

    monkeypatch.setattr(sqlite_adbc, "read", counted)
    project.write_job()

    # The ledger in a file of its own: the driver reads the warehouse.
    assert project.cli("run", "churn", "--date", str(DAYS[0])).code == 0
    assert reads == [project.warehouse]

    # The ledger in the warehouse file: the slower path, said so, the same scores.
    shared = project.cli("run", "churn", "--date", str(DAYS[1]), "--state-url", f"sqlite:///{project.warehouse}")
    assert shared.code == 0, shared.err
    assert reads == [project.warehouse]
    assert "is also the state database: read through the slower SQLAlchemy path" in shared.err
    np.testing.assert_array_equal(project.scores(DAYS[1])["score"].to_numpy(), expected_scores(project, DAYS[1]).to_numpy())
    assert project.sql("SELECT count(*) FROM batchscore_runs WHERE status = 'succeeded'", db=project.warehouse) == [(1,)]
