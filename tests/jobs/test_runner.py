"""batchscore run: one job scores one day end to end, and re-runs are exactly once."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow.dataset as ds
import pytest

from tests.jobs.helpers import DAYS, N_CUSTOMERS, expected_scores

DAY = DAYS[-1]


def test_run_scores_equal_the_pipelines_own_predict_proba(project):
    project.write_job()
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    scores = project.scores(DAY)
    assert len(scores) == N_CUSTOMERS
    expected = expected_scores(project, DAY)
    np.testing.assert_array_equal(scores["score"].to_numpy(), expected.to_numpy())
    assert set(scores.columns) == {
        "customer_id", "score_date", "score", "plan", "model_name", "model_version", "run_id", "scored_at"
    }
    assert (scores["score_date"] == DAY.isoformat()).all()
    assert (scores["model_name"] == "churn").all() and (scores["model_version"] == 1).all()
    assert scores["run_id"].nunique() == 1


def test_run_writes_one_succeeded_ledger_row_with_stats(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    ledger = project.ledger()
    assert len(ledger) == 1
    row = ledger.iloc[0]
    assert row["status"] == "succeeded" and row["attempt"] == 1
    assert row["rows_read"] == row["rows_written"] == N_CUSTOMERS and row["rows_rejected"] == 0
    assert (row["model_name"], row["model_version"], row["engine"]) == ("churn", 1, "pandas")
    stats = json.loads(row["stats"])
    expected = expected_scores(project, DAY)
    assert stats["scores"]["count"] == N_CUSTOMERS
    assert stats["scores"]["mean"] == pytest.approx(expected.mean())
    assert stats["scores"]["quantiles"]["p50"] == pytest.approx(expected.median())
    assert sum(stats["scores"]["histogram"]["counts"]) == N_CUSTOMERS
    assert {"read", "score", "write", "model_load", "total"} <= set(stats["timings"])


def test_second_run_of_a_succeeded_day_is_a_skip_and_adds_no_row(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    again = project.cli("run", "churn", "--date", DAY.isoformat())
    assert again.code == 0
    assert "skipped" in again.out
    assert len(project.ledger()) == 1
    assert len(project.scores(DAY)) == N_CUSTOMERS


def test_force_replaces_the_day_without_duplicates(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    first_run = project.scores(DAY)["run_id"].iloc[0]
    forced = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert forced.code == 0, forced.err
    scores = project.scores(DAY)
    assert len(scores) == N_CUSTOMERS
    assert scores["customer_id"].is_unique
    assert scores["run_id"].nunique() == 1 and scores["run_id"].iloc[0] != first_run
    ledger = project.ledger()
    assert list(ledger["attempt"]) == [1, 2]
    assert list(ledger["status"]) == ["succeeded", "succeeded"]


def test_other_days_are_untouched_by_a_run(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAYS[0].isoformat()).code == 0
    before = project.scores(DAYS[0])
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 0
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat(), "--force").code == 0
    after = project.scores(DAYS[0])
    assert before.equals(after)
    assert project.sql("SELECT COUNT(*) FROM churn_scores")[0][0] == 2 * N_CUSTOMERS


def test_parquet_and_sql_sources_give_the_same_scores(project):
    project.write_job("from_sql")
    project.write_job(
        "from_parquet",
        source={"kind": "parquet", "path": "data/features", "date_column": "snapshot_date"},
        output={"kind": "parquet", "path": "data/scores"},
    )
    assert project.cli("run", "from_sql", "--date", DAY.isoformat()).code == 0
    result = project.cli("run", "from_parquet", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    from_sql = project.scores(DAY).set_index("customer_id")["score"]
    table = ds.dataset(project.root / "data" / "scores", partitioning="hive").to_table()
    from_parquet = table.to_pandas().set_index("customer_id").sort_index()
    assert list((project.root / "data" / "scores").iterdir())[0].name == f"score_date={DAY}"
    assert len(from_parquet) == N_CUSTOMERS
    np.testing.assert_array_equal(from_parquet["score"].to_numpy(), from_sql.sort_index().to_numpy())


def test_parquet_rerun_replaces_the_day_directory(project):
    project.write_job(output={"kind": "parquet", "path": "data/scores"})
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    assert project.cli("run", "churn", "--date", DAY.isoformat(), "--force").code == 0
    day_dir = project.root / "data" / "scores" / f"score_date={DAY}"
    assert [p.name for p in day_dir.iterdir()] == ["part-0.parquet"]
    assert [p.name for p in day_dir.parent.iterdir()] == [day_dir.name]  # no staging left over
    assert ds.dataset(day_dir).count_rows() == N_CUSTOMERS


def test_query_source_binds_score_date(project):
    project.write_job(
        source={
            "kind": "sql",
            "url": "sqlite:///data/warehouse.db",
            "query": "SELECT * FROM customer_features WHERE snapshot_date = :score_date AND plan = 'basic'",
        }
    )
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    scores = project.scores(DAY)
    n_basic = project.sql(f"SELECT COUNT(*) FROM customer_features WHERE snapshot_date = '{DAY}' AND plan = 'basic'")[0][0]
    assert len(scores) == n_basic > 0
    assert set(scores["plan"]) == {"basic"}


def test_small_chunks_give_the_same_scores_as_one_chunk(project):
    project.write_job(chunk_size=37)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    np.testing.assert_array_equal(project.scores(DAY)["score"].to_numpy(), expected_scores(project, DAY).to_numpy())


def test_relative_paths_resolve_against_the_project_root_not_the_cwd(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    assert project.state_db.exists() and not (elsewhere / "data").exists()


def test_date_words_are_relative_to_today_in_the_job_timezone(project):
    project.write_job()
    result = project.cli("run", "churn", "--date", "yesterday")
    # The sample warehouse ends 2026-11-27; any other "yesterday" has no rows.
    today = date.today()
    assert result.code in (0, 4)
    assert str(today.fromordinal(today.toordinal() - 1)) in result.err + result.out
