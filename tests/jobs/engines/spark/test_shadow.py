"""Shadow scoring (``pipeline.shadow``) on the spark engine, real Spark in local mode: the
shadow rows and the main rows bit-identical to a pandas run of the same day (SQLite,
PostgreSQL, Parquet by pyarrow tasks, Parquet by Spark's writer), the ledger's figures those
of the pandas run, a broken shadow a warning, and a re-run replacing the shadow day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
import sqlalchemy as sa
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jobs import db
from jobs.config import load_job
from jobs.errors import SinkError
from jobs.ledger import Ledger
from jobs.runner import run_day
from pipelines import churn
from pipelines.demo_data import build_warehouse
from pipelines.registry import Registry
from pipelines.row_blocks import ROW_BLOCK
from pipelines.settings import Settings
from tests.jobs.helpers import Wrapper

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 27)
N = 900  # customers: 3 read partitions, chunks of 200 in each
CHUNK = 200
SHADOW_FEATURES = ["tenure_days", "support_calls", "monthly_charges"]
COLUMNS = ["customer_id", "score", "plan", "model_name", "model_version", "score_date"]


class FailsOnChunks(Wrapper):
    """A shadow that loads and then raises on every chunk of the day (not on the registry's
    training frame, predicted in a block larger than a chunk and a tail block)."""

    def predict_proba(self, X):
        if ROW_BLOCK < len(X) <= CHUNK + ROW_BLOCK:  # a chunk padded to whole blocks, not a tail block
            raise ValueError("this shadow cannot score a chunk")
        return self.inner.predict_proba(X)


@dataclass(frozen=True)
class Warehouse:
    root: Path
    sqlite_url: str
    features_path: Path
    shadow: int  # the staging version
    failing: int  # a version that raises on every chunk


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The demo warehouse (SQLite + Parquet), churn v1 in production and v2 (fewer features)
    as staging."""
    root = tmp_path_factory.mktemp("spark_shadow")
    info = build_warehouse(root, end=DAY, days=1, n_customers=N)
    churn.train_and_register(root / "data" / "models", info.training_path)
    training = pd.read_parquet(info.training_path)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(training[SHADOW_FEATURES], training["churned"])
    registry = Registry(root / "data" / "models")
    shadow = registry.register("churn", model, training_frame=training[SHADOW_FEATURES], alias="staging")
    failing = registry.register("churn", FailsOnChunks(model).fit(None), training_frame=training[SHADOW_FEATURES])
    return Warehouse(info.root, info.sqlite_url, info.features_path, shadow, failing)


@pytest.fixture
def project(tmp_path: Path, warehouse, spark) -> Settings:
    (tmp_path / "configs").mkdir()
    return Settings(
        config_dir=tmp_path / "configs", state_url=f"sqlite:///{tmp_path / 'state.db'}",
        models_root=warehouse.root / "data" / "models", log_dir=tmp_path / "logs",
    )


def write_job(settings: Settings, name: str, source: dict, output: dict, shadow: list):
    body = {
        "name": name, "source": source, "pipeline": {"name": "churn", "version": "production", "shadow": shadow},
        "id_columns": ["customer_id"], "passthrough": ["plan"], "chunk_size": CHUNK, "output": output,
        "spark": {"read_partitions": 3},
    }
    path = settings.config_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return load_job(path)


def read_day(output: dict, suffix: str = "") -> pd.DataFrame:
    """The day's rows of the scores (``suffix="_shadow"``: the shadow scores), by version and id."""
    if output["kind"] == "parquet":
        directory = Path(output["path"] + suffix) / f"score_date={DAY}"
        if not directory.is_dir() or not list(directory.iterdir()):
            return pd.DataFrame(columns=COLUMNS)
        frame = ds.dataset(directory, format="parquet").to_table().to_pandas()
        frame["score_date"] = DAY.isoformat()
    else:
        engine = db.make_engine(output["url"])
        with engine.connect() as conn:
            query = sa.text(f"SELECT * FROM {output['table']}{suffix} WHERE score_date = :d").bindparams(sa.bindparam("d", type_=sa.Date))
            frame = pd.read_sql_query(query, conn, params={"d": DAY})
        frame["score_date"] = frame["score_date"].astype(str)
    return frame.sort_values(["model_version", "customer_id"]).reset_index(drop=True)


def assert_bit_identical(spark: pd.DataFrame, pandas: pd.DataFrame) -> None:
    assert len(spark) == len(pandas)
    for name in ("customer_id", "plan", "model_name", "model_version", "score_date"):
        assert spark[name].tolist() == pandas[name].tolist(), name
    # every score with ==, to the bit
    assert [float(s).hex() for s in spark["score"]] == [float(s).hex() for s in pandas["score"]]


def outputs(kind: str, tmp_path: Path, warehouse, request) -> tuple[dict, dict, dict]:
    """(source, pandas output, spark output) of one case."""
    sql_source = {"kind": "sql", "url": warehouse.sqlite_url, "table": "customer_features", "date_column": "snapshot_date"}
    parquet_source = {"kind": "parquet", "path": str(warehouse.features_path), "date_column": "snapshot_date"}
    if kind == "parquet_tasks":  # Parquet to Parquet: pyarrow in the Spark tasks
        return parquet_source, *({"kind": "parquet", "path": str(tmp_path / e)} for e in ("pandas", "spark"))
    if kind == "parquet_spark":  # SQL to Parquet: Spark's reader and writer
        return sql_source, *({"kind": "parquet", "path": str(tmp_path / e)} for e in ("pandas", "spark"))
    url = request.getfixturevalue("pg_database") if kind == "postgres" else warehouse.sqlite_url
    return sql_source, *({"kind": "sql", "url": url, "table": f"scores_{kind}_{e}"} for e in ("pandas", "spark"))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "parquet_tasks", "parquet_spark"])
