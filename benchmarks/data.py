"""The benchmark's data, generated deterministically: a churn-like day and a fitted pipeline.

One row per customer: ``customer_id``, ``snapshot_date``, 20 numeric features (~2% nulls) and
3 categoricals of cardinality 5, 50 and 500. The same ``rows`` and ``seed`` always give the
same values, chunk by chunk, so a 5M-row day never has to sit in memory to be generated.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

DAY = date(2026, 11, 27)
TABLE = "customer_features"
NUMERIC = tuple(f"f{i:02d}" for i in range(1, 21))
CATEGORICAL = {"cat5": 5, "cat50": 50, "cat500": 500}
FEATURES = NUMERIC + tuple(CATEGORICAL)
NULL_SHARE = 0.02
GEN_CHUNK = 250_000
SEED = 20261127


def batches(rows: int, *, seed: int = SEED, chunk: int = GEN_CHUNK, day: date = DAY) -> Iterator[pa.RecordBatch]:
    """The day's rows as Arrow batches; chunk ``k`` depends only on (seed, day, k)."""
    for k, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        rng = np.random.default_rng([seed, day.toordinal(), k])
        arrays = [pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64)), pa.repeat(pa.scalar(day, pa.date32()), n)]
        for _ in NUMERIC:
            values = rng.normal(0.0, 1.0, n) * rng.uniform(0.5, 20.0) + rng.uniform(-5, 50)
            arrays.append(pa.array(values, mask=rng.random(n) < NULL_SHARE))
        for name, cardinality in CATEGORICAL.items():
            codes = rng.integers(0, cardinality, n)
            labels = np.asarray([f"{name}_{i}" for i in range(cardinality)], dtype=object)[codes]
            arrays.append(pa.array(labels, pa.string(), mask=rng.random(n) < NULL_SHARE))
        yield pa.RecordBatch.from_arrays(arrays, names=["customer_id", "snapshot_date", *FEATURES])


def training_frame(rows: int = 20_000, *, seed: int = SEED + 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and a label that depends on them (so the model is not trivial)."""
    frame = pa.Table.from_batches(list(batches(rows, seed=seed))).to_pandas()
    x = frame[list(FEATURES)]
    logit = sum(((x[c] - x[c].mean()) / x[c].std()).fillna(0) * (0.3 if i % 2 else -0.2) for i, c in enumerate(NUMERIC))
    logit = logit + (frame["cat5"] == "cat5_1") * 0.8
    rng = np.random.default_rng(seed)
    label = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, label


TREELITE = "_treelite"  # bench_hgb_treelite: the HGB pipeline with the compiled runtime
MODELS = ("lr", "hgb")  # the benchmark's two pipelines: registered as bench_<kind>, saved as model_<kind>.joblib


def build_pipeline(kind: str = "lr"):
    """``lr``: ColumnTransformer (impute+scale, impute+one-hot) + LogisticRegression, as in
    the issue (and as ``pipelines.churn`` builds it). ``hgb``: ordinal codes for the
    categoricals + HistGradientBoostingClassifier (cat5 and cat50 as categorical features;
    cat500 has more categories than the model's 255 bins, so its codes are split on as numbers)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan)
        features = ColumnTransformer([("num", "passthrough", list(NUMERIC)), ("cat", codes, list(CATEGORICAL))])
        categorical = [len(NUMERIC), len(NUMERIC) + 1]
        model = HistGradientBoostingClassifier(max_iter=200, categorical_features=categorical, random_state=0)
        return Pipeline([("features", features), ("model", model)])
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("encode", OneHotEncoder(handle_unknown="ignore"))]
    )
    features = ColumnTransformer([("num", numeric, list(NUMERIC)), ("cat", categorical, list(CATEGORICAL))])
    return Pipeline([("features", features), ("model", LogisticRegression(max_iter=500))])


