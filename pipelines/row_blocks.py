"""Predict in blocks of whole row tiles, so a row's score never depends on its neighbours.

A dense BLAS product (``X @ coef.T`` in a linear model) computes most rows in tiles of
several rows, and a row left over at the end of an odd-sized call goes through another kernel
that may round differently in the last bit. Batch chunks and online requests have different
sizes, so without this the same row could get two scores (OpenBLAS's Haswell kernels do this
to a multiclass logistic regression: README, Online scoring). Every predict call is therefore made
on a multiple of ``ROW_BLOCK`` rows, padded with copies of the last row whose scores are
dropped. Both the batch engines and the online server call this through
``pipelines.spec.raw_predict``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

# Rows per block: a multiple of the row tile of the BLAS kernels in use (2, 4, 8 or 16), so
# that no row of a block is ever a leftover row.
ROW_BLOCK = 16
# Up to this many rows, the padding rows are appended and the whole frame predicted in one
# call (a copy of a small frame is cheaper than a second call's fixed cost); above it, the
# tail is predicted apart, so a large chunk is never copied.
COPY_MAX_ROWS = 4096


def predict_blocked(predict: Callable[[pd.DataFrame], np.ndarray], features: pd.DataFrame) -> np.ndarray:
    """``predict(features)`` row for row, computed only on multiples of ``ROW_BLOCK`` rows."""
    n = len(features)
    rest = n % ROW_BLOCK
    if rest == 0:
        return np.asarray(predict(features))
    if n <= COPY_MAX_ROWS:
        padded = np.concatenate([np.arange(n), np.full(ROW_BLOCK - rest, n - 1)])
        return np.asarray(predict(features.iloc[padded]))[:n]
    head = np.asarray(predict(features.iloc[: n - rest]))
    positions = np.concatenate([np.arange(n - rest, n), np.full(ROW_BLOCK - rest, n - 1)])
    tail = np.asarray(predict(features.iloc[positions]))[:rest]
    return np.concatenate([head, tail])
