"""Sinks: replace one day of scores, atomically.

``replace_day(day, schema, batches, asides)`` consumes the scored batches and makes them the
day's whole output in one step: readers see the old day or the new one, never a mix, and a
failure leaves the old day untouched. ``asides`` (the rows set aside: rejects; the shadow
models' scores) are replaced with it, in the same transaction on a database. ``begin(day)`` opens the block a run's
``replace_day`` is called in: a sink may start the day's transaction there, ahead of the rows
(nothing is committed before ``replace_day``). Registered by kind in ``SINKS``.
"""

from __future__ import annotations

from jobs import db
from jobs.config import ParquetOutput, SqlOutput
from jobs.errors import ConfigError
from jobs.sinks.base import Aside, Sink
from jobs.sinks.parquet import ParquetDaySink
from jobs.sinks.sql import SqlDaySink
from jobs.vocabulary import PARQUET, SQL

__all__ = ["Aside", "Sink", "open_sink", "output_target"]

SINKS = {SQL: SqlDaySink, PARQUET: ParquetDaySink}


def output_target(config: SqlOutput | ParquetOutput) -> str:
    """Where a job's output goes, as the ledger records it: ``sql <url> <table>`` (the URL
    without its password) or ``parquet <path>``. A run skips a day only when it already
    succeeded into the same target."""
    if config.kind == SQL:
        return f"sql {db.redact(db.parse_url(config.url))} {config.table}"
    return f"{config.kind} {config.path}"


def open_sink(config: SqlOutput | ParquetOutput) -> Sink:
    if config.kind not in SINKS:
        raise ConfigError(f"unknown output kind {config.kind!r}", hint=f"known kinds: {', '.join(SINKS)}")
    return SINKS[config.kind](config)
