"""The figures the run's checks need of one chunk's column, each computed once, cheaply.

``RunMonitor.observe`` runs on every chunk of every run, in the process that scores it: the
obvious per-row forms (stringify every row of a text column, ``to_numeric`` a float column)
cost more than they need to. Each property names the per-row form whose result it gives.

``KnownCategories`` and ``ChunkColumn.unseen`` say which values an encoder would not know,
comparing them as the encoder does, on the chunk's distinct values.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from pipelines.profile import MISSING, NUMERIC, OTHER, numeric_bins

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd


class KnownCategories:
    """The categories a column's values are checked against, compared as their source does.

    An encoder's (``as_text=False``): as scikit-learn's ``OneHotEncoder``/``OrdinalEncoder``
    compare the values they are given with their ``categories_``: numbers by value, as numpy
    does (an int 1 is the category 1.0, a float32 0.1 is not the category 0.1), text by
    equality, and a number is never a text category nor text a numeric one.

    A training profile's (``as_text=True``, recorded as the text of each training value): the
    values are stringified the same way before they are compared.
    """

    def __init__(self, values: Iterable, *, as_text: bool = False) -> None:
        values = [v for v in values if not _is_missing(v)]  # nulls are the null check's
        self.as_text = as_text
        self.set = frozenset(str(v) for v in values) if as_text else frozenset(values)
        self.numeric = not as_text and bool(values) and all(_is_number(v) for v in values)
        # The numpy array a numeric column is matched against with np.isin, in the
        # categories' own dtype (int, float or bool), so numpy promotes as the encoder's does.
        self.numbers = np.asarray(values) if self.numeric else None

    def __contains__(self, value) -> bool:
        try:
            return value in self.set
        except TypeError:  # an unhashable object is no category
            return False


class ChunkColumn:
    """One chunk's column: a float column's nulls are its NaNs; text is counted on its Arrow
    data, or on its distinct values, stringified only when they are not all text already."""

    def __init__(self, series: pd.Series) -> None:
        import pandas as pd

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
        import pandas as pd

        if self._numpy_kind in ("f", "i", "u", "b"):
            return self.series.to_numpy(dtype=float)
        return pd.to_numeric(self.series, errors="coerce").to_numpy(dtype=float)

    @cached_property
    def text_counts(self) -> list[tuple[str, int]]:
        """``series.dropna().astype(str).value_counts().items()``: (text, count), most
        frequent first, ties in order of first appearance."""
        import pandas as pd

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
        elif self._all_text:
            counts = self._object_counts  # text objects are their own str
        else:
            # Other objects (1, 1.0, True) may be counted as one value yet stringify apart:
            # those are stringified first.
            counts = series.dropna().astype(str).value_counts()
        return [(v, int(n)) for v, n in zip(counts.index.tolist(), counts.to_numpy().tolist())]

    def unseen(self, known: KnownCategories) -> list[tuple[str, int]]:
        """(text, count) of the non-null values not in ``known``, most frequent first, ties in
        order of first appearance, each value named by its text: ``series.dropna()``, kept
        where no value of ``known`` equals it (see ``KnownCategories``), ``.astype(str)
        .value_counts().items()``. Equal numbers (0.0 and -0.0) are named by the first seen."""
        if known.as_text:
            return [(v, n) for v, n in self.text_counts if v not in known.set]
        numbers = self._number_counts
        if numbers is not None:
            values, counts = numbers
            if known.numeric:
                # np.isin on the distinct values: numpy's comparison, as the encoder's.
                keep = ~np.isin(values, known.numbers)
                values, counts = values[keep], counts[keep]
            # numpy's text of each value: a float32 0.1 is "0.1", as astype(str) names it.
            return [(v, int(n)) for v, n in zip(values.astype(str).tolist(), counts.tolist())]
        if self._all_text:
            return [(v, n) for v, n in self.text_counts if v not in known.set]
        # Other objects (1, 1.0, True, "1", categoricals): each row's own value decides.
        values = self.series.dropna()
        objects = values.to_numpy(dtype=object)
        seen = np.fromiter((v in known for v in objects), dtype=bool, count=len(objects))
        counts = values[~seen].astype(str).value_counts()
        return [(v, int(n)) for v, n in zip(counts.index.tolist(), counts.to_numpy().tolist())]

    @cached_property
    def _number_counts(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A numeric column's distinct non-null values (its own dtype) and their counts, in
        ``value_counts`` order; None for any other column."""
        import pandas as pd
        from pandas.api import types as ptypes

        dtype = self.series.dtype
        if self._numpy_kind in ("f", "i", "u", "b"):
            numpy_dtype = dtype
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and (
            ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype)
        ) and hasattr(dtype, "numpy_dtype"):
            numpy_dtype = dtype.numpy_dtype  # Int64, Float64, boolean: their nulls are dropped
        else:
            return None
        counts = self.series.value_counts()  # hashes the numbers; NaN and NA are dropped
        return counts.index.to_numpy(dtype=numpy_dtype), counts.to_numpy()

    @cached_property
    def _all_text(self) -> bool:
        """Every non-null value is a str (text dtypes; object columns of str)."""
        import pandas as pd

        if self._arrow is not None or isinstance(self.series.dtype, pd.StringDtype):
            return True
        if self.series.dtype != object:
            return False
        return all(type(v) is str for v in self._object_counts.index)

    @cached_property
    def _object_counts(self) -> pd.Series:
        return self.series.value_counts()


def _is_missing(value) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and bool(np.isnan(value)))


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Number, np.bool_)) and not isinstance(value, str)


def drift_counts(entry: dict, column: ChunkColumn) -> np.ndarray | Counter:
    """A chunk's counts over the training profile's bins (numeric, last bin: missing) or
    categories (unknown ones pooled as OTHER, plus MISSING)."""
    missing = column.nulls
    if entry["kind"] == NUMERIC:
        return np.append(numeric_bins(column.floats, np.asarray(entry["edges"], dtype=float)), missing)
    known = entry["shares"]
    counts: Counter = Counter()
    for value, count in column.text_counts:
        counts[value if value in known else OTHER] += count
    counts[MISSING] += missing
    return counts
