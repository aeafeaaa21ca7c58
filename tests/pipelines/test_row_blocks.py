"""A row's score is the same whatever chunk it is scored in: alone, in an odd-sized chunk, in
a large one (both ways a frame is padded to whole row blocks)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from pipelines import row_blocks
from pipelines.spec import Feature, ModelSpec, raw_predict, task_of
from pipelines import churn
from pipelines.demo_data import make_customer_frame
from tests.pipelines.helpers import churn_without


def fitted(kind: str):
    frame = make_customer_frame(date(2026, 11, 1), 1500)
    if kind == "binary":
        drop, target, model = "", frame["churned"], LogisticRegression(max_iter=1000)
    elif kind == "multiclass":
        drop, target, model = "plan", frame["plan"], LogisticRegression(max_iter=2000)
    else:
        drop, target, model = "monthly_charges", frame["monthly_charges"], Ridge()
    features = [f for f in churn.FEATURES if f != drop]
    pipe = churn_without(drop, model).fit(frame[features], target)
    task, classes = task_of(pipe)
    return pipe, ModelSpec("m", 1, task, tuple(Feature(f) for f in features), classes), features


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_a_rows_score_does_not_depend_on_the_chunk_it_is_scored_in(kind, monkeypatch):
    pipe, spec, features = fitted(kind)
    rows = make_customer_frame(date(2026, 11, 27), 2003)[features]
    rows.loc[rows.index % 7 == 0, "region"] = "atlantis"  # unseen
    rows.loc[rows.index % 5 == 0, "tenure_days"] = np.nan
    whole, _ = raw_predict(pipe, rows, spec)  # padded in one call
    monkeypatch.setattr(row_blocks, "COPY_MAX_ROWS", 100)
    split, _ = raw_predict(pipe, rows, spec)  # the tail predicted apart
    np.testing.assert_array_equal(split, whole)
    alone = np.array([raw_predict(pipe, rows.iloc[[i]], spec)[0][0] for i in range(0, 2003, 9)])
    np.testing.assert_array_equal(alone, whole[::9])
    odd = np.concatenate([raw_predict(pipe, rows.iloc[s:s + 7], spec)[0] for s in range(0, 700, 7)])
    np.testing.assert_array_equal(odd, whole[:700])
