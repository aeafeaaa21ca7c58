"""Input checks and drift: each fires on crafted bad data, none fires on a normal day, and a
failed check stops the run before anything is written (SQLite, PostgreSQL and Parquet)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tests.jobs.helpers import DAYS, N_CUSTOMERS, WATCHED, alter, assert_one_line_error, rows_written

DAY = DAYS[-1]


def _alter_parquet(project, column: str, transform, day=DAY) -> None:
    path = project.root / "data" / "features" / f"snapshot_date={day.isoformat()}" / "part-0.parquet"
    frame = pq.read_table(path).to_pandas()
    frame[column] = transform(frame)
    pq.write_table(pq.read_table(path).schema.empty_table().from_pandas(frame, schema=pq.read_schema(path)), path)


def _last_stats(project) -> dict:
    return json.loads(project.ledger().iloc[-1]["stats"])


def test_no_check_fires_on_a_normal_day(project):
    project.write_job(drift={"features": WATCHED})
    for day in DAYS:
        result = project.cli("run", "churn", "--date", day.isoformat())
        assert result.code == 0, result.err
        stats = _last_stats(project)
        assert stats["quality"]["verdict"] == "pass", stats["quality"]["findings"]
        assert stats["quality"]["findings"] == [] and stats["warnings"] == []
    quality, drift = stats["quality"], stats["drift"]
    assert quality["rows"] == N_CUSTOMERS
    assert 0 < quality["null_fraction"]["region"] < 0.05  # the demo data's own 1% of missing regions
    assert quality["unseen_category_fraction"] == {"plan": 0.0, "region": 0.0, "payment_method": 0.0}
    assert drift["psi_reference"] < 0.1 and drift["psi_previous"] < 0.2  # 500 rows: some noise
    assert drift["previous_day"] == DAYS[-2].isoformat()
    assert set(drift["features"]) == set(WATCHED)
    assert all(f["psi"] < 0.1 for f in drift["features"].values())


def test_a_column_turned_null_fails_naming_check_column_figure_and_limit(project):
    project.write_job()
    alter(project, "region = NULL", "customer_id % 10 < 3")  # 30% of rows, + the usual 1%
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "churn 2026-11-27", "null_fraction", "region", "0.3", "limit 0.05", "nothing was written")
    assert rows_written(project) == 0
    row = project.ledger().iloc[-1]
    assert row["status"] == "failed"
    stats = json.loads(row["stats"])
    assert stats["quality"]["verdict"] == "fail"
    assert stats["quality"]["findings"][0]["column"] == "region"


def test_a_failed_check_keeps_the_previous_output_of_the_day(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    before = project.scores(DAY)
    alter(project, "payment_method = 'crypto'", "customer_id % 20 = 0")
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert_one_line_error(result, "unseen_category_fraction", "payment_method", "0.05", "limit 0.01")
    assert project.scores(DAY).equals(before)


def test_a_new_category_is_counted_and_named(project):
    project.write_job(quality={"on_fail": "warn"})
    alter(project, "plan = 'platinum'", "customer_id % 25 = 0")  # 4%
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    quality = _last_stats(project)["quality"]
    assert quality["verdict"] == "warn"
    assert quality["unseen_category_fraction"]["plan"] == pytest.approx(20 / N_CUSTOMERS)
    assert quality["unseen_categories"] == {"plan": ["platinum"]}
    assert "unseen_category_fraction on column plan" in _last_stats(project)["warnings"][0]
    assert rows_written(project) == N_CUSTOMERS  # warn: written


def test_a_shifted_distribution_is_caught_as_score_and_feature_drift(project):
    project.write_job(drift={"features": ["support_calls", "plan"]})
    alter(project, "support_calls = support_calls + 4")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err  # drift.on_fail defaults to warn
    stats = _last_stats(project)
    drift = stats["drift"]
    assert drift["psi_reference"] > 0.2
    assert drift["features"]["support_calls"]["psi"] > 0.2
    assert drift["features"]["plan"]["psi"] < 0.05  # an unchanged column stays quiet
    checks = {(f["check"], f["column"]) for f in stats["quality"]["findings"]}
    assert checks == {("score_psi_reference", None), ("feature_psi", "support_calls")}
    assert stats["quality"]["verdict"] == "warn"
    assert any("drift.max_psi" in w for w in stats["warnings"])


def test_drift_can_fail_the_run_and_then_writes_nothing(project):
    project.write_job(drift={"on_fail": "fail", "max_psi": 0.2})
    alter(project, "support_calls = support_calls + 4")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "score_psi_reference", "limit 0.2", "drift.max_psi")
    assert rows_written(project) == 0


def test_psi_against_the_previous_day_uses_the_last_succeeded_day(project):
    project.write_job(drift={"max_psi": 0.2})
    assert project.cli("run", "churn", "--date", DAYS[0].isoformat()).code == 0
    alter(project, "support_calls = support_calls + 4", day=DAYS[1])
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 0
    assert _last_stats(project)["drift"]["psi_previous"] > 0.2
    assert project.cli("run", "churn", "--date", DAYS[2].isoformat()).code == 0
    drift = _last_stats(project)["drift"]
    assert drift["previous_day"] == DAYS[1].isoformat() and drift["psi_previous"] > 0.2
    assert drift["psi_reference"] < 0.1


def test_out_of_range_values_are_counted_and_can_fail(project):
    project.write_job(quality={"max_out_of_range_fraction": 0.01})
    alter(project, "tenure_days = -5", "customer_id <= 10")
    alter(project, "monthly_charges = 10000", "customer_id > 490")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "out_of_range_fraction", "limit 0.01")
    out = _last_stats(project)["quality"]["out_of_range"]
    assert out["tenure_days"]["below"] == 10
    assert out["monthly_charges"] == {"below": 0, "above": 10}


def test_min_rows_fails_a_short_day(project):
    project.write_job(quality={"min_rows": N_CUSTOMERS + 1})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "check min_rows", f"{N_CUSTOMERS} is below the limit {N_CUSTOMERS + 1}", "quality.min_rows")
    assert rows_written(project) == 0


def test_max_rows_stops_reading_as_soon_as_it_is_exceeded(project):
    project.write_job(quality={"max_rows": 150}, chunk_size=100)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "check max_rows", "200 is above the limit 150", "stopped while reading")
    assert rows_written(project) == 0
    assert json.loads(project.ledger().iloc[-1]["stats"])["quality"]["rows"] == 200


def test_null_limits_per_column(project):
    project.write_job(quality={"max_null_fraction": {"region": 0.5}})
    alter(project, "region = NULL", "customer_id % 10 < 3")
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    alter(project, "data_usage_gb = NULL", "customer_id % 10 < 3")
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert_one_line_error(result, "null_fraction on column data_usage_gb", "limit 0.05")


def test_a_failed_check_writes_nothing_to_parquet(project):
    project.write_job(
        source={"kind": "parquet", "path": "data/features", "date_column": "snapshot_date"},
        output={"kind": "parquet", "path": "data/scores"},
    )
    _alter_parquet(project, "region", lambda f: f["region"].where(f["customer_id"] % 2 == 0, None))
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "null_fraction on column region")
    scores = project.root / "data" / "scores"
    assert not (scores / f"score_date={DAY.isoformat()}").exists()
    assert not scores.exists() or not any(scores.iterdir())  # no staging left behind either


@pytest.mark.postgres
def test_a_failed_check_writes_nothing_to_postgresql(project, pg_database):
    project.write_job(output={"kind": "sql", "url": pg_database, "table": "churn_scores"})
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    alter(project, "plan = NULL", "customer_id % 4 = 0")
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert_one_line_error(result, "null_fraction on column plan")
    engine = sa.create_engine(pg_database)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM churn_scores")).one()
    finally:
        engine.dispose()
    assert tuple(runs) == (N_CUSTOMERS, 1)  # the first run's rows, untouched


def test_drift_features_must_be_features_of_the_model(project):
    project.write_job(drift={"features": ["tenure_days", "shoe_size"]})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "drift.features", "shoe_size")


def test_quality_keys_are_validated_at_load(project):
    project.write_job(quality={"on_fail": "maybe"})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "quality.on_fail")
    project.write_job(quality={"max_null_fraction": 2})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "quality.max_null_fraction")
    project.write_job(quality={"min_rows": 10, "colour": "red"})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "unknown key quality.colour", "min_rows")


def test_status_shows_the_verdict_and_psi_of_each_run(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAYS[0].isoformat()).code == 0
    alter(project, "region = NULL", "customer_id % 10 < 3", day=DAYS[1])
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 1
    result = project.cli("status", "churn")
    lines = result.out.splitlines()
    assert "quality" in lines[0] and "psi_ref" in lines[0] and "psi_prev" in lines[0]
    failed = next(line for line in lines if line.startswith(DAYS[1].isoformat()))
    ok = next(line for line in lines if line.startswith(DAYS[0].isoformat()))
    assert " fail " in failed and "null_fraction" in failed
    assert " pass " in ok
    psi = json.loads(project.ledger().iloc[0]["stats"])["drift"]["psi_reference"]
    assert f"{psi:.3f}" in ok


def test_unseen_categories_are_known_from_the_encoder_without_a_training_profile(project):
    import pandas as pd

    from pipelines import churn

    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    pipeline = churn.build_pipeline().fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
    project.registry.register("bare", pipeline, alias="production")  # no training frame: no profile
    project.write_job(pipeline={"name": "bare", "version": "production"})
    alter(project, "region = 'atlantis'", "customer_id % 10 = 0")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "unseen_category_fraction on column region", "0.1", "limit 0.01")
