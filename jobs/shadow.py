"""Shadow models: versions scored on every run next to the main model, into ``<table>_shadow``
(Parquet: ``<path>_shadow``), never used downstream, compared with the main scores.

- ``resolve_shadows``: at the run's start, each ``pipeline.shadow`` entry (alias or number)
  becomes a ``Shadow``: its version and verified bytes, or why it cannot score.
- ``ShadowScorer``: the loaded pipelines; scores a chunk with each through the one scoring
  path (``jobs.scoring.score_chunk``, the shadow's own spec), in the run's process or in a
  worker. A shadow that raises gives its error, never the chunk's.
- ``ShadowDay``: the run's side of it. Each chunk's shadow rows are spilled to an Arrow IPC
  file (memory follows the chunk, not the day) and streamed back to the sink as an ``Aside``
  after the main scores, in the same transaction; the comparison figures are accumulated on
  the way: PSI (same histogram edges as the main scores) and mean absolute difference exact,
  Spearman and top-decile overlap on a deterministic paired sample of ``PAIRED_SAMPLE`` rows
  (exact below that).

A shadow that fails to resolve, load or score is a warning: its rows are left out of the day
and the ledger's ``stats["shadow"][version]`` says why (``{"error": ...}``).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pyarrow as pa

from jobs.errors import ConfigError, ModelLeakage
from jobs.output import Lineage
from jobs.quality.psi import psi
from jobs.scoring import ChunkResult, score_chunk
from jobs.sinks.base import Aside
from jobs.vocabulary import SQL, Engine
from pipelines.errors import BatchScoreError, ModelError
from pipelines.model import ModelHandle, ModelVersion
from pipelines.registry import Registry
from pipelines.spec import BINARY, positive_index

SHADOW_SUFFIX = "_shadow"  # <table>_shadow, <path>_shadow: the shadow versions' scores
PAIRED_SAMPLE = 200_000  # paired (main, shadow) scores kept for Spearman and the top decile
TOP_SHARE = 0.1  # the top decile: the share of highest scores compared
SEED = 0  # the paired sample's keys: the same day gives the same sample


def shadow_name(output) -> str:
    """The table (sql) or directory (parquet) of ``output``'s shadow scores."""
    return output.table + SHADOW_SUFFIX if output.kind == SQL else output.path.rstrip("/") + SHADOW_SUFFIX


def check_engine(engine: str, refs: Sequence) -> None:
    """Shadow scoring is the pandas engine's: the spark engine refuses a job that asks for it."""
    if refs and engine == Engine.SPARK:
        raise ConfigError(
            "pipeline.shadow is not supported by the spark engine",
            hint="score the job with --engine pandas, or remove pipeline.shadow from the job file",
        )


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


class ShadowDay:
    """The run's shadows over the day: load, spill each chunk's rows, compare, hand the sink
    an ``Aside``, and give the ledger's figures and warnings. A context manager: its spill
    files are removed on leaving."""

    def __init__(self, shadows: Sequence[Shadow], schema: pa.Schema, edges: Sequence[float] | None) -> None:
        self.shadows = tuple(shadows)
        self.schema = schema
        self.edges = None if edges is None else np.asarray(edges, dtype=float)
        self.errors: dict[str, str] = {s.key: s.error for s in self.shadows if s.error is not None}
        self._tallies: dict[str, _Tally] = {}
        self._dir: str | None = None

    def __enter__(self) -> ShadowDay:
        if self.shadows:
            self._dir = tempfile.mkdtemp(prefix="batchscore-shadow-")
        return self

    def __exit__(self, *exc) -> None:
        for tally in self._tallies.values():
            tally.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def load(self) -> ShadowScorer:
        """Unpickle each shadow that resolved; one that does not load is left out."""
        loaded = []
        for s in self.shadows:
            if s.key in self.errors:
                continue
            try:
                pipeline = s.handle.load()
            except BatchScoreError as exc:
                self.errors[s.key] = exc.what
                continue
            except Exception as exc:  # noqa: BLE001 - a shadow that does not load is left out, not the day
                self.errors[s.key] = f"{type(exc).__name__}: {exc}"
                continue
            loaded.append(_Loaded(s.key, s, pipeline))
            self._tallies[s.key] = _Tally(os.path.join(self._dir, f"{s.key}.arrows"), self.schema, self.edges)
        return ShadowScorer(tuple(loaded), self.errors)

    def add(self, result: ChunkResult) -> None:
        """Count one chunk's shadow rows in (in chunk order) and spill them."""
        for key, (out, seconds) in result.shadows.items():
            tally = self._tallies.get(key)
            if tally is None or key in self.errors:
                continue
            if isinstance(out, str):
                self.errors[key] = out
                tally.close(discard=True)
                continue
            tally.add(result.scores, out, seconds)

    def aside(self, output) -> Aside:
        """The day's shadow rows for the sink, read back after the main scores: by then every
        chunk is counted, so a shadow that failed on the last chunk is left out too."""
        return Aside(shadow_name(output), self.schema, self._read_back())

    def _read_back(self) -> Iterator[pa.RecordBatch]:
        for key, tally in self._tallies.items():
            if key not in self.errors:
                yield from tally.read_back()

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self._tallies.values())

    def figures(self) -> dict[str, dict]:
        """``stats["shadow"]``: per version, the comparison with the main scores, or the error."""
        out = {}
        for s in self.shadows:
            if s.key in self.errors:
                out[s.key] = {"error": self.errors[s.key], "ref": s.ref}
            else:
                out[s.key] = {"model": s.version.name, "ref": s.ref, **self._tallies[s.key].figures()}
        return out

    def warnings(self) -> list[str]:
        """One line per shadow left out of the day."""
        lines = []
        for s in self.shadows:
            if s.key in self.errors:
                which = f"{s.version.label} ({s.ref})" if s.version is not None else s.ref
                lines.append(f"shadow {which} left out of the day: {self.errors[s.key]}")
        return lines


