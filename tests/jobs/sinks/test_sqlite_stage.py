"""SQLite staging (jobs.sinks.sqlite_stage): the day's one-value columns are staged once, and
what reaches the output table is what staging every column row by row stores."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pytest
import sqlalchemy as sa

from jobs.config import SqlOutput
from jobs.sinks import sqlite_stage
from jobs.sinks.base import Aside
from jobs.sinks.sql import SqlDaySink, table_for
from jobs.sinks.sqlite_stage import Staging
from tests.jobs.helpers import DAY, scored_batch


def _with_run(batch: pa.RecordBatch, run_id: str) -> pa.RecordBatch:
    i = batch.schema.get_field_index("run_id")
    return batch.set_column(i, batch.schema.field(i), pa.array([run_id] * batch.num_rows, pa.string()))


def _stored(path, table: str) -> list[tuple]:
    """Every stored value with its storage class, in insertion order."""
    con = sqlite3.connect(path)
    try:
        names = [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
        return con.execute(f"SELECT {', '.join(f'typeof({n}), quote({n})' for n in names)} FROM {table} ORDER BY rowid").fetchall()
    finally:
        con.close()


DAYS_OF_BATCHES = {
    "constant lineage": lambda: [scored_batch(12), scored_batch(0, start=12), scored_batch(12, start=12)],
    "a constant that changes": lambda: [scored_batch(12), _with_run(scored_batch(12, start=12), "other"), scored_batch(5, start=24)],
    "a first batch of one row": lambda: [scored_batch(1), scored_batch(12, start=1)],
}


@pytest.mark.parametrize("case", sorted(DAYS_OF_BATCHES))
def test_sqlite_day_stores_what_staging_every_column_row_by_row_stores(tmp_path, monkeypatch, case):
    stored = {}
    for how in ("lifted", "row by row"):
        if how == "row by row":
            monkeypatch.setattr(sqlite_stage, "one_value", lambda column: False)
        path = tmp_path / f"{how}.db"
        sink = SqlDaySink(SqlOutput(kind="sql", url=f"sqlite:///{path}", table="scores"))
        batches = DAYS_OF_BATCHES[case]()
        rejects = [scored_batch(1).select(["customer_id", "score_date", "run_id"])]
        for _ in range(2):  # the second run replaces the first one's day
            aside = Aside("scores_rejects", rejects[0].schema, iter(rejects))
            assert sink.replace_day(DAY, batches[0].schema, iter(batches), [aside]) == sum(b.num_rows for b in batches)
        stored[how] = (_stored(path, "scores"), _stored(path, "scores_rejects"))
    assert stored["lifted"] == stored["row by row"]
    assert len(stored["lifted"][0]) == sum(b.num_rows for b in DAYS_OF_BATCHES[case]())


def test_the_day_s_one_value_columns_are_staged_once(tmp_path):
    batch = scored_batch(12)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        staging = Staging(table_for("scores", batch.schema))
        assert staging.fill(conn, iter([batch, scored_batch(12, start=12)])) == 24
        assert sorted(staging.constants) == ["model_name", "model_version", "run_id", "score_date", "scored_at"]
        staged = conn.execute(sa.text("SELECT count(*) FROM temp.batchscore_stage_scores")).scalar()
        kept_once = conn.execute(sa.text("SELECT count(*) FROM temp.batchscore_const_scores")).scalar()
        assert (staged, kept_once) == (24, 1)
    engine.dispose()
