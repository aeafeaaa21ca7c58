"""Sinks: replace one day of scores, atomically.

``replace_day(day, schema, batches, aside)`` consumes the scored batches and makes them the
day's whole output in one step: readers see the old day or the new one, never a mix, and a
failure leaves the old day untouched. ``aside`` (the rows set aside: rejects) is replaced with
it, in the same transaction on a database. ``begin(day)`` opens the block a run's
``replace_day`` is called in: a sink may start the day's transaction there, ahead of the rows
(nothing is committed before ``replace_day``). Registered by kind in ``open_sink``.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa

from jobs.config import ParquetOutput, SqlOutput
from jobs.errors import ConfigError


@dataclass(frozen=True)
class Aside:
    """Rows kept with the day but apart from its scores: a table of the sink's database, or a
    directory, replaced together with the day. ``batches`` is iterated after the scores'."""

    name: str  # the table (sql) or the path (parquet)
    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]


class Sink(Protocol):
    def begin(self, day: date) -> AbstractContextManager[None]: ...

    def replace_day(
        self, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch], aside: Aside | None = None
    ) -> int: ...

    def describe(self) -> str: ...


def output_target(config: SqlOutput | ParquetOutput) -> str:
    """Where a job's output goes, as the ledger records it: ``sql <url> <table>`` (the URL
    without its password) or ``parquet <path>``. A run skips a day only when it already
    succeeded into the same target."""
    from jobs import db

    if config.kind == "sql":
        return f"sql {db.redact(db.parse_url(config.url))} {config.table}"
    return f"{config.kind} {config.path}"


def open_sink(config: SqlOutput | ParquetOutput) -> Sink:
    from jobs.sinks.parquet import ParquetDaySink
    from jobs.sinks.sql import SqlDaySink

    kinds = {"sql": SqlDaySink, "parquet": ParquetDaySink}
    if config.kind not in kinds:
        raise ConfigError(f"unknown output kind {config.kind!r}", hint=f"known kinds: {', '.join(kinds)}")
    return kinds[config.kind](config)
