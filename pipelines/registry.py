"""The versioned model registry: immutable versions, movable aliases, checked by sha256.

Layout under the registry root::

    <name>/<version>/model.joblib    the pickled pipeline, never rewritten
    <name>/<version>/meta.json       sha256, features and dtypes, task, libraries, metrics...
    <name>/aliases.json              {"production": 3}
    <name>/alias_history.jsonl       every alias move (pipelines.history)

A version is built in ``<name>/.tmp-<uuid>`` and renamed into place: the rename fails when the
number is taken, so concurrent registers get distinct versions and nobody sees a half-written
one. The sha256 of model.joblib is checked before every unpickling.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import ModelError, ModelNotFound, UsageError
from pipelines.basics import fsync as _fsync
from pipelines.basics import json_default, utcnow
from pipelines.model import (
    MODEL_FILE,
    LoadedModel,
    ModelHandle,
    ModelVersion,
    library_versions,
    registrable,
    verified_bytes,
    verified_library,
    version_warnings,
)
from pipelines.runtime import RUNTIMES, SKLEARN, TREELITE, RuntimeRecord, compile_verified
from pipelines.spec import REGRESSION, Feature, ModelSpec, conform, predict, task_of
from pipelines.distribution import PROBABILITY_EDGES, ScoreSummary, regression_edges, summarize
from pipelines import history
from pipelines.profile import profile_frame
from pipelines.settings import Settings

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

META_FILE = "meta.json"
ALIASES_FILE = "aliases.json"
# Model names and aliases. No leading digit, so an alias is never mistaken for a version.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class Registry:
    """A model registry rooted at a directory; the constructor does no I/O."""

    def __init__(self, root: Path | str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.root = Path(root)
        self.clock = clock

    # --- writing -------------------------------------------------------------------------

    def register(
        self,
        name: str,
        pipeline,
        *,
        training_frame: pd.DataFrame | None = None,
        alias: str | None = None,
        metrics: Mapping | None = None,
        training_window: tuple[date, date] | None = None,
        reason: str | None = None,
        runtime: str = SKLEARN,
    ) -> int:
        """Store a fitted pipeline as the next version of ``name``; returns the version.

        ``training_window``: the first and last day of the data it was fitted (and evaluated)
        on, recorded as ``train_start``/``train_end``; ``reason`` goes to the alias history.
        ``runtime="treelite"``: its final estimator is compiled too and checked against
        scikit-learn on ``training_frame`` (``pipelines.runtime``); ``RuntimeRefused`` if it differs.
        """
        import joblib

        _check_name(name, "model name")
        if alias is not None:
            _check_name(alias, "alias")
        if runtime not in RUNTIMES:
            raise UsageError(f"unknown runtime {runtime!r}", hint=f"runtimes: {', '.join(RUNTIMES)}")
        pipeline = registrable(pipeline, f"the pipeline given for {name}")
        meta = self._describe(name, pipeline, training_frame, _plain_metrics(metrics))
        if training_window is not None:
            meta["train_start"], meta["train_end"] = (d.isoformat() for d in training_window)
        model_dir = self.root / name
        model_dir.mkdir(parents=True, exist_ok=True)
        tmp = model_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            joblib.dump(pipeline, tmp / MODEL_FILE)
            _fsync(tmp / MODEL_FILE)
            meta["sha256"] = hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest()
            if runtime == TREELITE:
                # Numbered as it will most likely be: the number only appears in a refusal.
                spec = _spec(meta, max(self._version_numbers(model_dir), default=0) + 1)
                meta["runtime"] = compile_verified(pipeline, training_frame, spec, tmp).to_json()
            version = self._install(model_dir, tmp, meta)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # cleanup only; the error propagates
            raise
        if alias is not None:
            self.promote(name, version, alias, reason=reason or "registered")
        return version

    def register_file(
        self, name: str, path: Path | str, *, alias: str | None = None,
        training_frame: pd.DataFrame | None = None, metrics: Mapping | None = None, runtime: str = SKLEARN,
    ) -> int:
        """Register a pipeline saved with joblib; it must be a fitted scikit-learn estimator."""
        import joblib

        path = Path(path)
        if not path.is_file():
            raise UsageError(f"{path}: no such file", hint="give the path of a .joblib file")
        try:
            pipeline = joblib.load(path)
        except Exception as exc:  # anything unpickling can raise: say which file, keep cause
            raise UsageError(
                f"{path}: cannot be loaded with joblib: {type(exc).__name__}: {exc}",
                hint="save the fitted pipeline with joblib.dump(pipeline, path)",
            ) from exc
        return self.register(
            name, pipeline, training_frame=training_frame, alias=alias, metrics=metrics, runtime=runtime
        )

    def promote(
        self,
        name: str,
        version: int | str,
        alias: str,
        *,
        reason: str | None = None,
        gate: dict | None = None,
        by: str | None = None,
    ) -> None:
        """Point ``alias`` at an existing version (atomically; the old target stays loadable).

        ``version`` is resolved like any reference: an alias there copies its target. The move
        is appended to the alias history (with ``reason``, the ``gate`` verdict, ``by``) first.
        """
        _check_name(alias, "alias")
        mv = self.resolve(name, version)
        with self._aliases_lock(name):
            current = _read_aliases(self.root / name)
            move = history.AliasMove(
                at=self.clock().astimezone(timezone.utc), alias=alias, from_version=current.get(alias),
                to_version=mv.version, by=by or history.who(), reason=reason, gate=gate,
            )
            history.append(self.root / name, move)
            current[alias] = mv.version
            text = json.dumps(current, indent=2, sort_keys=True)
            _write_atomic(self.root / name / ALIASES_FILE, text)

    def _describe(self, name: str, pipeline, frame: pd.DataFrame | None, metrics: dict) -> dict:
        names = [str(c) for c in pipeline.feature_names_in_]
        task, classes = task_of(pipeline)
        dtypes: list[str | None] = [None] * len(names)
        reference = profile = None
        if frame is not None:
            missing = [c for c in names if c not in frame.columns]
            if missing:
                raise UsageError(
                    f"the training frame for {name} lacks column(s) {', '.join(missing)}",
                    hint="pass the frame the pipeline was fitted on",
                )
            dtypes = [str(frame[c].dtype) for c in names]
            # Not numbered yet: version 0 only appears in error messages of this check.
            spec = ModelSpec(name, 0, task, tuple(map(Feature, names, dtypes)), classes)
            scores, _ = predict(pipeline, conform(frame, spec), spec)
            edges = regression_edges(scores) if task == REGRESSION else PROBABILITY_EDGES
            reference = summarize(scores, edges)
            profile = profile_frame(frame, names)
        return {
            "name": name,
            "features": [{"name": n, "dtype": d} for n, d in zip(names, dtypes, strict=True)],
            "task": task,
            "classes": None if classes is None else list(classes),
            "library_versions": library_versions(),
            "metrics": metrics,
            "reference": None if reference is None else reference.to_json(),
            "profile": profile,
            "created_at": self.clock().astimezone(timezone.utc).isoformat(),
        }

    def _install(self, model_dir: Path, tmp: Path, meta: dict) -> int:
        version = max(self._version_numbers(model_dir), default=0) + 1
        while True:
            meta["version"] = version
            _write_atomic(tmp / META_FILE, json.dumps(meta, indent=2, default=json_default))
            try:
                os.rename(tmp, model_dir / str(version))
            except OSError as exc:
                # Taken by a concurrent register (a version dir is never empty): try the next.
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    version += 1
                    continue
                raise
            _fsync(model_dir)
            return version

    @contextlib.contextmanager
    def _aliases_lock(self, name: str) -> Iterator[None]:
        # Serialises read-modify-write of aliases.json between processes.
        with open(self.root / name / ".aliases.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- reading -------------------------------------------------------------------------

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))

    def versions(self, name: str) -> list[ModelVersion]:
        self._check_exists(name)
        return [self._read_meta(name, v) for v in sorted(self._version_numbers(self.root / name))]

    def aliases(self, name: str) -> dict[str, int]:
        self._check_exists(name)
        return _read_aliases(self.root / name)

    def alias_history(self, name: str) -> list[history.AliasMove]:
        """Every recorded alias move of ``name``, oldest first."""
        self._check_exists(name)
        try:
            return history.read(self.root / name)
        except ValueError as exc:
            raise ModelError(str(exc), hint="restore the file from a backup") from exc

    def resolve(self, name: str, ref: str | int) -> ModelVersion:
        """A version by number (int or digit string) or by alias."""
        self._check_exists(name)
        model_dir = self.root / name
        aliases = _read_aliases(model_dir)
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            version = int(ref)
        elif ref in aliases:
            version = aliases[ref]
        else:
            version = None
        if version is None or not (model_dir / str(version) / META_FILE).is_file():
            existing = sorted(self._version_numbers(model_dir))
            named = ", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items())) or "none"
            raise ModelNotFound(
                f"model {name} has no version or alias {ref!r}",
                hint=f"versions: {', '.join(map(str, existing)) or 'none'}; aliases: {named}",
            )
        return self._read_meta(name, version)

    def handle(self, mv: ModelVersion) -> ModelHandle:
        """What an engine gets of a version: its record, its file's bytes (read once, sha256
        checked), its compiled library if it loads here, and ``load()``. Raises
        ``ModelIntegrityError`` on a changed or missing model file (a library: a warning)."""
        library, warnings = verified_library(mv)
        return ModelHandle(mv, verified_bytes(mv), library, warnings)

    def load(self, mv: ModelVersion) -> LoadedModel:
        """Unpickle a version after checking its sha256 (its compiled runtime attached when it
        has one that loads); library drift and a runtime that falls back become warnings."""
        handle = self.handle(mv)
        pipeline, runtime, fallback = handle.loaded()
        return LoadedModel(mv, pipeline, version_warnings(mv) + handle.warnings + fallback, runtime)

    def _check_exists(self, name: str) -> None:
        _check_name(name, "model name")
        if not (self.root / name).is_dir():
            raise ModelNotFound(
                f"no model named {name} in the registry {self.root}",
                hint=f"models: {', '.join(self.names()) or 'none'}; register one first",
            )

    @staticmethod
    def _version_numbers(model_dir: Path) -> list[int]:
        if not model_dir.is_dir():
            return []
        return [int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and p.is_dir()]

    def _read_meta(self, name: str, version: int) -> ModelVersion:
        directory = self.root / name / str(version)
        try:
            meta = json.loads((directory / META_FILE).read_text())
            return ModelVersion(
                name=name,
                version=version,
                directory=directory,
                sha256=meta["sha256"],
                features=tuple(Feature(f["name"], f["dtype"]) for f in meta["features"]),
                task=meta["task"],
                classes=None if meta["classes"] is None else tuple(meta["classes"]),
                library_versions=dict(meta["library_versions"]),
                metrics=dict(meta.get("metrics") or {}),
                reference=None if meta.get("reference") is None else ScoreSummary.from_json(meta["reference"]),
                created_at=meta.get("created_at", ""),
                profile=meta.get("profile"),
                train_start=meta.get("train_start"),
                train_end=meta.get("train_end"),
                runtime=RuntimeRecord.from_json(meta.get("runtime")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"model {name} v{version}: unreadable {META_FILE}: {type(exc).__name__}: {exc}",
                hint="restore the file or re-register the model",
            ) from exc


def register(
    name: str, fitted_pipeline, *, training_frame: pd.DataFrame | None = None, alias: str | None = None,
    metrics: Mapping | None = None, root: Path | str | None = None, runtime: str = SKLEARN,
) -> int:
    """Register a fitted pipeline in the registry at ``root`` (default: the settings')."""
    if root is None:
        root = Settings.resolve().models_root
    return Registry(root).register(
        name, fitted_pipeline, training_frame=training_frame, alias=alias, metrics=metrics, runtime=runtime
    )


# --- helpers -------------------------------------------------------------------------------

def _spec(meta: dict, version: int) -> ModelSpec:
    features = tuple(Feature(f["name"], f["dtype"]) for f in meta["features"])
    return ModelSpec(meta["name"], version, meta["task"], features, None if meta["classes"] is None else tuple(meta["classes"]))


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid {what} {name!r}",
            hint="use letters, digits, '_', '.', '-', starting with a letter or '_'",
        )


def _plain_metrics(metrics: Mapping | None) -> dict:
    """Metrics as plain JSON data (numpy scalars become Python numbers)."""
    try:
        return json.loads(json.dumps(dict(metrics or {}), default=json_default))
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"metrics must be JSON data (numbers, text, lists, mappings): {exc}",
            hint="pass e.g. {'roc_auc': 0.81}",
        ) from exc


def _read_aliases(model_dir: Path) -> dict[str, int]:
    path = model_dir / ALIASES_FILE
    if not path.exists():
        return {}
    try:
        return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable aliases: {exc}", hint="fix or delete it") from exc


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


