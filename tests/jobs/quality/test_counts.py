"""RunMonitor's per-chunk counts (nulls, unseen categories, ranges, drift bins) are those of
the plain per-row forms (``isna``, each row matched against the known categories on its own,
``dropna().astype(str)``, ``to_numeric``) whatever the column's dtype, unseen values are those a
real fitted encoder does not know, and chunks merged from workers count as chunks observed here."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from jobs.quality.column import KnownCategories
from jobs.config import DriftConfig, QualityConfig
from jobs.errors import QualityCheckFailed
from jobs.quality.monitor import MAX_TRACKED, RunMonitor
from jobs.quality.verdict import FAIL, Finding
from pipelines.distribution import ScoreSummary
from pipelines.profile import MISSING, NUMERIC, OTHER, numeric_bins

N = 60


def _known_row(value, known: KnownCategories) -> bool:
    """One row's value against an encoder's categories, as scikit-learn's ``_check_unknown``
    compares them: a number array with ``np.isin`` (numpy's promotion), objects in a set."""
    if known.numeric and isinstance(value, (int, float, np.number, np.bool_)):
        return bool(np.isin(np.asarray([value]), known.numbers)[0])
    try:
        return value in known.set
    except TypeError:
        return False


class PerRowMonitor(RunMonitor):
    """The counts as first written: every row matched and stringified, then counted."""

    def observe(self, features: pd.DataFrame) -> None:
        nulls = {c: int(features[c].isna().sum()) for c in self.features}
        unseen = {}
        for column, known in self.known_categories.items():
            values = features[column].dropna()
            if known.as_text:
                values = values.astype(str)
                seen = values.isin(known.set).to_numpy()
            else:
                rows = values.to_numpy(dtype=values.dtype.numpy_dtype) if hasattr(values.dtype, "numpy_dtype") else values.to_numpy()
                seen = np.array([_known_row(v, known) for v in rows], dtype=bool)
            left = values[~seen]
            if pd.api.types.is_numeric_dtype(left.dtype) and not known.as_text:
                # Equal numbers (0.0, -0.0) are one value to the encoder: named by the first seen.
                counts = left.value_counts()
                names = counts.index.to_numpy(dtype=getattr(left.dtype, "numpy_dtype", left.dtype)).astype(str)
                unseen[column] = pd.Series(counts.to_numpy(), index=names)
            else:
                unseen[column] = left.astype(str).value_counts()
        ranges = {}
        for column, (lo, hi) in self.ranges.items():
            values = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=float)
            ranges[column] = (int((values < lo).sum()), int((values > hi).sum()))
        drift = {c: _per_row_drift_counts(e, features[c]) for c, e in self.drift_profile.items()}
        self.add_counts(len(features), nulls, {c: [(v, int(n)) for v, n in counts.items()] for c, counts in unseen.items()}, ranges, drift)


def _per_row_drift_counts(entry: dict, series: pd.Series):
    missing = int(series.isna().sum())
    if entry["kind"] == NUMERIC:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        edges = np.asarray(entry["edges"], dtype=float)
        return np.append(np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1), missing)
    counts: Counter = Counter()
    for value, count in series.dropna().astype(str).value_counts().items():
        counts[value if value in entry["shares"] else OTHER] += int(count)
    counts[MISSING] += missing
    return counts


def _mixed(rng) -> list:
    """Objects that are equal (1, 1.0, True; 0.0, -0.0) but stringify apart, text, missing."""
    return list(rng.choice(np.array([1, 1.0, True, "1", "a", "b", None, np.nan, 0.0, -0.0, 2.5], dtype=object), N))


def _columns(seed: int) -> dict[str, pd.Series]:
    rng = np.random.default_rng(seed)
    text = rng.choice(np.array(["a", "b", "c", "zz", "new", None], dtype=object), N)
    floats = rng.choice([0.0, -0.0, 1.0, 2.0, -3.5, 7.0, np.inf, np.nan], N)
    return {
        "text_str": pd.Series(text, dtype="str"),
        "text_string_python": pd.Series(text, dtype="string[python]"),
        "text_string_arrow": pd.Series(text, dtype="string[pyarrow]"),
        "text_object": pd.Series(text, dtype=object).where(rng.random(N) < 0.9, np.nan),
        "text_category": pd.Series(text, dtype="category"),
        "mixed_object": pd.Series(_mixed(rng), dtype=object),
        "floats": pd.Series(floats),
        "ints": pd.Series(rng.integers(-2, 9, N)),
        "nullable_ints": pd.Series(rng.integers(-2, 9, N), dtype="Int64").where(rng.random(N) < 0.8),
        "bools": pd.Series(rng.random(N) < 0.3),
        "numeric_text": pd.Series(rng.choice(np.array(["1", "2.5", "x", None], dtype=object), N), dtype="str"),
        "all_null_str": pd.Series([None] * N, dtype="str"),
        "all_null_object": pd.Series([None] * N, dtype=object),
        "all_null_float": pd.Series([np.nan] * N),
        "float32": pd.Series(rng.choice([0.1, 2.5, 1.0, -3.5, np.nan], N)).astype("float32"),
    }


