"""The rejects table (or directory) of a job: the day's rows set aside by ``quality.on_bad_rows:
reject``, replaced by the sink together with the day's scores."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from jobs.sinks.base import Aside
from jobs.vocabulary import SQL


def rejects_aside(output, schema: pa.Schema, batches: list[pa.RecordBatch]) -> Aside:
    """The day's rejects, for the sink to replace together with its scores: table
    ``<table>_rejects`` or directory ``<path>_rejects``. ``batches`` may still grow while the
    scores are written: it is read after them. An empty list clears the day's rejects."""
    return Aside(rejects_name(output), schema, _read_later(batches))


def rejects_name(output) -> str:
    """``<table>_rejects`` or ``<path>_rejects``."""
    return f"{output.table}_rejects" if output.kind == SQL else f"{output.path.rstrip('/')}_rejects"


def _read_later(batches: list[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    yield from batches
