"""Predict in blocks of whole row tiles, so a row's score never depends on its neighbours.

A dense BLAS product (``X @ coef.T`` in a linear model) computes most rows in tiles of
several rows, and the row left over at the end of an odd-sized call through another kernel
that rounds differently in the last bit. Batch chunks and online requests have different
sizes, so without this the same row could get two scores: about 1 row in 4 scored alone
differed from the same row scored in a 2000-row chunk (multiclass logistic regression,
OpenBLAS on Haswell). Every predict call is therefore made on a multiple of ``ROW_BLOCK``
rows: the rows past the last full block are predicted apart, padded with copies of the last
row, and the padding's scores are dropped. Both the batch engines and the online server call
this through ``jobs.scoring.raw_predict``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# Rows per block: a multiple of the row tile of the BLAS kernels in use (2, 4, 8 or 16), so
# that no row of a block is ever a leftover row.
ROW_BLOCK = 16


def predict_blocked(predict: Callable[[pd.DataFrame], np.ndarray], features: pd.DataFrame) -> np.ndarray:
    """``predict(features)`` row for row, computed only on multiples of ``ROW_BLOCK`` rows."""
    n = len(features)
    rest = n % ROW_BLOCK
    if rest == 0:
        return np.asarray(predict(features))
    head = np.asarray(predict(features.iloc[: n - rest])) if n > rest else None
    positions = np.concatenate([np.arange(n - rest, n), np.full(ROW_BLOCK - rest, n - 1)])
    tail = np.asarray(predict(features.iloc[positions]))[:rest]
    return tail if head is None else np.concatenate([head, tail])
