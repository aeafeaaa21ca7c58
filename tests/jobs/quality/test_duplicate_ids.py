"""Duplicate ids in a day's source: the run fails before anything commits (default), or with
``quality.on_duplicate_ids: reject`` every row of a duplicated id goes to the rejects."""

from __future__ import annotations

import contextlib
import sqlite3

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from jobs.quality import duplicates as dup_mod
from jobs.quality.duplicates import IdTracker, find_duplicates
from tests.jobs.helpers import DAYS, N_CUSTOMERS, assert_one_line_error

DAY = DAYS[-1]
COPIED = 7  # an exact copy of its row is appended to the day
CHANGED = 400  # a second, different row with its id is appended to the day


SOURCE = {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "features_raw", "date_column": "snapshot_date"}


@pytest.fixture(autouse=True)
def raw_source(project):
    """``features_raw``: the warehouse's features without their (day, id) key, as a raw
    upstream table may be; every job here reads it."""
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn, conn:
        conn.execute("CREATE TABLE features_raw AS SELECT * FROM customer_features ORDER BY snapshot_date, customer_id")
    real = project.write_job

    def write_job(name="churn", **overrides):
        return real(name, **{"source": SOURCE, **overrides})

    project.write_job = write_job


def _duplicate(project, day=DAY) -> None:
    """Appended rows come last in the source: the second rows of both ids are in the last
    chunk, the first ones in earlier chunks (already given to the sink)."""
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn, conn:
        conn.execute("INSERT INTO features_raw SELECT * FROM features_raw WHERE snapshot_date = ? "
                     "AND customer_id = ?", [day.isoformat(), COPIED])
        conn.execute("CREATE TEMP TABLE changed AS SELECT * FROM features_raw WHERE snapshot_date = ? "
                     "AND customer_id = ?", [day.isoformat(), CHANGED])
        conn.execute("UPDATE changed SET tenure_days = tenure_days + 100")
        conn.execute("INSERT INTO features_raw SELECT * FROM changed")


def _tables(project) -> list[str]:
    return [r[0] for r in project.sql("SELECT name FROM sqlite_master WHERE name LIKE 'churn_scores%'")]


def _rejects(project, day=DAY) -> pd.DataFrame:
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn:
        return pd.read_sql_query("SELECT * FROM churn_scores_rejects WHERE score_date = ? ORDER BY customer_id",
                                 conn, params=[day.isoformat()])


# --- fail (the default) ----------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 2])
def test_duplicate_ids_fail_the_run_before_anything_commits(project, workers):
    project.write_job(chunk_size=128, workers=workers)  # the duplicates' second rows are in the last chunk
    _duplicate(project)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert_one_line_error(
        result, "churn 2026-11-27", "check duplicate_ids on column customer_id: 2 ids appear more than once (4 rows)",
        f"customer_id={COPIED}", f"customer_id={CHANGED}", "nothing was written", "on_duplicate_ids: reject",
    )
    assert not _tables(project)
    ledger = project.ledger()
    assert ledger["status"].tolist() == ["failed"]


def test_a_failed_duplicate_check_keeps_the_previous_day(project):
    project.write_job(chunk_size=128)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    before = project.scores(DAY)
    _duplicate(project)
    result = project.cli("run", "churn", "--date", DAY.isoformat(), "--force")
    assert result.code == 1 and "duplicate_ids" in result.last_err_line
    pd.testing.assert_frame_equal(project.scores(DAY), before)


def test_the_error_names_at_most_five_ids(project):
    project.write_job()
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn, conn:
        conn.execute("INSERT INTO features_raw SELECT * FROM features_raw WHERE snapshot_date = ? "
                     "AND customer_id <= 8", [DAY.isoformat()])
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    line = result.last_err_line
    assert result.code == 1 and "8 ids appear more than once (16 rows)" in line, line
    assert line.count("customer_id=") == 5


def test_a_day_without_duplicates_passes_and_records_the_check(project):
    project.write_job(chunk_size=128)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    assert len(project.scores(DAY)) == N_CUSTOMERS
    stats = project.cli("status", "churn", "--format", "json")
    assert '"duplicate_ids"' in stats.out


# --- reject ----------------------------------------------------------------------------------

