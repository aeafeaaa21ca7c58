"""Score distributions: a summary streamed part by part is the summary of the whole array."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.distribution import ScoreStats, summarize


def test_streamed_stats_match_the_whole_array():
    rng = np.random.default_rng(0)
    scores = rng.random(10_000)
    acc = ScoreStats()
    for part in np.array_split(scores, 7):
        acc.update(part)
    streamed, whole = acc.summary(), summarize(scores)
    assert streamed.count == 10_000
    assert streamed.mean == pytest.approx(scores.mean())
    assert streamed.std == pytest.approx(scores.std())
    assert streamed.quantiles == pytest.approx(whole.quantiles)
    assert streamed.histogram.counts == whole.histogram.counts
