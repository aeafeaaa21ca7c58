"""backfill, status, list, validate and pipeline commands, through the real CLI."""

from __future__ import annotations

import json

import joblib
import pytest

from tests.jobs.helpers import DAYS, N_CUSTOMERS, assert_one_line_error

START, END = DAYS[0].isoformat(), DAYS[-1].isoformat()


def test_backfill_scores_every_day_and_skips_succeeded_ones(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 0
    result = project.cli("backfill", "churn", "--start", START, "--end", END)
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[0].startswith(f"{DAYS[0]} succeeded: {N_CUSTOMERS} rows")
    assert lines[1] == f"{DAYS[1]} skipped: already succeeded"
    assert lines[2].startswith(f"{DAYS[2]} succeeded")
    assert lines[-1] == f"backfill churn {START}..{END}: 2 succeeded, 1 skipped, 0 failed"
    assert project.sql("SELECT COUNT(*) FROM churn_scores")[0][0] == 3 * N_CUSTOMERS
    assert len(project.ledger()) == 3


def test_backfill_with_workers_runs_days_in_parallel_processes(project):
    project.write_job()
    result = project.cli("backfill", "churn", "--start", START, "--end", END, "--workers", "2")
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1].endswith("3 succeeded, 0 skipped, 0 failed")
    for day in DAYS:
        scores = project.scores(day)
        assert len(scores) == N_CUSTOMERS and scores["customer_id"].is_unique
    assert project.sql("SELECT COUNT(DISTINCT run_id) FROM churn_scores")[0][0] == 3


def test_backfill_exits_1_when_a_day_fails_and_goes_on_with_the_others(project):
    project.write_job()
    result = project.cli("backfill", "churn", "--start", START, "--end", "2026-11-28")
    assert result.code == 1
    assert "2026-11-28 failed (exit 4)" in result.out
    assert result.out.strip().splitlines()[-1].endswith("3 succeeded, 0 skipped, 1 failed")


def test_backfill_dry_run_lists_days_and_reasons_and_scores_nothing(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAYS[0].isoformat()).code == 0
    project.cli("run", "churn", "--date", "2026-11-28")  # fails: no rows
    result = project.cli("backfill", "churn", "--start", START, "--end", "2026-11-28", "--dry-run")
    assert result.code == 0
    lines = result.out.strip().splitlines()
    assert lines[0].startswith(f"{DAYS[0]} would skip: succeeded")
    assert lines[1] == f"{DAYS[1]} would score: never run"
    assert lines[3].startswith("2026-11-28 would score: last attempt failed")
    assert lines[-1].endswith("3 to score, 1 to skip")
    assert len(project.ledger()) == 2


def test_backfill_force_and_pipeline_version_rescore_with_that_version(project):
    project.write_job()
    assert project.cli("backfill", "churn", "--start", START, "--end", END).code == 0
    mv = project.registry.resolve("churn", "production")
    pipeline = project.registry.load(mv).pipeline
    v2 = project.registry.register("churn", pipeline)
    result = project.cli("backfill", "churn", "--start", START, "--end", END, "--force", "--pipeline-version", str(v2))
    assert result.code == 0, result.err
    assert project.sql("SELECT DISTINCT model_version FROM churn_scores") == [(v2,)]
    assert project.sql("SELECT COUNT(*) FROM churn_scores")[0][0] == 3 * N_CUSTOMERS


def test_a_spark_backfill_refuses_workers_before_starting_spark(project):
    project.write_job()
    result = project.cli("backfill", "churn", "--start", START, "--end", END, "--engine", "spark", "--workers", "2")
    assert result.code == 2
    assert_one_line_error(result, "churn", "--workers above 1 with the spark engine", "drop --workers")
    assert project.ledger().empty


def test_the_spark_submit_entry_passes_a_backfill_on_with_the_spark_engine(project, capsys):
    from jobs.cli import spark_main

    project.write_job()
    code = spark_main.main(["backfill", "churn", "--start", START, "--end", END, "--workers", "2", "--config-dir", str(project.configs)])
    assert code == 2  # refused as a spark backfill is: the engine reached the backfill
    assert "--workers above 1 with the spark engine" in capsys.readouterr().err.strip().splitlines()[-1]


def test_backfill_rejects_a_reversed_range(project):
    project.write_job()
    result = project.cli("backfill", "churn", "--start", END, "--end", START)
    assert result.code == 2
    assert "ends before it starts" in result.last_err_line