def train_and_register(models_root: Path, model_file: Path, kind: str = "lr", *, treelite: bool = False) -> int:
    """Fit the ``kind`` pipeline, register it as ``bench_<kind>`` (alias production) and save
    a joblib copy for the hand-written scripts. ``treelite``: the same fitted pipeline also as
    ``bench_<kind>_treelite``, with the compiled runtime (checked within 1e-12 at registration)."""
    import joblib

    from pipelines.registry import Registry

    x, y = training_frame()
    pipeline = build_pipeline(kind).fit(x, y)
    joblib.dump(pipeline, model_file)
    registry = Registry(models_root)
    if treelite:
        registry.register(f"bench_{kind}{TREELITE}", pipeline, training_frame=x, alias="production", runtime="treelite")
    return registry.register(f"bench_{kind}", pipeline, training_frame=x, alias="production")


def reference_scores(model_file: Path, rows: int, day: date = DAY) -> np.ndarray:
    """The pipeline's own ``predict_proba`` of the day's rows, as generated (index: customer_id - 1),
    the figure every contender's output is checked against."""
    import joblib

    model = joblib.load(model_file)
    parts = [model.predict_proba(batch.to_pandas()[list(FEATURES)])[:, 1] for batch in batches(rows, day=day)]
    return np.concatenate(parts) if parts else np.empty(0)


def load_postgres(url: str, rows: int, *, big_rows: int = 0, big_day: date | None = None) -> None:
    """(Re)create the source table on PostgreSQL, bulk-loaded with ADBC (COPY); with
    ``big_rows``, a second day (``big_day``) of that many rows."""
    import adbc_driver_postgresql.dbapi as pg

    days = [(DAY, rows)] + ([(big_day, big_rows)] if big_rows and big_day else [])
    with pg.connect(adbc_uri(url)) as conn:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
            first = True
            for day, n in days:
                for batch in batches(n, day=day):
                    cur.adbc_ingest(TABLE, batch, mode="create" if first else "append")
                    first = False
            cur.execute(f"CREATE INDEX ON {TABLE} (snapshot_date)")
            cur.execute(f"ANALYZE {TABLE}")
        conn.commit()


def load_sqlite(path: Path, rows: int) -> None:
    """The same table in SQLite, the date as ISO text (how SQLAlchemy stores a DATE there)."""
    import sqlite3

    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    cols = ["customer_id", "snapshot_date", *FEATURES]
    types = ["INTEGER", "DATE", *["FLOAT"] * len(NUMERIC), *["TEXT"] * len(CATEGORICAL)]
    con.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{c} {t}' for c, t in zip(cols, types))})")
    marks = ", ".join("?" * len(cols))
    for batch in batches(rows):
        day = batch.column(1).cast(pa.string())
        columns = [batch.column(0).to_pylist(), day.to_pylist(), *(batch.column(i).to_pylist() for i in range(2, len(cols)))]
        con.executemany(f"INSERT INTO {TABLE} VALUES ({marks})", zip(*columns))
        con.commit()
    con.execute(f"CREATE INDEX ix_{TABLE}_day ON {TABLE} (snapshot_date)")
    con.commit()
    con.close()


def write_parquet(root: Path, rows: int, day: date = DAY) -> None:
    """Hive layout: ``root/snapshot_date=D/part-0.parquet``, row groups of the generator's chunk."""
    import pyarrow.parquet as pq

    day_dir = root / f"snapshot_date={day.isoformat()}"
    day_dir.mkdir(parents=True, exist_ok=True)
    writer = None
    for batch in batches(rows, day=day):
        batch = batch.drop_columns(["snapshot_date"])
        if writer is None:
            writer = pq.ParquetWriter(day_dir / "part-0.parquet", batch.schema)
        writer.write_batch(batch)
    if writer is not None:
        writer.close()


def adbc_uri(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` -> the libpq URI ADBC takes."""
    return "postgresql://" + sqlalchemy_url.split("://", 1)[1]
