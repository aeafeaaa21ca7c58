"""The feature plan replays a fitted ColumnTransformer with numpy and Arrow: its scores must be
scikit-learn's to the bit, and anything it does not know must go to scikit-learn."""

from __future__ import annotations

import logging
import pickle
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from pipelines import churn
from pipelines.demo_data import make_customer_frame
from pipelines.planned import OFF_ENV, PlannedPipeline, planned, probe_frame, same_matrix
from pipelines.profile import fitted_categories
from pipelines.registry import Registry
from tests.pipelines.helpers import churn_without

DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A day of the demo's customers with every kind of gap: missing numbers and texts (each
    column), categories never seen in training, as the scoring engines give it (Arrow-backed)."""
    data = make_customer_frame(DAY, 3000)
    data.loc[::7, "plan"] = None
    data.loc[::11, "tenure_days"] = None
    data.loc[::13, "region"] = "atlantis"
    data.loc[::17, "monthly_charges"] = np.nan
    data.loc[5, list(churn.FEATURES)] = None  # one row with nothing at all
    table = pa.Table.from_pandas(data[list(churn.FEATURES) + [churn.LABEL]], preserve_index=False)
    return table.to_pandas()


def fitted(frame: pd.DataFrame, pipeline: Pipeline, target=None) -> Pipeline:
    clean = make_customer_frame(DAY, 3000)
    return pipeline.fit(clean[list(churn.FEATURES)], clean[churn.LABEL] if target is None else target(clean))


def assert_same_scores(pipeline, features: pd.DataFrame, method: str = "predict_proba") -> PlannedPipeline:
    fast = planned(pipeline)
    assert isinstance(fast, PlannedPipeline)
    expected = getattr(pipeline, method)(features)
    got = getattr(fast, method)(features)
    assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    assert fast.proven(features)
    return fast


def test_the_demo_pipeline_scores_to_the_bit_with_gaps_and_unseen_categories(frame):
    pipeline = fitted(frame, churn.build_pipeline())
    features = frame[list(churn.FEATURES)]
    assert_same_scores(pipeline, features)
    assert_same_scores(pipeline, features, "predict")
    for rows in (1, 3, 16):  # an online request's sizes: the same rows, the same bits
        assert_same_scores(pipeline, features.iloc[:rows])


def test_text_as_categories_and_integers_as_floats_are_proven_again(frame, monkeypatch):
    proofs = []  # each proof scores probe rows made for the dtypes it proves
    monkeypatch.setattr("pipelines.planned.probe_frame", lambda plan, dtypes: proofs.append(dtypes) or probe_frame(plan, dtypes))
    pipeline = fitted(frame, churn.build_pipeline())
    features = frame[list(churn.FEATURES)].astype({"plan": "category", "support_calls": "float64"})
    fast = assert_same_scores(pipeline, features)
    assert len(proofs) == 1
    fast.predict_proba(frame[list(churn.FEATURES)])
    assert len(proofs) == 2  # one proof per set of column dtypes


def test_multiclass_regression_and_sparse_output(frame):
    features = frame[list(churn.FEATURES)]
    tiers = lambda f: pd.cut(f["monthly_charges"], 3, labels=["low", "mid", "high"]).astype(str)
    assert_same_scores(fitted(frame, churn.build_pipeline().set_params(model=LogisticRegression(max_iter=500)), tiers), features)
    spend = lambda f: f["monthly_charges"] * 12.0
    assert_same_scores(fitted(frame, churn_without("monthly_charges", LinearRegression()), spend), features, "predict")
    sparse = churn.build_pipeline()
    sparse.steps[0][1].set_params(sparse_threshold=1.0)
    fast = assert_same_scores(fitted(frame, sparse), features)
    assert fast.plan.sparse


def test_ordinal_codes_and_passed_through_columns_for_a_tree_model(frame):
    features = frame[list(churn.FEATURES)]
    fast = assert_same_scores(fitted(frame, churn.build_hgb_pipeline(max_iter=20)), features)
    assert [type(b).__name__ for b in fast.plan.blocks] == ["NumericBlock", "CodeBlock"]
    no_imputer = churn.build_hgb_pipeline(max_iter=20)  # missing text reaches the encoder: NaN codes
    no_imputer.steps[0][1].transformers[1] = ("categorical", OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2), list(churn.FEATURES_CATEGORICAL))
    no_imputer.steps[-1][1].set_params(categorical_features=None)
    training = make_customer_frame(DAY, 3000)
    training.loc[::5, "region"] = None  # seen missing: encoded_missing_value; plan: never seen missing
    no_imputer.fit(training[list(churn.FEATURES)], training[churn.LABEL])
    fast = assert_same_scores(no_imputer, features)
    assert fast.plan.blocks[1].missing == (-1.0, -2.0, -1.0)


def test_pipelines_with_steps_it_does_not_know_are_left_to_scikit_learn(frame):
    numeric = list(churn.FEATURES_NUMERIC)
    unknown_step = churn.build_pipeline()
    unknown_step.steps[0][1].transformers[0] = ("numeric", FunctionTransformer(np.log1p), numeric)
    passthrough = churn.build_pipeline()
    passthrough.steps[0][1].set_params(remainder="passthrough")
    passthrough.steps[0][1].transformers = passthrough.steps[0][1].transformers[1:]
    drop_first = churn.build_pipeline()
    drop_first.steps[0][1].transformers[1][1].set_params(encode__drop="first")
    indicator = churn.build_pipeline()
    indicator.steps[0][1].transformers[0][1].set_params(impute__add_indicator=True)
    clean = make_customer_frame(DAY, 500)
    for pipeline in (unknown_step, passthrough, drop_first, indicator):
        complete = clean.dropna()
        pipeline.fit(complete[list(churn.FEATURES)], complete[churn.LABEL])
        assert planned(pipeline) is pipeline
    assert planned(LogisticRegression()) is not None and not isinstance(planned(LogisticRegression()), PlannedPipeline)


def test_inputs_it_does_not_take_go_to_scikit_learn_with_its_own_errors(frame):
    pipeline = fitted(frame, churn.build_pipeline())
    fast = planned(pipeline)
    as_objects = frame[list(churn.FEATURES)].astype({"plan": object})
    assert fast.predict_proba(as_objects).tobytes() == pipeline.predict_proba(as_objects).tobytes()
    assert not fast.proven(as_objects)
    infinite = frame[list(churn.FEATURES)].head(20).copy()
    infinite.loc[3, "data_usage_gb"] = np.inf
    with pytest.raises(ValueError) as ours:
        fast.predict_proba(infinite)
    with pytest.raises(ValueError) as theirs:
        pipeline.predict_proba(infinite)
    assert str(ours.value) == str(theirs.value)


def test_a_plan_that_differs_from_scikit_learn_on_its_probes_is_never_used(frame, caplog):
    pipeline = fitted(frame, churn.build_pipeline())
    fast = planned(pipeline)
    numeric = fast.plan.blocks[0]
    numeric.mean.flags.writeable = True
    numeric.mean[2] += 1e-9  # the plan's own copy of one mean, off by a hair
    features = frame[list(churn.FEATURES)]
    with caplog.at_level(logging.WARNING, logger="pipelines.planned"):
        scores = fast.predict_proba(features)
    assert not fast.proven(features)
    assert scores.tobytes() == pipeline.predict_proba(features).tobytes()
    assert "differs from scikit-learn" in caplog.text


def test_it_pickles_can_be_turned_off_and_is_what_the_registry_loads(frame, tmp_path, monkeypatch):
    pipeline = fitted(frame, churn.build_pipeline())
    features = frame[list(churn.FEATURES)]
    again = pickle.loads(pickle.dumps(planned(pipeline)))
    assert again.predict_proba(features).tobytes() == pipeline.predict_proba(features).tobytes()
    assert [name for name, _ in again.steps] == ["features", "model"]
    registry = Registry(tmp_path)
    registry.register("churn", pipeline, training_frame=make_customer_frame(DAY, 500), alias="production")
    loaded = registry.load(registry.resolve("churn", "production"))
    assert isinstance(loaded.pipeline, PlannedPipeline) and loaded.runtime == "sklearn"
    assert fitted_categories(loaded.pipeline) == fitted_categories(pipeline) != {}  # the input checks' view
    again_version = registry.register("churn", loaded.pipeline)  # a loaded pipeline registers as itself
    assert type(registry.load(registry.resolve("churn", again_version)).pipeline.pipeline) is Pipeline
    monkeypatch.setenv(OFF_ENV, "off")
    assert planned(pipeline) is pipeline


def test_same_matrix_is_strict_about_signed_zeros_order_and_sparse_layout():
    a = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert same_matrix(a, a.copy())
    assert not same_matrix(a, np.array([[-0.0, 1.0], [2.0, 3.0]]))
    assert not same_matrix(a, np.asfortranarray(a))
    assert not same_matrix(a, a.astype(np.float32))
    from scipy import sparse

    assert same_matrix(sparse.csr_matrix(a), sparse.csr_matrix(a))
    assert not same_matrix(sparse.csr_matrix(a), a)
