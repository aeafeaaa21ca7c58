"""Population Stability Index: how far one distribution moved from another. Pure functions.

PSI = sum over bins of (a - e) * ln(a / e), with e and a the shares of the expected (training,
or previous day) and actual (this run) rows in each bin. Common reading: below 0.1 stable,
0.1-0.2 a moderate shift, above 0.2 a significant one. An empty bin on either side would make
the logarithm infinite, so shares are floored at ``EPSILON``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from pipelines.distribution import ScoreSummary

EPSILON = 1e-4  # floor of a bin's share


def psi(expected: Sequence[float], actual: Sequence[float], eps: float = EPSILON) -> float:
    """PSI between two histograms over the same bins (counts or shares; each is normalised)."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape:
        raise ValueError(f"histograms differ in bins: {e.size} and {a.size}")
    if e.sum() <= 0 or a.sum() <= 0:
        return 0.0
    e = np.maximum(e / e.sum(), eps)
    a = np.maximum(a / a.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def category_psi(expected: Mapping[str, float], actual: Mapping[str, float], eps: float = EPSILON) -> float:
    """PSI between two category -> share (or count) mappings; a missing key counts as 0."""
    keys = sorted(set(expected) | set(actual))
    return psi([expected.get(k, 0.0) for k in keys], [actual.get(k, 0.0) for k in keys], eps)


def histogram_psi(reference: ScoreSummary | None, current: ScoreSummary | None) -> float | None:
    """PSI between two score summaries when their histograms share edges."""
    ref = reference.histogram if reference is not None else None
    cur = current.histogram if current is not None else None
    if ref is None or cur is None or not ref.same_bins(cur):
        return None
    return psi(ref.counts, cur.counts)
