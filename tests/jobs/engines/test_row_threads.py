"""A HistGradientBoosting chunk's rows predicted over the cores in slices, one OpenMP thread
each (``jobs.engines.row_threads``): chosen for that model in one process on several cores,
recorded in the ledger, every slice on a slice thread capped at one OpenMP thread, and the
scores those of one predict call over the whole day, to the bit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from jobs.engines import row_threads
from jobs.engines.cores import plan_workers, usable_cores
from jobs.engines.row_threads import RowThreads, slice_edges
from pipelines import churn
from pipelines.demo_data import make_customer_frame
from pipelines.row_blocks import ROW_BLOCK
from tests.jobs.helpers import DAY, N_CUSTOMERS, SliceThreadsHGB

MAX_ITER = 20

several_cores = pytest.mark.skipif(usable_cores() < 2, reason="row slices need two usable cores")


def _fitted(project, final=None) -> Pipeline:
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    pipeline = churn.build_hgb_pipeline(MAX_ITER)
    if final is not None:
        pipeline.steps[-1] = ("model", final.set_params(**pipeline.steps[-1][1].get_params()))
    return pipeline.fit(frame[list(churn.FEATURES)], frame[churn.LABEL])


def _register(project, pipeline) -> None:
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    project.registry.register("churn", pipeline, training_frame=frame[list(churn.FEATURES)], alias="production")


def _pandas_stats(project) -> dict:
    return json.loads(project.ledger().iloc[-1]["stats"])["pandas"]


@pytest.mark.parametrize("rows", [0, 15, 4095, 8191, 8192, 100_000, 100_003])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_slices_are_whole_row_blocks_covering_every_row_once_and_never_too_small(rows, threads):
    edges = slice_edges(rows, threads)
    assert edges[0] == 0 and edges[-1] == rows and edges == sorted(edges)
    sizes = np.diff(edges)
    assert len(sizes) <= threads
    assert all(edge % ROW_BLOCK == 0 for edge in edges[1:-1])  # only the last slice takes the rest
    if len(sizes) > 1:
        assert sizes.min() >= row_threads.MIN_SLICE_ROWS - ROW_BLOCK
    if rows >= 2 * row_threads.MIN_SLICE_ROWS and threads >= 2:
        assert len(sizes) >= 2  # a big chunk is sliced


def test_only_a_histgradientboosting_in_one_process_on_several_cores_is_sliced():
    hgb = Pipeline([("scale", StandardScaler()), ("model", HistGradientBoostingClassifier())])
    lr = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    assert plan_workers(1, hgb, cores=2).row_threads == 2
    assert plan_workers("auto", hgb, cores=8).row_threads == 8
    assert plan_workers(1, SliceThreadsHGB(), cores=4).row_threads == 4  # a subclass too
    assert plan_workers("auto", SliceThreadsHGB(), cores=4).workers == 1  # and auto counts it as threaded
    assert plan_workers(1, hgb, cores=1).row_threads == 1
    assert plan_workers(2, hgb, cores=2).row_threads == 1  # each worker process has one thread
    assert plan_workers(1, lr, cores=8).row_threads == 1  # a BLAS product: left as it is


def test_a_slice_that_fails_raises_its_error_to_the_caller():
    class Fails:
        def predict_proba(self, X):
            if X.index[0] > 0:
                raise ValueError("bad rows")
            return np.zeros((len(X), 2))

    with RowThreads(Fails(), 2) as sliced:
        with pytest.raises(ValueError, match="bad rows"):
            sliced.predict_proba(pd.DataFrame({"x": np.arange(20_000)}))


@several_cores
def test_every_slice_is_predicted_on_a_slice_thread_with_one_openmp_thread(project, monkeypatch):
    monkeypatch.setattr(row_threads, "MIN_SLICE_ROWS", 16)
    _register(project, _fitted(project, SliceThreadsHGB()))
    project.write_job(chunk_size=100, workers=1)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    assert _pandas_stats(project)["row_threads"] == usable_cores()
    scores = project.scores(DAY)["score"]
    assert len(scores) == N_CUSTOMERS
    assert set(scores.round(6)) == {0.51}  # every chunk, the first included: sliced, 1 OpenMP thread


@several_cores
@pytest.mark.slow
def test_a_sliced_day_scores_as_one_predict_call_over_the_whole_day_to_the_bit(project, monkeypatch):
    monkeypatch.setattr(row_threads, "MIN_SLICE_ROWS", 16)
    pipeline = _fitted(project)
    _register(project, pipeline)
    project.write_job(chunk_size=150, workers=1)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    assert _pandas_stats(project)["row_threads"] == usable_cores()
    scores = project.scores(DAY).sort_values("customer_id")
    day = make_customer_frame(DAY, N_CUSTOMERS).sort_values("customer_id")
    want = pipeline.predict_proba(day[list(churn.FEATURES)])[:, 1]
    assert len(scores) == N_CUSTOMERS and scores["score"].std() > 0.01
    assert np.array_equal(scores["score"].to_numpy(), want)
