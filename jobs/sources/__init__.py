"""Sources: one day's input rows as a stream of Arrow record batches.

A source is a small class registered by kind in ``SOURCES``; ``open_source`` builds one from
its config. ``iter_batches(day)`` yields batches of at most ``chunk_size`` rows and never
holds the whole day; ``columns()`` names what is available without reading rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pyarrow as pa

from jobs.config import ParquetSource, SqlSource
from jobs.errors import ConfigError
from jobs.sources.parquet import ParquetDaySource
from jobs.sources.sql import SqlDaySource
from jobs.vocabulary import PARQUET, SQL


class Source(Protocol):
    def columns(self) -> list[str]: ...

    def iter_batches(self, day) -> Iterator[pa.RecordBatch]: ...

    def describe(self) -> str: ...


SOURCES = {SQL: SqlDaySource, PARQUET: ParquetDaySource}


def open_source(
    config: SqlSource | ParquetSource, *, chunk_size: int, wanted: Sequence[str]
) -> Source:
    """The source for ``config``; ``wanted`` are the columns the job needs (others are skipped)."""
    if config.kind not in SOURCES:
        raise ConfigError(f"unknown source kind {config.kind!r}", hint=f"known kinds: {', '.join(SOURCES)}")
    return SOURCES[config.kind](config, chunk_size=chunk_size, wanted=list(wanted))
