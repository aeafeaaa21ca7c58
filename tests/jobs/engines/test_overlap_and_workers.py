"""The pandas engine's overlap (reader and scorer threads) and ``workers: N`` processes change
neither the rows, nor their order, nor the all-or-nothing write of a day."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import numpy as np
import pandas as pd
import pytest

from jobs.engines.overlap import Prefetch
from jobs.ledger import Ledger
from pipelines import churn
from tests.jobs.helpers import (
    BAD_IDS, DAYS, N_CUSTOMERS, WATCHED, alter, assert_one_line_error, bad_plan, expected_scores, read_rejects, rows_written,
)

DAY = DAYS[-1]


@pytest.mark.parametrize("workers", [1, 2])
def test_small_chunks_in_threads_or_worker_processes_give_the_pipelines_scores_in_order(project, workers):
    project.write_job(chunk_size=37, workers=workers)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    scores = project.scores(DAY)
    np.testing.assert_array_equal(scores["score"].to_numpy(), expected_scores(project, DAY).to_numpy())
    # rowid order is insertion order: chunks reached the sink in source order.
    ids = [row[0] for row in project.sql(f"SELECT customer_id FROM churn_scores WHERE score_date = '{DAY}' ORDER BY rowid")]
    source = [row[0] for row in project.sql(f"SELECT customer_id FROM customer_features WHERE snapshot_date = '{DAY}' ORDER BY rowid")]
    assert ids == source and len(ids) == N_CUSTOMERS


def test_workers_flag_on_run_overrides_the_job_and_rerun_replaces_the_day(project):
    project.write_job(chunk_size=50)
    assert project.cli("run", "churn", "--date", DAY.isoformat(), "--workers", "2").code == 0
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--workers", "2", "--force")
    assert result.code == 0, result.err
    assert len(project.scores(DAY)) == N_CUSTOMERS
    with pytest.raises(SystemExit) as usage:
        project.cli("run", "churn", "--date", DAY.isoformat(), "--workers", "0")
    assert usage.value.code == 2


def test_workers_must_be_a_positive_integer_in_the_job_file(project):
    project.write_job(workers=0)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert "workers" in result.last_err_line


def test_a_chunk_failing_in_a_worker_fails_the_run_and_keeps_the_old_day(project):
    project.write_job(chunk_size=100, workers=2)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    before = project.scores(DAY)
    # Text in a numeric feature, only in rows that land in a later chunk (not the first).
    with sqlite3.connect(project.warehouse) as conn:
        conn.execute(
            "UPDATE customer_features SET monthly_charges = 'lots' WHERE snapshot_date = ? AND rowid IN "
            "(SELECT rowid FROM customer_features WHERE snapshot_date = ? ORDER BY rowid LIMIT 1 OFFSET 350)",
            (DAY.isoformat(), DAY.isoformat()),
        )
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert "monthly_charges" in result.last_err_line
    after = project.scores(DAY)
    assert after.equals(before)


def test_prefetch_stops_its_producer_when_the_consumer_gives_up():
    produced, closed = [], threading.Event()

    def items():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    with Prefetch(items(), 2, "test") as ahead:
        first = [x for _, x in zip(range(3), ahead)]
    assert first == [0, 1, 2]
    assert closed.wait(5)
    assert len(produced) <= 3 + 2 + 1  # bounded: what was consumed, the queue, one in hand


def test_prefetch_raises_the_producers_error_in_the_consumer():
    def items():
        yield 1
        time.sleep(0.01)
        raise ValueError("source broke")

    with Prefetch(items(), 1, "test") as ahead:
        got = []
        with pytest.raises(ValueError, match="source broke"):
            for x in ahead:
                got.append(x)
    assert got == [1]


def test_worker_processes_reject_the_same_rows_and_count_the_same_checks_as_one_process(project):
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    pipeline = churn.build_pipeline()
    pipeline.set_params(features__categorical__encode__handle_unknown="error")
    pipeline.fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
    project.registry.register("strict", pipeline, training_frame=frame[list(churn.FEATURES)], alias="production")
    bad_plan(project)
    figures = {}
    for workers in (1, 2):
        project.write_job(
            pipeline={"name": "strict", "version": "production"}, chunk_size=128, workers=workers,
            quality={"on_bad_rows": "reject", "max_reject_fraction": 0.01},
        )
        result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
        assert result.code == 0, result.err
        assert read_rejects(project)["customer_id"].tolist() == BAD_IDS
        assert len(project.scores(DAY)) == N_CUSTOMERS - len(BAD_IDS)
        row = project.ledger().iloc[-1]
        assert (row["rows_read"], row["rows_rejected"]) == (N_CUSTOMERS, len(BAD_IDS))
        stats = json.loads(row["stats"])
        figures[workers] = {k: v for k, v in stats.items() if k not in ("timings", "warnings", "pandas")}  # pandas: the workers used
    assert figures[1] == figures[2]


def test_worker_processes_record_the_same_rows_nulls_unseen_and_drift_figures_as_one_process(project):
    # Unseen, on chunks all over the day; 4 names of 5 rows each: their order is first sight.
    alter(project, "plan = 'new' || (customer_id % 4)", "customer_id % 25 = 0")
    alter(project, "payment_method = 'crypto'", "customer_id % 40 = 7")
    alter(project, "region = NULL", "customer_id % 10 < 2")
    alter(project, "support_calls = support_calls + 40", "customer_id % 50 = 3")  # out of range
    ledger = Ledger(f"sqlite:///{project.state_db}")
    figures = {}
    for workers in (1, 2):
        project.write_job(chunk_size=64, workers=workers, quality={"on_fail": "warn"}, drift={"features": WATCHED})
        result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
        assert result.code == 0, result.err
        run = ledger.history("churn")[0]
        assert (run["status"], run["rows_read"]) == ("succeeded", N_CUSTOMERS)
        figures[workers] = {k: run["stats"][k] for k in ("quality", "drift", "warnings")}
    quality = figures[1]["quality"]
    assert quality["rows"] == N_CUSTOMERS and quality["null_fraction"]["region"] > 0.2
    assert sorted(quality["unseen_categories"]["plan"]) == ["new0", "new1", "new2", "new3"]
    assert quality["unseen_categories"]["payment_method"] == ["crypto"]
    assert quality["out_of_range"]["support_calls"]["above"] > 0
    assert figures[2] == figures[1]
    # Also in the order the ledger's JSON lists them (drift shares, unseen names).
    assert json.dumps(figures[2]) == json.dumps(figures[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_max_rows_stops_reading_as_soon_as_the_total_exceeds_it_with_or_without_workers(project, workers):
    project.write_job(quality={"max_rows": 150}, chunk_size=100, workers=workers)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "check max_rows", "200 is above the limit 150", "stopped while reading")
    assert rows_written(project) == 0
    run = Ledger(f"sqlite:///{project.state_db}").history("churn")[0]
    assert run["status"] == "failed" and run["stats"]["quality"]["rows"] == 200
