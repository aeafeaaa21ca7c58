"""PSI: the pure functions, checked against hand computations."""

from __future__ import annotations

import math

import pytest

from jobs.quality.psi import EPSILON, category_psi, histogram_psi, psi
from pipelines.distribution import ScoreSummary


def test_psi_matches_a_hand_computation():
    # shares 0.5/0.3/0.2 -> 0.4/0.4/0.2:
    # (0.4-0.5)*ln(0.4/0.5) + (0.4-0.3)*ln(0.4/0.3) + 0 = 0.022314 + 0.028768
    assert psi([50, 30, 20], [40, 40, 20]) == pytest.approx(0.0510826, abs=1e-6)
    assert psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) == pytest.approx(0.0510826, abs=1e-6)


def test_psi_of_identical_histograms_is_zero_whatever_the_totals():
    assert psi([10, 20, 30], [100, 200, 300]) == pytest.approx(0.0)


def test_an_empty_bin_is_floored_not_infinite():
    by_hand = (0.5 - 1) * math.log(0.5 / 1) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert psi([10, 0], [5, 5]) == pytest.approx(by_hand)


def test_category_psi_counts_a_new_category_as_missing_in_the_expected():
    expected = {"basic": 0.5, "premium": 0.5}
    actual = {"basic": 40, "premium": 40, "platinum": 20}
    assert category_psi(expected, actual) == pytest.approx(psi([0.5, 0.0, 0.5], [0.4, 0.2, 0.4]))


def test_histogram_psi_needs_the_same_edges():
    a = ScoreSummary.from_json({"count": 10, "histogram": {"edges": [0, 0.5, 1], "counts": [5, 5]}})
    b = ScoreSummary.from_json({"count": 10, "histogram": {"edges": [0, 0.5, 1], "counts": [8, 2]}})
    c = ScoreSummary.from_json({"count": 10, "histogram": {"edges": [0, 0.4, 1], "counts": [8, 2]}})
    assert histogram_psi(a, b) == pytest.approx(psi([5, 5], [8, 2]))
    assert histogram_psi(a, c) is None
    assert histogram_psi(None, b) is None


def test_histograms_with_different_bins_are_an_error():
    with pytest.raises(ValueError):
        psi([1, 2], [1, 2, 3])
