"""The spark engine on real Spark (local[2], one session for every test), real SQLite,
real PostgreSQL and real Parquet: same rows and scores as the pandas engine, atomic days."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml

from jobs import cli, db
from jobs.config import load_job
from jobs.errors import ConfigError, NoInputRows, QualityCheckFailed, SchemaMismatch, ScoringError
from jobs.ledger import Ledger
from jobs.runner import run_day
from pipelines.settings import Settings
from pipelines import churn
from pipelines.demo_data import build_warehouse, make_customer_frame
from tests.jobs.helpers import REPO

pytestmark = pytest.mark.spark

END = date(2026, 11, 27)
BEFORE = date(2026, 11, 26)
N = 1500  # customers a day: several chunks and read partitions per engine
CHUNK = 400


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("spark_warehouse")
    info = build_warehouse(root, end=END, days=2, n_customers=N)
    churn.train_and_register(root / "data" / "models", info.training_path)
    return info


@pytest.fixture
def project(tmp_path: Path, warehouse, spark):
    """A config dir and state database of its own for one test; the shared warehouse and
    registry; the shared Spark session (the engine joins it)."""
    (tmp_path / "configs").mkdir()
    return Settings(
        config_dir=tmp_path / "configs",
        state_url=f"sqlite:///{tmp_path / 'state.db'}",
        models_root=warehouse.root / "data" / "models",
        log_dir=tmp_path / "logs",
    )


def write_job(settings: Settings, name: str, source: dict, output: dict, **extra):
    body = {
        "name": name,
        "source": source,
        "pipeline": {"name": "churn", "version": "production"},
        "id_columns": ["customer_id"],
        "passthrough": ["plan"],
        "chunk_size": CHUNK,
        "output": output,
        "spark": {"read_partitions": 3},
        **extra,
    }
    path = settings.config_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return load_job(path)


def sql_source(url: str) -> dict:
    return {"kind": "sql", "url": url, "table": "customer_features", "date_column": "snapshot_date"}


def sql_rows(url: str, table: str, day: date = END) -> list[tuple]:
    """(id, score bits, plan, model, version, score_date) of a day, by id."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT customer_id, score, plan, model_name, model_version, score_date, run_id "
                f"FROM {table} WHERE score_date = :day ORDER BY customer_id"
            ).bindparams(sa.bindparam("day", type_=sa.Date)),
            {"day": day},
        ).all()
    return [(r[0], float(r[1]).hex(), r[2], r[3], r[4], str(r[5])) for r in rows]


def run_ids(url: str, table: str, day: date = END) -> set[str]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(f"SELECT DISTINCT run_id FROM {table} WHERE score_date = :day").bindparams(
                    sa.bindparam("day", type_=sa.Date)
                ),
                {"day": day},
            ).scalars()
        )


def table_names(url: str) -> list[str]:
    return sa.inspect(db.make_engine(url)).get_table_names()


# --- same scores as pandas -----------------------------------------------------------------

def test_spark_scores_equal_pandas_bit_for_bit_on_sqlite(project, warehouse):
    url = warehouse.sqlite_url
    for engine in ("pandas", "spark"):
        job = write_job(project, f"parity_sqlite_{engine}", sql_source(url), {"kind": "sql", "url": url, "table": f"parity_{engine}"})
        outcome = run_day(job, END, project, engine=engine, force=True)
        assert outcome.rows_written == N
    pandas_rows, spark_rows = sql_rows(url, "parity_pandas"), sql_rows(url, "parity_spark")
    assert len(spark_rows) == N
    assert spark_rows == pandas_rows
    # The same input checks, counted per partition and merged: the same figures.
    ledger = Ledger(project.state_url)
    pandas_stats, spark_stats = (ledger.history(f"parity_sqlite_{e}")[0]["stats"] for e in ("pandas", "spark"))
    assert spark_stats["quality"]["null_fraction"] == pandas_stats["quality"]["null_fraction"]
    assert spark_stats["quality"]["rows"] == N and spark_stats["drift"]["psi_reference"] == pytest.approx(
        pandas_stats["drift"]["psi_reference"], abs=1e-12
    )
    assert not [t for t in table_names(url) if t.startswith("batchscore_stage_")]


