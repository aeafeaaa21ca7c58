"""Pure scoring: conforming types, binary / multiclass / regression outputs, stats, rebatching."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from jobs.errors import SchemaMismatch, ScoringError
from pipelines.spec import Feature, ModelSpec, conform, positive_index, predict, task_of
from jobs.output import Lineage, output_schema
from jobs.scoring import score_chunk
from jobs.sources import rebatch
from pipelines.distribution import ScoreStats, summarize

SPEC = ModelSpec("m", 1, "binary", (Feature("x", "float64"), Feature("n", "int64"), Feature("c", "object")), (0, 1))
LINEAGE = Lineage(date(2026, 1, 2), "m", 1, "run", datetime(2026, 1, 3, tzinfo=timezone.utc))


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


def _fit(model, y):
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "c": ["a", "b", "a", "b", "c", "c"]})
    pipe = make_pipeline(
        ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["c"])], remainder="passthrough"), model
    )
    return pipe.fit(frame, y), frame


def _spec(pipe, frame):
    task, classes = task_of(pipe)
    return ModelSpec("m", 1, task, tuple(Feature(c, str(frame[c].dtype)) for c in frame.columns), classes)


def _batch(frame):
    return pa.RecordBatch.from_pandas(frame.assign(id=range(len(frame))), preserve_index=False)


def test_multiclass_writes_label_and_its_probability():
    pipe, frame = _fit(LogisticRegression(), ["lo", "mid", "hi", "lo", "mid", "hi"])
    spec = _spec(pipe, frame)
    assert spec.task == "multiclass"
    batch = _batch(frame)
    schema = output_schema([batch.schema.field("id")], [], spec.task)
    result = score_chunk(pipe, batch, spec, 1, schema, LINEAGE)
    out, scores = result.output, result.scores
    proba = pipe.predict_proba(frame)
    assert out.column("label").to_pylist() == [str(c) for c in pipe.classes_[proba.argmax(1)]]
    np.testing.assert_array_equal(out.column("score").to_numpy(), proba.max(1))
    assert out.schema.names == ["id", "score_date", "label", "score", "model_name", "model_version", "run_id", "scored_at"]


def test_regressor_writes_its_prediction():
    pipe, frame = _fit(LinearRegression(), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    spec = _spec(pipe, frame)
    assert spec.task == "regression"
    batch = _batch(frame)
    out = score_chunk(pipe, batch, spec, 1, output_schema([batch.schema.field("id")], [], spec.task), LINEAGE).output
    np.testing.assert_array_equal(out.column("score").to_numpy(), pipe.predict(frame))


def test_positive_class_picks_the_probability_column():
    pipe, frame = _fit(LogisticRegression(), ["no", "yes", "no", "yes", "no", "yes"])
    spec = _spec(pipe, frame)
    assert positive_index(spec, None) == 1 and positive_index(spec, "no") == 0
    with pytest.raises(SchemaMismatch, match="positive_class"):
        positive_index(spec, "maybe")


def test_a_pipeline_that_raises_is_a_scoring_error_naming_the_model():
    pipe, frame = _fit(LinearRegression(), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    spec = _spec(pipe, frame)
    bad = frame.assign(x=[np.nan] * 6)  # LinearRegression refuses NaN
    batch = _batch(bad)
    with pytest.raises(ScoringError, match="pipeline m v1 failed"):
        score_chunk(pipe, batch, spec, 1, output_schema([batch.schema.field("id")], [], spec.task), LINEAGE)


def test_streamed_stats_match_the_whole_array():
    rng = np.random.default_rng(0)
    scores = rng.random(10_000)
    acc = ScoreStats()
    for part in np.array_split(scores, 7):
        acc.update(part)
    streamed, whole = acc.summary(), summarize(scores)
    assert streamed["count"] == 10_000
    assert streamed["mean"] == pytest.approx(scores.mean())
    assert streamed["std"] == pytest.approx(scores.std())
    assert streamed["quantiles"] == pytest.approx(whole["quantiles"])
    assert streamed["histogram"]["counts"] == whole["histogram"]["counts"]


def test_rebatch_gives_chunks_of_exactly_chunk_size():
    batches = [pa.RecordBatch.from_pydict({"a": list(range(n))}) for n in (3, 0, 10, 1, 7)]
    sizes = [b.num_rows for b in rebatch(batches, 4)]
    assert sizes == [4, 4, 4, 4, 4, 1]
    values = [v for b in rebatch(batches, 4) for v in b.column(0).to_pylist()]
    assert values == [*range(3), *range(10), 0, *range(7)]


def test_a_rows_score_does_not_depend_on_how_many_rows_are_scored_with_it():
    # A dense BLAS product rounds the rows of an incomplete kernel block differently: without
    # padding, about 1 row in 4 scored alone or in a 37-row chunk differs in the last bit.
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(1003, 23)), columns=[f"f{i}" for i in range(23)])
    labels = ["a", "b", "c"]
    for target in (rng.integers(0, 2, len(frame)), np.array(labels)[rng.integers(0, 3, len(frame))]):
        pipe = LogisticRegression(max_iter=500).fit(frame, target)
        spec = _spec(pipe, frame)
        whole, _ = predict(pipe, frame, spec)
        for size in (1, 3, 37, 500):
            parts = [predict(pipe, frame.iloc[i:i + size], spec)[0] for i in range(0, 200 if size < 10 else len(frame), size)]
            chunked = np.concatenate(parts)
            np.testing.assert_array_equal(chunked, whole[: len(chunked)])
