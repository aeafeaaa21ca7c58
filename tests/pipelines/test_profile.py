"""Training profiles recorded at registration, and the categories a fitted pipeline knows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from pipelines.churn import FEATURES, FEATURES_CATEGORICAL, LABEL, build_pipeline
from pipelines.demo_data import PLANS, REGIONS, make_customer_frame
from pipelines.profile import CATEGORICAL, NUMERIC, fitted_categories, numeric_bins, profile_frame
from pipelines.registry import Registry


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_customer_frame(date(2026, 6, 1), 400)


def test_registration_with_training_data_records_a_profile_per_feature(tmp_path, frame):
    pipeline = build_pipeline().fit(frame[list(FEATURES)], frame[LABEL])
    registry = Registry(tmp_path)
    version = registry.register("churn", pipeline, training_frame=frame[list(FEATURES)])
    profile = registry.resolve("churn", version).profile
    assert set(profile) == set(FEATURES)
    tenure = profile["tenure_days"]
    assert tenure["kind"] == NUMERIC
    assert (tenure["min"], tenure["max"]) == (frame["tenure_days"].min(), frame["tenure_days"].max())
    assert len(tenure["shares"]) == len(tenure["edges"]) + 1 == 10
    assert sum(tenure["shares"]) + tenure["missing_share"] == pytest.approx(1.0)
    usage = profile["data_usage_gb"]
    assert usage["missing_share"] == pytest.approx(frame["data_usage_gb"].isna().mean())
    plan = profile["plan"]
    assert plan["kind"] == CATEGORICAL
    assert plan["shares"] == pytest.approx((frame["plan"].value_counts() / len(frame)).to_dict())
    assert plan["categories"] == sorted(PLANS)


def test_registration_without_training_data_records_no_profile(tmp_path, frame):
    pipeline = build_pipeline().fit(frame[list(FEATURES)], frame[LABEL])
    registry = Registry(tmp_path)
    version = registry.register("churn", pipeline)
    assert registry.resolve("churn", version).profile is None


def test_fitted_categories_come_from_the_encoders_inside_the_column_transformer(frame):
    pipeline = build_pipeline().fit(frame[list(FEATURES)], frame[LABEL])
    found = fitted_categories(pipeline)
    assert set(found) == set(FEATURES_CATEGORICAL)
    assert sorted(found["region"]) == sorted(REGIONS)  # None (missing) is not a category


def test_fitted_categories_of_a_bare_ordinal_encoder(frame):
    pipeline = Pipeline([
        ("cols", ColumnTransformer([("enc", OrdinalEncoder(), ["plan", "payment_method"])])),
        ("model", LogisticRegression()),
    ]).fit(frame[["plan", "payment_method"]], frame[LABEL])
    assert sorted(fitted_categories(pipeline)) == ["payment_method", "plan"]


def test_numeric_bins_are_open_at_both_ends_and_skip_nan():
    counts = numeric_bins(np.array([-100.0, 1.0, 1.5, 2.0, 99.0, np.nan]), np.array([1.0, 2.0]))
    assert counts.tolist() == [2, 2, 1]  # (-inf, 1], (1, 2], (2, inf)


def test_profile_of_an_id_like_column_lists_no_categories():
    frame = pd.DataFrame({"code": [f"c{i}" for i in range(2000)]})
    entry = profile_frame(frame, ["code"])["code"]
    assert "categories" not in entry and len(entry["shares"]) == 51  # 50 + (other)
