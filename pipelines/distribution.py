"""Score distributions, accumulated chunk by chunk without keeping the day in memory.

Count, mean, std, min and max are exact (streamed). Quantiles come from a bounded,
deterministic sample: exact while the day has at most ``SAMPLE_SIZE`` scores. The histogram
has fixed edges so days can be compared with each other and with the training reference.
``ScoreSummary`` is the distribution as the stages hand it over (a model's training reference
in its meta.json, a run's ``scores`` in the ledger, the previous day's for drift).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SAMPLE_SIZE = 200_000  # scores kept for quantiles; 1.6 MB, whatever the size of the day
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
PROBABILITY_EDGES = tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist())  # 20 bins of 0.05


@dataclass(frozen=True)
class Histogram:
    """Scores counted per bin between fixed edges (values outside are counted in the end bins)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @classmethod
    def from_json(cls, data: Mapping) -> Histogram:
        return cls(tuple(data["edges"]), tuple(data["counts"]))

    def to_json(self) -> dict:
        return {"edges": list(self.edges), "counts": list(self.counts)}

    def same_bins(self, other: Histogram) -> bool:
        """Whether two histograms count over the same edges (so PSI compares them)."""
        return len(self.edges) == len(other.edges) and bool(np.allclose(self.edges, other.edges))


@dataclass(frozen=True)
class ScoreSummary:
    """A score distribution: exact count, mean, std, min and max; quantiles ``p01``..``p99``
    (exact while ``quantiles_exact``); the histogram when it has fixed edges. A summary of
    no scores has only its count. ``to_json`` gives the JSON ``from_json`` reads, key order
    included (a field that is None is a key left out): the ledger's ``scores`` and
    meta.json's ``reference``."""

    count: int | None = None
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: Mapping[str, float] | None = None
    quantiles_exact: bool | None = None
    histogram: Histogram | None = None

    @classmethod
    def from_json(cls, data: Mapping) -> ScoreSummary:
        histogram = data.get("histogram")
        return cls(
            count=data.get("count"),
            mean=data.get("mean"),
            std=data.get("std"),
            min=data.get("min"),
            max=data.get("max"),
            quantiles=data.get("quantiles"),
            quantiles_exact=data.get("quantiles_exact"),
            histogram=None if histogram is None else Histogram.from_json(histogram),
        )

    def to_json(self) -> dict:
        out: dict = {}
        for key in ("count", "mean", "std", "min", "max", "quantiles", "quantiles_exact"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if key == "quantiles" else value
        if self.histogram is not None:
            out["histogram"] = self.histogram.to_json()
        return out

    @property
    def edges(self) -> tuple[float, ...] | None:
        """The histogram's edges, if it has one."""
        return None if self.histogram is None else self.histogram.edges


class ScoreStats:
    """Streaming accumulator of a score distribution; ``summary()`` gives its ``ScoreSummary``."""

    def __init__(self, edges: tuple[float, ...] | None = PROBABILITY_EDGES, seed: int = 0):
        self._edges = None if edges is None else np.asarray(edges, dtype=float)
        self._rng = np.random.default_rng(seed)
        self.count = 0
        self._sum = 0.0
        self._sumsq_dev = 0.0  # sum of squared deviations (Chan et al. parallel update)
        self._min = np.inf
        self._max = -np.inf
        self._sample: list[np.ndarray] = []
        self._sample_size = 0
        self._counts = None if edges is None else np.zeros(len(edges) - 1, dtype=np.int64)

    def update(self, scores: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=float)
        n = scores.size
        if n == 0:
            return
        mean_b = float(scores.mean())
        m2_b = float(((scores - mean_b) ** 2).sum())
        if self.count:
            mean_a = self._sum / self.count
            delta = mean_b - mean_a
            total = self.count + n
            self._sumsq_dev += m2_b + delta * delta * self.count * n / total
        else:
            self._sumsq_dev = m2_b
        self.count += n
        self._sum += float(scores.sum())
        self._min = min(self._min, float(scores.min()))
        self._max = max(self._max, float(scores.max()))
        if self._counts is not None:
            clipped = np.clip(scores, self._edges[0], self._edges[-1])
            self._counts += np.histogram(clipped, bins=self._edges)[0]
        self._keep_sample(scores)

    def merge(self, other: ScoreStats) -> None:
        """Add the scores another accumulator saw (Spark summarises partitions apart)."""
        if not other.count:
            return
        if self.count:
            delta = other._sum / other.count - self._sum / self.count
            total = self.count + other.count
            self._sumsq_dev += other._sumsq_dev + delta * delta * self.count * other.count / total
        else:
            self._sumsq_dev = other._sumsq_dev
        self.count += other.count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        if self._counts is not None and other._counts is not None:
            self._counts += other._counts
        for part in other._sample:
            self._keep_sample(part)

    def _keep_sample(self, scores: np.ndarray) -> None:
        # Keep a uniform share of every chunk so the sample never exceeds SAMPLE_SIZE.
        self._sample.append(scores.copy())
        self._sample_size += scores.size
        if self._sample_size > SAMPLE_SIZE:
            merged = np.concatenate(self._sample)
            keep = self._rng.choice(merged.size, SAMPLE_SIZE, replace=False)
            self._sample = [merged[np.sort(keep)]]
            self._sample_size = SAMPLE_SIZE

    def summary(self) -> ScoreSummary:
        if not self.count:
            return ScoreSummary(count=0)
        sample = np.concatenate(self._sample)
        return ScoreSummary(
            count=self.count,
            mean=self._sum / self.count,
            std=float(np.sqrt(self._sumsq_dev / self.count)),
            min=self._min,
            max=self._max,
            quantiles={
                f"p{round(q * 100):02d}": float(v)
                for q, v in zip(QUANTILES, np.quantile(sample, QUANTILES), strict=True)
            },
            quantiles_exact=self.count <= SAMPLE_SIZE,
            histogram=None if self._counts is None else Histogram(
                tuple(self._edges.tolist()), tuple(self._counts.tolist())
            ),
        )


def summarize(scores: np.ndarray, edges: tuple[float, ...] | None = PROBABILITY_EDGES) -> ScoreSummary:
    """The summary of one array of scores (the training reference, a test)."""
    acc = ScoreStats(edges)
    acc.update(scores)
    return acc.summary()


def regression_edges(scores: np.ndarray, bins: int = 20) -> tuple[float, ...]:
    """Fixed edges for a regressor's scores: equal-width over the reference's range."""
    lo, hi = float(np.min(scores)), float(np.max(scores))
    if lo == hi:
        hi = lo + 1.0
    return tuple(np.linspace(lo, hi, bins + 1).tolist())
