"""The demo warehouse and the demo churn pipeline, on real SQLite and Parquet files."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.spec import BINARY, conform, predict
from pipelines.churn import (
    FEATURES,
    FEATURES_CATEGORICAL,
    FEATURES_NUMERIC,
    LABEL,
    main,
    train,
    train_and_register,
)
from pipelines.demo_data import build_warehouse, make_customer_frame
from pipelines.registry import Registry

END = date(2026, 11, 27)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    return build_warehouse(tmp_path_factory.mktemp("warehouse"), end=END, days=3, n_customers=500)


def _sqlite_day(path: Path, day: date) -> pd.DataFrame:
    with sqlite3.connect(path) as connection:
        return pd.read_sql_query(
            "SELECT * FROM customer_features WHERE snapshot_date = ?",
            connection,
            params=[day.isoformat()],
        )


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Same values whatever store they came from: object text, None for missing."""
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    return frame.astype(object).where(frame.notna(), None)


# --- demo data -----------------------------------------------------------------------------

def test_customer_frame_is_deterministic():
    pd.testing.assert_frame_equal(
        make_customer_frame(END, 300), make_customer_frame(END, 300)
    )
    assert not make_customer_frame(END, 300).equals(make_customer_frame(END, 300, seed=8))


def test_customer_frame_has_the_documented_columns_and_types():
    frame = make_customer_frame(END, 2000)
    assert list(frame.columns) == [
        "customer_id", "snapshot_date", *FEATURES_NUMERIC, *FEATURES_CATEGORICAL, LABEL
    ]  # fmt: skip
    assert frame["customer_id"].tolist() == list(range(1, 2001))
    assert frame["snapshot_date"].map(type).eq(date).all()
    for column in ("customer_id", "tenure_days", "support_calls", "late_payments"):
        assert frame[column].dtype == "int64", column
    assert frame["monthly_charges"].dtype == frame["data_usage_gb"].dtype == "float64"
    assert 0.005 < frame["data_usage_gb"].isna().mean() < 0.04
    assert 0 < frame["region"].isna().sum() < 0.03 * len(frame)
    assert set(frame["plan"]) == {"basic", "standard", "premium", "family"}
    assert set(frame["payment_method"]) == {"card", "bank", "paypal", "invoice"}
    assert frame["region"].nunique() == 8
    assert set(frame[LABEL]) == {0, 1}


def test_customers_stay_the_same_customers_from_day_to_day():
    today, tomorrow = make_customer_frame(END, 500), make_customer_frame(END + timedelta(1), 500)
    assert (tomorrow["tenure_days"] - today["tenure_days"]).eq(1).all()
    assert tomorrow["plan"].equals(today["plan"])
    assert tomorrow["payment_method"].equals(today["payment_method"])
    drift = (tomorrow["monthly_charges"] - today["monthly_charges"]).abs()
    assert drift.median() < 2.0
    assert not tomorrow["support_calls"].equals(today["support_calls"])


def test_warehouse_sqlite_and_parquet_hold_the_same_rows_per_day(warehouse):
    assert warehouse.days() == [END - timedelta(2), END - timedelta(1), END]
    for day in warehouse.days():
        from_sql = _sqlite_day(warehouse.sqlite_path, day)
        assert len(from_sql) == 500
        assert set(from_sql["snapshot_date"]) == {day.isoformat()}
        part = warehouse.features_path / f"snapshot_date={day.isoformat()}" / "part-0.parquet"
        from_parquet = pq.read_table(part).to_pandas()
        assert "snapshot_date" not in from_parquet.columns
        assert LABEL not in from_parquet.columns
        expected = make_customer_frame(day, 500).drop(columns=[LABEL, "snapshot_date"])
        pd.testing.assert_frame_equal(
            _normalised(from_sql.drop(columns=["snapshot_date"])), _normalised(expected)
        )
        pd.testing.assert_frame_equal(_normalised(from_parquet), _normalised(expected))


