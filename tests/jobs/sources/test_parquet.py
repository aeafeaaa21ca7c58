"""The Parquet source read in shares: n readers (Spark tasks) together read the day once."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.config import ParquetSource
from jobs.sources.parquet import ParquetDaySource

DAY, OTHER = date(2026, 11, 27), date(2026, 11, 26)


def write_day(root, day: date, ids: range, row_group: int, files: int = 1) -> None:
    part = root / f"snapshot_date={day.isoformat()}"
    part.mkdir(parents=True)
    for f, chunk in enumerate(_split(list(ids), files)):
        table = pa.table({"customer_id": pa.array(chunk, pa.int64()), "x": pa.array([float(i) for i in chunk])})
        pq.write_table(table, part / f"part-{f}.parquet", row_group_size=row_group)


def _split(values: list, parts: int) -> list[list]:
    size = -(-len(values) // parts)
    return [values[i:i + size] for i in range(0, len(values), size)]


def read_ids(source: ParquetDaySource, day: date, share=None) -> list[int]:
    return [i for batch in source.iter_batches(day, share=share) for i in batch.column("customer_id").to_pylist()]


@pytest.mark.parametrize("shares", [1, 2, 3, 7])
def test_the_shares_of_a_day_are_its_rows_once_and_balanced(tmp_path, shares):
    write_day(tmp_path, DAY, range(1, 1001), row_group=100, files=3)  # 12 row groups of 100, 34 or 33 rows
    write_day(tmp_path, OTHER, range(5000, 5100), row_group=10)
    source = ParquetDaySource(ParquetSource(kind="parquet", path=str(tmp_path), date_column="snapshot_date"),
                              chunk_size=64, wanted=["customer_id", "x"])
    parts = [read_ids(source, DAY, (k, shares)) for k in range(shares)]
    assert sorted(i for part in parts for i in part) == list(range(1, 1001))
    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 100  # at most one row group apart
    assert all(len(batch) <= 64 for batch in source.iter_batches(DAY, share=(0, shares)))


def test_a_share_of_a_day_held_in_a_date_column_keeps_only_that_days_rows(tmp_path):
    table = pa.table({
        "customer_id": pa.array(range(1, 401), pa.int64()),
        "snapshot_date": pa.array([DAY if i % 2 else OTHER for i in range(1, 401)], pa.date32()),
    })
    pq.write_table(table, tmp_path / "all.parquet", row_group_size=50)
    source = ParquetDaySource(ParquetSource(kind="parquet", path=str(tmp_path), date_column="snapshot_date"),
                              chunk_size=1000, wanted=["customer_id"])
    parts = [read_ids(source, DAY, (k, 3)) for k in range(3)]
    assert sorted(i for part in parts for i in part) == list(range(1, 401, 2))
    assert all(parts)  # 8 row groups over 3 readers: none is idle
