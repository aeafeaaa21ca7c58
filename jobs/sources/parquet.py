"""Parquet source: a dataset of hive directories (``date_column=D/``) or with a date column.

The day's filter is pushed down to pyarrow (partition pruning, row-group statistics); only
the wanted columns are read, as record batches of ``chunk_size``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from jobs.config import ParquetSource
from jobs.errors import SourceError, TransientError
from jobs.sources.batches import coalesce

if TYPE_CHECKING:  # pyarrow.dataset imports pandas: imported where a Parquet day is read, so
    # that `batchscore run` of a SQL day starts its read before paying for pandas
    import pyarrow.dataset as ds


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
        import pyarrow.dataset as ds

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
            yield from coalesce(scanner.to_batches(), self.chunk_size)
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
        import pyarrow.dataset as ds

        path = Path(self.config.path)
        if not path.exists():
            raise SourceError(f"Parquet path {path} does not exist", hint="check source.path")
        try:
            return ds.dataset(path, format="parquet", partitioning="hive")
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"Parquet {path} cannot be opened: {exc}", hint="check source.path") from exc

    def _day_filter(self, schema: pa.Schema, day: date) -> ds.Expression:
        """The day's rule rendered for pyarrow."""
        import pyarrow.dataset as ds

        name = self.config.date_column
        kind = schema.field(name).type if name in schema.names else None
        if kind is not None and pa.types.is_dictionary(kind):
            kind = kind.value_type
        rule = day_rule(self.config.path, name, _arrow_kind(kind), str(kind), day)
        field = ds.field(name)
        if rule.kind == TEXT:
            return field == day.isoformat()
        if rule.kind == DATE:
            return field == pa.scalar(day, kind)
        tz = timezone.utc if kind.tz else None
        start, end = rule.start.replace(tzinfo=tz), rule.end.replace(tzinfo=tz)
        return (field >= pa.scalar(start, kind)) & (field < pa.scalar(end, kind))


TEXT, DATE, TIMESTAMP = "text", "date", "timestamp"


@dataclass(frozen=True)
class DayRule:
    """Which rows of a Parquet dataset are day D: the one rule both engines render (pyarrow
    here, Spark in ``jobs.engines.spark.read``). A text column equal to D's ISO form, a date
    column equal to D, or a timestamp column in [D 00:00, D+1 00:00). A hive directory
    ``date_column=D/`` is such a column too, so the filter prunes directories."""

    column: str
    kind: str  # text | date | timestamp
    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time())

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


def day_rule(path: str, column: str, kind: str | None, found: str, day: date) -> DayRule:
    """The rule for ``column`` of kind ``kind`` (text, date, timestamp, None when the dataset
    lacks it, anything else when it is not a date); ``found`` names its type in errors."""
    if kind is None:
        raise SourceError(
            f"Parquet {path} has no {column} column nor {column}=YYYY-MM-DD directories",
            hint="fix source.date_column",
        )
    if kind not in (TEXT, DATE, TIMESTAMP):
        raise SourceError(
            f"Parquet column {column} is {found}, not a date",
            hint="use a date, timestamp or YYYY-MM-DD text column",
        )
    return DayRule(column, kind, day)


def _arrow_kind(kind: pa.DataType | None) -> str | None:
    if kind is None:
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return TEXT
    if pa.types.is_date(kind):
        return DATE
    if pa.types.is_timestamp(kind):
        return TIMESTAMP
    return "other"


def _share(dataset: ds.FileSystemDataset, day_filter: ds.Expression, k: int, n: int) -> ds.FileSystemDataset:
    """Share ``k`` of ``n`` of the day's row groups: in path order, each row group goes to the
    share with the fewest rows so far. Every reader computes the same split from the files."""
    import pyarrow.dataset as ds

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
