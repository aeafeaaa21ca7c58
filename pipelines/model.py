"""A registered model version: its record (``ModelVersion``), the sha256-checked bytes of its
file and how they are unpickled, and the handle an engine gets (``ModelHandle``). The
registry (``pipelines.registry``) finds versions; this module is what a version is.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import io
import platform
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.basics import first_line
from pipelines.distribution import ScoreSummary
from pipelines.errors import ModelError, ModelIntegrityError, TransientError, UsageError
from pipelines.runtime import LIBRARY_FILE, SKLEARN, TREELITE, RuntimeRecord, load_library, load_predictor
from pipelines.spec import Feature, ModelSpec

MODEL_FILE = "model.joblib"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as recorded in its meta.json."""

    name: str
    version: int
    directory: Path
    sha256: str
    features: tuple[Feature, ...]
    task: str
    classes: tuple | None
    library_versions: dict[str, str]
    metrics: dict = field(default_factory=dict)
    reference: ScoreSummary | None = None  # the training frame's scores, when registered with it
    created_at: str = ""
    profile: dict | None = None  # per-feature training profile (pipelines.profile)
    train_start: str | None = None  # ISO days of the training window, when known
    train_end: str | None = None
    runtime: RuntimeRecord | None = None  # the compiled runtime it was registered with, if any

    @property
    def model_path(self) -> Path:
        return self.directory / MODEL_FILE

    @property
    def library_path(self) -> Path:
        return self.directory / LIBRARY_FILE

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.name, self.version, self.task, self.features, self.classes)

    @property
    def label(self) -> str:
        return f"model {self.name} v{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    pipeline: object
    warnings: tuple[str, ...] = ()
    runtime: str = SKLEARN  # what scores its final estimator: sklearn | treelite


_PIP = {"sklearn": "scikit-learn", "pandas": "pandas", "numpy": "numpy", "joblib": "joblib"}