@dataclass
class _Tally:
    """One shadow's spill file and its streamed comparison with the main scores."""

    path: str
    schema: pa.Schema
    edges: np.ndarray | None
    rows: int = 0
    seconds: float = 0.0
    abs_diff: float = 0.0
    main_counts: np.ndarray | None = None
    shadow_counts: np.ndarray | None = None
    sample: _PairedSample = field(default_factory=lambda: _PairedSample(PAIRED_SAMPLE))
    _sink: pa.NativeFile | None = None
    _writer: pa.ipc.RecordBatchStreamWriter | None = None

    def add(self, main: np.ndarray, output: pa.RecordBatch, seconds: float) -> None:
        shadow = output.column("score").to_numpy(zero_copy_only=False)
        main = np.asarray(main, dtype=float)
        if self._writer is None:
            self._sink = pa.OSFile(self.path, "wb")
            self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self._writer.write_batch(output)
        self.rows += output.num_rows
        self.seconds += seconds
        self.abs_diff += float(np.abs(shadow - main).sum())
        if self.edges is not None:
            lo, hi = self.edges[0], self.edges[-1]
            m = np.histogram(np.clip(main, lo, hi), bins=self.edges)[0]
            s = np.histogram(np.clip(shadow, lo, hi), bins=self.edges)[0]
            self.main_counts = m if self.main_counts is None else self.main_counts + m
            self.shadow_counts = s if self.shadow_counts is None else self.shadow_counts + s
        self.sample.add(main, shadow)

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

    def figures(self) -> dict:
        main, shadow = self.sample.pairs()
        return {
            "rows": self.rows,
            "psi": None if self.main_counts is None else psi(self.main_counts, self.shadow_counts),
            "mean_abs_diff": self.abs_diff / self.rows if self.rows else None,
            "spearman": spearman(main, shadow),
            "top_decile_overlap": top_overlap(main, shadow),
            "paired_sample": int(main.size),
            "seconds": round(self.seconds, 4),
        }


class _PairedSample:
    """A uniform, deterministic sample of (main, shadow) pairs: each row gets a seeded random
    key and the ``size`` smallest keys are kept (all rows while there are at most ``size``)."""

    def __init__(self, size: int, seed: int = SEED) -> None:
        self.size = size
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0)
        self._main = np.empty(0)
        self._shadow = np.empty(0)

    def add(self, main: np.ndarray, shadow: np.ndarray) -> None:
        keys = np.concatenate([self._keys, self._rng.random(main.size)])
        main = np.concatenate([self._main, main])
        shadow = np.concatenate([self._shadow, shadow])
        if keys.size > self.size:
            keep = np.sort(np.argpartition(keys, self.size)[: self.size])  # row order kept
            keys, main, shadow = keys[keep], main[keep], shadow[keep]
        self._keys, self._main, self._shadow = keys, main, shadow

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return self._main, self._shadow


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Rank correlation (ties: average ranks); None when either side is constant or empty."""
    if a.size < 2:
        return None
    ra, rb = average_ranks(a), average_ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's ``rankdata``, without the cost
    of importing scipy.stats in every run)."""
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts)  # the group of each sorted position, from 1
    bounds = np.r_[np.flatnonzero(starts), x.size]
    ranks = np.empty(x.size)
    ranks[order] = 0.5 * (bounds[group] + bounds[group - 1] + 1)
    return ranks


def top_overlap(main: np.ndarray, shadow: np.ndarray, share: float = TOP_SHARE) -> float | None:
    """Share of the rows in the main scores' top ``share`` that are in the shadow's top too
    (ceil(share * n) rows each; ties broken by row order)."""
    if main.size == 0:
        return None
    k = max(1, math.ceil(share * main.size))
    top_main = np.argsort(-main, kind="stable")[:k]
    top_shadow = np.argsort(-shadow, kind="stable")[:k]
    return float(np.intersect1d(top_main, top_shadow).size / k)

