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
        return self._dataset().schema.names

    def iter_batches(self, day: date) -> Iterator[pa.RecordBatch]:
        dataset = self._dataset()
        present = [name for name in self.wanted if name in dataset.schema.names]
        scanner = dataset.scanner(
            columns=present, filter=self._day_filter(dataset.schema, day), batch_size=self.chunk_size,
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
