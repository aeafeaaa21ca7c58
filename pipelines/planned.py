"""A pipeline scored through its feature plan (``pipelines.feature_plan``), once the plan is
proven: on probe rows of the input's column dtypes, the plan's matrix must be scikit-learn's
to the bit (type, dtype, shape, memory order, every value's bytes; a sparse matrix's index
arrays). The proof is made once per set of dtypes a process sees; an input the plan does not
take, or cannot (it raises), goes through the pipeline itself, errors included.
"""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipelines.delegating import Delegating
from pipelines.feature_plan import NUMERIC_DTYPES, FeaturePlan, NumericBlock, plan_of

log = logging.getLogger(__name__)

OFF_ENV = "BATCHSCORE_FEATURE_PLAN"  # "off": every pipeline scored by scikit-learn alone
UNSEEN = "__batchscore_probe_unseen__"


def planned(pipeline):
    """``pipeline`` with its feature plan (a ``PlannedPipeline``), or itself when it has none
    (or ``BATCHSCORE_FEATURE_PLAN=off``)."""
    if os.environ.get(OFF_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return pipeline
    plan = plan_of(pipeline)
    return pipeline if plan is None else PlannedPipeline(pipeline, plan)


def unplanned(pipeline):
    """The scikit-learn pipeline behind a planned one (anything else: itself)."""
    return pipeline.pipeline if isinstance(pipeline, PlannedPipeline) else pipeline


class PlannedPipeline(Delegating):
    """A fitted pipeline whose feature matrix comes from its plan, for inputs whose column
    dtypes the plan has matched scikit-learn on; anything else (and any input the plan cannot
    take) goes through the pipeline itself, errors included. Pickles as the pipeline and its
    plan (each process proves the plan again, once per set of dtypes)."""

    OWN = ("pipeline", "plan", "_verdicts", "_lock")

    def __init__(self, pipeline, plan: FeaturePlan) -> None:
        self.pipeline = pipeline
        self.plan = plan
        self._verdicts: dict[tuple, bool] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"pipeline": self.pipeline, "plan": self.plan}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["pipeline"], state["plan"])

    def _call(self, method: str, X):
        matrix = self._planned_matrix(X)
        if matrix is None:
            return getattr(self.pipeline, method)(X)
        return getattr(self.pipeline.steps[-1][1], method)(matrix)

    def _planned_matrix(self, X):
        if not isinstance(X, pd.DataFrame) or not self.proven(X):
            return None
        try:
            return self.plan.transform(X)
        except Exception as exc:  # noqa: BLE001 - not swallowed: scikit-learn takes the call, and raises its own error
            log.debug("feature plan cannot take a chunk of %d rows (%s: %s): scored by scikit-learn", len(X), type(exc).__name__, exc)
            return None

    def proven(self, X: pd.DataFrame) -> bool:
        """Whether the plan matched scikit-learn on probe rows of ``X``'s column dtypes."""
        signature = _signature(X, self.plan)
        if signature is None:
            return False
        verdict = self._verdicts.get(signature)
        if verdict is None:
            with self._lock:
                verdict = self._verdicts.get(signature)
                if verdict is None:
                    verdict = self._verdicts[signature] = _matches(self.pipeline.steps[0][1], self.plan, dict(signature))
        return verdict


def _signature(X: pd.DataFrame, plan: FeaturePlan) -> tuple | None:
    """The plan's columns and their dtypes in ``X``; None when one is missing or of a dtype
    the plan never takes (numbers: float64 and int64; text: str and category)."""
    out = []
    for block in plan.blocks:
        for name in block.columns:
            if name not in X.columns:
                return None
            dtype = X[name].dtype
            text = isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype))
            if (isinstance(block, NumericBlock) and str(dtype) not in NUMERIC_DTYPES) or (not isinstance(block, NumericBlock) and not text):
                return None
            out.append((name, dtype))
    return tuple(out)


def _matches(transformer, plan: FeaturePlan, dtypes: dict) -> bool:
    probes = probe_frame(plan, dtypes)
    try:
        expected = transformer.transform(probes)
        got = plan.transform(probes)
    except Exception as exc:  # noqa: BLE001 - the verdict: scikit-learn scores these inputs
        log.debug("feature plan not used for %s: %s: %s", dtypes, type(exc).__name__, exc)
        return False
    same = same_matrix(expected, got)
    if not same:
        log.warning("feature plan differs from scikit-learn on its probe rows (dtypes %s): scored by scikit-learn", dtypes)
    return same


def same_matrix(a, b) -> bool:
    """The same matrix to the bit: type, dtype, shape, memory order, every value's bytes
    (-0.0 and NaN included); for a sparse matrix its format and index arrays too."""
    if sp.issparse(a) or sp.issparse(b):
        if not (sp.issparse(a) and sp.issparse(b)) or a.format != b.format or a.shape != b.shape:
            return False
        a, b = a.tocsr(), b.tocsr()
        return (a.dtype == b.dtype and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
                and a.data.tobytes() == b.data.tobytes())
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return False
    return (a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous == b.flags.c_contiguous
            and a.flags.f_contiguous == b.flags.f_contiguous and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


def probe_frame(plan: FeaturePlan, dtypes: dict) -> pd.DataFrame:
    """Rows that take every column through every branch of the plan: each known category, an
    unseen one, a missing value; numbers around the column's mean and scale, signed zeros."""
    columns: dict[str, list] = {}
    for block in plan.blocks:
        for j, name in enumerate(block.columns):
            if not isinstance(block, NumericBlock):
                columns[name] = [*block.categories[j], UNSEEN, np.nan]
            else:
                columns[name] = _numbers(block, j, integer=str(dtypes[name]).startswith("int"))
    rows = max(len(v) for v in columns.values()) + 1
    frame = {}
    for name, values in columns.items():
        missing = 0 if str(dtypes[name]).startswith("int") else np.nan
        cycled = [values[i % len(values)] for i in range(rows - 1)] + [missing]  # the last row: all missing
        dtype = "category" if isinstance(dtypes[name], pd.CategoricalDtype) else dtypes[name]  # its own categories
        frame[name] = pd.Series(cycled, dtype=object).astype(dtype)
    return pd.DataFrame(frame)


def _numbers(block: NumericBlock, j: int, *, integer: bool) -> list:
    centre = [v[j] for v in (block.fill, block.mean) if v is not None]
    spread = float(block.scale[j]) if block.scale is not None else 1.0
    values = [*centre, 0.0, -0.0, 1.0, -1.0, 0.1, 1e-300, -2.5e7]
    values += [c + k * spread for c in centre for k in (-3.0, -0.5, 0.3, 2.0)]
    if integer:
        return sorted({round(v) for v in values if abs(v) < 2**53})
    return [*values, np.nan]
