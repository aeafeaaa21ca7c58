"""``workers: auto``: parsed and checked at load, resolved from the usable cores and the model,
recorded in the ledger, and scoring the same as one process; threads capped per worker."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from jobs.engines.cores import cgroup_quota, plan_workers, threaded_predict, usable_cores
from pipelines import churn
from tests.jobs.helpers import DAYS, N_CUSTOMERS, ThreadCountClassifier, assert_one_line_error

DAY = DAYS[-1]


def _pandas_stats(project) -> dict:
    return json.loads(project.ledger().iloc[-1]["stats"])["pandas"]


def test_workers_auto_scores_the_day_as_one_process_does_and_the_ledger_records_the_workers_used(project):
    project.write_job(chunk_size=64, workers=1)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    one = project.scores(DAY)
    assert _pandas_stats(project)["workers"] == 1
    project.write_job(chunk_size=64, workers="auto")
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 0, result.err
    auto = project.scores(DAY)
    assert len(auto) == N_CUSTOMERS
    np.testing.assert_array_equal(auto["score"].to_numpy(), one["score"].to_numpy())
    assert auto["run_id"].iloc[0] != one["run_id"].iloc[0]  # the day was scored again, not kept
    used = _pandas_stats(project)
    cores = len(os.sched_getaffinity(0))
    assert used["setting"] == "auto" and 1 <= used["workers"] <= cores
    # The demo pipeline (logistic regression) predicts on one thread: a process per core but one.
    workers = max(1, cores - 1)
    assert used == {"setting": "auto", "workers": workers, "threads_per_worker": cores // workers, "cores": cores,
                    "threaded_model": False, "row_threads": 1}


@pytest.mark.parametrize("workers", [1, 2])
def test_every_chunk_is_scored_with_thread_pools_capped_at_cores_over_workers(project, workers):
    base = project.registry.load(project.registry.resolve("churn", "production")).pipeline
    probe = ThreadCountClassifier(base).fit(None)
    project.registry.register("threads", probe, alias="production")
    project.write_job(pipeline={"name": "threads", "version": "production"}, chunk_size=100, workers=workers)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    used = _pandas_stats(project)
    assert used["workers"] == workers and used["threads_per_worker"] == max(1, used["cores"] // workers)
    # Every chunk, the first (scored in the run's process) and those of the workers.
    scores = project.scores(DAY)["score"]
    assert len(scores) == N_CUSTOMERS
    assert set(scores.round(6)) == {used["threads_per_worker"] / 100}


def test_workers_auto_on_the_command_line_overrides_the_job(project):
    project.write_job(chunk_size=100, workers=1)
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--workers", "auto")
    assert result.code == 0, result.err
    assert _pandas_stats(project)["setting"] == "auto"
    with pytest.raises(SystemExit) as usage:
        project.cli("run", "churn", "--date", DAY.isoformat(), "--workers", "many")
    assert usage.value.code == 2


@pytest.mark.parametrize("bad", ["many", 0, -2, 1.5, True])
def test_a_bad_workers_value_is_one_config_error_line_naming_auto(project, bad):
    project.write_job(workers=bad)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "workers", "whole number >= 1 or auto")


def test_auto_gives_a_threaded_model_one_process_on_every_core_and_a_single_threaded_one_a_process_per_core_but_one():
    hgb = Pipeline([("scale", StandardScaler()), ("model", HistGradientBoostingClassifier())])
    lr = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    assert threaded_predict(hgb) and not threaded_predict(lr)
    assert threaded_predict(RandomForestClassifier(n_jobs=-1)) and not threaded_predict(RandomForestClassifier())
    for cores in (1, 2, 8):
        threaded = plan_workers("auto", hgb, cores=cores)
        assert (threaded.workers, threaded.threads_per_worker) == (1, cores)
        single = plan_workers("auto", lr, cores=cores)
        assert (single.workers, single.threads_per_worker) == {1: (1, 1), 2: (1, 2), 8: (7, 1)}[cores]


def test_threads_per_worker_never_oversubscribe_the_cores():
    hgb = HistGradientBoostingClassifier()
    for cores in (1, 2, 3, 8):
        for workers in (1, 2, 3, 5):
            plan = plan_workers(workers, hgb, cores=cores)
            assert plan.workers == workers and plan.threads_per_worker >= 1 and plan.threaded_model is None
            assert workers * plan.threads_per_worker <= max(cores, workers)


def test_a_cgroup_cpu_quota_caps_the_usable_cores(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(v2) is None
    assert usable_cores(v2) == len(os.sched_getaffinity(0))
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(v2) == 1.5
    assert usable_cores(v2) == 1  # 1.5 CPUs of time: one whole core
    v1 = tmp_path / "v1" / "cpu,cpuacct"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(tmp_path / "v1") is None
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    assert cgroup_quota(tmp_path / "v1") == 0.5 and usable_cores(tmp_path / "v1") == 1
    assert cgroup_quota(tmp_path / "none") is None


def test_the_demo_pipeline_is_single_threaded():
    assert not threaded_predict(churn.build_pipeline())