@pytest.mark.postgres
def test_spark_scores_equal_pandas_bit_for_bit_on_postgres(project, pg_database):
    engine = db.make_engine(pg_database, writer=True)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE customer_features (customer_id BIGINT, snapshot_date DATE, tenure_days INTEGER, "
            "monthly_charges DOUBLE PRECISION, support_calls INTEGER, data_usage_gb DOUBLE PRECISION, "
            "late_payments BIGINT, plan TEXT, region TEXT, payment_method TEXT)"
        ))
    for day in (BEFORE, END):
        make_customer_frame(day, N).drop(columns=["churned"]).to_sql(
            "customer_features", engine, if_exists="append", index=False
        )
    for kind in ("pandas", "spark"):
        job = write_job(project, f"parity_pg_{kind}", sql_source(pg_database), {"kind": "sql", "url": pg_database, "table": f"parity_{kind}"})
        assert run_day(job, END, project, engine=kind, force=True).rows_written == N
    spark_rows = sql_rows(pg_database, "parity_spark")
    assert len(spark_rows) == N
    assert spark_rows == sql_rows(pg_database, "parity_pandas")
    assert not [t for t in table_names(pg_database) if t.startswith("batchscore_stage_")]


def parquet_day(path: Path, day: date = END):
    table = pq.read_table(path / f"score_date={day.isoformat()}").sort_by("customer_id")
    return table


