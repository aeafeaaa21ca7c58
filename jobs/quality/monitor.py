"""Input checks, bad-row share and drift of one run, accumulated chunk by chunk.

``RunMonitor.observe(features)`` sees each conformed chunk once (no second pass over the day);
``guard(batches, stats)`` passes the scored batches on to the sink and, after the last one and
before the sink commits, computes the verdict: a failed check raises ``QualityCheckFailed``
from inside the sink's loop, so the day's write rolls back and nothing is written.
"""

from __future__ import annotations

import copy
import math
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

import numpy as np

from jobs.quality.column import ChunkColumn, KnownCategories, drift_counts
from jobs.quality.duplicates import Duplicates, IdTracker, Reread
from jobs.config import DriftConfig, QualityConfig
from jobs.quality.psi import category_psi, histogram_psi, psi
from jobs.errors import ConfigError, QualityCheckFailed
from jobs.quality.verdict import FAIL, PASS, WARN, Finding, bin_labels, limit_findings
from jobs.run_stats import DriftFigures, PreviousDay, QualityFigures, RunStats
from pipelines.distribution import ScoreStats, ScoreSummary
from pipelines.profile import CATEGORICAL, MISSING, NUMERIC, fitted_categories

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

MAX_UNSEEN_EXAMPLES = 10  # unseen values named per column in the ledger
MAX_TRACKED = 1000  # distinct unseen values counted per column (bounded memory)