def test_status_json_has_the_ledgers_columns_newest_first(project):
    project.write_job()
    project.cli("backfill", "churn", "--start", START, "--end", END)
    project.cli("run", "churn", "--date", "2026-11-28")
    result = project.cli("status", "churn", "--format", "json", "--last", "3")
    rows = json.loads(result.out)
    assert len(rows) == 3
    assert rows[0]["score_date"] == "2026-11-28" and rows[0]["status"] == "failed"
    assert set(rows[0]) == {
        "run_id", "job", "score_date", "status", "attempt", "started_at", "finished_at", "rows_read",
        "rows_written", "rows_rejected", "model_name", "model_version", "engine", "error", "stats", "output_target",
        "realized",  # the day's evaluations (batchscore evaluate); none here
    }
    assert rows[0]["realized"] == []
    assert rows[1]["status"] == "succeeded" and isinstance(rows[1]["stats"], dict)
    assert rows[1]["started_at"].endswith("+00:00")


def test_status_table_shows_runs(project):
    project.write_job()
    project.cli("run", "churn", "--date", END)
    result = project.cli("status", "churn")
    assert result.code == 0
    header, row = result.out.strip().splitlines()
    assert header.split()[:3] == ["score_date", "status", "attempt"]
    assert row.split()[:3] == [END, "succeeded", "1"]


def test_list_shows_schedule_last_run_and_next_fire(project):
    project.write_job(schedule="30 3 * * *", timezone="Europe/Paris")
    project.write_job("manual")
    project.cli("run", "churn", "--date", END)
    result = project.cli("list")
    lines = {line.split()[0]: line for line in result.out.strip().splitlines()[1:]}
    assert "30 3 * * * Europe/Paris" in lines["churn"]
    assert f"{END} succeeded" in lines["churn"]
    assert "03:30 CET" in lines["churn"]
    assert "manual" in lines["manual"] and "never" in lines["manual"]


def test_validate_checks_source_pipeline_and_columns(project):
    project.write_job()
    ok = project.cli("validate", "churn", "--date", END)
    assert ok.code == 0
    assert "required columns present" in ok.out and f"source has rows for {END}" in ok.out
    project.write_job(passthrough=["no_such_column"])
    bad = project.cli("validate", "churn")
    assert bad.code == 1
    assert "no_such_column" in bad.out


def test_pipeline_register_prints_the_version_last_and_promote_moves_the_alias(project, tmp_path):
    mv = project.registry.resolve("churn", "production")
    path = tmp_path / "model.joblib"
    joblib.dump(project.registry.load(mv).pipeline, path)
    training = project.root / "data" / "training.parquet"
    result = project.cli("pipeline", "register", "churn", str(path), "--alias", "staging", "--training-data", str(training))
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1] == "2"
    assert project.registry.aliases("churn") == {"production": 1, "staging": 2}
    assert project.registry.resolve("churn", 2).reference is not None
    assert project.cli("pipeline", "promote", "churn", "2", "production").code == 0
    assert project.registry.aliases("churn")["production"] == 2
    listing = project.cli("pipeline", "list")
    assert "production,staging" in listing.out
    shown = json.loads(project.cli("pipeline", "show", "churn", "2").out)
    assert shown["version"] == 2 and shown["features"][0]["name"] == "tenure_days"


def test_runs_pick_up_a_promoted_version_without_restart(project):
    project.write_job()
    assert project.cli("run", "churn", "--date", DAYS[0].isoformat()).code == 0
    mv = project.registry.resolve("churn", "production")
    v2 = project.registry.register("churn", project.registry.load(mv).pipeline, alias="production")
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 0
    assert project.scores(DAYS[1])["model_version"].unique().tolist() == [v2]
    assert project.ledger()["model_version"].tolist() == [1, v2]


@pytest.mark.parametrize("args", [["pipeline", "show", "nope"], ["pipeline", "promote", "churn", "9", "production"]])
def test_registry_commands_name_what_exists_when_asked_for_what_does_not(project, args):
    result = project.cli(*args)
    assert result.code != 0
    assert result.last_err_line.startswith("error: ")
    assert "churn" in result.last_err_line or "1" in result.last_err_line


def test_global_flags_work_before_and_after_the_command(project):
    from jobs import cli

    project.write_job()
    before = cli.build_parser().parse_args(["--config-dir", "X", "--models", "M", "-v", "run", "churn"])
    after = cli.build_parser().parse_args(["run", "churn", "--config-dir", "X", "--models", "M", "-v"])
    for args in (before, after):
        assert (args.config_dir, args.models, args.verbose, args.state_url) == ("X", "M", True, None)
    neither = cli.build_parser().parse_args(["run", "churn"])
    assert (neither.config_dir, neither.verbose) == (None, False)