def test_spark_scores_equal_pandas_bit_for_bit_on_parquet(project, warehouse, tmp_path):
    # The day in 3 row groups: the 3 Spark tasks (read_partitions) read, score and write one each.
    features = tmp_path / "features" / f"snapshot_date={END.isoformat()}"
    features.mkdir(parents=True)
    day_table = pq.read_table(warehouse.features_path / f"snapshot_date={END.isoformat()}")
    pq.write_table(day_table, features / "part-0.parquet", row_group_size=N // 3)
    source = {"kind": "parquet", "path": str(features.parent), "date_column": "snapshot_date"}
    for engine in ("pandas", "spark"):
        job = write_job(project, f"parity_parquet_{engine}", source, {"kind": "parquet", "path": str(tmp_path / engine)})
        assert run_day(job, END, project, engine=engine, force=True).rows_written == N
    files = sorted(p.name for p in (tmp_path / "spark" / f"score_date={END.isoformat()}").iterdir())
    assert files == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    pandas_day, spark_day = parquet_day(tmp_path / "pandas"), parquet_day(tmp_path / "spark")
    assert spark_day.num_rows == N
    for name in ("customer_id", "plan", "model_name", "model_version"):
        assert spark_day.column(name).to_pylist() == pandas_day.column(name).to_pylist(), name
    spark_scores = spark_day.column("score").to_numpy()
    assert np.array_equal(spark_scores.view(np.int64), pandas_day.column("score").to_numpy().view(np.int64))
    # Same column types, so readers of the output need not know which engine wrote a day.
    assert {f.name: f.type for f in spark_day.schema} == {f.name: f.type for f in pandas_day.schema}
    assert not list((tmp_path / "spark").glob("_*")) and not list((tmp_path / "spark").glob(".*"))


def test_spark_reads_parquet_itself_to_write_sql_and_scores_like_pandas(project, warehouse):
    source = {"kind": "parquet", "path": str(warehouse.features_path), "date_column": "snapshot_date"}
    url = warehouse.sqlite_url
    for engine in ("pandas", "spark"):
        job = write_job(project, f"parquet_sql_{engine}", source, {"kind": "sql", "url": url, "table": f"pq_scores_{engine}"})
        assert run_day(job, END, project, engine=engine).rows_written == N
    pandas_rows, spark_rows = sql_rows(url, "pq_scores_pandas"), sql_rows(url, "pq_scores_spark")
    assert [r[:5] for r in spark_rows] == [r[:5] for r in pandas_rows] and len(spark_rows) == N


# --- atomic, idempotent days -------------------------------------------------------------

@pytest.mark.slow
def test_a_treelite_version_scores_the_same_bits_on_spark_as_on_pandas_and_its_workers(project, warehouse):
    pytest.importorskip("tl2cgen")
    import pandas as pd

    from pipelines.registry import Registry

    frame = pd.read_parquet(warehouse.training_path)
    pipeline = churn.build_hgb_pipeline(20).fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
    Registry(project.models_root).register(
        "churn_tl", pipeline, training_frame=frame[list(churn.FEATURES)], alias="production", runtime="treelite"
    )
    url = warehouse.sqlite_url
    for engine, workers in (("pandas", 1), ("pandas", 2), ("spark", 1)):
        name = f"treelite_{engine}_{workers}"
        job = write_job(project, name, sql_source(url), {"kind": "sql", "url": url, "table": name},
                        pipeline={"name": "churn_tl", "version": "production"}, workers=workers)
        assert run_day(job, END, project, engine=engine, force=True).rows_written == N
        assert Ledger(project.state_url).history(name)[0]["stats"]["runtime"] == "treelite"
    alone, workers, spark = (sql_rows(url, f"treelite_{e}_{w}") for e, w in (("pandas", 1), ("pandas", 2), ("spark", 1)))
    assert len(alone) == N and alone == workers == spark


def test_spark_rerun_replaces_the_sql_day_without_duplicates_and_keeps_other_days(project, warehouse):
    url = warehouse.sqlite_url
    job = write_job(project, "rerun_sql", sql_source(url), {"kind": "sql", "url": url, "table": "rerun_scores"})
    run_day(job, BEFORE, project, engine="pandas")
    first = run_day(job, END, project, engine="spark")
    second = run_day(job, END, project, engine="spark", force=True)
    rows = sql_rows(url, "rerun_scores")
    assert len(rows) == N and len({r[0] for r in rows}) == N
    assert run_ids(url, "rerun_scores") == {second.run_id} != {first.run_id}
    assert len(sql_rows(url, "rerun_scores", BEFORE)) == N


def test_spark_rerun_replaces_the_parquet_day_without_duplicates(project, warehouse, tmp_path):
    source = {"kind": "parquet", "path": str(warehouse.features_path), "date_column": "snapshot_date"}
    out = tmp_path / "scores"
    job = write_job(project, "rerun_parquet", source, {"kind": "parquet", "path": str(out)})
    run_day(job, BEFORE, project, engine="spark")
    run_day(job, END, project, engine="pandas")  # a day the pandas engine wrote first
    second = run_day(job, END, project, engine="spark", force=True)
    day = parquet_day(out)
    assert day.num_rows == N and len(set(day.column("customer_id").to_pylist())) == N
    assert set(day.column("run_id").to_pylist()) == {second.run_id}
    assert parquet_day(out, BEFORE).num_rows == N


# --- failures ----------------------------------------------------------------------------

@pytest.fixture
def poisoned(tmp_path: Path) -> str:
    """A SQLite warehouse of one day whose customer 7 makes the pipeline raise (infinite
    charges), once a good run of the day is in its output table."""
    path = tmp_path / "poisoned.db"
    frame = make_customer_frame(END, 300).drop(columns=["churned"])
    frame["snapshot_date"] = END.isoformat()
    with sqlite3.connect(path) as conn:
        frame.to_sql("customer_features", conn, index=False)
    return f"sqlite:///{path}"


@pytest.mark.parametrize("kind", ["sql", "parquet"])
def test_a_failing_executor_task_fails_the_run_and_leaves_the_day_untouched(project, poisoned, tmp_path, kind):
    output = {"kind": "sql", "url": poisoned, "table": "scores"} if kind == "sql" else {"kind": "parquet", "path": str(tmp_path / "out")}
    job = write_job(project, f"poison_{kind}", sql_source(poisoned), output)
    good = run_day(job, END, project, engine="spark")
    with sqlite3.connect(poisoned[len("sqlite:///"):]) as conn:
        conn.execute("UPDATE customer_features SET monthly_charges = 1e999 WHERE customer_id = 7")
    with pytest.raises(ScoringError) as failed:
        run_day(job, END, project, engine="spark", force=True)
    message = str(failed.value)
    assert message.startswith(f"poison_{kind} {END}: the pipeline churn v1 failed on a chunk of ")
    assert "ValueError: Input X contains infinity" in message and "\n" not in message
    if kind == "sql":
        assert run_ids(poisoned, "scores") == {good.run_id}
        assert len(sql_rows(poisoned, "scores")) == 300
        assert not [t for t in table_names(poisoned) if t.startswith("batchscore_stage_")]
    else:
        assert set(parquet_day(tmp_path / "out").column("run_id").to_pylist()) == {good.run_id}
    latest = Ledger(project.state_url).history(job.name)[0]
    assert latest["status"] == "failed" and "contains infinity" in latest["error"]


def test_a_failed_input_check_stops_the_spark_run_before_writing_like_pandas(project, warehouse):
    url = warehouse.sqlite_url
    messages = {}
    for engine in ("pandas", "spark"):
        output = {"kind": "sql", "url": url, "table": f"checks_{engine}"}
        job = write_job(project, f"checks_{engine}", sql_source(url), output, quality={"max_null_fraction": 0.01})
        with pytest.raises(QualityCheckFailed) as failed:
            run_day(job, END, project, engine=engine)
        messages[engine] = failed.value.what
        assert f"checks_{engine}" not in table_names(url)
    assert messages["spark"] == messages["pandas"]
    assert "null_fraction on column data_usage_gb" in messages["spark"]


def test_a_failed_check_keeps_the_parquet_day_and_leaves_nothing_aside(project, warehouse, tmp_path):
    source = {"kind": "parquet", "path": str(warehouse.features_path), "date_column": "snapshot_date"}
    out = tmp_path / "scores"
    good = run_day(write_job(project, "checked_parquet", source, {"kind": "parquet", "path": str(out)}), END, project, engine="spark")
    # A killed run's files, written aside: the next run of the day clears them.
    leftover = out / f".tmp-score_date={END}-0123abcd"
    leftover.mkdir()
    (leftover / "part-0.parquet").write_bytes(b"half a file")
    strict = write_job(project, "checked_parquet", source, {"kind": "parquet", "path": str(out)}, quality={"max_null_fraction": 0.01})
    with pytest.raises(QualityCheckFailed, match="null_fraction on column data_usage_gb"):
        run_day(strict, END, project, engine="spark", force=True)
    assert set(parquet_day(out).column("run_id").to_pylist()) == {good.run_id}
    assert sorted(p.name for p in out.iterdir()) == [f"score_date={END}"]


def test_an_empty_parquet_day_exits_4_and_writes_nothing(project, warehouse, tmp_path, capsys):
    source = {"kind": "parquet", "path": str(warehouse.features_path), "date_column": "snapshot_date"}
    out = tmp_path / "scores"
    write_job(project, "empty_parquet", source, {"kind": "parquet", "path": str(out)})
    code, line = cli_run(project, capsys, "empty_parquet", "2026-12-25", "spark")
    assert code == NoInputRows.exit_code == 4
    assert line.startswith(f"error: empty_parquet 2026-12-25: the source {warehouse.features_path} has no rows")
    assert not out.exists() or not list(out.iterdir())


def test_reject_mode_is_refused_before_spark_starts(project, warehouse):
    url = warehouse.sqlite_url
    output = {"kind": "sql", "url": url, "table": "reject_scores"}
    job = write_job(project, "rejecting", sql_source(url), output, quality={"on_bad_rows": "reject"})
    with pytest.raises(ConfigError, match="on_bad_rows: reject is not supported by the spark engine"):
        run_day(job, END, project, engine="spark")
    assert "reject_scores" not in table_names(url)


def test_engine_spark_on_a_job_in_reject_mode_is_one_line_and_exit_2_with_no_ledger_row(project, warehouse, capsys):
    url = warehouse.sqlite_url
    write_job(project, "rejecting", sql_source(url), {"kind": "sql", "url": url, "table": "reject_scores"},
              quality={"on_bad_rows": "reject"})
    code, line = cli_run(project, capsys, "rejecting", END.isoformat(), "spark")
    assert code == ConfigError.exit_code == 2
    assert line == (f"error: rejecting {END.isoformat()}: quality.on_bad_rows: reject is not supported by the spark engine "
                    "(use engine: pandas for this job, or on_bad_rows: fail)")
    assert Ledger(project.state_url).history("rejecting") == []  # refused before the day was claimed


def cli_run(project, capsys, job: str, day: str, engine: str) -> tuple[int, str]:
    code = cli.main([
        "run", job, "--date", day, "--engine", engine, "--force",
        "--config-dir", str(project.config_dir), "--state-url", project.state_url,
        "--models", str(project.models_root),
    ])
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def test_an_empty_day_exits_4_with_the_pandas_engines_error(project, warehouse, capsys):
    write_job(project, "empty_day", sql_source(warehouse.sqlite_url), {"kind": "sql", "url": warehouse.sqlite_url, "table": "empty_scores"})
    spark = cli_run(project, capsys, "empty_day", "2026-12-25", "spark")
    assert spark == cli_run(project, capsys, "empty_day", "2026-12-25", "pandas")
    assert spark[0] == NoInputRows.exit_code == 4
    assert spark[1].startswith("error: empty_day 2026-12-25: the source customer_features has no rows")


def test_missing_columns_exit_1_with_the_pandas_engines_error(project, warehouse, capsys):
    query = "SELECT customer_id, plan, tenure_days FROM customer_features WHERE snapshot_date = :score_date"
    source = {"kind": "sql", "url": warehouse.sqlite_url, "query": query}
    write_job(project, "missing_cols", source, {"kind": "sql", "url": warehouse.sqlite_url, "table": "missing_scores"})
    spark = cli_run(project, capsys, "missing_cols", END.isoformat(), "spark")
    assert spark == cli_run(project, capsys, "missing_cols", END.isoformat(), "pandas")
    assert spark[0] == SchemaMismatch.exit_code == 1
    assert "lacks columns monthly_charges, support_calls" in spark[1]


# --- processes of their own (spark-submit, a backfill starting its own context) ------------

def demo_project(tmp_path: Path, warehouse) -> tuple[Path, dict]:
    """The demo job and a copy of the warehouse in a project directory, and an environment
    without this process's batchscore, Spark and warehouse settings."""
    root = tmp_path / "project"
    (root / "configs").mkdir(parents=True)
    shutil.copy(REPO / "configs" / "churn_daily.yaml", root / "configs")
    shutil.copytree(warehouse.root / "data", root / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHSCORE_", "PYSPARK_", "WAREHOUSE_"))}
    return root, env


@pytest.mark.slow
def test_spark_submit_scores_the_demo_day_end_to_end(tmp_path, warehouse):
    root, env = demo_project(tmp_path, warehouse)
    done = subprocess.run(
        [str(REPO / "scripts" / "spark-submit"), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
         "churn_daily", "--date", END.isoformat()],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # spark-submit merges the driver's stderr (our log) into its stdout; the result is last.
    assert done.stdout.strip().splitlines()[-1].startswith(f"churn_daily {END}: succeeded, {N} rows, churn v1")
    assert "has been added already" not in done.stdout + done.stderr  # each JDBC jar shipped once
    url = f"sqlite:///{root / 'data' / 'warehouse.db'}"
    assert len(sql_rows(url, "churn_scores")) == N
    row = Ledger(f"sqlite:///{root / 'data' / 'batchscore.db'}").history("churn_daily")[0]
    assert (row["engine"], row["status"], row["rows_written"]) == ("spark", "succeeded", N)


@pytest.mark.slow
def test_a_spark_backfill_scores_its_days_on_one_spark_context(tmp_path, warehouse):
    # A process of its own: in this one the tests' context is already running.
    root, env = demo_project(tmp_path, warehouse)
    env["BATCHSCORE_SPARK_MASTER"] = "local[2]"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("batchscore")), "backfill", "churn_daily", "--start", BEFORE.isoformat(),
         "--end", END.isoformat(), "--engine", "spark"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == f"backfill churn_daily {BEFORE}..{END}: 2 succeeded, 0 skipped, 0 failed"
    rows = Ledger(f"sqlite:///{root / 'data' / 'batchscore.db'}").history("churn_daily")
    assert [(r["score_date"], r["engine"], r["rows_written"]) for r in rows] == [(END, "spark", N), (BEFORE, "spark", N)]
    applications = {r["stats"]["spark"]["application_id"] for r in rows}
    assert len(applications) == 1, applications  # one context, started once for both days
    url = f"sqlite:///{root / 'data' / 'warehouse.db'}"
    assert len(sql_rows(url, "churn_scores", BEFORE)) == len(sql_rows(url, "churn_scores", END)) == N


# --- reading -------------------------------------------------------------------------------

def test_parquet_reads_prune_to_the_days_partition(spark, warehouse):
    from jobs.config import ParquetSource
    from jobs.engines.spark.read import read_day

    source = ParquetSource(kind="parquet", path=str(warehouse.features_path), date_column="snapshot_date")
    day = read_day(spark, source, ["customer_id", "plan"], END, chunk_size=CHUNK, partitions=2, partition_column="customer_id")
    plan = day.frame._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters: [isnotnull(snapshot_date#" in plan and f"= {END.isoformat()})]" in plan
    assert day.frame.count() == N and not day.empty


def test_sql_reads_split_on_the_id_column_into_parallel_queries(spark, warehouse):
    from jobs.config import SqlSource
    from jobs.engines.spark.read import read_day

    source = SqlSource(**sql_source(warehouse.sqlite_url))
    day = read_day(spark, source, ["customer_id", "plan"], END, chunk_size=CHUNK, partitions=3, partition_column="customer_id")
    assert day.frame.rdd.getNumPartitions() == 3
    assert sorted(r.customer_id for r in day.frame.collect()) == list(range(1, N + 1))
    assert dict(day.frame.dtypes)["customer_id"] == "bigint"  # SQLite integers are 64-bit


# --- the executor's side -------------------------------------------------------------------

class Shipped:
    """Stands for a Spark broadcast: what an executor reads as ``.value`` (a model handle)."""

    def __init__(self, value) -> None:
        self._value, self.reads = value, 0

    @property
    def value(self):
        self.reads += 1
        return self._value


def test_executors_refuse_model_bytes_whose_sha256_differs(project, warehouse):
    import pyarrow as pa

    from jobs.engines.spark import partition_scorer
    from jobs.engines.spark.worker import forget_pipelines
    from jobs.engines.spark.session import translate
    from jobs.errors import ModelIntegrityError
    from jobs.engines import ScoringTask
    from jobs.quality.monitor import RunMonitor
    from jobs.output import Lineage, output_schema
    from pipelines.model import ModelHandle
    from pipelines.registry import Registry

    registry = Registry(project.models_root)
    version = registry.resolve("churn", "production")
    frame = make_customer_frame(END, 10).drop(columns=["churned", "snapshot_date"])
    source = pa.Schema.from_pandas(frame, preserve_index=False)
    batch = pa.RecordBatch.from_pandas(frame, schema=source, preserve_index=False)
    schema = output_schema([source.field("customer_id")], [], "binary")
    job = write_job(project, "tampered", sql_source(warehouse.sqlite_url), {"kind": "sql", "url": warehouse.sqlite_url, "table": "t"})
    task = ScoringTask(
        job=job.name, day=END, source=job.source, output=job.output, id_columns=("customer_id",), passthrough=(),
        chunk_size=CHUNK, model=version, positive=1,
        lineage=Lineage(day=END, model_name="churn", model_version=version.version, run_id="r", scored_at=datetime(2026, 11, 28, tzinfo=timezone.utc)),
    )

    class Accumulator:
        def add(self, value):
            self.value = value

    good = registry.handle(version).data
    stats, checks = Accumulator(), Accumulator()
    monitor = RunMonitor.for_task(task, registry.load(version).pipeline)
    forget_pipelines()  # this test's process plays one executor's Python worker
    shipped = Shipped(ModelHandle(version, good))
    for _ in range(2):  # two partitions (or two days of a backfill) on the same worker
        scored = list(partition_scorer(shipped, task, source, schema, stats, checks, monitor)([batch]))
        assert scored[0].num_rows == 10 and stats.value.count == 10 and checks.value.rows == 10
    assert shipped.reads == 1  # unpickled once, then kept by its checked sha256
    forget_pipelines()  # a worker that has not unpickled it yet
    with pytest.raises(ScoringError) as failed:
        list(partition_scorer(Shipped(ModelHandle(version, good + b"\0")), task, source, schema, stats, checks, monitor)([batch]))
    # On the driver, the marked error becomes the registry's own again.
    error = translate(Exception(f"Traceback (most recent call last):\njobs.errors.ScoringError: {failed.value.what}"), "x")
    assert type(error) is ModelIntegrityError and "changed since it was registered" in error.what
