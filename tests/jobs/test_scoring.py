"""Scoring a chunk: binary / multiclass / regression outputs with their lineage, and a pipeline
that raises. The model spec (conform, positive class, predict) is tested in
``tests/pipelines/test_spec.py``."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from jobs.errors import ScoringError
from jobs.output import Lineage, output_schema
from jobs.scoring import score_chunk
from tests.pipelines.helpers import fit_toy_pipeline, spec_of

LINEAGE = Lineage(date(2026, 1, 2), "m", 1, "run", datetime(2026, 1, 3, tzinfo=timezone.utc))


def _batch(frame):
    return pa.RecordBatch.from_pandas(frame.assign(id=range(len(frame))), preserve_index=False)


def test_multiclass_writes_label_and_its_probability():
    pipe, frame = fit_toy_pipeline(LogisticRegression(), ["lo", "mid", "hi", "lo", "mid", "hi"])
    spec = spec_of(pipe, frame)
    assert spec.task == "multiclass"
    batch = _batch(frame)
    schema = output_schema([batch.schema.field("id")], [], spec.task)
    out = score_chunk(pipe, batch, spec, 1, schema, LINEAGE).output
    proba = pipe.predict_proba(frame)
    assert out.column("label").to_pylist() == [str(c) for c in pipe.classes_[proba.argmax(1)]]
    np.testing.assert_array_equal(out.column("score").to_numpy(), proba.max(1))
    assert out.schema.names == ["id", "score_date", "label", "score", "model_name", "model_version", "run_id", "scored_at"]


def test_regressor_writes_its_prediction():
    pipe, frame = fit_toy_pipeline(LinearRegression(), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    spec = spec_of(pipe, frame)
    assert spec.task == "regression"
    batch = _batch(frame)
    out = score_chunk(pipe, batch, spec, 1, output_schema([batch.schema.field("id")], [], spec.task), LINEAGE).output
    np.testing.assert_array_equal(out.column("score").to_numpy(), pipe.predict(frame))


def test_a_pipeline_that_raises_is_a_scoring_error_naming_the_model():
    pipe, frame = fit_toy_pipeline(LinearRegression(), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    spec = spec_of(pipe, frame)
    bad = frame.assign(x=[np.nan] * 6)  # LinearRegression refuses NaN
    batch = _batch(bad)
    with pytest.raises(ScoringError, match="pipeline m v1 failed"):
        score_chunk(pipe, batch, spec, 1, output_schema([batch.schema.field("id")], [], spec.task), LINEAGE)
