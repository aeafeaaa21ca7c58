"""Job files (``jobs.config.load_job``): defaults, ${VAR} expansion, path resolution, the
checks of each section. Settings' precedence is in ``tests/pipelines/test_settings.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.config import load_job
from jobs.errors import ConfigError

MINIMAL = {
    "name": "j",
    "source": {"kind": "parquet", "path": "data/features", "date_column": "d"},
    "pipeline": {"name": "m"},
    "id_columns": ["id"],
    "output": {"kind": "sql", "url": "sqlite:///data/out.db", "table": "s"},
}


def _write(tmp_path: Path, body: dict, name: str = "j") -> Path:
    configs = tmp_path / "configs"
    configs.mkdir(exist_ok=True)
    path = configs / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_defaults_follow_the_spec(tmp_path):
    job = load_job(_write(tmp_path, MINIMAL))
    assert job.schedule is None and job.timezone == "UTC" and job.score_date == "yesterday"
    assert job.catchup is False and job.chunk_size == 100_000 and job.engine == "pandas"
    assert job.passthrough == [] and job.retries == 0 and job.retry_delay_s == 60
    assert job.pipeline.version == "production"


def test_relative_paths_resolve_against_the_parent_of_the_config_dir(tmp_path):
    job = load_job(_write(tmp_path, MINIMAL))
    assert job.source.path == str(tmp_path / "data" / "features")
    assert job.output.url == f"sqlite:///{tmp_path / 'data' / 'out.db'}"


def test_parquet_urls_for_sparks_file_systems_are_kept_as_given(tmp_path):
    body = {**MINIMAL, "source": {"kind": "parquet", "path": "hdfs://nn:8020/features", "date_column": "d"},
            "output": {"kind": "parquet", "path": "s3a://bucket/scores"}}
    job = load_job(_write(tmp_path, body))
    assert (job.source.path, job.output.path) == ("hdfs://nn:8020/features", "s3a://bucket/scores")


def test_env_variables_and_defaults_are_expanded_in_every_string(tmp_path):
    body = dict(MINIMAL, output={"kind": "sql", "url": "${OUT_URL:-sqlite:///x.db}", "table": "${TABLE}"})
    job = load_job(_write(tmp_path, body), env={"TABLE": "scores", "OUT_URL": "postgresql://u:p@h/db"})
    assert job.output.url == "postgresql://u:p@h/db" and job.output.table == "scores"
    job = load_job(_write(tmp_path, body), env={"TABLE": "scores"})
    assert job.output.url == f"sqlite:///{tmp_path / 'x.db'}"


def test_expanded_values_are_validated_too(tmp_path):
    body = dict(MINIMAL, output={"kind": "sql", "url": "sqlite:///x.db", "table": "${TABLE}"})
    with pytest.raises(ConfigError, match="output.table"):
        load_job(_write(tmp_path, body), env={"TABLE": "s; DROP TABLE x"})


def test_a_nested_unknown_key_names_its_path_and_the_allowed_keys(tmp_path):
    body = dict(MINIMAL, source={"kind": "parquet", "path": "p", "date_column": "d", "filter": "x"})
    with pytest.raises(ConfigError) as err:
        load_job(_write(tmp_path, body))
    assert "unknown key source.filter" in str(err.value)
    assert "allowed keys here: kind, path, date_column" in str(err.value)


@pytest.mark.parametrize(
    "source, needle",
    [
        ({"kind": "sql", "url": "sqlite:///x.db", "table": "t"}, "date_column"),
        ({"kind": "sql", "url": "sqlite:///x.db", "query": "SELECT 1"}, ":score_date"),
        ({"kind": "sql", "url": "sqlite:///x.db", "table": "t", "date_column": "d", "query": "q :score_date"}, "not both"),
        ({"kind": "csv", "path": "x"}, "sql, parquet"),
    ],
)
def test_source_shapes_are_checked(tmp_path, source, needle):
    with pytest.raises(ConfigError, match=needle):
        load_job(_write(tmp_path, dict(MINIMAL, source=source)))


def test_reserved_output_column_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="output column"):
        load_job(_write(tmp_path, dict(MINIMAL, passthrough=["score"])))


def test_a_shadow_that_is_not_a_list_is_named_in_one_line(tmp_path):
    from jobs.config import load_job
    from jobs.errors import ConfigError

    path = tmp_path / "configs" / "j.yaml"
    path.parent.mkdir()
    path.write_text(
        "name: j\nsource: {kind: parquet, path: f, date_column: d}\npipeline: {name: m, shadow: staging}\n"
        "id_columns: [id]\noutput: {kind: parquet, path: o}\n"
    )
    with pytest.raises(ConfigError, match=r"key pipeline.shadow: 'staging' is not a list: give aliases or version numbers"):
        load_job(path)


def test_a_spark_job_rejecting_bad_rows_is_refused_at_load_naming_the_key_and_the_fix(tmp_path):
    key = "on_bad_rows"
    path = _write(tmp_path, dict(MINIMAL, engine="spark", quality={key: "reject"}))
    with pytest.raises(ConfigError) as refused:
        load_job(path)
    assert str(path) in str(refused.value)
    assert f"quality.{key}: reject is not supported by the spark engine (use engine: pandas for this job, or {key}: fail)" in str(
        refused.value)
    assert load_job(_write(tmp_path, dict(MINIMAL, quality={key: "reject"}))).quality.model_dump()[key] == "reject"  # pandas runs it


def test_a_spark_job_rejecting_duplicate_ids_loads(tmp_path):
    job = load_job(_write(tmp_path, dict(MINIMAL, engine="spark", quality={"on_duplicate_ids": "reject"})))
    assert job.quality.on_duplicate_ids == "reject" and job.unsupported_by("spark") is None
