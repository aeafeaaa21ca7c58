"""Shadow models: versions scored on every run next to the main model, into ``<table>_shadow``
(Parquet: ``<path>_shadow``), never used downstream, compared with the main scores.

- ``resolve_shadows``: at the run's start, each ``pipeline.shadow`` entry (alias or number)
  becomes a ``Shadow``: its version and verified bytes, or why it cannot score.
- ``ShadowScorer``: the loaded pipelines; scores a chunk with each through the one scoring
  path (``jobs.scoring.score_chunk``, the shadow's own spec), in the run's process or in a
  worker. A shadow that raises gives its error, never the chunk's.
- ``ShadowDay``: the pandas engine's side of it. Each chunk's shadow rows are spilled to an
  Arrow IPC file (memory follows the chunk, not the day) and streamed back to the sink as an
  ``Aside`` after the main scores, in the same transaction; the comparison figures
  (``jobs.shadow_compare``) are accumulated on the way. The spark engine scores with the same
  ``ShadowScorer`` in its tasks and merges their ``ShadowTallies`` on the driver
  (``jobs.engines.spark.shadow``).

A shadow that fails to resolve, load or score is a warning: its rows are left out of the day
and the ledger's ``stats["shadow"][version]`` says why (``{"error": ...}``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pyarrow as pa

from jobs.errors import ModelLeakage
from jobs.output import Lineage
from jobs.scoring import ChunkResult, score_chunk
from jobs.shadow_compare import ShadowTallies, shadow_figures, shadow_warnings
from jobs.sinks.base import Aside, shadow_name
from pipelines.errors import BatchScoreError, ModelError
from pipelines.model import ModelHandle, ModelVersion
from pipelines.registry import Registry
from pipelines.spec import BINARY, positive_index



@dataclass(frozen=True)
class Shadow:
    """One ``pipeline.shadow`` entry, resolved at the run's start."""

    ref: str  # as the job file names it: an alias or a version number
    handle: ModelHandle | None = None  # None: it cannot score (``error`` says why)
    positive: int = 1  # predict_proba column of the positive class
    lineage: Lineage | None = None  # the run's, with the shadow's version
    version: ModelVersion | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        """Its key in ``stats["shadow"]``: the version number (the ref when unresolved)."""
        return str(self.version.version) if self.version is not None else self.ref

    @property
    def feature_names(self) -> list[str]:
        return list(self.version.spec.feature_names) if self.error is None else []


def resolve_shadows(
    registry: Registry, refs: Sequence[str | int], main: ModelVersion, lineage: Lineage, positive_class=None
) -> tuple[Shadow, ...]:
    """The run's shadows, each verified (sha256) once; one per version (the main one skipped).
    A version that cannot be used becomes a ``Shadow`` with an ``error``, not an exception."""
    shadows: dict[str, Shadow] = {}
    for ref in refs:
        ref = str(ref)
        try:
            mv = registry.resolve(main.name, ref)
        except BatchScoreError as exc:
            shadows.setdefault(ref, Shadow(ref, error=exc.what))
            continue
        if mv.version == main.version or str(mv.version) in shadows:
            continue
        try:
            shadows[str(mv.version)] = _usable(registry, ref, mv, main, lineage, positive_class)
        except BatchScoreError as exc:
            shadows[str(mv.version)] = Shadow(ref, version=mv, error=exc.what)
    return tuple(shadows.values())


def _usable(registry: Registry, ref: str, mv: ModelVersion, main: ModelVersion, lineage: Lineage, positive_class) -> Shadow:
    if mv.task != main.task:
        raise ModelError(f"{mv.label} is a {mv.task} model, the main model a {main.task} one")
    if mv.train_end is not None and date.fromisoformat(mv.train_end) >= lineage.day:
        raise ModelLeakage(f"{mv.label} was trained on data up to {mv.train_end}: it has seen this day's outcomes")
    positive = positive_index(mv.spec, positive_class) if mv.task == BINARY else 1
    return Shadow(ref, registry.handle(mv), positive, replace(lineage, model_version=mv.version), mv)


@dataclass(frozen=True)
class _Loaded:
    key: str
    shadow: Shadow
    pipeline: object


@dataclass(frozen=True)
class ShadowScorer:
    """The run's loaded shadow pipelines (picklable: sent to the workers with the main one)."""

    models: tuple[_Loaded, ...] = ()
    # versions that failed already (the run's ``ShadowDay.errors``): not scored again in the
    # run's process; a worker holds a copy from its start and scores them on, to no effect
    failed: Mapping[str, str] = field(default_factory=dict)

    def score(self, batch: pa.RecordBatch, result: ChunkResult, schema: pa.Schema) -> ChunkResult:
        """``result`` with each shadow's output rows of the chunk (or its error, as text) and
        its seconds. The shadows score the rows the main model scored (reject mode: the kept
        ones), so both sides pair row by row."""
        if not self.models:
            return result
        rows = batch if result.kept is None else batch.filter(pa.array(result.kept))
        outputs = {}
        for model in self.models:
            if model.key in self.failed:
                continue
            s = model.shadow
            started = time.perf_counter()
            try:
                out: pa.RecordBatch | str = score_chunk(model.pipeline, rows, s.version.spec, s.positive, schema, s.lineage).output
            except BatchScoreError as exc:
                out = exc.what
            except Exception as exc:  # noqa: BLE001 - a shadow's failure is its own, never the chunk's
                out = f"{type(exc).__name__}: {exc}"
            outputs[model.key] = (out, time.perf_counter() - started)
        return replace(result, shadows=outputs)


