"""What a pipeline was trained on, per feature: recorded at registration, compared at scoring.

``profile_frame`` summarises a training frame (numeric: range, decile bins and their shares;
categorical: category shares); ``fitted_categories`` reads the categories a fitted pipeline's
encoders know (``OneHotEncoder``/``OrdinalEncoder`` inside a ``ColumnTransformer``), which is
what "unseen" means for the model even when no training frame was registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

NUMERIC, CATEGORICAL = "numeric", "categorical"
NUMERIC_BINS = 10  # decile bins of the training values: each holds ~10% of the training rows
MAX_CATEGORIES = 50  # category shares kept per column; rarer ones are pooled as OTHER
MAX_KNOWN = 1000  # categories listed per column for the unseen check; more: an id, not a category
OTHER = "(other)"
MISSING = "(missing)"


def kind_of(series: pd.Series) -> str:
    from pandas.api import types as ptypes

    dtype = series.dtype
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype):
        return NUMERIC
    return CATEGORICAL


def numeric_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (len(edges) + 1 bins, open at both ends) of the non-NaN ``values``:
    bin k holds the values in (edges[k-1], edges[k]]."""
    if len(edges) > NUMERIC_BINS or np.isnan(edges).any():
        values = values[~np.isnan(values)]
        return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    # A few edges (a profile's): one comparison per edge is several times cheaper than a
    # binary search per value. NaN compares false, so it falls in no bin.
    at_most = [np.count_nonzero(values <= edge) for edge in edges]
    valid = values.size - np.count_nonzero(np.isnan(values))
    return np.diff(np.array([0, *at_most, valid], dtype=np.int64))


def profile_frame(frame: pd.DataFrame, names: list[str]) -> dict:
    """Per-feature training profile, as plain JSON data."""
    import pandas as pd

    profile = {}
    for name in names:
        series = frame[name]
        n = len(series)
        nulls = int(series.isna().sum())
        entry: dict = {"null_fraction": nulls / n if n else 0.0}
        if kind_of(series) == NUMERIC:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            qs = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
            edges = np.unique(np.quantile(finite, qs)) if finite.size else np.array([])
            counts = numeric_bins(values, edges)
            entry.update(
                kind=NUMERIC,
                min=float(finite.min()) if finite.size else None,
                max=float(finite.max()) if finite.size else None,
                edges=edges.tolist(),
                shares=(counts / n).tolist() if n else [],
                missing_share=nulls / n if n else 0.0,
            )
        else:
            counts = series.dropna().astype(str).value_counts()
            top = counts.iloc[:MAX_CATEGORIES]
            shares = {str(k): int(v) / n for k, v in top.items()}
            rest = int(counts.iloc[MAX_CATEGORIES:].sum())
            if rest:
                shares[OTHER] = rest / n
            entry.update(kind=CATEGORICAL, shares=shares)
            if len(counts) <= MAX_KNOWN:
                entry["categories"] = sorted(str(k) for k in counts.index)
        profile[name] = entry
    return profile


def fitted_categories(pipeline) -> dict[str, list]:
    """Column -> categories its encoder was fitted on (missing ones left out), for every
    encoder we can map to columns. Kept as the encoder holds them (str, int, float, bool), so
    that values are compared with them as the encoder compares them, not by their text."""
    from pipelines.planned import unplanned

    found: dict[str, list[str]] = {}
    for transformer, columns in _column_transformers(unplanned(pipeline)):
        encoder = _last_encoder(transformer)
        if encoder is None or not all(isinstance(c, str) for c in columns):
            continue
        categories = getattr(encoder, "categories_", None)
        if categories is None or len(categories) != len(columns):
            continue  # columns were reshaped before the encoder: cannot say which is which
        for column, values in zip(columns, categories, strict=True):
            found[column] = [v for v in values.tolist() if not _is_missing(v)]
    return found


def _column_transformers(estimator):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            yield from _column_transformers(step)
    elif isinstance(estimator, ColumnTransformer):
        for _, transformer, columns in getattr(estimator, "transformers_", []):
            if isinstance(columns, str):
                columns = [columns]
            if isinstance(columns, (list, tuple)):
                yield transformer, list(columns)


def _last_encoder(transformer):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    steps = [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    encoders = [s for s in steps if isinstance(s, (OneHotEncoder, OrdinalEncoder))]
    return encoders[-1] if encoders else None


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