def test_warehouse_table_declares_dates_and_indexes_them(warehouse):
    with sqlite3.connect(warehouse.sqlite_path) as connection:
        info = connection.execute("PRAGMA table_info(customer_features)").fetchall()
        indexes = [row[1] for row in connection.execute("PRAGMA index_list(customer_features)")]
        indexed = [
            [row[2] for row in connection.execute(f"PRAGMA index_info({name})")]
            for name in indexes
        ]
    columns = {row[1]: row[2] for row in info}
    assert columns["snapshot_date"] == "DATE"
    assert LABEL not in columns
    assert ["snapshot_date"] in indexed


def test_training_frame_is_labelled_and_precedes_the_scored_days(warehouse):
    training = pd.read_parquet(warehouse.training_path)
    assert LABEL in training.columns
    assert len(training) == 5 * 500
    assert max(pd.to_datetime(training["snapshot_date"])).date() < warehouse.start


def test_rebuilding_the_warehouse_replaces_it_and_keeps_other_tables(tmp_path):
    build_warehouse(tmp_path, end=END, days=2, n_customers=50)
    with sqlite3.connect(tmp_path / "data" / "warehouse.db") as connection:
        connection.execute("CREATE TABLE churn_scores (customer_id INTEGER)")
    info = build_warehouse(tmp_path, end=END - timedelta(10), days=3, n_customers=40)
    with sqlite3.connect(info.sqlite_path) as connection:
        count, first = connection.execute(
            "SELECT count(*), min(snapshot_date) FROM customer_features"
        ).fetchone()
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert (count, first) == (3 * 40, info.start.isoformat())
    assert "churn_scores" in tables
    parts = sorted(p.name for p in info.features_path.iterdir())
    assert parts == [f"snapshot_date={d.isoformat()}" for d in info.days()]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "features", "training.parquet", "warehouse.db"
    ]  # fmt: skip


# --- demo pipeline -------------------------------------------------------------------------

def test_demo_pipeline_learns_churn(warehouse):
    pipeline, metrics = train(pd.read_parquet(warehouse.training_path))
    assert metrics["roc_auc"] > 0.7
    assert 0.5 < metrics["accuracy"] <= 1.0
    assert metrics["n_train"] + metrics["n_holdout"] == 5 * 500
    assert list(pipeline.feature_names_in_) == list(FEATURES)


def test_train_is_deterministic(warehouse):
    frame = pd.read_parquet(warehouse.training_path)
    assert train(frame)[1] == train(frame)[1]


def test_train_and_register_records_parquet_dtypes_and_metrics(warehouse, tmp_path):
    registry = Registry(tmp_path / "models")
    assert train_and_register(registry, warehouse.training_path) == 1
    mv = registry.resolve("churn", "production")
    assert mv.version == 1 and mv.task == BINARY and mv.classes == (0, 1)
    dtypes = {f.name: f.dtype for f in mv.features}
    assert [f.name for f in mv.features] == list(FEATURES)
    assert dtypes["plan"] == str(pd.read_parquet(warehouse.training_path)["plan"].dtype)
    assert dtypes["tenure_days"] == "int64"
    assert mv.metrics["roc_auc"] > 0.7
    assert mv.reference.count == 5 * 500
    assert train_and_register(tmp_path / "models", warehouse.training_path, alias="next") == 2


def test_registered_demo_model_scores_a_day_read_from_sqlite(warehouse, tmp_path):
    registry = Registry(tmp_path / "models")
    train_and_register(registry, warehouse.training_path)
    loaded = registry.load(registry.resolve("churn", "production"))
    day = _sqlite_day(warehouse.sqlite_path, END)
    spec = loaded.version.spec
    scores, labels = predict(loaded.pipeline, conform(day, spec), spec)
    assert labels is None and len(scores) == 500
    assert ((scores > 0) & (scores < 1)).all()


def test_main_prints_the_new_version_last(warehouse, tmp_path, capsys):
    args = ["--models", str(tmp_path / "models"), "--training", str(warehouse.training_path)]
    assert main(args) == 0
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2"
