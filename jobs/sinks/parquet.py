"""Parquet sink: ``path/score_date=D/part-0.parquet``, written aside and swapped into place.

The day is written into a hidden staging directory next to it (``.tmp-score_date=D-<id>``,
which Parquet readers skip) and swapped in by ``swap_in``. On a Linux local file system the
staging directory and the old day are exchanged in one step (``renameat2`` with
``RENAME_EXCHANGE``), so at every instant a reader sees the whole old day or the whole new
one; a first day is one plain rename. Where the file system refuses the exchange (network
and Hadoop file systems, other kernels) the old day is renamed aside first, then the new one
in: a crash between the two leaves the day absent (never partial), and the next run of the
day puts the aside copy back before anything else (``restore_day``). The spark engine
stages its files the same way and swaps them with the same function on Hadoop's file system
(``jobs.engines.spark.stage``).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import os
import platform
import posixpath
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
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
from jobs.faults import BEFORE_COMMIT, pause_point
from jobs.sinks.base import Aside, shadow_name
from jobs.sinks.rejects import rejects_name

log = logging.getLogger(__name__)

STAGING, OLD = ".tmp-", ".old-"  # prefixes of a day's hidden staging and replaced directories


class Dirs(Protocol):
    """The directory operations a day's swap needs, on some file system."""

    def exists(self, path: str) -> bool: ...
    def rename(self, source: str, target: str) -> None: ...
    def remove(self, path: str) -> None: ...  # recursively; a missing path is no error
    def names(self, path: str) -> list[str]: ...  # entries of a directory ([] if it is missing)
    def makedirs(self, path: str) -> None: ...  # a directory and its missing parents
    def sync(self, path: str) -> None: ...  # make a directory's entries durable
    def exchange(self, a: str, b: str) -> bool: ...  # swap two paths in one step; False: cannot here


class LocalDirs:
    """The local file system. ``exchange=False`` forces the two-rename swap (tests of the
    path network file systems take)."""

    def __init__(self, exchange: bool = True) -> None:
        self._exchange = exchange

    def exchange(self, a: str, b: str) -> bool:
        return self._exchange and exchange_paths(a, b)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def rename(self, source: str, target: str) -> None:
        os.rename(source, target)

    def remove(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def names(self, path: str) -> list[str]:
        return os.listdir(path) if os.path.isdir(path) else []

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def sync(self, path: str) -> None:
        fsync(Path(path))


RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}  # for a libc without the renameat2 wrapper
_REFUSED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def exchange_paths(a: str, b: str) -> bool:
    """Exchange two existing paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``). False
    when this kernel or file system cannot (the caller falls back to two renames); other
    failures raise ``OSError``."""
    call = renameat2_call()
    if call is None:
        return False
    if call(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _REFUSED:
        return False
    raise OSError(code, os.strerror(code), a, None, b)


@functools.cache
def renameat2_call():
    """The kernel's ``renameat2`` as a callable (libc's wrapper, else the raw syscall), or
    None where there is none; the one seam a test replaces to play a refusing file system."""
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if hasattr(libc, "renameat2"):
        return libc.renameat2
    number = _SYS_RENAMEAT2.get(platform.machine())
    if number is None:
        return None
    return lambda *args: libc.syscall(number, *args)


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


def aside_dir(final: str) -> str:
    """A new hidden name for the old day; names sort by the time they were made."""
    parent, name = posixpath.split(final)
    return posixpath.join(parent, f"{OLD}{name}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}")


def swap_in(dirs: Dirs, staging: str, final: str) -> None:
    """Make ``staging`` the day's directory, in one step where the file system can: the old
    day and ``staging`` are exchanged, then the old day (now at ``staging``) is removed; a
    first day is one rename. Elsewhere two renames (rename() cannot replace a non-empty
    directory): the old day aside, then the new one in. A crash between them leaves the day
    absent, never partial, until ``restore_day`` puts the aside copy back."""
    pause_point(BEFORE_COMMIT)
    parent, _ = posixpath.split(final)
    if not dirs.exists(final):
        dirs.rename(staging, final)
    elif dirs.exchange(staging, final):
        dirs.sync(parent)
        dirs.remove(staging)  # the old day; a crash before this leaves it to clear_leftovers
    else:
        dirs.rename(final, aside_dir(final))
        dirs.rename(staging, final)
    dirs.sync(parent)
    clear_leftovers(dirs, final, OLD)


def prepare_days(dirs: Dirs, finals: Sequence[str]) -> list[str]:
    """An empty staging directory for each day of ``finals``, after putting back a day a killed
    swap left absent and clearing a killed run's leftovers (the caller holds the day's lock)."""
    for final in finals:
        restore_day(dirs, final)
        clear_leftovers(dirs, final)
    stagings = [staging_dir(final) for final in finals]
    for staging in stagings:
        dirs.makedirs(staging)
    return stagings


def restore_day(dirs: Dirs, final: str) -> bool:
    """Put back a day a crash left absent between ``swap_in``'s two renames: the newest
    aside copy becomes the day again. Every run of a day calls this first, under the day's
    lock. True when it restored one."""
    if dirs.exists(final):
        return False
    parent, name = posixpath.split(final)
    asides = sorted(e for e in dirs.names(parent) if e.startswith(f"{OLD}{name}-"))
    if not asides:
        return False
    dirs.rename(posixpath.join(parent, asides[-1]), final)
    dirs.sync(parent)
    log.warning("%s was absent (a run died while swapping it): restored the previous day from %s", final, asides[-1])
    return True


class ParquetDaySink:
    def __init__(self, config: ParquetOutput) -> None:
        self.config = config

    def describe(self) -> str:
        return self.config.path

    def recover(self, day: date) -> None:
        """Put back the day (and its rejects' and shadow scores' days) a crash left absent
        between the two renames of a swap (``restore_day``). Called under the day's lock."""
        dirs = LocalDirs()
        try:
            for root in (self.config.path, rejects_name(self.config), shadow_name(self.config)):
                restore_day(dirs, day_dir(root, day))
        except OSError as exc:
            raise TransientError(f"restoring {day_dir(self.config.path, day)} failed: {exc}", hint="the run can be retried") from exc

    def begin(self, day: date) -> AbstractContextManager[None]:
        """Before anything else, ``recover``. Nothing else begins ahead: the day is written
        aside and swapped in by ``replace_day``."""
        self.recover(day)
        return nullcontext()

    def replace_day(
        self, day: date, schema: pa.Schema, batches: Iterable[pa.RecordBatch], asides: Sequence[Aside] = ()
    ) -> int:
        """The day's directory, swapped in whole. Each aside's directory is swapped in just
        before it: renames, not one transaction, so the scores' swap is the last step and a
        reader who sees the new scores sees their rejects and shadow scores."""
        dirs = LocalDirs()
        parts = [(day_dir(self.config.path, day), schema, batches)]
        parts += [(day_dir(aside.name, day), aside.schema, aside.batches) for aside in asides]
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
