"""The model spec: conforming a frame's types to the features, the positive class, and
predictions that do not depend on how many rows are predicted together."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pipelines.errors import SchemaMismatch
from pipelines.spec import Feature, ModelSpec, conform, positive_index, predict
from tests.pipelines.helpers import fit_toy_pipeline, spec_of

SPEC = ModelSpec("m", 1, "binary", (Feature("x", "float64"), Feature("n", "int64"), Feature("c", "object")), (0, 1))


def test_conform_casts_castable_types_and_keeps_missing_values_as_pandas_presents_them():
    frame = pd.DataFrame({"x": [1, 2, None], "n": [1.0, 2.0, 3.0], "c": pd.array(["a", None, "b"], dtype="str"), "extra": 1})
    out = conform(frame, SPEC)
    assert list(out.columns) == ["x", "n", "c"]
    assert out["x"].dtype == "float64" and np.isnan(out["x"].iloc[2])
    assert out["n"].dtype == "int64"
    assert out["c"].dtype == object and out["c"].iloc[1] is None


def test_conform_takes_decimals_as_floats_and_fractional_ints_as_floats():
    frame = pd.DataFrame({"x": [Decimal("1.5"), None], "n": [1.5, None], "c": ["a", "b"]})
    out = conform(frame, SPEC)
    assert out["x"].tolist()[0] == 1.5 and out["n"].dtype == "float64"


def test_conform_names_every_wrong_column_with_found_and_expected_types():
    frame = pd.DataFrame({"x": ["a", "b"], "n": [1, 2], "c": [1.0, 2.0]})
    with pytest.raises(SchemaMismatch) as err:
        conform(frame, SPEC)
    assert "x is text (str), expected float64" in str(err.value) or "x is text (object), expected float64" in str(err.value)
    assert "c is float64, expected object" in str(err.value)


def test_missing_columns_are_all_listed():
    with pytest.raises(SchemaMismatch, match="lacks columns n, c"):
        conform(pd.DataFrame({"x": [1.0]}), SPEC)


def test_positive_class_picks_the_probability_column():
    pipe, frame = fit_toy_pipeline(LogisticRegression(), ["no", "yes", "no", "yes", "no", "yes"])
    spec = spec_of(pipe, frame)
    assert positive_index(spec, None) == 1 and positive_index(spec, "no") == 0
    with pytest.raises(SchemaMismatch, match="positive_class"):
        positive_index(spec, "maybe")


def test_a_rows_score_does_not_depend_on_how_many_rows_are_scored_with_it():
    # A dense BLAS product rounds the rows of an incomplete kernel block differently: without
    # padding, about 1 row in 4 scored alone or in a 37-row chunk differs in the last bit.
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(1003, 23)), columns=[f"f{i}" for i in range(23)])
    labels = ["a", "b", "c"]
    for target in (rng.integers(0, 2, len(frame)), np.array(labels)[rng.integers(0, 3, len(frame))]):
        pipe = LogisticRegression(max_iter=500).fit(frame, target)
        spec = spec_of(pipe, frame)
        whole, _ = predict(pipe, frame, spec)
        for size in (1, 3, 37, 500):
            parts = [predict(pipe, frame.iloc[i:i + size], spec)[0] for i in range(0, 200 if size < 10 else len(frame), size)]
            chunked = np.concatenate(parts)
            np.testing.assert_array_equal(chunked, whole[: len(chunked)])
