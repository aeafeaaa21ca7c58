"""Reshaping a stream of Arrow batches to the job's chunk size, bounded in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa


def coalesce(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of at most ``size`` rows: larger ones are sliced (views, no copy), and
    consecutive smaller ones merged while they fit in ``size``.

    Small files or row groups would otherwise mean many tiny predict calls. A large batch is
    never copied: Parquet's decoded batches are slices of a whole row group, and a copy that
    kept a slice of one row group with the next (exactly ``size`` rows per chunk, as this did
    before) held two decoded row groups at once; the run's peak RSS on the benchmark's day
    followed the row group size, not ``chunk_size`` (benchmarks/RESULTS.md, issue 16).
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        for start in range(0, batch.num_rows, size):
            piece = batch.slice(start, size)
            if rows + piece.num_rows > size:
                yield _one_batch(pending)
                pending, rows = [], 0
            pending.append(piece)
            rows += piece.num_rows
    if rows:
        yield _one_batch(pending)


def split(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of at most ``size`` rows without copying: larger ones are sliced, the others
    pass as they come.

    For drivers that already send large batches (ADBC: about 16 MB each). Merging them up to
    exactly ``size`` (as Parquet's chunks once were) copies every chunk once more, and on the
    benchmark's PostgreSQL day that raised the run's peak RSS by about 130 MiB.
    """
    for batch in batches:
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)


def _one_batch(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
