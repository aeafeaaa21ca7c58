"""The compiled runtime of a tree ensemble (``runtime: treelite``): compile the pipeline's last
step with treelite and tl2cgen at registration, prove it scores as scikit-learn does, and put
it back in front of the pipeline's own transformers when a version is loaded.

Only the final estimator is compiled; the steps before it (a ColumnTransformer, encoders)
stay scikit-learn. A version is given the runtime only if, on its training sample and on
probe rows built from it (each feature missing in turn; each categorical feature given a
category the model never saw), every score of the compiled model is within ``MAX_DIFF`` of
scikit-learn's. The library is stored beside ``model.joblib`` with its sha256; a library that
is missing, changed or cannot be loaded here means scikit-learn, with a warning.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.metadata
import io
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipelines.basics import first_line
from pipelines.errors import BatchScoreError, RuntimeRefused, UsageError
from pipelines.names import RUNTIMES, SKLEARN, TREELITE  # noqa: F401  (re-exported: callers name them with the runtime)
from pipelines.spec import REGRESSION, ModelSpec, conform

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

log = logging.getLogger(__name__)

LIBRARY_FILE = "model.so"
MAX_DIFF = 1e-12  # the largest difference from scikit-learn a compiled model may show
PROBE_ROWS = 64  # training rows each probe (a missing feature, an unseen category) is applied to


@dataclass(frozen=True)
class RuntimeRecord:
    """What ``meta.json`` records of a version's compiled runtime (``"runtime"``)."""

    kind: str
    sha256: str
    max_abs_diff: float
    rows_checked: int
    versions: dict

    def to_json(self) -> dict:
        return {"kind": self.kind, "file": LIBRARY_FILE, "sha256": self.sha256, "max_abs_diff": self.max_abs_diff,
                "rows_checked": self.rows_checked, "versions": dict(self.versions)}

    @classmethod
    def from_json(cls, data: dict | None) -> RuntimeRecord | None:
        if not data:
            return None
        return cls(data["kind"], data["sha256"], float(data["max_abs_diff"]), int(data["rows_checked"]), dict(data.get("versions") or {}))


# --- compiling, at registration -----------------------------------------------------------

def compile_verified(pipeline, frame: pd.DataFrame | None, spec: ModelSpec, directory: Path) -> RuntimeRecord:
    """Compile ``pipeline``'s final estimator into ``directory/model.so`` and check it against
    scikit-learn on ``frame`` (the training sample); raises ``RuntimeRefused`` with the figure."""
    label = f"model {spec.name} v{spec.version}"
    if frame is None or not len(frame):
        raise UsageError(f"{label}: the treelite runtime is checked on the training sample, and none was given",
                         hint="register it with --training-data FILE.parquet (training_frame=...)")
    treelite, tl2cgen = _import_compilers()
    estimator = final_estimator(pipeline)
    toolchain = shutil.which("gcc") or shutil.which("cc")
    if toolchain is None:
        raise RuntimeRefused(f"{label}: no C compiler (gcc or cc) to compile the treelite runtime",
                             hint="install gcc and libc6-dev, or register it without --runtime treelite")
    chatter = io.StringIO()  # treelite and tl2cgen print their progress: a debug log, not stdout
    try:
        with contextlib.redirect_stdout(chatter), warnings.catch_warnings():
            # NaN among a HistGradientBoosting's categories is cast to an integer: the probes judge it.
            warnings.simplefilter("ignore", RuntimeWarning)
            model = treelite.sklearn.import_model(estimator)
            tl2cgen.export_lib(model, toolchain=Path(toolchain).name, libpath=directory / LIBRARY_FILE,
                               params={"parallel_comp": 8})
    except Exception as exc:  # an unsupported estimator or a failed compile: both refuse the runtime
        raise RuntimeRefused(
            f"{label}: treelite cannot compile its {type(estimator).__name__}: {type(exc).__name__}: {first_line(exc)}",
            hint="register it without --runtime treelite (scikit-learn scores it)",
        ) from exc
    finally:
        for line in chatter.getvalue().splitlines():
            log.debug("%s: %s", label, line)
    data = (directory / LIBRARY_FILE).read_bytes()
    try:
        compiled = with_compiled(pipeline, data)
        diff, rows = _largest_difference(pipeline, compiled, conform(frame[spec.feature_names], spec), spec)
    except BatchScoreError:
        raise
    except Exception as exc:  # a library that does not load or score here cannot be checked: refused
        raise RuntimeRefused(
            f"{label}: the compiled treelite runtime cannot be checked against scikit-learn: "
            f"{type(exc).__name__}: {first_line(exc)}",
            hint="register it without --runtime treelite (scikit-learn scores it)",
        ) from exc
    if not diff <= MAX_DIFF:  # NaN refuses too (the registry removes the unfinished version)
        raise RuntimeRefused(
            f"{label}: the treelite runtime differs from scikit-learn by up to {diff:.3g} on {rows} rows of the "
            f"training sample and probes (limit {MAX_DIFF:g})",
            hint="register it without --runtime treelite (scikit-learn scores it)",
        )
    versions = {name: importlib.metadata.version(name) for name in ("treelite", "tl2cgen")}
    return RuntimeRecord(TREELITE, hashlib.sha256(data).hexdigest(), float(diff), rows, versions)


