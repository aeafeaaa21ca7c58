"""The ``stats`` of a ledger row, typed: what a run measured (its score distribution, seconds
per stage, warnings, quality and drift figures, engine facts), written by the runner and read
by every reader of the ledger (drift against the previous day, ``status``, the report, the
demo). One ``to_json``/``from_json``: the JSON shape users query is written down here.

    {"scores":   {"count", "mean", "std", "min", "max", "quantiles": {"p01".."p99"},
                  "quantiles_exact", "histogram": {"edges", "counts"}}   (pipelines.distribution.ScoreSummary)
     "timings":  {stage: seconds}            read, score, write, model_load, engine_total, total...
     "warnings": [text, ...]
     "quality":  {"verdict": pass|warn|fail, "rows", "rejected", "reject_fraction",
                  "null_fraction": {column: f}, "unseen_category_fraction": {column: f},
                  "unseen_categories": {column: [values]}, "out_of_range": {column: {below, above}},
                  "findings": [{check, column, value, limit, action, setting}], "limits": {...}}
     "drift":    {"max_psi", "psi_reference", "psi_previous", "previous_day",
                  "features": {column: {"psi", ...}}}
     "shadow":   {version: {"model", "ref", "rows", "psi", "spearman", "top_decile_overlap",
                            "mean_abs_diff", "paired_sample", "seconds"}
                  | {version or unresolved ref: {"error", "ref"}}}     (pipeline.shadow; jobs.shadow)
     "spark":    {"application_id", "master", "version"}              (spark engine only)
     "pandas":   {"setting", "workers", "threads_per_worker", "cores", "threaded_model" (auto only), "row_threads"}
                                                     (pandas engine: the workers it used; jobs.engines.cores)
     "runtime":  "sklearn" | "treelite"       what scored the final estimator (pipelines.runtime)
     "model_choice": {"ref", "how": explicit|run_start|as_of_day, "version", "alias_set_at",
                      "train_end", "note"}}  which version scored the day and why, keys without
                                             a value left out (succeeded runs; jobs.lifecycle.model_choice)

Every section is optional: a run that failed early has only some of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from jobs.vocabulary import ENGINES
from pipelines.basics import json_default
from pipelines.distribution import ScoreSummary

_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class QualityFigures:
    """The ``quality`` section (``jobs.quality.monitor.RunMonitor.finish``)."""

    data: Mapping = field(default_factory=dict)

    @property
    def verdict(self) -> str | None:
        return self.data.get("verdict")

    @property
    def rows(self) -> int | None:
        return self.data.get("rows")

    @property
    def findings(self) -> list[dict]:
        return list(self.data.get("findings") or [])

    def per_column(self, figure: str) -> Mapping:
        """``null_fraction``, ``unseen_category_fraction``, ``unseen_categories`` or
        ``out_of_range``, by column."""
        return self.data.get(figure) or _EMPTY

    @property
    def limits(self) -> Mapping:
        return self.data.get("limits") or _EMPTY


@dataclass(frozen=True)
class DriftFigures:
    """The ``drift`` section: score PSI against training and the previous day, per feature."""

    data: Mapping = field(default_factory=dict)

    @property
    def psi_reference(self) -> float | None:
        return self.data.get("psi_reference")

    @property
    def psi_previous(self) -> float | None:
        return self.data.get("psi_previous")

    @property
    def features(self) -> Mapping[str, Mapping]:
        return self.data.get("features") or _EMPTY


@dataclass(frozen=True)
class ShadowComparison:
    """One shadow version's figures against the main scores, or why it was left out."""

    data: Mapping = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.data.get("error")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def model(self) -> str | None:
        return self.data.get("model")

    @property
    def rows(self) -> int | None:
        return self.data.get("rows")

    @property
    def psi(self) -> float | None:
        return self.data.get("psi")

    @property
    def spearman(self) -> float | None:
        return self.data.get("spearman")

    @property
    def top_decile_overlap(self) -> float | None:
        return self.data.get("top_decile_overlap")

    @property
    def mean_abs_diff(self) -> float | None:
        return self.data.get("mean_abs_diff")


