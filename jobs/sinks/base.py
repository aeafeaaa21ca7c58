"""What every sink is: the ``Sink`` protocol (``begin``, ``replace_day``) and ``Aside``, the
rows replaced with the day apart from its scores (rejects)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa


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