def _import_compilers():
    try:
        import tl2cgen
        import treelite
        import treelite.sklearn
    except ImportError as exc:
        raise UsageError(f"the treelite runtime needs treelite and tl2cgen: {exc}",
                         hint="pip install 'batchscore[treelite]'") from exc
    return treelite, tl2cgen


def _largest_difference(pipeline, compiled, features: pd.DataFrame, spec: ModelSpec) -> tuple[float, int]:
    """The largest absolute difference between the two pipelines' outputs on the training
    rows, and between the two final estimators on probe rows; and how many rows were compared."""
    method = "predict" if spec.task == REGRESSION else "predict_proba"
    ours, theirs = getattr(compiled, method)(features), getattr(pipeline, method)(features)
    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64))))
    estimator, fast = final_estimator(pipeline), final_estimator(compiled)
    head = features.iloc[:PROBE_ROWS]
    inputs = _as_matrix(pipeline[:-1].transform(head) if estimator is not pipeline else head)
    probes = _probes(inputs, fast.categorical)
    probed = np.abs(np.asarray(getattr(fast, method)(probes)) - np.asarray(getattr(estimator, method)(probes)))
    return max(diff, float(np.max(probed))), len(features) + len(probes)


def _probes(inputs: np.ndarray, categorical: tuple[tuple[int, np.ndarray], ...]) -> np.ndarray:
    """Rows where each feature is missing in turn, and each categorical feature holds a value
    the model never saw (above, below and between its categories)."""
    blocks = []
    for column in range(inputs.shape[1]):
        block = inputs.copy()
        block[:, column] = np.nan
        blocks.append(block)
    for column, known in categorical:
        top = float(known.max()) if len(known) else 0.0
        for unseen in (top + 1, -1.0, 0.5, top + 1000):
            block = inputs.copy()
            block[:, column] = unseen
            blocks.append(block)
    return np.concatenate(blocks)


# --- loading, when a version is scored ----------------------------------------------------

def final_estimator(pipeline):
    """The last step of a scikit-learn Pipeline, or the estimator itself."""
    steps = getattr(pipeline, "steps", None)
    return steps[-1][1] if steps else pipeline


def with_compiled(pipeline, library: bytes):
    """``pipeline`` with its final estimator scored by the compiled ``library``; raises
    ``OSError`` or tl2cgen's error when the library cannot be loaded here."""
    compiled = CompiledEstimator(final_estimator(pipeline), library)
    compiled.predictor()  # loaded now, so a library that cannot load is known before scoring
    if not getattr(pipeline, "steps", None):
        return compiled
    out = copy.copy(pipeline)
    out.steps = [*pipeline.steps[:-1], (pipeline.steps[-1][0], compiled)]
    return out


