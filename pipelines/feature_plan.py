"""The feature plan: a fitted ColumnTransformer of imputers, scalers, one-hot and ordinal
encoders (and passed-through columns), replayed with numpy and Arrow on the columns.

scikit-learn spends a few milliseconds per ``transform`` call on checks and pandas indexing,
whatever the number of rows, and converts text columns to Python objects to encode them. A
plan holds the fitted statistics (imputed values, means and scales, categories) and computes
the same matrix with the same floating-point operations (``X -= mean_``, ``X /= scale_``, an
imputed value copied, a 1.0 or a code per known category, matched as UTF-8 text by Arrow), for
the pipeline's own final estimator, which is never replaced: it gets the matrix it would have
got. ``plan_of`` builds a plan only for the steps and options it knows; ``pipelines.planned``
uses one only once it has matched scikit-learn to the bit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

NUMERIC_DTYPES = ("float64", "int64")  # the number columns a plan takes (text: str, category)


@dataclass(frozen=True)
class NumericBlock:
    """Numeric columns: imputed (``fill[j]`` where NaN), then ``(x - mean) / scale``."""

    columns: tuple[str, ...]
    fill: np.ndarray | None  # SimpleImputer.statistics_ (float64), or no imputer
    mean: np.ndarray | None  # StandardScaler.mean_ when with_mean
    scale: np.ndarray | None  # StandardScaler.scale_ when with_std


@dataclass(frozen=True)
class CategoryBlock:
    """Text columns: NaN imputed with ``fill[j]`` (optional), then one-hot over ``categories``
    (an unknown value: a row of zeros, as ``handle_unknown='ignore'``)."""

    columns: tuple[str, ...]
    fill: tuple | None
    categories: tuple[tuple[str, ...], ...]
    sparse: bool  # the encoder's sparse_output

    @functools.cached_property
    def value_sets(self) -> tuple[pa.Array, ...]:
        return tuple(pa.array(known, pa.string()) for known in self.categories)


@dataclass(frozen=True)
class CodeBlock:
    """Text columns: NaN imputed with ``fill[j]`` (optional), then each value's index among
    ``categories`` as a float (OrdinalEncoder); a value never seen: ``unknown``; a missing one:
    ``missing[j]`` (``encoded_missing_value`` if the encoder saw missing values, else
    ``unknown``)."""

    columns: tuple[str, ...]
    fill: tuple | None
    categories: tuple[tuple[str, ...], ...]
    unknown: float
    missing: tuple[float, ...]

    @functools.cached_property
    def value_sets(self) -> tuple[pa.Array, ...]:
        return tuple(pa.array(known, pa.string()) for known in self.categories)


Block = NumericBlock | CategoryBlock | CodeBlock


@dataclass(frozen=True)
class FeaturePlan:
    blocks: tuple[Block, ...]
    sparse: bool  # the ColumnTransformer's sparse_output_

    def transform(self, frame: pd.DataFrame):
        parts = [_TRANSFORMS[type(b)](frame, b) for b in self.blocks]
        if self.sparse:
            return sp.hstack(parts).tocsr()
        return np.hstack([p.toarray() if sp.issparse(p) else p for p in parts])

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for b in self.blocks for c in b.columns)


def _numeric(frame: pd.DataFrame, block: NumericBlock) -> np.ndarray:
    X = np.column_stack([frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in block.columns])
    if np.isinf(X).any():
        raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
    if block.fill is not None:
        missing = np.isnan(X)
        if missing.any():
            X[missing] = np.take(block.fill, np.nonzero(missing)[1])
    if block.mean is not None:
        X -= block.mean
    if block.scale is not None:
        X /= block.scale
    return X


def _categories(frame: pd.DataFrame, block: CategoryBlock):
    n = len(frame)
    rows, cols, offset = [], [], 0
    for j, name in enumerate(block.columns):
        values = _text(frame[name])
        if values.null_count:  # SimpleImputer(missing_values=nan): a missing value takes its fill
            if block.fill is None:
                raise ValueError("a missing value reaches the encoder: left to scikit-learn")
            values = pc.fill_null(values, block.fill[j])
        index = pc.index_in(values, value_set=block.value_sets[j]).to_numpy(zero_copy_only=False)
        hit = ~np.isnan(index) if index.dtype.kind == "f" else np.ones(n, dtype=bool)  # null: unknown
        rows.append(np.nonzero(hit)[0])
        cols.append(index[hit].astype(np.int64) + offset)
        offset += len(block.categories[j])
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(n, offset))
    return matrix if block.sparse else matrix.toarray()


def _text(series: pd.Series) -> pa.Array:
    """A text column as an Arrow string array (UTF-8 bytes compare as Python strings do)."""
    values = pa.array(series, from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"not text: {values.type}")
    return values


def _codes(frame: pd.DataFrame, block: CodeBlock) -> np.ndarray:
    out = np.empty((len(frame), len(block.columns)), dtype=np.float64)
    for j, name in enumerate(block.columns):
        values = _text(frame[name])
        if values.null_count and block.fill is not None:
            values = pc.fill_null(values, block.fill[j])
        missing = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
        index = pc.index_in(values, value_set=block.value_sets[j]).to_numpy(zero_copy_only=False)
        codes = index.astype(np.float64)  # null (unknown or missing): NaN for now
        unseen = np.isnan(codes)
        codes[unseen] = block.unknown
        if missing is not None:
            codes[missing] = block.missing[j]
        out[:, j] = codes
    return out


_TRANSFORMS = {NumericBlock: _numeric, CategoryBlock: _categories, CodeBlock: _codes}


# --- building a plan from a fitted pipeline -------------------------------------------------

def plan_of(pipeline) -> FeaturePlan | None:
    """The plan of a ``Pipeline([ColumnTransformer(...), estimator])`` whose every part it
    knows (see the module's doc), or None."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    steps = getattr(pipeline, "steps", None)
    if type(pipeline) is not Pipeline or len(steps) != 2 or type(steps[0][1]) is not ColumnTransformer:
        return None
    transformer = steps[0][1]
    if transformer.remainder != "drop" and _remainder_columns(transformer):
        return None
    blocks = []
    for name, part, columns in transformer.transformers_:
        if name == "remainder" or (isinstance(part, str) and part == "drop"):
            continue
        if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            return None
        block = _block(part, tuple(columns))
        if block is None:
            return None
        blocks.append(block)
    return FeaturePlan(tuple(blocks), bool(transformer.sparse_output_)) if blocks else None


def _remainder_columns(transformer) -> list:
    return [cols for name, _p, cols in transformer.transformers_ if name == "remainder" and len(cols)]


def _block(part, columns: tuple[str, ...]) -> Block | None:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if _identity(part):  # "passthrough": the columns as they are, stacked as numbers
        return NumericBlock(columns, None, None, None)
    steps = [s for _, s in part.steps] if type(part) is Pipeline else [part]
    imputer = steps[0] if type(steps[0]) is SimpleImputer else None
    rest = steps[1:] if imputer is not None else steps
    if imputer is not None and not _plain_imputer(imputer, len(columns)):
        return None
    if len(rest) == 1 and type(rest[0]) is OneHotEncoder:
        return _category_block(columns, imputer, rest[0])
    if len(rest) == 1 and type(rest[0]) is OrdinalEncoder:
        return _code_block(columns, imputer, rest[0])
    if len(rest) > 1 or (rest and type(rest[0]) is not StandardScaler):
        return None
    scaler = rest[0] if rest else None
    if imputer is not None and imputer.statistics_.dtype.kind != "f":
        return None
    if scaler is not None and (getattr(scaler, "n_features_in_", None) != len(columns)):
        return None
    return NumericBlock(
        columns,
        None if imputer is None else _own(imputer.statistics_),
        None if scaler is None or not scaler.with_mean else _own(scaler.mean_),
        None if scaler is None or not scaler.with_std else _own(scaler.scale_),
    )


def _own(values) -> np.ndarray:
    """The plan's own float64 copy of fitted values (read-only)."""
    out = np.array(values, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def _plain_imputer(imputer, width: int) -> bool:
    """NaN imputed with a fitted value per column; no column dropped, no indicator."""
    statistics = np.asarray(imputer.statistics_)
    missing_nan = isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)
    empty = statistics.dtype.kind == "f" and bool(np.isnan(statistics).any())
    return missing_nan and not imputer.add_indicator and len(statistics) == width and not empty


def _category_block(columns: tuple[str, ...], imputer, encoder) -> CategoryBlock | None:
    if (encoder.handle_unknown != "ignore" or encoder.drop_idx_ is not None
            or getattr(encoder, "_infrequent_enabled", False) or np.dtype(encoder.dtype) != np.float64):
        return None
    categories = []
    for known in encoder.categories_:
        if not all(type(c) is str for c in known):
            return None
        categories.append(tuple(known))
    fill = None
    if imputer is not None:
        fill = tuple(imputer.statistics_)
        if not all(type(v) is str for v in fill):
            return None
    return CategoryBlock(columns, fill, tuple(categories), bool(encoder.sparse_output))


def _identity(part) -> bool:
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(part, str):
        return part == "passthrough"
    return (type(part) is FunctionTransformer and part.func is None and part.inverse_func is None
            and part.validate is False and part.kw_args is None)


def _code_block(columns: tuple[str, ...], imputer, encoder) -> CodeBlock | None:
    if (encoder.handle_unknown != "use_encoded_value" or getattr(encoder, "_infrequent_enabled", False)
            or np.dtype(encoder.dtype) != np.float64):
        return None
    categories, missing = [], []
    for known in encoder.categories_:
        known = list(known)
        saw_missing = bool(known) and isinstance(known[-1], float) and np.isnan(known[-1])
        if saw_missing:
            known = known[:-1]
        if not all(type(c) is str for c in known):
            return None
        categories.append(tuple(known))
        missing.append(float(encoder.encoded_missing_value) if saw_missing else float(encoder.unknown_value))
    fill = None
    if imputer is not None:
        fill = tuple(imputer.statistics_)
        if not all(type(v) is str for v in fill):
            return None
    return CodeBlock(columns, fill, tuple(categories), float(encoder.unknown_value), tuple(missing))