def load_scorer(shadows: Sequence[Shadow], errors: dict[str, str], load: Callable[[Shadow], object]) -> ShadowScorer:
    """A ``ShadowScorer`` of the ``shadows`` without an error, each unpickled by ``load`` (the
    run's process: the registry's handle; a Spark executor: the broadcast bytes). One that
    does not load is left out, with its error in ``errors`` (shared with the scorer)."""
    loaded = []
    for s in shadows:
        if s.key in errors:
            continue
        try:
            pipeline = load(s)
        except BatchScoreError as exc:
            errors[s.key] = exc.what
            continue
        except Exception as exc:  # noqa: BLE001 - a shadow that does not load is left out, not the day
            errors[s.key] = f"{type(exc).__name__}: {exc}"
            continue
        loaded.append(_Loaded(s.key, s, pipeline))
    return ShadowScorer(tuple(loaded), errors)


class ShadowDay:
    """The run's shadows over the day: load, spill each chunk's rows, compare, hand the sink
    an ``Aside``, and give the ledger's figures and warnings. A context manager: its spill
    files are removed on leaving."""

    def __init__(self, shadows: Sequence[Shadow], schema: pa.Schema, edges: Sequence[float] | None) -> None:
        self.shadows = tuple(shadows)
        self.schema = schema
        self.tallies = ShadowTallies(None if edges is None else np.asarray(edges, dtype=float))
        self.tallies.errors.update(unusable(self.shadows))
        self._spills: dict[str, _Spill] = {}
        self._dir: str | None = None

    @property
    def errors(self) -> dict[str, str]:
        return self.tallies.errors

    def __enter__(self) -> ShadowDay:
        if self.shadows:
            self._dir = tempfile.mkdtemp(prefix="batchscore-shadow-")
        return self

    def __exit__(self, *exc) -> None:
        for spill in self._spills.values():
            spill.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def load(self) -> ShadowScorer:
        """Unpickle each shadow that resolved; one that does not load is left out."""
        scorer = load_scorer(self.shadows, self.errors, lambda s: s.handle.load())
        for model in scorer.models:
            self._spills[model.key] = _Spill(os.path.join(self._dir, f"{model.key}.arrows"), self.schema)
        self.tallies.start(self._spills)
        return scorer

    def add(self, result: ChunkResult) -> None:
        """Count one chunk's shadow rows in (in chunk order) and spill them."""
        kept = self.tallies.add(result)
        for key, spill in self._spills.items():
            if key in kept:
                spill.add(kept[key])
            elif key in self.errors:
                spill.close(discard=True)

    def aside(self, output) -> Aside:
        """The day's shadow rows for the sink, read back after the main scores: by then every
        chunk is counted, so a shadow that failed on the last chunk is left out too."""
        return Aside(shadow_name(output), self.schema, self._read_back())

    def _read_back(self) -> Iterator[pa.RecordBatch]:
        for key, spill in self._spills.items():
            if key not in self.errors:
                yield from spill.read_back()

    @property
    def seconds(self) -> float:
        return self.tallies.seconds

    def figures(self) -> dict[str, dict]:
        """``stats["shadow"]``: per version, the comparison with the main scores, or the error."""
        return shadow_figures(self.shadows, self.tallies)

    def warnings(self) -> list[str]:
        """One line per shadow left out of the day."""
        return shadow_warnings(self.shadows, self.errors)


def unusable(shadows: Sequence[Shadow]) -> dict[str, str]:
    """The shadows that cannot score (resolved with an error), by key: their errors."""
    return {s.key: s.error for s in shadows if s.error is not None}


@dataclass
class _Spill:
    """One shadow's rows of the day, in an Arrow IPC file (memory follows the chunk)."""

    path: str
    schema: pa.Schema
    _sink: pa.NativeFile | None = None
    _writer: pa.ipc.RecordBatchStreamWriter | None = None

    def add(self, output: pa.RecordBatch) -> None:
        if self._writer is None:
            self._sink = pa.OSFile(self.path, "wb")
            self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self._writer.write_batch(output)

    def close(self, discard: bool = False) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = self._sink = None
        if discard and os.path.exists(self.path):
            os.remove(self.path)

    def read_back(self) -> Iterator[pa.RecordBatch]:
        """The spilled rows, one chunk in memory at a time."""
        self.close()
        if not os.path.exists(self.path):
            return
        with pa.OSFile(self.path, "rb") as source, pa.ipc.open_stream(source) as reader:
            yield from reader
