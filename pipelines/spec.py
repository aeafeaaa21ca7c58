"""A model's spec: its feature schema and task, how a chunk is conformed to that schema (casts,
the columns it needs) and how it is predicted. Pure: no I/O.

The registry records a spec with every version; the engines, ``validate`` and the online
path conform and predict through these functions, so the same rows give the same scores to
the last bit whichever way a job runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.errors import ScoringError, SchemaMismatch
from pipelines.row_blocks import predict_blocked

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"

@dataclass(frozen=True)
class Feature:
    """One input column of a pipeline: its name and the pandas dtype it was fitted on."""

    name: str
    dtype: str | None = None  # None: the registry was not given a training frame


@dataclass(frozen=True)
class ModelSpec:
    """What scoring needs to know about a model version, as plain data."""

    name: str
    version: int
    task: str  # binary | multiclass | regression
    features: tuple[Feature, ...]
    classes: tuple | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


def task_of(pipeline) -> tuple[str, tuple | None]:
    """binary, multiclass or regression, and the classes of a classifier."""
    classes = getattr(pipeline, "classes_", None)
    if classes is None or not hasattr(pipeline, "predict_proba"):
        return REGRESSION, None
    classes = tuple(c.item() if isinstance(c, np.generic) else c for c in classes)
    return (BINARY if len(classes) == 2 else MULTICLASS), classes


def positive_index(spec: ModelSpec, positive_class) -> int:
    """Column of predict_proba that is P(positive class); default classes_[1]."""
    if positive_class is None:
        return 1
    for i, cls in enumerate(spec.classes or ()):
        if cls == positive_class or str(cls) == str(positive_class):
            return i
    raise SchemaMismatch(
        f"positive_class {positive_class!r} is not a class of {spec.name} v{spec.version}",
        hint=f"its classes are {', '.join(map(str, spec.classes or ()))}; fix output.positive_class",
    )


# --- conforming input --------------------------------------------------------------------

def check_columns(columns: Sequence[str], spec: ModelSpec, also: Sequence[str] = ()) -> None:
    """Every feature of the model and every column in ``also`` (ids, passthrough) is present."""
    present = set(columns)
    missing = [name for name in spec.feature_names if name not in present]
    missing += [name for name in also if name not in present and name not in missing]
    if missing:
        raise SchemaMismatch(
            f"the input lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"the job and its pipeline {spec.name} v{spec.version} need them",
            hint="add them to the source or the query, or retrain the pipeline without them",
        )


def conform(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The feature columns of ``frame``, in the model's order, cast to its training dtypes.

    Castable types are cast (an integer column to float, decimals to float, text to a
    categorical); anything else is a ``SchemaMismatch`` naming every offending column.
    """
    import pandas as pd

    check_columns(frame.columns, spec)
    out = {}
    wrong = []
    cast_any = False
    for feature in spec.features:
        series = frame[feature.name]
        if feature.dtype is None or str(series.dtype) == feature.dtype:
            out[feature.name] = series
            continue
        cast = _cast(series, feature.dtype)
        cast_any = True
        if cast is None:
            wrong.append(f"{feature.name} is {_describe(series)}, expected {feature.dtype}")
        else:
            out[feature.name] = cast
    if wrong:
        raise SchemaMismatch(
            f"wrong column type{'s' if len(wrong) > 1 else ''}: {'; '.join(wrong)} "
            f"(pipeline {spec.name} v{spec.version})",
            hint="cast the column in the source or the query, or retrain on the new type",
        )
    if not cast_any and list(frame.columns) == list(out):
        return frame  # nothing cast: no copy of the chunk's features
    return pd.DataFrame(out, index=frame.index)


def _kind(series: pd.Series) -> str:
    """numeric | bool | text | datetime | empty | other — what the values really are."""
    import pandas as pd
    from pandas.api import types as ptypes

    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        return "bool"
    if ptypes.is_numeric_dtype(dtype):
        return "empty" if series.isna().all() else "numeric"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "text"
    if ptypes.is_string_dtype(dtype) and not ptypes.is_object_dtype(dtype):
        return "text"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {
        "string": "text",
        "empty": "empty",
        "integer": "numeric",
        "floating": "numeric",
        "mixed-integer-float": "numeric",
        "decimal": "numeric",
        "boolean": "bool",
        "date": "datetime",
        "datetime": "datetime",
        "datetime64": "datetime",
    }.get(inferred, "other")


