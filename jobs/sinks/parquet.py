"""Parquet sink: ``path/score_date=D/part-0.parquet``, written aside and renamed into place.

The day is written into a hidden staging directory next to it (``.tmp-score_date=D-<id>``,
which Parquet readers skip) and swapped in by ``swap_in``: two renames, the old day moved
aside first. The spark engine stages its files the same way and swaps them with the same
function on Hadoop's file system (``jobs.engines.spark.stage``).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.config import ParquetOutput
from jobs.errors import SinkError, TransientError
from pipelines.basics import fsync
from jobs.output import SCORE_DATE
from jobs.sinks.base import Aside

STAGING, OLD = ".tmp-", ".old-"  # prefixes of a day's hidden staging and replaced directories


class Dirs(Protocol):
    """The directory operations a day's swap needs, on some file system."""

    def exists(self, path: str) -> bool: ...
    def rename(self, source: str, target: str) -> None: ...
    def remove(self, path: str) -> None: ...  # recursively; a missing path is no error
    def names(self, path: str) -> list[str]: ...  # entries of a directory ([] if it is missing)
    def sync(self, path: str) -> None: ...  # make a directory's entries durable


class LocalDirs:
    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def rename(self, source: str, target: str) -> None:
        os.rename(source, target)

    def remove(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def names(self, path: str) -> list[str]:
        return os.listdir(path) if os.path.isdir(path) else []

    def sync(self, path: str) -> None:
        fsync(Path(path))


def day_dir(root: str, day: date) -> str:
    return posixpath.join(root, f"{SCORE_DATE}={day.isoformat()}")


def staging_dir(final: str) -> str:
    """A new hidden directory beside ``final`` to write the day into."""
    parent, name = posixpath.split(final)
    return posixpath.join(parent, f"{STAGING}{name}-{uuid.uuid4().hex}")


def clear_leftovers(dirs: Dirs, final: str, prefix: str = STAGING) -> None:
    """Remove the day's hidden directories a killed run left (we hold the day's lock)."""
    parent, name = posixpath.split(final)
    for entry in dirs.names(parent):
        if entry.startswith(f"{prefix}{name}-"):
            dirs.remove(posixpath.join(parent, entry))


def swap_in(dirs: Dirs, staging: str, final: str) -> None:
    """Make ``staging`` the day's directory. rename() cannot replace a non-empty directory:
    the old day is moved aside first. A crash between the two renames leaves the day absent
    (never partial); the old copy stays in .old-* until a later run of the day removes it."""
    parent, name = posixpath.split(final)
    old = posixpath.join(parent, f"{OLD}{name}-{uuid.uuid4().hex}")
    had_old = dirs.exists(final)
    if had_old:
        dirs.rename(final, old)
    dirs.rename(staging, final)
    dirs.sync(parent)
    clear_leftovers(dirs, final, OLD)


class ParquetDaySink:
    def __init__(self, config: ParquetOutput) -> None:
        self.config = config

    def describe(self) -> str:
        return self.config.path

    def begin(self, day: date) -> AbstractContextManager[None]:
        """Nothing to begin ahead: the day is written aside and swapped in by ``replace_day``."""
        return nullcontext()

    def replace_day(
        self, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch], aside: Aside | None = None
    ) -> int:
        """The day's directory, swapped in whole. ``aside``'s directory is swapped in just
        before it: two renames, not one transaction, so the scores' swap is the last step and
        a reader who sees the new scores sees their rejects."""
        dirs = LocalDirs()
        parts = [(day_dir(self.config.path, day), schema, batches)]
        if aside is not None:
            parts.append((day_dir(aside.name, day), aside.schema, aside.batches))
        staged, counts = [], []
        try:
            for final, part_schema, part_batches in parts:
                staging = staging_dir(final)
                clear_leftovers(dirs, final)
                staged.append((staging, final))
                os.makedirs(staging)
                counts.append(write_file(posixpath.join(staging, "part-0.parquet"), part_schema, part_batches, always=True))
                dirs.sync(staging)
            for staging, final in reversed(staged):
                swap_in(dirs, staging, final)
        except OSError as exc:
            raise TransientError(f"writing {parts[0][0]} failed: {exc}", hint="the run can be retried") from exc
        except pa.ArrowException as exc:
            raise SinkError(f"writing {parts[0][0]} failed: {exc}") from exc
        finally:
            for staging, _ in staged:
                dirs.remove(staging)
        return counts[0]


def write_file(path: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, always: bool = False) -> int:
    """Write scored batches into one Parquet file of a day's directory; returns the rows.
    score_date lives in the directory name, as hive readers expect. Without ``always``, no
    batches means no file."""
    file_schema = schema.remove(schema.get_field_index(SCORE_DATE))
    rows, writer = 0, None
    try:
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(path, file_schema)
            writer.write_batch(batch.drop_columns([SCORE_DATE]))
            rows += batch.num_rows
        if writer is None and always:
            writer = pq.ParquetWriter(path, file_schema)
    finally:
        if writer is not None:
            writer.close()
    return rows
