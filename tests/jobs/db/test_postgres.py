"""PostgreSQL in and out: a real server, streamed reads, COPY writes, exact scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from jobs.sources.sql import SqlDaySource
from jobs.config import SqlSource
from pipelines.demo_data import make_customer_frame
from tests.jobs.helpers import DAYS, N_CUSTOMERS, expected_scores

pytestmark = pytest.mark.postgres
DAY = DAYS[-1]


@pytest.fixture
def pg_warehouse(pg_database):
    """The sample days in PostgreSQL, with real DATE, NUMERIC and TEXT types."""
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA features"))
        conn.execute(sa.text(
            "CREATE TABLE features.customers (customer_id bigint, snapshot_date date, tenure_days integer, "
            "monthly_charges double precision, support_calls integer, data_usage_gb numeric(12, 6), "
            "late_payments integer, plan text, region text, payment_method text)"
        ))
    frame = pd.concat([make_customer_frame(day, N_CUSTOMERS) for day in DAYS])
    frame.drop(columns=["churned"]).to_sql("customers", engine, schema="features", if_exists="append", index=False)
    engine.dispose()
    return pg_database


def _pg_scores(url: str, day) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text("SELECT * FROM scores.churn WHERE score_date = :d ORDER BY customer_id"), conn, params={"d": day})
    engine.dispose()
    return frame


def test_postgres_to_postgres_scores_are_bit_exact(project, pg_warehouse):
    with sa.create_engine(pg_warehouse).begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA scores"))
    url = pg_warehouse.replace("postgresql+psycopg://", "postgresql://")  # plain URL: psycopg is used
    project.write_job(
        source={"kind": "sql", "url": url, "table": "features.customers", "date_column": "snapshot_date"},
        output={"kind": "sql", "url": url, "table": "scores.churn"},
        chunk_size=128,
    )
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    scores = _pg_scores(pg_warehouse, DAY)
    assert len(scores) == N_CUSTOMERS and scores["customer_id"].is_unique
    expected = expected_scores(project, DAY)
    # data_usage_gb went through NUMERIC(12,6): compare with the model on the rounded values.
    mv = project.registry.resolve("churn", "production")
    frame = make_customer_frame(DAY, N_CUSTOMERS)
    frame["data_usage_gb"] = frame["data_usage_gb"].round(6)
    again = project.registry.load(mv).pipeline.predict_proba(frame[list(mv.spec.feature_names)])[:, 1]
    np.testing.assert_array_equal(scores["score"].to_numpy(), again)
    np.testing.assert_allclose(scores["score"].to_numpy(), expected.to_numpy(), rtol=1e-6)
    assert set(scores["plan"]) <= {"basic", "standard", "premium", "family"}

    # the table has real types and the score_date index
    with sa.create_engine(pg_warehouse).connect() as conn:
        types = dict(conn.execute(sa.text(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema='scores' AND table_name='churn'"
        )).all())
        indexes = conn.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE schemaname='scores' AND tablename='churn'")).scalars().all()
    assert types["score_date"] == "date" and types["score"] == "double precision"
    assert types["scored_at"] == "timestamp with time zone" and types["customer_id"] == "bigint"
    assert [ix for ix in indexes if "score_date" in ix] == [
        "CREATE INDEX ix_churn_score_date ON scores.churn USING brin (score_date) WITH (autosummarize='on')"
    ]
    # A downstream query of one day finds it through that index.
    with sa.create_engine(pg_warehouse).connect() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text("EXPLAIN SELECT * FROM scores.churn WHERE score_date = :d"), {"d": DAY}).scalars())
    assert "Bitmap Index Scan on ix_churn_score_date" in plan


def test_postgres_rerun_replaces_the_day_in_one_transaction(project, pg_warehouse):
    with sa.create_engine(pg_warehouse).begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA scores"))
    project.write_job(
        source={"kind": "sql", "url": pg_warehouse, "table": "features.customers", "date_column": "snapshot_date"},
        output={"kind": "sql", "url": pg_warehouse, "table": "scores.churn"},
    )
    for day in DAYS[:2]:
        assert project.cli("run", "churn", "--date", day.isoformat()).code == 0
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat(), "--force").code == 0
    engine = sa.create_engine(pg_warehouse)
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text("SELECT score_date, COUNT(*) FROM scores.churn GROUP BY 1")).all())
        runs = conn.execute(sa.text("SELECT COUNT(DISTINCT run_id) FROM scores.churn")).scalar_one()
    engine.dispose()
    assert counts == {DAYS[0]: N_CUSTOMERS, DAYS[1]: N_CUSTOMERS}
    assert runs == 2


def test_postgres_source_streams_in_chunks_of_chunk_size(pg_warehouse):
    source = SqlDaySource(
        SqlSource(kind="sql", url=pg_warehouse, table="features.customers", date_column="snapshot_date"),
        chunk_size=128,
        wanted=["customer_id", "plan", "data_usage_gb"],
    )
    sizes = [batch.num_rows for batch in source.iter_batches(DAY)]
    assert sizes == [128, 128, 128, N_CUSTOMERS - 3 * 128]
    assert source.columns()[:2] == ["customer_id", "snapshot_date"]


def test_postgres_text_nulls_and_empty_strings_survive_copy(project, pg_database):
    from datetime import date

    import pyarrow as pa

    from jobs.config import SqlOutput
    from jobs.sinks.sql import SqlDaySink

    schema = pa.schema([("id", pa.int64()), ("score_date", pa.date32()), ("note", pa.string()), ("score", pa.float64())])
    batch = pa.RecordBatch.from_pylist(
        [
            {"id": 1, "score_date": date(2026, 1, 1), "note": None, "score": 0.1 + 0.2},
            {"id": 2, "score_date": date(2026, 1, 1), "note": "", "score": 5e-324},
            {"id": 3, "score_date": date(2026, 1, 1), "note": 'a,"b"\nc', "score": 1 / 3},
        ],
        schema=schema,
    )
    sink = SqlDaySink(SqlOutput(kind="sql", url=pg_database, table="notes"))
    assert sink.replace_day(date(2026, 1, 1), schema, [batch]) == 3
    with sa.create_engine(pg_database).connect() as conn:
        rows = conn.execute(sa.text("SELECT id, note, score FROM notes ORDER BY id")).all()
    assert rows == [(1, None, 0.1 + 0.2), (2, "", 5e-324), (3, 'a,"b"\nc', 1 / 3)]


def test_down_postgres_output_fails_the_run_and_the_ledger_says_why(project):
    project.write_job(output={"kind": "sql", "url": "postgresql://nobody@127.0.0.1:9/none", "table": "s"})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert "cannot connect to the output database" in result.last_err_line
    assert project.ledger().iloc[-1]["status"] == "failed"


@pytest.mark.parametrize("adbc_path", [True, False], ids=["adbc", "generic"])
def test_a_missing_postgres_source_table_or_date_column_is_one_clear_line(project, pg_warehouse, monkeypatch, adbc_path):
    from jobs.db import adbc
    from jobs.errors import SourceError
    from tests.jobs.helpers import assert_one_line_error

    if not adbc_path:
        monkeypatch.setattr(adbc, "available", lambda u: False)
    cases = [
        ("features.nope", "snapshot_date", ["source table features.nope does not exist", "check source.table"]),
        ("features.customers", "day", ["source table features.customers has no column day", "fix source.date_column"]),
    ]
    for table, date_column, needles in cases:
        project.write_job(
            source={"kind": "sql", "url": pg_warehouse, "table": table, "date_column": date_column},
            output={"kind": "sql", "url": pg_warehouse, "table": "scores_out"},
        )
        result = project.cli("run", "churn", "--date", DAY.isoformat())
        assert result.code == SourceError.exit_code
        assert_one_line_error(result, *needles)