@dataclass(frozen=True)
class ModelChoiceRecord:
    """The ``model_choice`` section: the version that scored the day and how it was chosen
    (``jobs.lifecycle.model_choice.ModelChoice.to_json``; keys without a value are left out)."""

    data: Mapping = field(default_factory=dict)

    @property
    def ref(self) -> str | None:
        return self.data.get("ref")

    @property
    def how(self) -> str | None:
        return self.data.get("how")

    @property
    def version(self) -> int | None:
        return self.data.get("version")

    @property
    def alias_set_at(self) -> str | None:
        return self.data.get("alias_set_at")

    @property
    def train_end(self) -> str | None:
        return self.data.get("train_end")

    @property
    def note(self) -> str | None:
        return self.data.get("note")


@dataclass(frozen=True)
class RunStats:
    """A run's stats. Sections the run did not reach are empty."""

    scores: ScoreSummary | None = None  # None: the run did not get to a distribution
    timings: Mapping[str, float] | None = None  # None: not recorded (a row from elsewhere)
    warnings: tuple[str, ...] | None = None
    quality: QualityFigures = field(default_factory=QualityFigures)
    drift: DriftFigures = field(default_factory=DriftFigures)
    engine: Mapping[str, Mapping] = field(default_factory=dict)  # engine facts by engine name: {"spark": {...}}, {"pandas": {...}}
    shadow: Mapping[str, ShadowComparison] = field(default_factory=dict)  # by version (str), as in the JSON
    runtime: str | None = None  # sklearn | treelite; None: not recorded (a run from before runtimes)
    model_choice: ModelChoiceRecord | None = None  # None: not recorded (a failed run, or one from before choices)
    extra: Mapping = field(default_factory=dict, repr=False)  # keys this version does not know, kept

    @classmethod
    def from_json(cls, data: Mapping | None) -> RunStats:
        data = dict(data or {})
        return cls(
            scores=_summary(data.pop("scores", None)),
            timings=data.pop("timings", None),
            warnings=None if "warnings" not in data else tuple(data.pop("warnings") or ()),
            quality=QualityFigures(data.pop("quality", None) or _EMPTY),
            drift=DriftFigures(data.pop("drift", None) or _EMPTY),
            engine={name: data.pop(name) for name in ENGINES if name in data},
            shadow={str(k): ShadowComparison(v or _EMPTY) for k, v in (data.pop("shadow", None) or {}).items()},
            runtime=data.pop("runtime", None),
            model_choice=ModelChoiceRecord(data.pop("model_choice") or _EMPTY) if "model_choice" in data else None,
            extra=data,
        )

    def to_json(self) -> dict:
        """Plain JSON data (numpy values and dates converted); sections the run did not
        reach are left out (the runner always records timings and warnings)."""
        out: dict = {}
        if self.scores is not None:
            out["scores"] = self.scores.to_json()
        if self.timings is not None:
            out["timings"] = dict(self.timings)
        if self.warnings is not None:
            out["warnings"] = list(self.warnings)
        if self.quality.data:
            out["quality"] = dict(self.quality.data)
        if self.drift.data:
            out["drift"] = dict(self.drift.data)
        if self.shadow:
            out["shadow"] = {key: dict(figures.data) for key, figures in self.shadow.items()}
        if self.runtime is not None:
            out["runtime"] = self.runtime
        out.update({name: dict(facts) for name, facts in self.engine.items()})
        if self.model_choice is not None:
            out["model_choice"] = dict(self.model_choice.data)
        out.update(self.extra)
        return json.loads(json.dumps(out, default=_default))


def _summary(data: Mapping | None) -> ScoreSummary | None:
    return ScoreSummary.from_json(data) if data else None  # an empty section is no section


def _default(value):
    try:
        return json_default(value)
    except TypeError:
        return str(value)  # a figure of a type we do not know is still recorded, as text


@dataclass(frozen=True)
class PreviousDay:
    """The last succeeded day before the one being scored, for drift: its day and scores."""

    day: date
    scores: ScoreSummary