TEXT_CATEGORIES = ["a", "b", "c", "1", "0.0", "2.5", "True", "7"]
NUMBER_CATEGORIES = {  # as encoders fitted on int, float and bool columns hold them
    "int": [-2, 0, 1, 7],
    "float": [-3.5, 0.0, 1.0, 2.5, 7.0],
    "bool": [False, True],
}


def _monitors(
    columns: list[str], cls=RunMonitor, quality: QualityConfig = QualityConfig(on_fail="warn"), categories: list | None = None,
) -> RunMonitor:
    known = {c: TEXT_CATEGORIES if categories is None else categories for c in columns}
    profile = {}
    for i, column in enumerate(columns):
        if i % 2:
            profile[column] = {"kind": NUMERIC, "min": -1.0, "max": 5.0, "edges": [-1.0, 0.0, 1.0, 2.0], "shares": [0.2] * 5}
        else:
            profile[column] = {"kind": "categorical", "shares": {"a": 0.3, "b": 0.3, "1": 0.1, "True": 0.1}}
    return cls(
        quality, DriftConfig(features=columns), features=columns,
        profile=profile, categories=known, reference=None,
    )


def _state(monitor: RunMonitor) -> str:
    """Everything a run's figures come from, order of insertion included (it orders the ledger's JSON)."""
    figures = monitor.finish(ScoreSummary()).to_json()
    tracked = {c: list(t.items()) for c, t in monitor.unseen_values().items()}
    return json.dumps([figures, tracked, monitor.rows], default=str)


@pytest.mark.parametrize("categories", ["text", *NUMBER_CATEGORIES])
@pytest.mark.parametrize("column", list(_columns(0)))
def test_each_dtype_is_counted_as_matching_every_row_would(column, categories):
    known = TEXT_CATEGORIES if categories == "text" else NUMBER_CATEGORIES[categories]
    # Each column checked as a categorical (unseen) and, in a second monitor, as a numeric (range).
    for pair in ([column, "floats"], ["floats", column]):
        fast, per_row = _monitors(pair, categories=known), _monitors(pair, PerRowMonitor, categories=known)
        for seed in (1, 2, 3):
            chunk = pd.DataFrame({c: s for c, s in _columns(seed).items() if c in pair})
            fast.observe(chunk)
            per_row.observe(chunk)
        assert _state(fast) == _state(per_row)


def test_a_training_profiles_categories_are_matched_on_the_values_text():
    monitor = RunMonitor(
        QualityConfig(on_fail="warn"), DriftConfig(), features=["flag", "code"], categories={}, reference=None,
        profile={"flag": {"kind": "categorical", "shares": {}, "categories": ["False", "True"]},
                 "code": {"kind": "categorical", "shares": {}, "categories": ["1", "x"]}},
    )
    monitor.observe(pd.DataFrame({"flag": [True, False, True], "code": pd.Series([1, "x", "y"], dtype=object)}))
    quality = monitor.finish(ScoreSummary()).quality.data
    assert quality["unseen_category_fraction"] == {"flag": 0 / 3, "code": 1 / 3}  # 0 and 1 unseen rows of 3
    assert quality["unseen_categories"] == {"code": ["y"]}


def test_equal_objects_that_stringify_apart_are_unseen_apart():
    monitor = _monitors(["mixed"], categories=["a"])
    monitor.observe(pd.DataFrame({"mixed": pd.Series([1, 1.0, True, "1", -0.0, 0.0, "a", None, np.nan], dtype=object)}))
    quality = monitor.finish(ScoreSummary()).quality.data
    # 6 unseen rows of 9 under 5 names, most common first: "1" twice, every other name once.
    names = quality["unseen_categories"]["mixed"]
    assert names[0] == "1" and sorted(names) == sorted(["1", "1.0", "True", "-0.0", "0.0"])
    assert quality["unseen_category_fraction"]["mixed"] == 6 / 9 and quality["null_fraction"]["mixed"] == 2 / 9


def test_an_all_null_text_column_counts_nulls_and_no_unseen_value():
    monitor = _monitors(["empty"])
    monitor.observe(pd.DataFrame({"empty": pd.Series([None] * 7, dtype="str")}))
    figures = monitor.finish(ScoreSummary())
    assert figures.quality.per_column("null_fraction") == {"empty": 1.0}
    assert figures.quality.per_column("unseen_category_fraction") == {"empty": 0.0}
    assert figures.drift.features["empty"]["actual"] == {MISSING: 1.0}