def _describe(series: pd.Series) -> str:
    kind = _kind(series)
    return f"{series.dtype}" if kind in ("numeric", "bool", "other") else f"{kind} ({series.dtype})"


def _cast(series: pd.Series, expected: str) -> pd.Series | None:
    import pandas as pd
    from pandas.api import types as ptypes

    kind = _kind(series)
    try:
        target = pd.api.types.pandas_dtype(expected)
    except TypeError:
        target = None
    if expected in ("object", "str", "string") or (
        target is not None and ptypes.is_string_dtype(target)
    ):
        if kind not in ("text", "empty"):
            return None
        if expected == "object":
            # Text as a model fitted on object columns saw it: str values, None when missing.
            values = series.astype(object)
            return values.where(series.notna(), None)
        return series.astype(expected)
    if expected == "category":
        return series.astype("category") if kind in ("text", "empty") else None
    if target is None:
        return None
    if ptypes.is_bool_dtype(target):
        if kind == "bool" and not series.isna().any():
            return series.astype(target)
        return None
    if ptypes.is_float_dtype(target):
        if kind in ("numeric", "bool", "empty"):
            return pd.to_numeric(series, errors="coerce").astype(target)
        return None
    if ptypes.is_integer_dtype(target):
        if kind not in ("numeric", "bool", "empty"):
            return None
        values = pd.to_numeric(series, errors="coerce")
        finite = values.dropna()
        if len(finite) == len(values) and (finite == np.floor(finite)).all():
            return values.astype(target)
        # Missing or fractional values: a model fitted on integers still takes floats.
        return values.astype("float64")
    if ptypes.is_datetime64_any_dtype(target):
        return pd.to_datetime(series, errors="coerce") if kind in ("datetime", "empty") else None
    return None


# --- predicting --------------------------------------------------------------------------


def raw_predict(
    pipeline, features: pd.DataFrame, spec: ModelSpec, positive: int = 1
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores (float64, possibly NaN/inf) and, for a multiclass model, labels of a conformed frame.

    Every predict call is made on whole row blocks (``pipelines.row_blocks``), so a row's
    score does not depend on how many rows are scored with it.
    """
    method = pipeline.predict if spec.task == REGRESSION else pipeline.predict_proba
    try:
        raw = predict_blocked(method, features)  # a row's score is the same in any chunk size
    except Exception as exc:  # any estimator's failure on this data, wrapped once, here
        raise ScoringError(
            f"the pipeline {spec.name} v{spec.version} failed on a chunk of {len(features)} rows: "
            f"{type(exc).__name__}: {exc}",
            hint="check the input values, or fix the pipeline; with the pandas engine, quality.on_bad_rows: reject sets such rows aside",
        ) from exc
    if spec.task == REGRESSION:
        return np.asarray(raw, dtype=np.float64), None
    proba = np.asarray(raw, dtype=np.float64)
    if spec.task == BINARY:
        return proba[:, positive], None
    best = proba.argmax(axis=1)
    labels = np.asarray([str(c) for c in spec.classes], dtype=object)[best]
    return proba[np.arange(len(best)), best], labels


def predict(
    pipeline, features: pd.DataFrame, spec: ModelSpec, positive: int = 1
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores (float64) and, for a multiclass model, labels (text) of one conformed chunk."""
    scores, labels = raw_predict(pipeline, features, spec, positive)
    bad = ~np.isfinite(scores)
    if bad.any():
        raise ScoringError(
            f"the pipeline {spec.name} v{spec.version} gave {int(bad.sum())} non-finite "
            f"score(s) (NaN or inf) in a chunk of {len(scores)} rows",
            hint="check the input values of those rows, or fix the pipeline; with the pandas engine, quality.on_bad_rows: reject sets such rows aside",
        )
    return scores, labels
