"""Bad rows: fail the run by default; with ``on_bad_rows: reject`` they are isolated (by
bisection), written aside with ids, day, run id and reason, and bounded by a share."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
import sqlalchemy as sa
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from jobs.errors import ScoringError
from jobs.quality.bisect import isolate_bad_rows
from pipelines import churn
from tests.jobs.helpers import BAD_IDS, DAYS, N_CUSTOMERS, alter, bad_plan, read_rejects

DAY = DAYS[-1]


@pytest.fixture
def strict(project):
    """The churn pipeline, but its encoder raises on a category it never saw."""
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    pipeline = churn.build_pipeline()
    pipeline.set_params(features__categorical__encode__handle_unknown="error")
    pipeline.fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
    project.registry.register("strict", pipeline, training_frame=frame[list(churn.FEATURES)], alias="production")
    return project


def _job(project, chunk_size=None, output=None, **quality):
    where = {"output": output} if output else {}  # write_job drops a key given as None
    project.write_job(pipeline={"name": "strict", "version": "production"}, quality=quality or None, chunk_size=chunk_size, **where)


def test_bad_rows_fail_the_run_by_default(strict):
    _job(strict)
    bad_plan(strict)
    result = strict.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert "failed on a chunk" in result.last_err_line and "platinum" in result.last_err_line
    assert "on_bad_rows: reject" in result.last_err_line
    with contextlib.closing(sqlite3.connect(strict.warehouse)) as conn:
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'churn_scores%'").fetchall()


def test_reject_mode_writes_the_bad_rows_aside_with_ids_day_run_and_reason(strict):
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01, chunk_size=128)  # several chunks
    bad_plan(strict)
    result = strict.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    scores = strict.scores(DAY)
    assert len(scores) == N_CUSTOMERS - len(BAD_IDS)
    assert not set(BAD_IDS) & set(scores["customer_id"])
    rejects = read_rejects(strict)
    assert rejects["customer_id"].tolist() == BAD_IDS
    assert set(rejects.columns) == {"customer_id", "score_date", "run_id", "reason"}
    assert (rejects["run_id"] == scores["run_id"].iloc[0]).all()
    assert (rejects["score_date"] == DAY.isoformat()).all()
    assert all("platinum" in r and "ValueError" in r for r in rejects["reason"])
    row = strict.ledger().iloc[-1]
    assert (row["rows_read"], row["rows_written"], row["rows_rejected"]) == (N_CUSTOMERS, N_CUSTOMERS - 3, 3)
    assert json.loads(row["stats"])["quality"]["reject_fraction"] == pytest.approx(3 / N_CUSTOMERS)


def test_good_rows_keep_the_scores_they_would_have_had(strict):
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01)
    bad_plan(strict)
    assert strict.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    scores = strict.scores(DAY).set_index("customer_id")["score"]
    mv = strict.registry.resolve("strict", "production")
    pipeline = strict.registry.load(mv).pipeline
    with contextlib.closing(sqlite3.connect(strict.warehouse)) as conn:
        frame = pd.read_sql_query(
            "SELECT * FROM customer_features WHERE snapshot_date = ? AND plan != 'platinum' ORDER BY customer_id",
            conn, params=[DAY.isoformat()],
        )
    expected = pipeline.predict_proba(frame[list(churn.FEATURES)])[:, 1]
    np.testing.assert_allclose(scores.loc[frame["customer_id"]].to_numpy(), expected, rtol=0, atol=1e-12)


def test_too_many_rejects_fail_the_run_and_write_nothing(strict):
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01)
    assert strict.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    before = strict.scores(DAY)
    bad_plan(strict, ids=range(1, 11))  # 2% > 1%
    result = strict.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert "reject_fraction" in result.last_err_line and "0.02" in result.last_err_line and "limit 0.01" in result.last_err_line
    assert strict.scores(DAY).equals(before)
    assert read_rejects(strict).empty  # the first run's (empty) rejects of the day, untouched


def test_a_rerun_replaces_the_days_rejects(strict):
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01)
    bad_plan(strict)
    assert strict.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    alter(strict, "plan = 'basic'", "customer_id = 5")
    assert strict.cli("run", "churn", "--date", DAY.isoformat(), "--force").code == 0
    assert read_rejects(strict)["customer_id"].tolist() == [250, 499]
    assert len(strict.scores(DAY)) == N_CUSTOMERS - 2


def test_rejects_go_to_a_parquet_directory_beside_the_scores(strict):
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01, output={"kind": "parquet", "path": "data/scores"})
    bad_plan(strict)
    assert strict.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    rejects = ds.dataset(strict.root / "data" / "scores_rejects", partitioning="hive").to_table().to_pandas()
    assert sorted(rejects["customer_id"]) == BAD_IDS
    assert rejects["reason"].str.contains("platinum").all()
    scores = ds.dataset(strict.root / "data" / "scores", partitioning="hive").to_table()
    assert scores.num_rows == N_CUSTOMERS - 3


@pytest.mark.postgres
def test_rejects_on_postgresql(strict, pg_database):
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01, output={"kind": "sql", "url": pg_database, "table": "churn_scores"})
    bad_plan(strict)
    assert strict.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    engine = sa.create_engine(pg_database)
    try:
        with engine.connect() as conn:
            ids = conn.execute(sa.text("SELECT customer_id FROM churn_scores_rejects ORDER BY 1")).scalars().all()
            scored = conn.execute(sa.text("SELECT COUNT(*) FROM churn_scores")).scalar()
    finally:
        engine.dispose()
    assert ids == BAD_IDS and scored == N_CUSTOMERS - 3


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_days_scores_and_rejects_are_committed_together(strict, backend, request):
    url = f"sqlite:///{strict.warehouse}" if backend == "sqlite" else request.getfixturevalue("pg_database")
    _job(strict, on_bad_rows="reject", max_reject_fraction=0.01, output={"kind": "sql", "url": url, "table": "churn_scores"})
    bad_plan(strict)
    assert strict.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    engine = sa.create_engine(url)

    def day_runs() -> tuple[set, set]:
        with engine.connect() as conn:
            runs = [
                set(conn.execute(sa.text(f"SELECT DISTINCT run_id FROM {table}")).scalars())
                for table in ("churn_scores", "churn_scores_rejects")
            ]
        return runs[0], runs[1]

    try:
        first = day_runs()
        assert len(first[0]) == 1 and first[0] == first[1]
        # A rejects table that refuses this run's reasons: the write fails after the
        # scores were written, in the same transaction.
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE churn_scores_rejects"))
            conn.execute(sa.text(
                "CREATE TABLE churn_scores_rejects (customer_id BIGINT, score_date DATE, run_id TEXT, "
                "reason TEXT CHECK (length(reason) < 5))"
            ))
            conn.execute(
                sa.text("INSERT INTO churn_scores_rejects VALUES (5, :d, :r, 'old')"),
                {"d": DAY.isoformat() if backend == "sqlite" else DAY, "r": next(iter(first[1]))},
            )
        result = strict.cli("run", "churn", "--date", DAY.isoformat(), "--force")
        assert result.code != 0
        assert day_runs() == first  # neither table has anything of the failed run
        assert len(strict.ledger()) == 2 and strict.ledger().iloc[-1]["status"] == "failed"
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_non_finite_scores_are_rejected_with_their_reason(project):
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    x = frame[["monthly_charges", "support_calls"]]
    # Predicts exp(linear(x)): overflows to inf on absurd charges.
    model = Pipeline([
        ("cols", ColumnTransformer([("keep", "passthrough", ["monthly_charges", "support_calls"])])),
        ("model", TransformedTargetRegressor(regressor=LinearRegression(), func=np.log, inverse_func=np.exp)),
    ]).fit(x, np.exp(x["monthly_charges"] / 50))
    project.registry.register("spend", model, training_frame=x, alias="production")
    project.write_job(
        pipeline={"name": "spend", "version": "production"}, passthrough=[],
        quality={"on_bad_rows": "reject", "max_reject_fraction": 0.01},
    )
    alter(project, "monthly_charges = 1e9", "customer_id IN (7, 8)")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    rejects = read_rejects(project)
    assert rejects["customer_id"].tolist() == [7, 8]
    assert all(r == "non-finite score (inf)" for r in rejects["reason"])
    assert len(project.scores(DAY)) == N_CUSTOMERS - 2


# --- isolate_bad_rows on its own ------------------------------------------------------------

class _Counting:
    """A predict function that raises on rows whose x is negative, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, part: pd.DataFrame):
        self.calls += 1
        if (part["x"] < 0).any():
            raise ScoringError("negative x") from ValueError(f"negative x in {len(part)} rows")
        return part["x"].to_numpy(dtype=float) * 2, None