def load_library(pipeline, library: bytes | None, label: str) -> tuple[object, str, tuple[str, ...]]:
    """The pipeline with its compiled runtime, ``treelite`` and no warning; or, where the
    library cannot be loaded here, the scikit-learn pipeline, ``sklearn`` and why."""
    if library is None:
        return pipeline, SKLEARN, ()
    try:
        return with_compiled(pipeline, library), TREELITE, ()
    except Exception as exc:  # missing tl2cgen, a corrupt or foreign library: all fall back
        warning = f"{label}: the treelite library cannot be loaded ({type(exc).__name__}: {first_line(exc)}); scored with scikit-learn"
        log.warning("%s", warning)
        return pipeline, SKLEARN, (warning,)


def load_predictor(library: bytes):
    """The tl2cgen predictor of a library's bytes (written to a temporary file for dlopen,
    which maps it: the file is removed at once)."""
    import tl2cgen

    with tempfile.TemporaryDirectory(prefix="batchscore-treelite-") as tmp:
        path = Path(tmp) / LIBRARY_FILE
        path.write_bytes(library)
        return tl2cgen.Predictor(path, nthread=None)


def runtime_of(pipeline) -> str:
    """``treelite`` when the pipeline's final estimator is the compiled one, else ``sklearn``."""
    return TREELITE if isinstance(final_estimator(pipeline), CompiledEstimator) else SKLEARN


class CompiledEstimator:
    """A fitted tree ensemble whose predictions come from its compiled library. Pickles as the
    estimator and the library's bytes (the pandas engine's workers load it again)."""

    def __init__(self, estimator, library: bytes) -> None:
        self.estimator = estimator
        self.library = library
        self.categorical = _categories(estimator)
        self._predictor = None

    def __getstate__(self) -> dict:
        return {"estimator": self.estimator, "library": self.library, "categorical": self.categorical}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _predictor=None)

    def __sklearn_is_fitted__(self) -> bool:
        return True  # built from a fitted estimator only

    def __sklearn_tags__(self):
        return self.estimator.__sklearn_tags__()  # a Pipeline asks its last step's tags

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("estimator", "library", "categorical", "_predictor"):
            raise AttributeError(name)
        return getattr(self.estimator, name)  # classes_, n_features_in_...: the estimator's

    def predictor(self):
        if self._predictor is None:
            self._predictor = load_predictor(self.library)
        return self._predictor

    def _raw(self, X) -> np.ndarray:
        import tl2cgen

        matrix = _as_matrix(X)
        for column, known in self.categorical:
            values = matrix[:, column]
            if np.isinf(values).any():
                raise ValueError("Input contains infinity in a categorical feature")
            values[~np.isin(values, known) & ~np.isnan(values)] = np.nan  # unseen: missing, as scikit-learn
        out = self.predictor().predict(tl2cgen.DMatrix(matrix, dtype="float64"))
        return np.asarray(out, dtype=np.float64).reshape(len(matrix), -1)

    def predict_proba(self, X) -> np.ndarray:
        out = self._raw(X)
        return np.column_stack([1.0 - out[:, 0], out[:, 0]]) if out.shape[1] == 1 else out

    def predict(self, X) -> np.ndarray:
        if hasattr(self.estimator, "classes_"):
            return np.asarray(self.estimator.classes_)[self.predict_proba(X).argmax(axis=1)]
        return self._raw(X)[:, 0]


def _categories(estimator) -> tuple[tuple[int, np.ndarray], ...]:
    """HistGradientBoosting's categorical columns and the values it was fitted on: scikit-learn
    treats any other value as missing, so the compiled model is given NaN for them."""
    preprocessor = getattr(estimator, "_preprocessor", None)
    mask = getattr(estimator, "is_categorical_", None)
    if preprocessor is None or mask is None:
        return ()
    columns = np.flatnonzero(mask)
    encoder = preprocessor.transformers_[0][1]
    out = []
    for column, cats in zip(columns, encoder.categories_, strict=True):
        cats = np.asarray(cats, dtype=np.float64)
        out.append((int(column), cats[~np.isnan(cats)]))
    return tuple(out)


def _as_matrix(X) -> np.ndarray:
    """A float64 C-ordered copy: the compiled model reads doubles, and NaN as missing."""
    return np.array(X, dtype=np.float64, order="C", copy=True)