def _unseen_chunk(start: int, stop: int, repeat_from: int) -> pd.DataFrame:
    """Unseen values start..stop-1 once each (ties), and repeat_from.. a second time."""
    values = [f"u{i}" for i in range(start, stop)] + [f"u{i}" for i in range(repeat_from, stop)]
    return pd.DataFrame({"c": pd.Series(values, dtype="str")})


UNSEEN_CHUNKS = [_unseen_chunk(0, 800, 700), _unseen_chunk(500, 1500, 1400), _unseen_chunk(0, 50, 0)]


def test_unseen_values_beyond_the_tracked_cap_are_counted_but_not_named():
    fast, per_row = _monitors(["c"]), _monitors(["c"], PerRowMonitor)
    for chunk in UNSEEN_CHUNKS:
        fast.observe(chunk)
        per_row.observe(chunk)
    assert _state(fast) == _state(per_row)
    tracked = fast.unseen_values()["c"]
    assert len(tracked) == MAX_TRACKED
    assert fast.unseen_counts()["c"] == sum(len(c) for c in UNSEEN_CHUNKS)
    assert "u1000" not in tracked and tracked["u0"] == 3  # past the cap only names already tracked count
    assert tracked.most_common(2) == [("u700", 3), ("u701", 3)]  # ties in order of first sight (u0 has 3 too)


def _typed_chunks(seed: int) -> list[pd.DataFrame]:
    columns = ["text_str", "mixed_object", "floats", "text_object", "text_category"]
    return [pd.DataFrame({c: s for c, s in _columns(seed + k).items() if c in columns}) for k in range(4)]


@pytest.mark.parametrize("chunks", [_typed_chunks(4), _typed_chunks(9), UNSEEN_CHUNKS], ids=["dtypes", "dtypes2", "unseen"])
def test_chunks_merged_from_empty_copies_give_the_figures_of_chunks_observed_here(chunks):
    here, merged = _monitors(list(chunks[0])), _monitors(list(chunks[0]))
    for chunk in chunks:
        here.observe(chunk)
        seen = merged.empty_copy()
        seen.observe(chunk)
        merged.merge(seen, stop_early=True)
    assert _state(here) == _state(merged)


def _merge_chunk(monitor: RunMonitor, chunk: pd.DataFrame) -> None:
    seen = monitor.empty_copy()
    seen.observe(chunk)  # an empty copy alone never stops: only the run's total says
    monitor.merge(seen, stop_early=True)


def test_a_merge_over_max_rows_stops_the_run_like_observe():
    limit = QualityConfig(max_rows=100, on_fail=FAIL)
    observed, merged = _monitors(["floats"], quality=limit), _monitors(["floats"], quality=limit)
    chunk = pd.DataFrame({"floats": np.arange(60.0)})
    errors = []
    for feed in (observed.observe, lambda c: _merge_chunk(merged, c)):
        feed(chunk)  # 60 rows: under the limit
        with pytest.raises(QualityCheckFailed) as failed:
            feed(chunk)
        errors.append(failed.value)
    assert "120 is above the limit 100" in errors[1].what and "stopped while reading" in errors[1].what
    assert (errors[0].what, errors[0].hint, errors[0].stats) == (errors[1].what, errors[1].hint, errors[1].stats)
    assert errors[1].stats.quality.findings == [asdict(Finding("max_rows", None, 120, 100, FAIL, "quality.max_rows"))]


def test_an_empty_copy_neither_stops_early_nor_caps_names_and_a_plain_merge_never_stops():
    monitor = _monitors(["c"], quality=QualityConfig(max_rows=10, on_fail=FAIL))
    seen = monitor.empty_copy()
    seen.observe(_unseen_chunk(0, 1200, 1200))  # 1200 rows > max_rows, 1200 names > the cap
    assert seen.rows == 1200 and len(seen.unseen_values()["c"]) == 1200
    assert monitor.rows == 0  # the copy counts apart
    monitor.merge(seen)  # as Spark's accumulator merges: the verdict waits for finish()
    assert monitor.rows == 1200 and len(monitor.unseen_values()["c"]) == MAX_TRACKED
    with pytest.raises(QualityCheckFailed, match="1200 is above the limit 10"):
        monitor.finish(ScoreSummary())


def test_numeric_bins_count_each_value_in_its_bin_as_a_binary_search_would():
    rng = np.random.default_rng(7)
    for _ in range(300):
        values = rng.choice([-np.inf, np.inf, np.nan, 0.0, -0.0, 1.0, 2.5, -1.0, 0.1], int(rng.integers(0, 80)))
        edges = np.unique(rng.choice([-np.inf, np.inf, np.nan, 0.0, 1.0, -1.0, 0.1, 2.5, 9.0], int(rng.integers(0, 10))))
        kept = values[~np.isnan(values)]
        expected = np.bincount(np.searchsorted(edges, kept, side="left"), minlength=len(edges) + 1)
        np.testing.assert_array_equal(numeric_bins(values, edges), expected)
