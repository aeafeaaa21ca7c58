"""A deterministic synthetic warehouse of customer snapshots, for the demo and the tests.

Customers keep their traits from day to day (plan, region, base usage...) and their features
drift smoothly (tenure grows by one a day); daily noise comes from a generator seeded by
(seed, day), so the same day always gives the same rows.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PLANS = ("basic", "standard", "premium", "family")
PLAN_PRICE = np.array([20.0, 45.0, 80.0, 110.0])
PLAN_RISK = np.array([0.4, 0.0, -0.3, -0.6])  # log-odds of churn added by each plan
REGIONS = ("north", "south", "east", "west", "central", "coast", "mountain", "islands")
PAYMENT_METHODS = ("card", "bank", "paypal", "invoice")
PAYMENT_RISK = np.array([0.0, -0.2, 0.1, 0.6])
EPOCH = date(2026, 1, 1)  # the day customer traits are anchored to
TRAINING_DAYS = 5  # days of labelled history just before the scored range

TABLE = "customer_features"
# The same snapshots with their churned label, for `batchscore train` and `evaluate`: every
# scored day and the TRAINING_DAYS before them.
LABELS_TABLE = "churn_labels"
# Column -> SQLite declared type, in table order; the Parquet schema follows the same order.
SQL_COLUMNS = {
    "customer_id": "INTEGER NOT NULL",
    "snapshot_date": "DATE NOT NULL",
    "tenure_days": "INTEGER",
    "monthly_charges": "REAL",
    "support_calls": "INTEGER",
    "data_usage_gb": "REAL",
    "late_payments": "INTEGER",
    "plan": "TEXT",
    "region": "TEXT",
    "payment_method": "TEXT",
}
PARQUET_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("tenure_days", pa.int64()),
        ("monthly_charges", pa.float64()),
        ("support_calls", pa.int64()),
        ("data_usage_gb", pa.float64()),
        ("late_payments", pa.int64()),
        ("plan", pa.string()),
        ("region", pa.string()),
        ("payment_method", pa.string()),
    ]
)


def make_customer_frame(day: date, n_customers: int, *, seed: int = 7) -> pd.DataFrame:
    """One day's snapshot of ``n_customers`` customers, with the ``churned`` label."""
    base = np.random.default_rng(seed)  # per-customer traits: the same every day
    n = n_customers
    tenure0 = base.integers(30, 3000, n)
    plan = base.integers(0, len(PLANS), n)
    region = base.integers(0, len(REGIONS), n)
    payment = base.integers(0, len(PAYMENT_METHODS), n)
    charge_offset = base.normal(0.0, 6.0, n)
    usage_rate = base.gamma(2.0, 6.0, n)
    call_rate = base.gamma(1.5, 0.8, n)
    late_base = base.poisson(0.6, n)
    phase = base.uniform(0.0, 2 * np.pi, n)

    rng = np.random.default_rng(seed * 100003 + day.toordinal())  # this day's noise
    t = (day - EPOCH).days
    tenure = np.maximum(tenure0 + t, 0).astype(np.int64)
    charges = PLAN_PRICE[plan] + charge_offset + 2.0 * np.sin(t / 30 + phase)
    charges = np.round(np.maximum(charges + rng.normal(0.0, 0.3, n), 5.0), 2)
    calls = rng.poisson(call_rate).astype(np.int64)
    usage = np.round(usage_rate * (1 + 0.2 * np.sin(t / 7 + phase)) + rng.normal(0, 0.5, n), 3)
    usage = np.where(rng.random(n) < 0.02, np.nan, np.maximum(usage, 0.0))
    late = (late_base + (rng.random(n) < 0.05)).astype(np.int64)
    region_text = np.array(REGIONS, dtype=object)[region]
    region_text[rng.random(n) < 0.01] = None

    logit = (
        -1.2
        - 0.0008 * tenure
        + 0.02 * (charges - 60.0)
        + 0.6 * calls
        + 0.8 * late
        - 0.03 * np.nan_to_num(usage, nan=10.0)
        + PLAN_RISK[plan]
        + PAYMENT_RISK[payment]
        + rng.normal(0.0, 0.5, n)
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64),
            "snapshot_date": [day] * n,
            "tenure_days": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "data_usage_gb": usage,
            "late_payments": late,
            "plan": np.array(PLANS, dtype=object)[plan],
            "region": region_text,
            "payment_method": np.array(PAYMENT_METHODS, dtype=object)[payment],
            "churned": churned,
        }
    )


