"""Bad input gets one clear line, a distinct exit code, and leaves the output untouched."""

from __future__ import annotations

import sqlite3

import pytest

from tests.jobs.helpers import DAYS, N_CUSTOMERS, assert_one_line_error

DAY = DAYS[-1]


@pytest.fixture
def scored(project):
    """A project whose job has already scored DAY once: the output every failure must keep."""
    project.write_job()
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    return project, project.scores(DAY)


def _assert_untouched(project, before):
    assert project.scores(DAY).equals(before)


def test_missing_column_exits_1_naming_it_and_writes_nothing(scored):
    project, before = scored
    with sqlite3.connect(project.warehouse) as conn:
        conn.execute("ALTER TABLE customer_features DROP COLUMN tenure_days")
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert_one_line_error(result, "churn", str(DAY), "tenure_days", "churn v1")
    _assert_untouched(project, before)
    assert project.ledger()["status"].tolist() == ["succeeded", "failed"]


def test_wrong_type_exits_1_naming_column_found_and_expected(scored):
    project, before = scored
    with sqlite3.connect(project.warehouse) as conn:
        conn.execute("UPDATE customer_features SET monthly_charges = 'n/a' WHERE snapshot_date = ?", [DAY.isoformat()])
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert_one_line_error(result, "monthly_charges", "expected float64")
    _assert_untouched(project, before)


def test_castable_types_are_cast(project):
    # Integers where the model was fitted on floats: cast, not refused.
    with sqlite3.connect(project.warehouse) as conn:
        conn.execute("UPDATE customer_features SET monthly_charges = CAST(monthly_charges AS INTEGER)")
    project.write_job()
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    assert len(project.scores(DAY)) == N_CUSTOMERS


def test_empty_day_exits_4_and_writes_nothing(scored):
    project, before = scored
    result = project.cli("run", "churn", "--date", "2026-12-25")
    assert result.code == 4
    assert_one_line_error(result, "churn 2026-12-25", "no rows")
    _assert_untouched(project, before)
    ledger = project.ledger()
    assert ledger.iloc[-1]["status"] == "failed" and "no rows" in ledger.iloc[-1]["error"]


def test_tampered_model_file_exits_1_and_writes_nothing(scored):
    project, before = scored
    mv = project.registry.resolve("churn", "production")
    with open(mv.model_path, "ab") as handle:
        handle.write(b"\0")
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1
    assert_one_line_error(result, "churn", str(DAY), "sha256")
    _assert_untouched(project, before)


def test_unknown_config_key_exits_2_naming_file_and_key(project):
    project.write_job(chunk_sise=10)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "churn.yaml", "chunk_sise", "allowed keys")
    assert not project.state_db.exists()  # no ledger row before config loads


def test_wrong_config_type_exits_2(project):
    project.write_job(chunk_size="lots")
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "chunk_size")


def test_missing_required_key_exits_2(project):
    project.write_job(id_columns=None)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "missing key id_columns")


@pytest.mark.parametrize(
    "table",
    ["churn_scores; DROP TABLE customer_features", "scores--", "a.b.c", "1table", "x y"],
)
def test_injection_in_a_table_name_is_a_config_error_before_any_sql(project, table):
    project.write_job(output={"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": table})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "output.table", "not a table name")
    assert project.sql("SELECT COUNT(*) FROM customer_features")[0][0] == len(DAYS) * N_CUSTOMERS


def test_injection_in_a_source_table_name_is_refused(project):
    project.write_job(
        source={"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features WHERE 1=1 --", "date_column": "snapshot_date"}
    )
    result = project.cli("validate", "churn")
    assert result.code == 2
    assert "source.table" in result.out + result.err


def test_bad_date_exits_2(project):
    project.write_job()
    result = project.cli("run", "churn", "--date", "2026-13-45")
    assert result.code == 2
    assert_one_line_error(result, "churn", "not a day", "YYYY-MM-DD")


def test_unknown_job_exits_2_listing_known_jobs(project):
    project.write_job()
    result = project.cli("run", "nope")
    assert result.code == 2
    assert_one_line_error(result, "no job 'nope'", "known jobs: churn")


def test_file_name_must_match_job_name(project):
    path = project.write_job()
    path.rename(project.configs / "other.yaml")
    result = project.cli("run", "other")
    assert result.code == 2
    assert_one_line_error(result, "other.yaml", "name")


def test_unset_environment_variable_is_a_config_error(project):
    project.write_job(output={"kind": "sql", "url": "${NO_SUCH_VARIABLE_X}", "table": "churn_scores"})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2
    assert_one_line_error(result, "NO_SUCH_VARIABLE_X")


def test_bad_cron_and_timezone_and_enum_are_config_errors(project):
    for overrides, needle in (
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "* * *"}, "5-field"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"engine": "dask"}, "engine"),
        ({"score_date": "tomorrow"}, "score_date"),
    ):
        project.write_job(**overrides)
        result = project.cli("run", "churn", "--date", DAY.isoformat())
        assert result.code == 2, overrides
        assert_one_line_error(result, needle)


def test_missing_warehouse_file_is_a_clear_error_not_an_empty_database(project):
    project.write_job(source={"kind": "sql", "url": "sqlite:///data/nope.db", "table": "t", "date_column": "d"})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "nope.db", "does not exist")
    assert not (project.root / "data" / "nope.db").exists()


def test_down_database_is_a_transientassert_one_line_error(project):
    project.write_job(
        source={"kind": "sql", "url": "postgresql://u:secret@127.0.0.1:9/none", "table": "t", "date_column": "d"}
    )
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "cannot connect", "retried")
    assert "secret" not in result.err


def test_verbose_shows_the_traceback(project):
    project.write_job()
    result = project.cli("run", "churn", "--date", "2026-12-25", "--verbose")
    assert result.code == 4
    assert "Traceback" in result.err
    assert result.last_err_line.startswith("error: ")


def test_a_broken_state_database_is_one_clear_line(project):
    project.write_job()
    project.state_db.write_bytes(b"this is not a sqlite database" * 100)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(result, "run ledger", "BATCHSCORE_STATE_URL")
    assert "internal error" not in result.err


def test_an_unknown_pipeline_version_is_an_error_even_on_a_day_that_would_be_skipped(scored):
    project, before = scored
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--pipeline-version", "99")
    assert result.code == 1
    assert_one_line_error(result, "churn", str(DAY), "model churn has no version or alias '99'", "versions: 1")
    _assert_untouched(project, before)
    assert project.ledger()["status"].tolist() == ["succeeded"]  # no claim, no ledger row
