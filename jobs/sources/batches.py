"""Reshaping a stream of Arrow batches to the job's chunk size, bounded in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``size`` rows (the last one smaller), from batches of any size.

    Small files or row groups would otherwise mean many tiny predict calls; a batch larger
    than ``size`` is split so memory stays bounded by the chunk size.
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending)
            head = table.slice(0, size).combine_chunks().to_batches()
            yield _one_batch(head, table.schema)
            tail = table.slice(size)
            pending = tail.combine_chunks().to_batches() if tail.num_rows else []
            rows = tail.num_rows
    if rows:
        table = pa.Table.from_batches(pending).combine_chunks()
        yield _one_batch(table.to_batches(), table.schema)


def split(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of at most ``size`` rows without copying: larger ones are sliced, the others
    pass as they come.

    For drivers that already send large batches (ADBC: about 16 MB each). Merging them up to
    exactly ``size`` (``rebatch``) copies every chunk once more, and on the benchmark's
    PostgreSQL day that raised the run's peak RSS by about 130 MiB.
    """
    for batch in batches:
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)


def _one_batch(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()[0]
