"""Parquet source: a dataset of hive directories (``date_column=D/``) or with a date column.

The day's filter is pushed down to pyarrow (partition pruning, row-group statistics); only
the wanted columns are read, as record batches of ``chunk_size``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from jobs.config import ParquetSource
from jobs.errors import SourceError, TransientError
from jobs.sources import rebatch


class ParquetDaySource:
    def __init__(self, config: ParquetSource, *, chunk_size: int, wanted: list[str]) -> None:
        self.config = config
        self.chunk_size = chunk_size
        self.wanted = wanted

    def describe(self) -> str:
        return self.config.path

    def columns(self) -> list[str]:
        return self.schema().names

    def schema(self) -> pa.Schema:
        """The dataset's columns and their Arrow types (hive partition columns included)."""
        return self._dataset().schema

    def iter_batches(self, day: date, share: tuple[int, int] | None = None) -> Iterator[pa.RecordBatch]:
        """The day's rows; with ``share=(k, n)`` only the k-th of n shares of its row groups
        (balanced by rows), so that n readers (Spark tasks) read the day together."""
        dataset = self._dataset()
        present = [name for name in self.wanted if name in dataset.schema.names]
        day_filter = self._day_filter(dataset.schema, day)
        if share is not None:
            dataset = _share(dataset, day_filter, *share)
        scanner = dataset.scanner(
            columns=present, filter=day_filter, batch_size=self.chunk_size,
            # Read one row group at a time: pyarrow's defaults read ahead many batches and
            # pre-buffer whole files, which makes memory follow the file, not chunk_size.
            batch_readahead=1, fragment_readahead=1,
            fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
        )
        try:
            yield from rebatch(scanner.to_batches(), self.chunk_size)
        except OSError as exc:
            raise TransientError(
                f"reading Parquet {self.config.path} failed: {exc}", hint="the run can be retried"
            ) from exc
        except pa.ArrowInvalid as exc:
            raise SourceError(
                f"Parquet {self.config.path} cannot be read: {exc}",
                hint="check that every file of the day has the same schema",
            ) from exc

    def _dataset(self) -> ds.Dataset:
        path = Path(self.config.path)
        if not path.exists():
            raise SourceError(f"Parquet path {path} does not exist", hint="check source.path")
        try:
            return ds.dataset(path, format="parquet", partitioning="hive")
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"Parquet {path} cannot be opened: {exc}", hint="check source.path") from exc

    def _day_filter(self, schema: pa.Schema, day: date) -> ds.Expression:
        name = self.config.date_column
        if name not in schema.names:
            raise SourceError(
                f"Parquet {self.config.path} has no {name} column nor {name}=YYYY-MM-DD directories",
                hint="fix source.date_column",
            )
        kind = schema.field(name).type
        field = ds.field(name)
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return field == day.isoformat()
        if pa.types.is_date(kind):
            return field == pa.scalar(day, kind)
        if pa.types.is_timestamp(kind):
            tz = timezone.utc if kind.tz else None
            start = datetime.combine(day, time(), tz)
            return (field >= pa.scalar(start, kind)) & (field < pa.scalar(start + timedelta(days=1), kind))
        raise SourceError(
            f"Parquet column {name} is {kind}, not a date",
            hint="use a date, timestamp or YYYY-MM-DD text column",
        )


def _share(dataset: ds.FileSystemDataset, day_filter: ds.Expression, k: int, n: int) -> ds.FileSystemDataset:
    """Share ``k`` of ``n`` of the day's row groups: in path order, each row group goes to the
    share with the fewest rows so far. Every reader computes the same split from the files."""
    pieces = [
        piece
        for fragment in sorted(dataset.get_fragments(filter=day_filter), key=lambda f: f.path)
        for piece in fragment.split_by_row_group(filter=day_filter, schema=dataset.schema)
    ]
    rows, mine = [0] * n, []
    for piece in pieces:
        smallest = rows.index(min(rows))
        rows[smallest] += sum(group.num_rows for group in piece.row_groups)
        if smallest == k:
            mine.append(piece)
    return ds.FileSystemDataset(mine, dataset.schema, dataset.format, dataset.filesystem)
