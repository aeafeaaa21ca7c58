"""The unseen-category check counts the values a pipeline's own fitted encoders do not know:
numeric categories (int, float, bool) are compared by value as the encoder compares them, text
by equality, nulls never (they are the null check's), through a real run and a real encoder."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from jobs.config import DriftConfig, QualityConfig
from jobs.errors import QualityCheckFailed
from jobs.quality.monitor import RunMonitor
from pipelines.spec import Feature, ModelSpec, conform
from pipelines import churn
from pipelines.distribution import ScoreSummary
from pipelines.profile import fitted_categories
from tests.jobs.helpers import DAYS, N_CUSTOMERS, alter

DAY = DAYS[-1]


def _numeric_category_pipeline() -> Pipeline:
    """support_calls: imputed (to float) then one-hot: categories 0.0, 1.0, ... for int input;
    late_payments: ordinal-encoded as int: categories 0, 1, ... for input that nulls make float;
    plan: text, one-hot."""
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
    features = ColumnTransformer([
        ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), ["tenure_days", "monthly_charges"]),
        ("calls", Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("encode", OneHotEncoder(handle_unknown="ignore"))]), ["support_calls"]),
        ("late", ordinal, ["late_payments"]),
        ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
    ])
    return Pipeline([("features", features), ("model", LogisticRegression(max_iter=1000))])


FEATURES = ["tenure_days", "monthly_charges", "support_calls", "late_payments", "plan"]


def _register(project) -> Pipeline:
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    pipeline = _numeric_category_pipeline().fit(frame[FEATURES], frame[churn.LABEL])
    assert fitted_categories(pipeline)["support_calls"][:2] == [0.0, 1.0]  # floats, from the imputer
    assert fitted_categories(pipeline)["late_payments"][:2] == [0, 1]  # ints
    project.registry.register("numcat", pipeline, training_frame=frame[FEATURES], alias="production")
    return pipeline


def _encoders_unseen(project, pipeline: Pipeline) -> dict[str, float]:
    """The share of the day's rows each encoder itself finds unknown, on the conformed features
    (nulls left out: the null check counts them)."""
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn:
        raw = pd.read_sql_query("SELECT * FROM customer_features WHERE snapshot_date = ?", conn, params=[DAY.isoformat()])
    version = project.registry.resolve("numcat", "production")
    features = conform(raw[FEATURES], version.spec)
    transformers = pipeline.named_steps["features"].named_transformers_
    calls = transformers["calls"].transform(features[["support_calls"]])
    late = transformers["late"].transform(features[["late_payments"]])[:, 0]
    plan = transformers["plan"].transform(features[["plan"]])
    n = len(features)
    return {
        "support_calls": float((np.asarray(calls.sum(axis=1)).ravel() == 0).sum() / n),
        "late_payments": float(((late == -1) & features["late_payments"].notna().to_numpy()).sum() / n),
        "plan": float((np.asarray(plan.sum(axis=1)).ravel() == 0).sum() / n),
    }


def test_numeric_categories_count_only_the_values_the_fitted_encoders_do_not_know(project):
    pipeline = _register(project)
    project.write_job(pipeline={"name": "numcat", "version": "production"}, quality={"on_fail": "warn"})
    alter(project, "support_calls = 42", "customer_id % 50 = 0")  # 2% unseen (ints vs float categories)
    alter(project, "late_payments = NULL", "customer_id % 50 = 1")  # nulls: the day's column is float
    alter(project, "late_payments = 9", "customer_id % 25 = 2")  # 4% unseen (floats vs int categories)
    alter(project, "plan = 'platinum'", "customer_id % 100 = 3")  # 1% unseen text
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    quality = json.loads(project.ledger().iloc[-1]["stats"])["quality"]
    assert quality["unseen_category_fraction"] == pytest.approx(_encoders_unseen(project, pipeline))
    unseen = quality["unseen_category_fraction"]
    assert (unseen["late_payments"], unseen["plan"]) == pytest.approx((20 / N_CUSTOMERS, 5 / N_CUSTOMERS))
    assert 10 / N_CUSTOMERS <= unseen["support_calls"] < 0.05  # 42, and a count no training day had
    assert quality["unseen_categories"] == {"support_calls": ["42", "11"], "late_payments": ["9.0"], "plan": ["platinum"]}
    assert quality["null_fraction"]["late_payments"] == pytest.approx(10 / N_CUSTOMERS)


def test_a_normal_day_of_numeric_categories_passes_the_default_limit(project):
    _register(project)
    project.write_job(pipeline={"name": "numcat", "version": "production"})
    alter(project, "late_payments = NULL", "customer_id % 100 = 1")  # the int column arrives as float
    for day in DAYS:  # support_calls may see a count no training day had: the encoder's say
        result = project.cli("run", "churn", "--date", day.isoformat())
        assert result.code == 0, result.err
    quality = json.loads(project.ledger().iloc[-1]["stats"])["quality"]
    assert quality["verdict"] == "pass", quality["findings"]
    assert quality["unseen_category_fraction"]["late_payments"] == 0.0


# --- the monitor against a real encoder, dtype by dtype ------------------------------------

TRAINED = {  # what an encoder was fitted on -> the categories_ it holds
    "int": pd.Series([1, 2, 3, 7]),
    "float": pd.Series([0.0, 1.0, 2.5, np.nan]),  # NaN is a category here; a null is never unseen
    "bool": pd.Series([True, False]),
    "text": pd.Series(["1", "2.5", "a", "True"], dtype=object),
}
SCORED = {  # a day's column as conform leaves it
    "int64": pd.Series([1, 2, 4, 1, 7, 0]),
    "float64": pd.Series([1.0, 2.0, np.nan, 2.5, 4.0, -0.0, 0.0, 7.0]),
    "float32": pd.Series([1.0, 2.5, 0.1, np.nan], dtype="float32"),
    "Int64": pd.Series([1, None, 4, 0], dtype="Int64"),
    "bool": pd.Series([True, False, True]),
    "str": pd.Series(["1", "a", None, "zz", "2.5"], dtype="str"),
    "object_text": pd.Series(["1", "a", None, "b"], dtype=object),
    "object_numbers": pd.Series([1, 2.5, True, None, 4, np.nan], dtype=object),
    "category": pd.Series(["a", "b", None, "1"], dtype="category"),
}


def _unknown_to_encoder(encoder: OrdinalEncoder, column: pd.Series) -> int:
    """Non-null rows the encoder encodes as unknown; all of them if it cannot take the column."""
    present = column.notna().to_numpy()
    try:
        codes = encoder.transform(pd.DataFrame({"c": column}))[:, 0]
    except (TypeError, ValueError):  # numbers against text categories: the encoder cannot take them
        return int(present.sum())
    return int(((codes == -1) & present).sum())


@pytest.mark.parametrize("scored", list(SCORED))
@pytest.mark.parametrize("trained", list(TRAINED))
def test_unseen_values_are_those_a_fitted_encoder_encodes_as_unknown(trained, scored):
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
    pipeline = Pipeline([("cols", ColumnTransformer([("enc", encoder, ["c"])]))]).fit(pd.DataFrame({"c": TRAINED[trained]}))
    encoder = pipeline.named_steps["cols"].named_transformers_["enc"]  # the fitted clone
    spec = ModelSpec("m", 1, "regression", (Feature("c"),))
    monitor = RunMonitor(
        QualityConfig(), DriftConfig(), features=["c"], profile=None,
        categories=fitted_categories(pipeline), reference=None,
    )
    column = SCORED[scored]
    monitor.observe(conform(pd.DataFrame({"c": column}), spec))
    with contextlib.suppress(QualityCheckFailed):  # the verdict is not the point: the count is
        monitor.finish(ScoreSummary())
    unseen = monitor.figures.quality.per_column("unseen_category_fraction")["c"]  # unseen rows / rows
    assert unseen == _unknown_to_encoder(encoder, column) / monitor.rows