def library_versions() -> dict[str, str]:
    """The versions that decide whether a pickled pipeline can be loaded again."""
    import joblib
    import pandas as pd
    import sklearn

    return {
        "sklearn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class ModelHandle:
    """What an engine is given of a model: the version's record, its file's bytes (sha256
    checked when read), its compiled library when it has one that loads here, and ``load()``.
    Spark broadcasts the handle; executors ``load`` it."""

    version: ModelVersion
    data: bytes
    library: bytes | None = None  # runtime treelite: the library's bytes, checked and loadable here
    warnings: tuple[str, ...] = ()  # why a registered library is not used

    @property
    def runtime(self) -> str:
        return TREELITE if self.library is not None else SKLEARN

    def load(self) -> object:
        """The fitted pipeline (scikit-learn is imported here, on first use), its final
        estimator compiled when the handle has the library (scikit-learn where it cannot load)."""
        return self.loaded()[0]

    def loaded(self) -> tuple[object, str, tuple[str, ...]]:
        """``load``'s pipeline, the runtime it scores with and why a library fell back. Its
        feature matrix comes from its feature plan where it has a proven one (``pipelines.planned``)."""
        with _collector_paused():
            from pipelines.planned import planned  # scipy and pandas: with the model, not before the read

            pipeline, runtime, fallback = load_library(unpickle(self.data, self.version), self.library, self.version.label)
            return planned(pipeline), runtime, fallback


def verified_library(mv: ModelVersion) -> tuple[bytes | None, tuple[str, ...]]:
    """The compiled library's bytes, when the version has one that is intact and loads here;
    else None and why (the version is then scored with scikit-learn)."""
    if mv.runtime is None:
        return None, ()
    try:
        data = mv.library_path.read_bytes()
    except OSError as exc:
        return None, (f"{mv.label}: its treelite library cannot be read ({type(exc).__name__}); scored with scikit-learn",)
    actual = hashlib.sha256(data).hexdigest()
    if actual != mv.runtime.sha256:
        changed = (
            f"{mv.label}: its treelite library changed since it was registered (sha256 {actual[:12]}… != "
            f"{mv.runtime.sha256[:12]}… recorded); scored with scikit-learn"
        )
        return None, (changed,)
    try:
        load_predictor(data)
    except Exception as exc:  # a foreign architecture, a missing tl2cgen: scikit-learn scores it
        return None, (f"{mv.label}: its treelite library cannot be loaded ({type(exc).__name__}: {first_line(exc)}); scored with scikit-learn",)
    return data, ()


def verified_bytes(mv: ModelVersion) -> bytes:
    """The model file's bytes, read once and checked against the recorded sha256."""
    try:
        data = mv.model_path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelIntegrityError(
            f"{mv.label}: {MODEL_FILE} is missing from {mv.directory}",
            hint="re-register the model or restore the file",
        ) from exc
    except OSError as exc:
        raise TransientError(f"{mv.label}: cannot read {mv.model_path}: {exc}") from exc
    check_sha256(data, mv)
    return data


def unpickle(data: bytes, mv: ModelVersion):
    """The pipeline in ``data`` (bytes of mv's model file), rechecking the sha256 first.

    Used by ``ModelHandle.loaded``, the one way every engine, the registry and the server
    load a version (with the garbage collector paused).
    """
    import joblib

    check_sha256(data, mv)
    # scikit-learn is imported here, not with this module: resolving a version or checking
    # its file needs none of it, and its import (scipy included) is a second of start-up.
    from sklearn.exceptions import InconsistentVersionWarning

    try:
        with warnings.catch_warnings():
            # Reported once, as LoadedModel.warnings, instead of on every load.
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            return joblib.load(io.BytesIO(data))
    except Exception as exc:  # missing module, incompatible library...: all mean "cannot use"
        libs = mv.library_versions
        fitted = ", ".join(f"{k} {v}" for k, v in libs.items())
        pins = " ".join(f"{_PIP.get(k, k)}=={v}" for k, v in libs.items() if k in _PIP)
        raise ModelError(
            f"{mv.label} cannot be unpickled: {type(exc).__name__}: {exc} (fitted with {fitted})",
            hint=f"install the libraries it was fitted with (pip install {pins}) or retrain it",
        ) from exc


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while a pipeline is unpickled (scikit-learn,
    scipy and pandas imported for it): that makes about 96,000 objects the collector tracks,
    nearly all living as long as the process, and no garbage to speak of, and the collector
    would walk them over and over (benchmarks/RESULTS.md, "Eleventh session"). On again
    afterwards, whatever happened."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def version_warnings(mv: ModelVersion) -> tuple[str, ...]:
    """Differences between the recorded scikit-learn version and the installed one (read from
    the installed package's metadata: known before scikit-learn is imported)."""
    fitted = mv.library_versions.get("sklearn")
    installed = importlib.metadata.version("scikit-learn")
    if fitted and fitted != installed:
        return (f"{mv.name} v{mv.version} was fitted with scikit-learn {fitted}, this is {installed}",)
    return ()


def check_sha256(data: bytes, mv: ModelVersion) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != mv.sha256:
        raise ModelIntegrityError(
            f"{mv.label}: {MODEL_FILE} changed since it was registered "
            f"(sha256 {actual[:12]}… != {mv.sha256[:12]}… recorded)",
            hint="re-register the model or restore the file",
        )


def registrable(pipeline, what: str):
    """The fitted scikit-learn estimator to store (a loaded pipeline: the one it wraps)."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from pipelines.planned import unplanned

    pipeline = unplanned(pipeline)
    if not isinstance(pipeline, BaseEstimator):
        raise UsageError(
            f"{what} is a {type(pipeline).__name__}, not a scikit-learn estimator",
            hint="register a fitted sklearn Pipeline or estimator",
        )
    try:
        check_is_fitted(pipeline)
    except NotFittedError as exc:
        raise UsageError(f"{what} is not fitted", hint="fit it before registering") from exc
    if not hasattr(pipeline, "feature_names_in_"):
        raise UsageError(
            f"{what} has no feature_names_in_: it was fitted without column names",
            hint="fit it on a pandas DataFrame so scoring can match columns by name",
        )
    return pipeline