@dataclass(frozen=True)
class WarehouseInfo:
    root: Path
    sqlite_path: Path  # table customer_features
    features_path: Path  # hive-partitioned Parquet: snapshot_date=YYYY-MM-DD/part-0.parquet
    training_path: Path  # labelled frame from the days before ``start``
    start: date  # first scored day
    end: date  # last scored day
    n_customers: int

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.sqlite_path}"

    def days(self) -> list[date]:
        return [self.start + timedelta(d) for d in range((self.end - self.start).days + 1)]


def build_warehouse(
    root: Path, *, end: date = date(2026, 11, 27), days: int = 30, n_customers: int = 2000
) -> WarehouseInfo:
    """Write the SQLite table, the Parquet partitions and the training frame under root/data.

    Rebuilding replaces them; other tables in warehouse.db (scores) are left alone.
    """
    data = Path(root) / "data"
    data.mkdir(parents=True, exist_ok=True)
    start = end - timedelta(days - 1)
    info = WarehouseInfo(
        root=Path(root),
        sqlite_path=data / "warehouse.db",
        features_path=data / "features",
        training_path=data / "training.parquet",
        start=start,
        end=end,
        n_customers=n_customers,
    )
    frames = [make_customer_frame(d, n_customers) for d in info.days()]
    _write_sqlite(info.sqlite_path, frames)
    _write_partitions(info.features_path, frames)
    history = [start - timedelta(k) for k in range(TRAINING_DAYS, 0, -1)]
    training = pd.concat([make_customer_frame(d, n_customers) for d in history], ignore_index=True)
    _write_labels(info.sqlite_path, [training, *frames])
    tmp = data / f".training-{uuid.uuid4().hex}.parquet"
    training.to_parquet(tmp, index=False)
    tmp.replace(info.training_path)
    return info


def _write_sqlite(path: Path, frames: list[pd.DataFrame]) -> None:
    columns = list(SQL_COLUMNS)
    ddl = ", ".join(f"{name} {kind}" for name, kind in SQL_COLUMNS.items())
    insert = f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    rows = _sql_rows(pd.concat(frames, ignore_index=True)[columns])
    connection = sqlite3.connect(path)
    try:
        with connection:  # one transaction: readers see the old table or the whole new one
            connection.execute(f"DROP TABLE IF EXISTS {TABLE}")
            key = "PRIMARY KEY (snapshot_date, customer_id)"
            connection.execute(f"CREATE TABLE {TABLE} ({ddl}, {key})")
            connection.executemany(insert, rows)
            # Indexed after the insert: building it once is faster than updating it per row.
            connection.execute(f"CREATE INDEX ix_{TABLE}_snapshot_date ON {TABLE} (snapshot_date)")
    finally:
        connection.close()


def _write_labels(path: Path, frames: list[pd.DataFrame]) -> None:
    columns = [*SQL_COLUMNS, "churned"]
    ddl = ", ".join(f"{name} {kind}" for name, kind in [*SQL_COLUMNS.items(), ("churned", "INTEGER")])
    insert = f"INSERT INTO {LABELS_TABLE} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    rows = _sql_rows(pd.concat(frames, ignore_index=True)[columns])
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(f"DROP TABLE IF EXISTS {LABELS_TABLE}")
            connection.execute(f"CREATE TABLE {LABELS_TABLE} ({ddl}, PRIMARY KEY (snapshot_date, customer_id))")
            connection.executemany(insert, rows)
    finally:
        connection.close()


def _sql_rows(frame: pd.DataFrame):
    """Rows of Python values: ISO dates, NULL for NaN and missing text."""
    values = []
    for name in frame.columns:
        column = frame[name]
        if name == "snapshot_date":
            values.append([d.isoformat() for d in column])
        elif column.hasnans:
            values.append(column.astype(object).where(column.notna(), None).tolist())
        else:
            values.append(column.tolist())
    return zip(*values, strict=True)


def _write_partitions(path: Path, frames: list[pd.DataFrame]) -> None:
    # Built beside the old dataset and swapped in, so a reader never sees a partial rebuild.
    tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    for frame in frames:
        day = frame["snapshot_date"].iloc[0]
        part = tmp / f"snapshot_date={day.isoformat()}"
        part.mkdir(parents=True)
        table = pa.Table.from_pandas(
            frame[PARQUET_SCHEMA.names], schema=PARQUET_SCHEMA, preserve_index=False
        )
        pq.write_table(table, part / "part-0.parquet")
    old = path.with_name(f".{path.name}-old-{uuid.uuid4().hex}")
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