def test_spark_shadow_rows_and_figures_are_the_pandas_runs_and_a_rerun_replaces_them(project, warehouse, tmp_path, request, kind):
    source, *targets = outputs(kind, tmp_path, warehouse, request)
    runs = {}
    for engine, output in zip(("pandas", "spark"), targets, strict=True):
        job = write_job(project, f"shadow_{kind}_{engine}", source, output, ["staging"])
        runs[engine] = run_day(job, DAY, project, engine=engine)
        assert runs[engine].rows_written == N
    pandas_out, spark_out = targets
    shadow = read_day(spark_out, "_shadow")
    assert set(shadow["model_version"]) == {warehouse.shadow} and len(shadow) == N
    assert list(shadow.columns) == list(read_day(spark_out).columns)
    assert_bit_identical(read_day(spark_out), read_day(pandas_out))
    assert_bit_identical(shadow, read_day(pandas_out, "_shadow"))

    ledger = Ledger(project.state_url)
    figures = {e: ledger.history(f"shadow_{kind}_{e}")[0]["stats"]["shadow"][str(warehouse.shadow)] for e in runs}
    assert figures["spark"]["rows"] == figures["pandas"]["rows"] == N
    assert figures["spark"]["paired_sample"] == N and figures["spark"]["ref"] == "staging"
    for name in ("psi", "spearman", "top_decile_overlap", "mean_abs_diff"):
        assert figures["spark"][name] == pytest.approx(figures["pandas"][name], rel=1e-9, abs=1e-12), name
    assert figures["spark"]["psi"] > 0

    again = run_day(write_job(project, f"shadow_{kind}_spark", source, spark_out, ["staging"]), DAY, project, engine="spark", force=True)
    rerun = read_day(spark_out, "_shadow")
    assert len(rerun) == N and rerun["customer_id"].is_unique
    assert_bit_identical(rerun, shadow)
    if spark_out["kind"] == "sql":
        with db.make_engine(spark_out["url"]).connect() as conn:
            run_ids = set(conn.execute(sa.text(f"SELECT DISTINCT run_id FROM {spark_out['table']}_shadow")).scalars())
            tables = sa.inspect(conn).get_table_names()
        assert run_ids == {again.run_id} and not [t for t in tables if t.startswith("batchscore_stage_")]
    else:
        assert set(rerun["run_id"]) == {again.run_id}
        for root in (Path(spark_out["path"]), Path(spark_out["path"] + "_shadow")):
            assert sorted(p.name for p in root.iterdir()) == [f"score_date={DAY}"]


@pytest.mark.parametrize("kind", ["sqlite", "parquet_tasks"])
def test_a_corrupted_or_failing_shadow_is_a_warning_and_the_day_succeeds(project, warehouse, tmp_path, request, kind):
    source, _, output = outputs(kind, tmp_path, warehouse, request)
    registry = Registry(project.models_root)
    job = write_job(project, f"broken_{kind}", source, output, ["staging", warehouse.failing])
    assert run_day(job, DAY, project, engine="spark").rows_written == N
    assert set(read_day(output, "_shadow")["model_version"]) == {warehouse.shadow}

    # The staging version's file is corrupted: a warning, and the day's shadow rows are replaced by none.
    model_file = registry.resolve("churn", warehouse.shadow).model_path
    good = model_file.read_bytes()
    try:
        model_file.write_bytes(good[: len(good) // 2])
        outcome = run_day(job, DAY, project, engine="spark", force=True)
    finally:
        model_file.write_bytes(good)
    assert outcome.rows_written == N and len(read_day(output)) == N
    assert read_day(output, "_shadow").empty
    stats = Ledger(project.state_url).history(job.name)[0]["stats"]
    assert Ledger(project.state_url).history(job.name)[0]["status"] == "succeeded"
    assert "changed since it was registered" in stats["shadow"][str(warehouse.shadow)]["error"]
    assert "this shadow cannot score a chunk" in stats["shadow"][str(warehouse.failing)]["error"]
    lines = [w for w in stats["warnings"] if w.startswith("shadow ")]
    assert len(lines) == 2 and all("left out of the day" in w for w in lines)


def test_the_shadow_rows_commit_in_the_spark_days_transaction(project, warehouse, tmp_path, request):
    """The shadow table refuses its rows once the main rows are in: the whole day rolls back."""
    source, _, output = outputs("sqlite", tmp_path, warehouse, request)
    job = write_job(project, "refused", source, output, ["staging"])
    first = run_day(job, DAY, project, engine="spark")
    before = read_day(output), read_day(output, "_shadow")
    engine = db.make_engine(output["url"], writer=True)
    with engine.begin() as conn:
        conn.execute(sa.text(
            f"CREATE TRIGGER refuse BEFORE INSERT ON {output['table']}_shadow BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ))
    with pytest.raises(SinkError, match="refused"):
        run_day(job, DAY, project, engine="spark", force=True)
    pd.testing.assert_frame_equal(before[0], read_day(output))
    pd.testing.assert_frame_equal(before[1], read_day(output, "_shadow"))
    assert set(read_day(output)["run_id"]) == {first.run_id}
