"""Holdout and realized metrics by task: binary, multiclass, regression."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from jobs.lifecycle.evaluation import realized_metrics
from pipelines.spec import BINARY, MULTICLASS, REGRESSION
from jobs.lifecycle.training import measure


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    return x, x["a"] + 0.5 * x["b"] + rng.normal(0, 0.5, 300)


def test_holdout_metrics_by_task(data):
    x, y = data
    binary = LogisticRegression().fit(x, y > 0)
    metrics = measure(binary, x, y > 0)
    assert set(metrics) == {"roc_auc", "log_loss", "brier"}
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y > 0, binary.predict_proba(x)[:, 1]))
    labels = pd.cut(y, [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"]).astype(str)
    multi = LogisticRegression().fit(x, labels)
    assert set(measure(multi, x, labels)) == {"accuracy", "log_loss"}
    metrics = measure(LinearRegression().fit(x, y), x, y)
    assert set(metrics) == {"rmse", "mae"} and 0.4 < metrics["rmse"] < 0.6


def test_realized_metrics_by_task():
    joined = pd.DataFrame({"score": [0.9, 0.2, 0.7, 0.4], "__truth": ["yes", "no", "no", "yes"], "label": ["a", "b", "a", "a"]})
    y = [1, 0, 0, 1]
    binary = realized_metrics(BINARY, joined, "yes")
    assert binary["roc_auc"] == pytest.approx(roc_auc_score(y, joined["score"]))
    assert binary["log_loss"] == pytest.approx(log_loss(y, joined["score"]))
    assert binary["brier"] == pytest.approx(brier_score_loss(y, joined["score"]))
    assert binary["positive_rate"] == 0.5
    assert realized_metrics(BINARY, joined.assign(__truth="no"), "yes")["roc_auc"] is None  # one class
    multi = realized_metrics(MULTICLASS, joined.assign(__truth=["a", "a", "a", "b"]), None)
    assert multi == {"accuracy": 0.5}
    reg = realized_metrics(REGRESSION, pd.DataFrame({"score": [1.0, 2.0], "__truth": [2.0, 2.0]}), None)
    assert reg == {"rmse": pytest.approx(math.sqrt(0.5)), "mae": 0.5}