def test_a_good_chunk_costs_one_prediction():
    predict = _Counting()
    scores, _, reasons = isolate_bad_rows(predict, pd.DataFrame({"x": np.arange(1000.0)}))
    assert predict.calls == 1 and reasons == {}
    np.testing.assert_array_equal(scores, np.arange(1000.0) * 2)


def test_bisection_finds_each_bad_row_in_few_predictions():
    x = np.arange(1024.0)
    x[[3, 700]] = -1
    predict = _Counting()
    scores, _, reasons = isolate_bad_rows(predict, pd.DataFrame({"x": x}))
    assert sorted(reasons) == [3, 700]
    assert reasons[3] == "pipeline raised ValueError: negative x in 1 rows"
    good = np.ones(1024, dtype=bool)
    good[[3, 700]] = False
    np.testing.assert_array_equal(scores[good], x[good] * 2)
    assert predict.calls <= 1 + 2 * 2 * 10  # far from one call per row


def test_a_chunk_that_fails_as_a_whole_is_not_blamed_on_rows():
    def predict(part: pd.DataFrame):
        if len(part) > 10:
            raise ScoringError("chunk too big")
        return np.zeros(len(part)), None

    with pytest.raises(ScoringError, match="chunk too big"):
        isolate_bad_rows(predict, pd.DataFrame({"x": np.arange(100.0)}))