def test_reject_sets_every_row_of_a_duplicated_id_aside(project):
    project.write_job(chunk_size=128, quality={"on_duplicate_ids": "reject", "max_reject_fraction": 0.01})
    _duplicate(project)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 0, result.err
    scores = project.scores(DAY)
    assert len(scores) == N_CUSTOMERS - 2
    assert scores["customer_id"].is_unique
    assert not {COPIED, CHANGED} & set(scores["customer_id"])
    rejects = _rejects(project)
    assert rejects["customer_id"].tolist() == [COPIED, COPIED, CHANGED, CHANGED]
    assert set(rejects["reason"]) == {"duplicate id"}
    latest = project.ledger().iloc[-1]
    assert latest["rows_rejected"] == 4 and latest["rows_read"] == N_CUSTOMERS + 2


def test_duplicate_rejects_count_within_max_reject_fraction(project):
    project.write_job(quality={"on_duplicate_ids": "reject"})  # max_reject_fraction 0.001: 4 of 502 is over
    _duplicate(project)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert "reject_fraction" in result.last_err_line and "nothing was written" in result.last_err_line
    assert not _tables(project)


def test_duplicate_rejects_go_to_the_parquet_rejects_directory(project):
    output = {"kind": "parquet", "path": "data/scores"}
    project.write_job(chunk_size=128, output=output, quality={"on_duplicate_ids": "reject", "max_reject_fraction": 0.01})
    _duplicate(project)
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    scores = ds.dataset(project.root / "data" / "scores", partitioning="hive").to_table().to_pandas()
    assert len(scores) == N_CUSTOMERS - 2 and scores["customer_id"].is_unique
    rejects = ds.dataset(project.root / "data" / "scores_rejects", partitioning="hive").to_table().to_pandas()
    assert sorted(rejects["customer_id"]) == [COPIED, COPIED, CHANGED, CHANGED]


def test_reject_with_bad_rows_fail_still_scores_other_rows_normally(project):
    project.write_job(quality={"on_duplicate_ids": "reject", "max_reject_fraction": 0.01})
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    assert len(project.scores(DAY)) == N_CUSTOMERS
    assert _rejects(project).empty


def test_unknown_value_of_the_key_is_a_config_error(project):
    project.write_job(quality={"on_duplicate_ids": "keep"})
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 2 and "on_duplicate_ids" in result.last_err_line


# --- several id columns: hashed keys, confirmed ------------------------------------------------

def test_several_id_columns_are_checked_on_their_values(project):
    project.write_job(id_columns=["customer_id", "plan"], passthrough=[], chunk_size=128)
    _duplicate(project)  # (7, plan) twice; (400, plan) twice (only tenure changed)
    result = project.cli("run", "churn", "--date", DAY.isoformat())
    assert result.code == 1
    assert "2 ids appear more than once (4 rows)" in result.last_err_line
    assert f"customer_id={COPIED} plan=" in result.last_err_line


def _batches(ids: list, size: int = 3) -> list[pa.RecordBatch]:
    table = pa.table({"a": pa.array([str(i) for i in ids]), "b": pa.array([1] * len(ids))})
    return table.to_batches(max_chunksize=size)


def test_a_hash_collision_is_no_duplicate(monkeypatch):
    """Every id hashes alike: the confirmation reads the values and finds only the real one."""
    real = dup_mod.id_keys

    def colliding(batch, columns, exact):
        keys, nulls = real(batch, columns, exact)
        return (keys if exact else np.zeros(len(keys), np.int64)), nulls

    monkeypatch.setattr(dup_mod, "id_keys", colliding)
    batches = _batches([1, 2, 3, 4, 2, 5])
    found = find_duplicates(batches, ["a", "b"], lambda: iter(batches))
    assert (found.count, found.rows, found.examples) == (1, 2, ["a=2 b=1"])
    masks = np.concatenate([found.mask(b) for b in batches])
    assert masks.tolist() == [False, True, False, False, True, False]
    clean = _batches([1, 2, 3])
    assert not find_duplicates(clean, ["a", "b"], lambda: iter(clean))


def test_null_ids_twice_are_a_duplicate():
    table = pa.table({"id": pa.array([1, None, 2, None, 3], pa.int64())})
    found = find_duplicates(table.to_batches(max_chunksize=2), ["id"])
    assert (found.count, found.rows, found.examples) == (1, 2, ["id=None"])
    assert not find_duplicates(pa.table({"id": pa.array([1, None, 2], pa.int64())}).to_batches(), ["id"])