class RunMonitor:
    """Streaming accumulator of one run's checks; thread-safe ``observe``."""

    def __init__(
        self,
        quality: QualityConfig,
        drift: DriftConfig,
        *,
        features: list[str],
        profile: dict | None,
        categories: dict[str, list],
        reference: ScoreSummary | None,
        previous: PreviousDay | None = None,
        model_label: str = "the model",
        id_columns: Sequence[str] = (),
    ) -> None:
        self.quality, self.drift = quality, drift
        self.reference, self.previous = reference, previous
        profile = profile or {}
        _check_columns(quality, drift, features, model_label)
        self._features = features
        self._id_columns = tuple(id_columns)
        # An encoder's categories are compared with the values as the encoder compares them.
        self._known = {c: KnownCategories(v) for c, v in categories.items() if c in features}
        for column, entry in profile.items():  # no encoder found: the training frame's categories
            if entry.get("kind") == CATEGORICAL and column not in self._known and "categories" in entry:
                self._known[column] = KnownCategories(entry["categories"], as_text=True)
        self._ranges = {
            c: (e["min"], e["max"]) for c, e in profile.items() if e.get("kind") == NUMERIC and e.get("min") is not None
        }
        self._drift_profile = {c: profile[c] for c in drift.features if c in profile}
        self._lock = threading.Lock()
        self._stops_early = True  # observe raises as soon as max_rows is exceeded (on_fail: fail)
        self._tracked_cap: float = MAX_TRACKED
        self._zero()

    def _zero(self) -> None:
        self.rows = 0
        self.rejected = 0
        self.unscored = 0  # rows read but set aside before scoring (duplicate ids)
        self._ids = IdTracker(self._id_columns)
        self._nulls = dict.fromkeys(self._features, 0)
        self._unseen = dict.fromkeys(self._known, 0)
        self._unseen_values: dict[str, Counter] = {c: Counter() for c in self._known}
        self._below = dict.fromkeys(self._ranges, 0)
        self._above = dict.fromkeys(self._ranges, 0)
        self._bins: dict[str, np.ndarray] = {}
        self._shares: dict[str, Counter] = {}
        self.figures: RunStats | None = None  # the quality and drift sections, once finished

    @classmethod
    def for_task(cls, task, pipeline) -> RunMonitor:
        """The monitor of an engine's ``ScoringTask`` scored with ``pipeline`` (its encoders
        know which categories it was fitted on)."""
        model = task.model
        return cls(
            task.quality,
            task.drift,
            features=task.spec.feature_names,
            profile=model.profile,
            categories=fitted_categories(pipeline),
            reference=model.reference,
            previous=task.previous,
            model_label=f"{model.name} v{model.version}",
            id_columns=task.id_columns,
        )

    # --- per chunk -----------------------------------------------------------------------

    def observe(self, features: pd.DataFrame) -> None:
        """Count one conformed chunk's rows, nulls, unseen categories, out-of-range values."""
        # Counted outside the lock (chunks may be scored in parallel), merged under it.
        # Each column is read once for all the checks that need it.
        columns = {c: ChunkColumn(features[c]) for c in self._features}
        nulls = {c: columns[c].nulls for c in self._features}
        unseen = {c: columns[c].unseen(known) for c, known in self._known.items()}
        ranges = {}
        for column, (lo, hi) in self._ranges.items():
            values = columns[column].floats
            ranges[column] = (int(np.count_nonzero(values < lo)), int(np.count_nonzero(values > hi)))
        drift = {c: drift_counts(e, columns[c]) for c, e in self._drift_profile.items()}
        self.add_counts(len(features), nulls, unseen, ranges, drift)

    def observe_ids(self, batch) -> None:
        """Keep the chunk's id keys (4 or 8 bytes a row) for the duplicate-id check at the end."""
        if not self._id_columns or not batch.num_rows:
            return
        keys = self._ids.keys_of(batch)  # sorted outside the lock
        with self._lock:
            self._ids.add(*keys)

    # --- what the monitor watches, and what it counted (read-only views) -------------------

    @property
    def features(self) -> list[str]:
        return list(self._features)

    @property
    def known_categories(self) -> dict[str, KnownCategories]:
        """Per categorical column, what its encoder was fitted on."""
        return dict(self._known)

    @property
    def ranges(self) -> dict[str, tuple[float, float]]:
        """Per numeric column, the training range (min, max)."""
        return dict(self._ranges)

    @property
    def drift_profile(self) -> dict[str, dict]:
        """The training profile of the columns ``drift.features`` watches."""
        return dict(self._drift_profile)

    def unseen_counts(self) -> dict[str, int]:
        """Per column, the rows whose value its encoder was not fitted on."""
        return dict(self._unseen)

    def unseen_values(self) -> dict[str, Counter]:
        """Per column, a copy of the unseen values named so far (at most ``MAX_TRACKED``) and
        their counts, in the order they were first seen."""
        return {c: Counter(t) for c, t in self._unseen_values.items()}

    def add_counts(self, rows: int, nulls: dict, unseen: dict, ranges: dict, drift: dict) -> None:
        """One chunk's counts into the run's, under the lock. ``unseen``: per column, the
        (value, count) pairs of the values the encoder was not fitted on."""
        with self._lock:
            self.rows += rows
            if self._stops_early:
                self._stop_over_max_rows()
            for column, count in nulls.items():
                self._nulls[column] += count
            for column, counts in unseen.items():
                self._unseen[column] += sum(n for _, n in counts)
                self._track(column, counts)
            for column, (below, above) in ranges.items():
                self._below[column] += below
                self._above[column] += above
            for column, counts in drift.items():
                if isinstance(counts, Counter):
                    self._shares.setdefault(column, Counter()).update(counts)
                else:
                    self._bins[column] = self._bins.get(column, 0) + counts

    def empty_copy(self) -> RunMonitor:
        """An empty monitor of this run, to count chunks elsewhere (a worker process) and be
        merged back with ``merge(..., stop_early=True)``, in chunk order.

        It never stops early and tracks every unseen value it sees: the merge applies the
        ``max_rows`` stop and the cap on tracked values to the run's totals, so the figures
        are those ``observe`` gives when it sees every chunk itself.
        """
        other = copy.copy(self)  # shares the read-only configuration; the lock is a new one
        other._zero()
        other._stops_early = False
        other._tracked_cap = math.inf
        return other

    def merge(self, other: RunMonitor, *, stop_early: bool = False) -> None:
        """Add the counts of a monitor of the same run that saw other chunks (a Spark
        partition, a worker's chunk). With ``stop_early`` a ``max_rows`` exceeded by the total
        raises as ``observe`` does (``on_fail: fail``): the run stops reading."""
        with self._lock:
            self.rows += other.rows
            if stop_early:
                self._stop_over_max_rows()
            self.rejected += other.rejected
            self.unscored += other.unscored
            self._ids.merge(other._ids)
            for mine, theirs in ((self._nulls, other._nulls), (self._unseen, other._unseen),
                                 (self._below, other._below), (self._above, other._above)):
                for column, count in theirs.items():
                    mine[column] += count
            for column, counts in other._unseen_values.items():
                self._track(column, counts.items())
            for column, counts in other._bins.items():
                self._bins[column] = self._bins.get(column, 0) + counts
            for column, shares in other._shares.items():
                self._shares.setdefault(column, Counter()).update(shares)

    def _stop_over_max_rows(self) -> None:
        limit = self.quality.max_rows
        if limit is not None and self.rows > limit and self.quality.on_fail == FAIL:
            # Known before the end of the day: stop reading now.
            self._raise([Finding("max_rows", None, self.rows, limit, FAIL, "quality.max_rows")], partial=True)

    def _track(self, column: str, counts) -> None:
        """Count unseen values by name; new names only while fewer than the cap are tracked."""
        tracked, cap = self._unseen_values[column], self._tracked_cap
        for value, count in counts:
            if value in tracked or len(tracked) < cap:
                tracked[value] += count

    def __getstate__(self) -> dict:
        # Spark ships monitors between processes; a lock does not travel, each side makes one.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def add_rejected(self, rows: int, *, scored: bool = True) -> None:
        """Count rows set aside; ``scored=False``: set aside before scoring (never observed)."""
        with self._lock:
            self.rejected += rows
            if not scored:
                self.unscored += rows

    # --- end of the day --------------------------------------------------------------------

    def guard(self, batches: Iterator, stats: ScoreStats, reread: Reread | None = None) -> Iterator:
        """``batches`` unchanged, then the verdict: raises before the consumer (a sink) commits."""
        yield from batches
        self.finish(stats.summary(), reread)

    def finish(self, scores: ScoreSummary, reread: Reread | None = None) -> RunStats:
        """The run's figures and verdict (the ``quality`` and ``drift`` sections of its stats);
        raises ``QualityCheckFailed`` if a check fails. ``reread``: the day's id columns
        again, to confirm hashed duplicate ids."""
        q, rows = self.quality, self.rows
        findings: list[Finding] = []
        duplicates = self._duplicates(reread)
        if duplicates:
            # Whatever on_fail says: two score rows for one id is no output to keep.
            # (With on_duplicate_ids: reject their rows were set aside before scoring, so
            # duplicates here mean the source changed between the two reads.)
            findings.append(Finding(
                "duplicate_ids", ", ".join(self._id_columns), duplicates.count, 0, FAIL, "quality.on_duplicate_ids",
                detail=duplicates.describe(),
            ))
        nulls = {c: n / rows if rows else 0.0 for c, n in self._nulls.items()}
        unseen = {c: n / rows if rows else 0.0 for c, n in self._unseen.items()}
        out_of_range = {c: {"below": self._below[c], "above": self._above[c]} for c in self._ranges}
        read = rows + self.unscored
        reject_fraction = self.rejected / read if read else 0.0
        findings += limit_findings(q, rows, nulls, unseen, out_of_range, reject_fraction)
        drift, drift_findings = self._drift(scores)
        findings += drift_findings
        verdict = FAIL if any(f.action == FAIL for f in findings) else WARN if findings else PASS
        self.figures = RunStats(
            quality=QualityFigures({
                "verdict": verdict,
                "rows": rows,
                "rejected": self.rejected,
                "reject_fraction": reject_fraction,
                "duplicate_ids": {"ids": duplicates.count, "rows": duplicates.rows, "examples": duplicates.examples}
                if duplicates is not None else None,
                "null_fraction": nulls,
                "unseen_category_fraction": unseen,
                "unseen_categories": {
                    c: [v for v, _ in t.most_common(MAX_UNSEEN_EXAMPLES)] for c, t in self._unseen_values.items() if t
                },
                "out_of_range": out_of_range,
                "findings": [asdict(f) for f in findings],
                "limits": q.model_dump(),
            }),
            drift=DriftFigures(drift),
        )
        if verdict == FAIL:
            self._raise([f for f in findings if f.action == FAIL], scores=scores)
        return self.figures

    def _duplicates(self, reread: Reread | None) -> Duplicates | None:
        return self._ids.result(reread) if self._id_columns else None

    def warnings(self) -> list[str]:
        """One line per check over its limit that only warns."""
        findings = self.figures.quality.findings if self.figures is not None else []
        return [Finding(**f).describe() for f in findings if f["action"] == WARN]

    def _drift(self, scores: ScoreSummary) -> tuple[dict, list[Finding]]:
        d = self.drift
        findings = []
        vs_reference = histogram_psi(self.reference, scores)
        vs_previous = histogram_psi(self.previous.scores if self.previous else None, scores)
        for name, value in (("score_psi_reference", vs_reference), ("score_psi_previous", vs_previous)):
            if value is not None and value > d.max_psi:
                findings.append(Finding(name, None, value, d.max_psi, d.on_fail, "drift.max_psi"))
        features = {}
        for column in d.features:
            entry = self._drift_profile.get(column)
            if entry is None:
                features[column] = {"psi": None, "note": "no training profile (register with training data)"}
                continue
            if entry["kind"] == NUMERIC:
                expected = [*entry["shares"], entry.get("missing_share", 0.0)]
                actual = self._bins.get(column, np.zeros(len(expected)))
                value = psi(expected, actual)
                total = actual.sum()
                features[column] = {
                    "kind": NUMERIC,
                    "psi": value,
                    "bins": bin_labels(entry["edges"]) + [MISSING],
                    "expected": expected,
                    "actual": (actual / total).tolist() if total else [0.0] * len(expected),
                }
            else:
                expected = dict(entry["shares"])
                expected[MISSING] = entry.get("null_fraction", 0.0)
                actual = self._shares.get(column, Counter())
                total = sum(actual.values())
                value = category_psi(expected, actual)
                features[column] = {
                    "kind": CATEGORICAL,
                    "psi": value,
                    "expected": expected,
                    "actual": {k: v / total for k, v in actual.items()} if total else {},
                }
            if value > d.max_psi:
                findings.append(Finding("feature_psi", column, value, d.max_psi, d.on_fail, "drift.max_psi"))
        drift = {
            "max_psi": d.max_psi,
            "psi_reference": vs_reference,
            "psi_previous": vs_previous,
            "previous_day": self.previous.day.isoformat() if self.previous else None,
            "features": features,
        }
        return drift, findings

    def _raise(self, failed: list[Finding], partial: bool = False, scores: ScoreSummary | None = None) -> None:
        first = failed[0]
        more = f"; and {len(failed) - 1} more: " + "; ".join(f.describe() for f in failed[1:]) if len(failed) > 1 else ""
        stopped = "stopped while reading" if partial else "stopped before writing"
        hint = f"fix the upstream data, or change {first.setting} in the job file"
        if first.check == "duplicate_ids":
            hint = ("remove the duplicates upstream, or set quality.on_duplicate_ids: reject in the job file "
                    "to set their rows aside")
        raise QualityCheckFailed(
            f"{first.describe()}{more}; the run {stopped}, nothing was written",
            hint=hint,
            # The failed day's figures (its scores too, though not written) stay in the ledger.
            stats=replace(self.figures, scores=scores) if self.figures is not None else RunStats(
                quality=QualityFigures({"verdict": FAIL, "rows": self.rows, "findings": [asdict(f) for f in failed]})
            ),
        )


def _check_columns(quality: QualityConfig, drift: DriftConfig, features: list[str], model: str) -> None:
    known = set(features)
    for key, columns in (
        ("quality.max_null_fraction", list(quality.max_null_fraction) if isinstance(quality.max_null_fraction, dict) else []),
        ("drift.features", drift.features),
    ):
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ConfigError(
                f"{key} names {', '.join(unknown)}, not feature(s) of {model}",
                hint=f"its features: {', '.join(features)}",
            )
