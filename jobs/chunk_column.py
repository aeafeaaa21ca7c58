"""The figures the run's checks need of one chunk's column, each computed once, cheaply.

``RunMonitor.observe`` runs on every chunk of every run, in the process that scores it: the
obvious per-row forms (stringify every row of a text column, ``to_numeric`` a float column)
cost more than they need to. Each property names the per-row form whose result it gives.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa


class ChunkColumn:
    """One chunk's column: a float column's nulls are its NaNs; text is counted on its Arrow
    data, or on its distinct values, stringified only when they are not all text already."""

    def __init__(self, series: pd.Series) -> None:
        self.series = series
        dtype = series.dtype
        self._numpy_kind = dtype.kind if isinstance(dtype, np.dtype) else None
        # pandas' default text columns hold Arrow data: read it directly, without a copy.
        arrow = isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
        self._arrow = pa.array(series.array) if arrow else None

    @cached_property
    def nulls(self) -> int:
        """``series.isna().sum()``."""
        if self._arrow is not None:
            return self._arrow.null_count
        if self._numpy_kind == "f":
            return int(np.count_nonzero(np.isnan(self.series.to_numpy())))
        if self._numpy_kind in ("i", "u", "b"):
            return 0  # numpy integers and booleans cannot be missing
        return int(self.series.isna().sum())

    @cached_property
    def floats(self) -> np.ndarray:
        """``pd.to_numeric(series, errors="coerce")`` as a float array."""
        if self._numpy_kind in ("f", "i", "u", "b"):
            return self.series.to_numpy(dtype=float)
        return pd.to_numeric(self.series, errors="coerce").to_numpy(dtype=float)

    @cached_property
    def text_counts(self) -> list[tuple[str, int]]:
        """``series.dropna().astype(str).value_counts().items()``: (text, count), most
        frequent first, ties in order of first appearance."""
        if self._arrow is not None:
            counted = self._arrow.value_counts()  # in order of first appearance
            valid = counted.field(0).is_valid()
            values = counted.field(0).filter(valid).to_pylist()
            counts = counted.field(1).filter(valid).to_numpy()
            order = np.argsort(-counts, kind="stable")  # value_counts' order
            return [(values[i], int(counts[i])) for i in order]
        series = self.series
        if isinstance(series.dtype, pd.StringDtype):
            counts = series.value_counts()
        else:
            counts = series.value_counts() if series.dtype == object else None
            # Text objects are their own str; other objects (1, 1.0, True) may be counted as
            # one value yet stringify apart: those are stringified first.
            if counts is None or not all(type(v) is str for v in counts.index):
                counts = series.dropna().astype(str).value_counts()
        return [(v, int(n)) for v, n in zip(counts.index.tolist(), counts.to_numpy().tolist())]