def test_the_tracker_keeps_four_bytes_a_row_for_dense_integer_ids_and_eight_for_others():
    dense, hashed = IdTracker(["id"]), IdTracker(["id"])
    for start in range(0, 1_000_000, 100_000):
        dense.observe(pa.record_batch({"id": pa.array(np.arange(start, start + 100_000) * 3, pa.int64())}))
        hashed.observe(pa.record_batch({"id": pa.array([str(i) for i in range(start, start + 100_000)])}))
    assert dense.nbytes == 4 * 1_000_000 - 4 * 10 + 8 * 10  # the gaps, and each chunk's first key
    assert hashed.nbytes == 8 * 1_000_000
    assert not dense.result() and not hashed.result()


KEY_SETS = {
    "dense": lambda rng: rng.permutation(3000),
    "sparse": lambda rng: rng.choice(np.array([-(2**63), 2**63 - 1, -1, 0, 1, 2**40, 2**33 + 7], np.int64), 3000),
    "wide": lambda rng: rng.integers(-(2**62), 2**62, 3000),
    "mixed": lambda rng: np.concatenate([rng.integers(0, 500, 1500), rng.integers(2**50, 2**50 + 2**34, 1500)]),
}


@pytest.mark.parametrize("slice_rows", [1_000_000, 700, 1])
@pytest.mark.parametrize("kind", sorted(KEY_SETS))
def test_the_tracker_finds_exactly_the_repeated_keys_however_they_are_stored_and_sliced(monkeypatch, kind, slice_rows):
    monkeypatch.setattr(dup_mod, "SLICE_ROWS", slice_rows)  # the verdict judged in slices of that many keys
    rng = np.random.default_rng(len(kind) + slice_rows)
    ids = KEY_SETS[kind](rng).astype(np.int64)
    ids = np.concatenate([ids, rng.choice(ids, 40)])  # some copies, anywhere in the day
    rng.shuffle(ids)
    tracker = IdTracker(["id"])
    for start in range(0, len(ids), 250):
        tracker.observe(pa.record_batch({"id": pa.array(ids[start:start + 250], pa.int64())}))
    found = tracker.result()
    values, counts = np.unique(ids, return_counts=True)
    assert found.keys.tolist() == values[counts > 1].tolist()
    assert (found.count, found.rows) == (int((counts > 1).sum()), int(counts[counts > 1].sum()))


# --- spark --------------------------------------------------------------------------------------

@pytest.mark.spark
def test_spark_fails_a_day_with_duplicate_ids_like_pandas(project, spark):
    project.write_job(chunk_size=128, spark={"read_partitions": 2})
    _duplicate(project)
    lines = {}
    for engine in ("pandas", "spark"):
        result = project.cli("run", "churn", "--date", DAY.isoformat(), "--engine", engine, "--force")
        assert result.code == 1, result.err
        lines[engine] = result.last_err_line
        assert not _tables(project)
    assert lines["spark"] == lines["pandas"]


