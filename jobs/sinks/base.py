"""What every sink is: the ``Sink`` protocol (``begin``, ``replace_day``) and ``Aside``, the
rows replaced with the day apart from its scores (rejects, shadow scores), and where the
shadow scores go (``shadow_name``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa

from jobs.vocabulary import SQL

SHADOW_SUFFIX = "_shadow"  # <table>_shadow, <path>_shadow: the shadow versions' scores


def shadow_name(output) -> str:
    """The table (sql) or directory (parquet) of ``output``'s shadow scores (jobs.shadow)."""
    return output.table + SHADOW_SUFFIX if output.kind == SQL else output.path.rstrip("/") + SHADOW_SUFFIX


@dataclass(frozen=True)
class Aside:
    """Rows kept with the day but apart from its scores (rejects, shadow scores): a table of
    the sink's database, or a directory, replaced together with the day. ``batches`` is
    iterated after the scores', asides in order."""

    name: str  # the table (sql) or the path (parquet)
    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]


class Sink(Protocol):
    def begin(self, day: date) -> AbstractContextManager[None]: ...

    def recover(self, day: date) -> None: ...  # undo what a crashed run of the day left half-done

    def replace_day(
        self, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch], asides: Sequence[Aside] = ()
    ) -> int: ...

    def describe(self) -> str: ...
