"""A source's batches cut to the chunk size: ``coalesce`` slices large batches and merges
small ones while they fit, ``split`` only slices the batches that are too large."""

from __future__ import annotations

import pyarrow as pa

from jobs.sources.batches import coalesce, split


def test_coalesce_merges_small_batches_while_they_fit_and_slices_large_ones_without_copying():
    batches = [pa.RecordBatch.from_pydict({"a": list(range(n))}) for n in (1, 2, 0, 10, 1, 1, 7)]
    out = list(coalesce(batches, 4))
    assert [b.num_rows for b in out] == [3, 4, 4, 4, 4, 3]  # 1+2 | 10 as 4, 4, 2+1+1 | 7 as 4, 3
    assert [v for b in out for v in b.column(0).to_pylist()] == [0, 0, 1, *range(10), 0, 0, *range(7)]
    assert all(b.num_rows <= 4 for b in out)
    big = batches[3]
    assert out[1].column(0).buffers()[1].address == big.column(0).buffers()[1].address  # a view, not a copy
    assert list(coalesce([], 4)) == []


def test_split_slices_large_batches_and_passes_smaller_ones_without_copying():
    big = pa.RecordBatch.from_pydict({"a": list(range(10))})
    small = pa.RecordBatch.from_pydict({"a": [10, 11]})
    empty = pa.RecordBatch.from_pydict({"a": pa.array([], pa.int64())})
    out = list(split([big, empty, small], 4))
    assert [b.num_rows for b in out] == [4, 4, 2, 2]
    assert [v for b in out for v in b.column(0).to_pylist()] == list(range(12))
    assert out[0].column(0).buffers()[1].address == big.column(0).buffers()[1].address  # a view, not a copy