ROUTES = {
    # Spark's own path: JDBC read, JDBC staging table, the SQL day swap
    "sql_to_sql": (None, {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_scores"}),
    # the same into PostgreSQL: its JDBC staging table, its day lock and swap (the URL: pg_database)
    "sql_to_postgres": (None, {"kind": "sql", "url": "pg_database", "table": "churn_scores"}),
    # Spark's own path: JDBC read, a staged Parquet day swapped in
    "sql_to_parquet": (None, {"kind": "parquet", "path": "data/scores"}),
    # the Arrow path: tasks read, score and write with pyarrow
    "parquet_to_parquet": ({"kind": "parquet", "path": "data/raw", "date_column": "snapshot_date"},
                           {"kind": "parquet", "path": "data/scores"}),
}


def _sql_day(output: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's score rows and rejects rows of a SQL output in another database."""
    engine = sa.create_engine(output["url"])
    try:
        with engine.connect() as conn:
            return tuple(
                pd.read_sql_query(sa.text(f"SELECT * FROM {table} WHERE score_date = :d ORDER BY customer_id"), conn,
                                  params={"d": DAY})
                for table in (output["table"], output["table"] + "_rejects")
            )
    finally:
        engine.dispose()


def _stored(project, output: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's score rows and rejects rows, sorted, without run_id and scored_at."""
    if output["kind"] == "sql" and not output["url"].startswith("sqlite"):
        scores, rejects = _sql_day(output)
    elif output["kind"] == "sql":
        scores, rejects = project.scores(DAY), _rejects(project)
    else:
        def read(path):
            return pq.read_table(project.root / path / f"score_date={DAY.isoformat()}").to_pandas()
        scores, rejects = read(output["path"]), read(output["path"] + "_rejects")
    return tuple(
        frame.drop(columns=[c for c in ("run_id", "scored_at") if c in frame]).sort_values(
            [*frame.columns.intersection(["customer_id", "reason"])], kind="stable").reset_index(drop=True)
        for frame in (scores, rejects)
    )


def _run_ids(project, output: dict) -> set[str]:
    if output["kind"] == "sql" and not output["url"].startswith("sqlite"):
        return {run_id for frame in _sql_day(output) for run_id in frame["run_id"]}
    if output["kind"] == "sql":
        return set(project.scores(DAY)["run_id"]) | set(_rejects(project)["run_id"])
    return {
        run_id for path in (output["path"], output["path"] + "_rejects")
        for run_id in pq.read_table(project.root / path / f"score_date={DAY.isoformat()}").column("run_id").to_pylist()
    }


@pytest.mark.spark
@pytest.mark.parametrize("route", [pytest.param(r, marks=pytest.mark.postgres) if "postgres" in r else r for r in sorted(ROUTES)])
def test_spark_rejects_duplicate_ids_as_pandas_does(project, spark, route, request):
    source, output = ROUTES[route]
    if output.get("url") == "pg_database":
        output = {**output, "url": request.getfixturevalue("pg_database")}
    _duplicate(project)
    if source is not None:  # the raw table, day and duplicates included, as Parquet
        (project.root / "data" / "raw").mkdir()
        with contextlib.closing(sqlite3.connect(project.warehouse)) as conn:
            raw = pd.read_sql_query("SELECT * FROM features_raw", conn)
        pq.write_table(pa.Table.from_pandas(raw, preserve_index=False), project.root / "data" / "raw" / "part-0.parquet",
                       row_group_size=200)
    job = {"chunk_size": 128, "output": output, "spark": {"read_partitions": 2}, **({"source": source} if source else {})}
    project.write_job(**job, quality={"on_duplicate_ids": "reject", "max_reject_fraction": 0.01})
    stored, codes = {}, {}
    for engine in ("pandas", "spark"):  # spark's run replaces pandas's day: scores and rejects
        result = project.cli("run", "churn", "--date", DAY.isoformat(), "--engine", engine, "--force")
        codes[engine] = result.code
        assert result.code == 0, result.err
        stored[engine] = _stored(project, output)
    assert codes["spark"] == codes["pandas"] == 0
    for pandas_frame, spark_frame in zip(stored["pandas"], stored["spark"], strict=True):
        pd.testing.assert_frame_equal(spark_frame, pandas_frame)
    scores, rejects = stored["spark"]
    assert len(scores) == N_CUSTOMERS - 2 and scores["customer_id"].is_unique
    assert rejects["customer_id"].tolist() == [COPIED, COPIED, CHANGED, CHANGED]
    assert set(rejects["reason"]) == {"duplicate id"}
    ledger = project.ledger()
    pandas_run, spark_run = ledger.iloc[-2], ledger.iloc[-1]
    assert _run_ids(project, output) == {spark_run["run_id"]}  # both replaced, nothing of pandas's run left
    for column in ("rows_read", "rows_rejected", "rows_written"):
        assert spark_run[column] == pandas_run[column], column
    assert (spark_run["rows_rejected"], spark_run["rows_read"]) == (4, N_CUSTOMERS + 2)

    # Over max_reject_fraction (4 of 502 > 0.001): the same line, nothing commits.
    project.write_job(**job, quality={"on_duplicate_ids": "reject"})
    lines = {}
    for engine in ("pandas", "spark"):
        result = project.cli("run", "churn", "--date", DAY.isoformat(), "--engine", engine, "--force")
        assert result.code == 1, result.err
        lines[engine] = result.last_err_line
        assert _run_ids(project, output) == {spark_run["run_id"]}  # the previous day, whole
    assert "reject_fraction" in lines["spark"] and "nothing was written" in lines["spark"]
    assert lines["spark"] == lines["pandas"]
