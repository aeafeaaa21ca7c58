"""Shadow scores compared with the main ones, for the ledger's ``stats["shadow"]``: the pieces
both engines share (``jobs.shadow`` holds the run's side: resolve, score, spill).

- ``Comparison``: one shadow version against the main scores over a part of the day: PSI
  (same histogram edges as the main scores) and mean absolute difference exact, Spearman and
  top-decile overlap on a deterministic paired sample of ``PAIRED_SAMPLE`` rows (exact below
  that). Mergeable: Spark's partitions each count their rows and the driver merges them.
- ``ShadowTallies``: the comparisons and the errors of every shadow over a part of the day
  (the pandas engine's whole day; one Spark partition's share), counted chunk by chunk.
- ``shadow_figures`` / ``shadow_warnings``: the ledger's figures and warning lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from jobs.quality.psi import psi
from jobs.scoring import ChunkResult

PAIRED_SAMPLE = 200_000  # paired (main, shadow) scores kept for Spearman and the top decile
TOP_SHARE = 0.1  # the top decile: the share of highest scores compared
SEED = 0  # the paired sample's keys: the same day gives the same sample


@dataclass
class Comparison:
    """One shadow's streamed comparison with the main scores (picklable, mergeable)."""

    edges: np.ndarray | None
    seed: int | tuple[int, ...] = SEED
    rows: int = 0
    seconds: float = 0.0
    abs_diff: float = 0.0
    main_counts: np.ndarray | None = None
    shadow_counts: np.ndarray | None = None
    sample: _PairedSample = None  # type: ignore[assignment]  # made from ``seed``

    def __post_init__(self) -> None:
        if self.sample is None:
            self.sample = _PairedSample(PAIRED_SAMPLE, self.seed)

    def add(self, main: np.ndarray, shadow: np.ndarray, seconds: float) -> None:
        """Count one chunk's paired scores in (in chunk order)."""
        main = np.asarray(main, dtype=float)
        shadow = np.asarray(shadow, dtype=float)
        self.rows += int(main.size)
        self.seconds += seconds
        self.abs_diff += float(np.abs(shadow - main).sum())
        if self.edges is not None:
            lo, hi = self.edges[0], self.edges[-1]
            m = np.histogram(np.clip(main, lo, hi), bins=self.edges)[0]
            s = np.histogram(np.clip(shadow, lo, hi), bins=self.edges)[0]
            self.main_counts = m if self.main_counts is None else self.main_counts + m
            self.shadow_counts = s if self.shadow_counts is None else self.shadow_counts + s
        self.sample.add(main, shadow)

    def merge(self, other: Comparison) -> None:
        """Count another part of the day in (another Spark partition's)."""
        self.rows += other.rows
        self.seconds += other.seconds
        self.abs_diff += other.abs_diff
        for name in ("main_counts", "shadow_counts"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                setattr(self, name, theirs.copy() if mine is None else mine + theirs)
        self.sample.merge(other.sample)

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


@dataclass
class ShadowTallies:
    """Every shadow's comparison and error over a part of the day (picklable, mergeable).
    ``errors`` is shared with the ``ShadowScorer`` that scores the part: a version that
    failed is not scored again."""

    edges: np.ndarray | None
    seed: int | tuple[int, ...] = SEED
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def start(self, keys: Iterable[str]) -> None:
        """The versions that loaded: each gets an empty comparison."""
        for key in keys:
            self.comparisons.setdefault(key, Comparison(self.edges, self.seed))

    def add(self, result: ChunkResult) -> dict[str, pa.RecordBatch]:
        """Count one chunk's shadow rows in; their output rows by version, for the versions
        still without an error (a version that failed on this chunk gets its error)."""
        kept = {}
        for key, (out, seconds) in result.shadows.items():
            if key in self.errors or key not in self.comparisons:
                continue
            if isinstance(out, str):
                self.errors[key] = out
                continue
            self.comparisons[key].add(result.scores, out.column("score").to_numpy(zero_copy_only=False), seconds)
            kept[key] = out
        return kept

    def merge(self, other: ShadowTallies) -> None:
        """Another part's counts and errors (an error stays the first one merged)."""
        for key, error in other.errors.items():
            self.errors.setdefault(key, error)
        for key, comparison in other.comparisons.items():
            if key in self.comparisons:
                self.comparisons[key].merge(comparison)
            else:
                self.comparisons[key] = comparison

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.comparisons.values())

    def ok(self) -> list[str]:
        """The versions whose rows belong in the day."""
        return [key for key in self.comparisons if key not in self.errors]


def shadow_figures(shadows: Sequence, tallies: ShadowTallies) -> dict[str, dict]:
    """``stats["shadow"]``: per version (``jobs.shadow.Shadow``), the comparison with the
    main scores, or the error."""
    out = {}
    for s in shadows:
        if s.key in tallies.errors:
            out[s.key] = {"error": tallies.errors[s.key], "ref": s.ref}
        else:
            comparison = tallies.comparisons.get(s.key) or Comparison(tallies.edges)
            out[s.key] = {"model": s.version.name, "ref": s.ref, **comparison.figures()}
    return out


def shadow_warnings(shadows: Sequence, errors: dict[str, str]) -> list[str]:
    """One line per shadow left out of the day."""
    lines = []
    for s in shadows:
        if s.key in errors:
            which = f"{s.version.label} ({s.ref})" if s.version is not None else s.ref
            lines.append(f"shadow {which} left out of the day: {errors[s.key]}")
    return lines


class _PairedSample:
    """A uniform, deterministic sample of (main, shadow) pairs: each row gets a seeded random
    key and the ``size`` smallest keys are kept (all rows while there are at most ``size``)."""

    def __init__(self, size: int, seed: int | tuple[int, ...] = SEED) -> None:
        self.size = size
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0)
        self._main = np.empty(0)
        self._shadow = np.empty(0)

    def add(self, main: np.ndarray, shadow: np.ndarray) -> None:
        self._keep(self._rng.random(main.size), main, shadow)

    def merge(self, other: _PairedSample) -> None:
        """Another part's sample: the ``size`` smallest keys of both (their keys come from
        other seeds, so the union stays uniform)."""
        self._keep(other._keys, other._main, other._shadow)

    def _keep(self, keys: np.ndarray, main: np.ndarray, shadow: np.ndarray) -> None:
        keys = np.concatenate([self._keys, keys])
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
