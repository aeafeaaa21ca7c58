"""The spark engine's plumbing that needs no JVM: settings, JDBC URLs, error translation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from jobs.config import SparkSettings, load_job
from jobs.engines.spark.read import jdbc_for
from jobs.engines.spark.session import ENV_MASTER, merge_jars, context_conf, jdbc_jars, marked, translate
from jobs.errors import ConfigError, SchemaMismatch, ScoringError, SinkError, SourceError, TransientError
from pipelines.distribution import ScoreStats

# --- settings ----------------------------------------------------------------------------

def test_the_environment_master_beats_the_job_file_which_beats_local():
    settings = SparkSettings(master="spark://head:7077")
    assert context_conf(SparkSettings(), env={})["spark.master"] == "local[*]"
    assert context_conf(settings, env={})["spark.master"] == "spark://head:7077"
    assert context_conf(settings, env={ENV_MASTER: "yarn"})["spark.master"] == "yarn"


def test_job_spark_settings_become_spark_conf_with_the_jdbc_jars():
    settings = SparkSettings(executor_memory="4g", conf={"spark.ui.enabled": False, "spark.sql.shuffle.partitions": 8})
    conf = context_conf(settings, env={})
    assert conf["spark.executor.memory"] == "4g"
    assert conf["spark.ui.enabled"] == "false" and conf["spark.sql.shuffle.partitions"] == "8"
    assert conf.get("spark.jars", "").split(",") == jdbc_jars() or not jdbc_jars()


def test_jdbc_jars_from_debian_packages_are_found():
    # scripts/setup installs libpostgresql-jdbc-java and libxerial-sqlite-jdbc-java.
    names = [Path(j).name for j in jdbc_jars()]
    assert any("postgresql" in n for n in names) and any("sqlite" in n for n in names)


def test_a_jar_given_twice_is_shipped_once():
    merged = merge_jars("file:/usr/share/java/postgresql.jar,/opt/x.jar", "/usr/share/java/postgresql.jar")
    assert merged == "file:/usr/share/java/postgresql.jar,/opt/x.jar"


def job_file(tmp_path: Path, spark: dict) -> Path:
    path = tmp_path / "configs" / "j.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({
        "name": "j", "source": {"kind": "parquet", "path": "x", "date_column": "d"},
        "pipeline": {"name": "m"}, "id_columns": ["id"], "output": {"kind": "parquet", "path": "y"},
        "engine": "spark", "spark": spark,
    }))
    return path


def test_the_spark_section_is_parsed_with_env_expansion(tmp_path):
    job = load_job(job_file(tmp_path, {"master": "${M:-local[2]}", "executor_memory": "2g", "read_partitions": 4}), env={})
    assert job.spark == SparkSettings(master="local[2]", executor_memory="2g", read_partitions=4)


def test_an_unknown_spark_key_names_the_allowed_ones(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_job(job_file(tmp_path, {"memory": "2g"}), env={})
    assert "unknown key spark.memory; allowed keys here: master, executor_memory, conf" in str(err.value)


def test_a_bad_partition_column_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="spark.partition_column"):
        load_job(job_file(tmp_path, {"partition_column": "id; drop"}), env={})


# --- JDBC URLs -----------------------------------------------------------------------------

def test_sqlite_urls_become_absolute_jdbc_urls(tmp_path):
    jdbc = jdbc_for(f"sqlite:///{tmp_path}/w.db")
    assert jdbc.url == f"jdbc:sqlite:{tmp_path}/w.db"
    assert jdbc.options["driver"] == "org.sqlite.JDBC"


def test_postgres_credentials_stay_out_of_the_jdbc_url():
    jdbc = jdbc_for("postgresql://scorer:s3cret@db.internal:6432/warehouse?sslmode=require")
    assert jdbc.url == "jdbc:postgresql://db.internal:6432/warehouse"
    assert jdbc.options == {"driver": "org.postgresql.Driver", "user": "scorer", "password": "s3cret", "sslmode": "require"}


def test_other_databases_are_refused_with_a_hint():
    with pytest.raises(ConfigError, match="engine: pandas"):
        jdbc_for("mysql://u@h/d")


# --- errors from Spark ---------------------------------------------------------------------

class FakeSparkError(Exception):
    pass


def test_our_error_raised_on_an_executor_comes_back_with_its_kind_and_hint():
    inner = SchemaMismatch("wrong column type: plan is numeric", hint="cast it")
    text = (
        "An exception was thrown from the Python worker.\nTraceback (most recent call last):\n"
        f'  File "x.py", line 1, in f\njobs.errors.ScoringError: {marked(inner)}\n\n'
        "\tat org.apache.spark.api.python.BasePythonRunner...\n"
    )
    error = translate(FakeSparkError(text), "writing scores")
    assert type(error) is SchemaMismatch
    assert (error.what, error.hint) == ("wrong column type: plan is numeric", "cast it")


def test_another_python_error_on_an_executor_is_one_line_naming_it():
    text = (
        "Job aborted due to stage failure: Task 0 in stage 3.0 failed 1 times\n"
        "Traceback (most recent call last):\n  File \"worker.py\", line 9, in main\n"
        "MemoryError: Unable to allocate 8.00 GiB\n\tat org.apache.spark..."
    )
    error = translate(FakeSparkError(text), "writing scores")
    assert isinstance(error, ScoringError) and "\n" not in str(error)
    assert error.what == "a Spark task failed while writing scores: MemoryError: Unable to allocate 8.00 GiB"


def test_a_jvm_error_names_its_root_cause_and_lost_connections_are_transient():
    text = (
        "An error occurred while calling o123.save.\n: org.apache.spark.SparkException: Job aborted.\n"
        "Caused by: java.sql.SQLException: outer\nCaused by: java.net.ConnectException: Connection refused\n"
    )
    error = translate(FakeSparkError(text), "writing scores")
    assert isinstance(error, TransientError)
    assert error.what == "writing scores failed in Spark: ConnectException: Connection refused"
    other = translate(FakeSparkError("boom\nCaused by: org.postgresql.util.PSQLException: permission denied"), "reading t", SourceError)
    assert type(other) is SourceError and other.what.endswith("PSQLException: permission denied")
    assert type(translate(FakeSparkError("x"), "writing scores")) is SinkError


def test_a_missing_jdbc_driver_is_a_config_error():
    text = "An error occurred\nCaused by: java.lang.ClassNotFoundException: org.postgresql.Driver"
    assert isinstance(translate(FakeSparkError(text), "reading t"), ConfigError)


# --- merging score summaries ---------------------------------------------------------------

def test_merged_partition_summaries_equal_one_streamed_summary():
    scores = np.random.default_rng(3).random(5000)
    whole = ScoreStats()
    whole.update(scores)
    parts = [ScoreStats() for _ in range(3)]
    for part, chunk in zip(parts, np.array_split(scores, 3), strict=True):
        part.update(chunk)
    merged = ScoreStats()
    for part in parts:
        merged.merge(part)
    a, b = whole.summary(), merged.summary()
    assert (a.count, a.min, a.max, a.histogram, a.quantiles) == (b.count, b.min, b.max, b.histogram, b.quantiles)
    assert a.mean == pytest.approx(b.mean, rel=1e-12) and a.std == pytest.approx(b.std, rel=1e-12)


# --- which path ----------------------------------------------------------------------------

def test_parquet_to_parquet_at_file_paths_is_read_and_written_by_the_python_tasks(tmp_path):
    import dataclasses

    from jobs.config import ParquetOutput, ParquetSource, SqlOutput
    from jobs.engines import ScoringTask
    from jobs.engines.spark.arrow import applies

    task = ScoringTask(
        job="j", day=None, source=ParquetSource(kind="parquet", path="/data/features", date_column="d"),
        output=ParquetOutput(kind="parquet", path="file:///data/scores"), id_columns=("id",), passthrough=(),
        chunk_size=10, model=None, positive=1, lineage=None,
    )
    assert applies(task)
    assert not applies(dataclasses.replace(task, output=ParquetOutput(kind="parquet", path="hdfs://nn/scores")))
    assert not applies(dataclasses.replace(task, source=ParquetSource(kind="parquet", path="s3a://b/f", date_column="d")))
    assert not applies(dataclasses.replace(task, output=SqlOutput(kind="sql", url="sqlite:///x.db", table="t")))
