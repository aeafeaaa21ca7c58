"""A chunk's rows predicted on several threads at once, one OpenMP thread each.

scikit-learn's HistGradientBoosting predicts a chunk tree by tree, each tree a parallel loop
over the rows on every OpenMP thread, closed by a barrier: a 100-tree model meets 100 barriers
per chunk. The run's reader, its writer and the database share the same cores, and a thread
descheduled before a barrier holds the other one there. Here the chunk's rows are cut into one
contiguous slice per thread, each predicted on its own thread with OpenMP capped at one: the
threads meet once per chunk, when the slices are joined.

Each row of such a model is scored alone (its path through each tree), and the slices are
whole ``ROW_BLOCK``s (``pipelines.row_blocks``), so the scores are those of one call to the
bit. Only models whose predict is scikit-learn's OpenMP loop (``OPENMP_PREDICT``) are split:
a BLAS product or an estimator with ``n_jobs`` threads of its own is left as it is. The
figures behind it: benchmarks/RESULTS.md ("Eleventh session").
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from pipelines.delegating import Delegating
from pipelines.row_blocks import ROW_BLOCK

# Below this many rows a slice, the chunk is predicted in one call: each call has a fixed
# cost (the estimator's checks, a Python call per tree).
MIN_SLICE_ROWS = 4096


def _one_openmp_thread() -> None:
    """A pool thread's own OpenMP setting (libgomp keeps it per thread): one thread."""
    threadpool_limits(limits=1, user_api="openmp")


class RowThreads(Delegating):
    """``pipeline`` whose ``predict`` and ``predict_proba`` cut the rows into ``threads``
    slices predicted at once; anything else is the pipeline's. ``close()`` stops the threads."""

    OWN = ("pipeline", "threads", "_pool")

    def __init__(self, pipeline, threads: int) -> None:
        self.pipeline = pipeline
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="batchscore-predict", initializer=_one_openmp_thread)

    def _call(self, method: str, X) -> np.ndarray:
        edges = slice_edges(len(X), self.threads)
        call = getattr(self.pipeline, method)
        if len(edges) <= 2:
            return call(X)
        parts = self._pool.map(lambda bounds: np.asarray(call(X.iloc[bounds[0]:bounds[1]])), zip(edges[:-1], edges[1:]))
        return np.concatenate(list(parts))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> RowThreads:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def slice_edges(rows: int, threads: int) -> list[int]:
    """Where ``rows`` rows are cut into at most ``threads`` slices of whole ``ROW_BLOCK``s
    (the last one takes the rest), none under ``MIN_SLICE_ROWS``: ``[0, ..., rows]``."""
    slices = max(1, min(threads, rows // MIN_SLICE_ROWS))
    blocks = rows // ROW_BLOCK
    inner = [(blocks * i // slices) * ROW_BLOCK for i in range(1, slices)]
    return [0, *inner, rows]
