"""A source's batches cut to the chunk size: ``rebatch`` gives chunks of exactly that many
rows, ``split`` only slices the batches that are too large."""

from __future__ import annotations

import pyarrow as pa

from jobs.sources.batches import rebatch, split


def test_rebatch_gives_chunks_of_exactly_chunk_size():
    batches = [pa.RecordBatch.from_pydict({"a": list(range(n))}) for n in (3, 0, 10, 1, 7)]
    sizes = [b.num_rows for b in rebatch(batches, 4)]
    assert sizes == [4, 4, 4, 4, 4, 1]
    values = [v for b in rebatch(batches, 4) for v in b.column(0).to_pylist()]
    assert values == [*range(3), *range(10), 0, *range(7)]


def test_split_slices_large_batches_and_passes_smaller_ones_without_copying():
    big = pa.RecordBatch.from_pydict({"a": list(range(10))})
    small = pa.RecordBatch.from_pydict({"a": [10, 11]})
    empty = pa.RecordBatch.from_pydict({"a": pa.array([], pa.int64())})
    out = list(split([big, empty, small], 4))
    assert [b.num_rows for b in out] == [4, 4, 2, 2]
    assert [v for b in out for v in b.column(0).to_pylist()] == list(range(12))
    assert out[0].column(0).buffers()[1].address == big.column(0).buffers()[1].address  # a view, not a copy
