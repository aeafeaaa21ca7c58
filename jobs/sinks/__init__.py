"""Sinks: replace one day of scores, atomically.

``replace_day(day, schema, batches, aside)`` consumes the scored batches and makes them the
day's whole output in one step: readers see the old day or the new one, never a mix, and a
failure leaves the old day untouched. ``aside`` (the rows set aside: rejects) is replaced with
it, in the same transaction on a database. ``begin(day)`` opens the block a run's
``replace_day`` is called in: a sink may start the day's transaction there, ahead of the rows
(nothing is committed before ``replace_day``). Registered by kind in ``SINKS``.
"""

from __future__ import annotations

from jobs.config import ParquetOutput, SqlOutput
from jobs.errors import ConfigError
from jobs.sinks.base import Aside, Sink
from jobs.sinks.parquet import ParquetDaySink
from jobs.sinks.sql import SqlDaySink
from jobs.vocabulary import PARQUET, SQL

__all__ = ["Aside", "Sink", "open_sink"]

SINKS = {SQL: SqlDaySink, PARQUET: ParquetDaySink}


def open_sink(config: SqlOutput | ParquetOutput) -> Sink:
    if config.kind not in SINKS:
        raise ConfigError(f"unknown output kind {config.kind!r}", hint=f"known kinds: {', '.join(SINKS)}")
    return SINKS[config.kind](config)
