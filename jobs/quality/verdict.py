"""The words of a run's verdict: pass, warn, fail; a ``Finding`` (one check over its limit)
and how figures are written in its one-line description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.config import QualityConfig

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    """One check over its limit: ``figure`` > ``limit`` (``min_rows``: figure < limit)."""

    check: str  # min_rows | max_rows | null_fraction | unseen_category_fraction | ...
    column: str | None
    figure: float
    limit: float
    action: str  # warn | fail
    setting: str  # the config key that sets the limit
    detail: str | None = None  # said instead of figure and limit (duplicate_ids)

    def describe(self) -> str:
        on = f" on column {self.column}" if self.column else ""
        if self.detail is not None:
            return f"check {self.check}{on}: {self.detail}"
        relation = "below" if self.check == "min_rows" else "above"
        return f"check {self.check}{on}: {_fmt(self.figure)} is {relation} the limit {_fmt(self.limit)} ({self.setting})"


def bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    labels = [f"<= {_fmt(edges[0])}"]
    labels += [f"{_fmt(a)} - {_fmt(b)}" for a, b in zip(edges, edges[1:])]
    return labels + [f"> {_fmt(edges[-1])}"]


def _fmt(value: float) -> str:
    if isinstance(value, (int, np.integer)) or float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def limit_findings(
    q: QualityConfig, rows: int, nulls: dict, unseen: dict, out_of_range: dict, reject_fraction: float
) -> list[Finding]:
    """The quality checks over their limits, from the run's figures: rows, missing values and
    unseen categories per column (fractions), out-of-range counts, the rejected share. Pure."""
    action = q.on_fail
    findings: list[Finding] = []
    if rows < q.min_rows:
        findings.append(Finding("min_rows", None, rows, q.min_rows, action, "quality.min_rows"))
    if q.max_rows is not None and rows > q.max_rows:
        findings.append(Finding("max_rows", None, rows, q.max_rows, action, "quality.max_rows"))
    for column, fraction in nulls.items():
        if fraction > q.null_limit(column):
            findings.append(Finding("null_fraction", column, fraction, q.null_limit(column), action, "quality.max_null_fraction"))
    for column, fraction in unseen.items():
        if fraction > q.max_unseen_category_fraction:
            findings.append(Finding(
                "unseen_category_fraction", column, fraction, q.max_unseen_category_fraction, action,
                "quality.max_unseen_category_fraction",
            ))
    if q.max_out_of_range_fraction is not None:
        for column, counts in out_of_range.items():
            fraction = (counts["below"] + counts["above"]) / rows if rows else 0.0
            if fraction > q.max_out_of_range_fraction:
                findings.append(Finding(
                    "out_of_range_fraction", column, fraction, q.max_out_of_range_fraction, action,
                    "quality.max_out_of_range_fraction",
                ))
    if "reject" in (q.on_bad_rows, q.on_duplicate_ids) and reject_fraction > q.max_reject_fraction:
        # Not subject to on_fail: it is the condition for a run with rejects to succeed.
        findings.append(Finding("reject_fraction", None, reject_fraction, q.max_reject_fraction, FAIL, "quality.max_reject_fraction"))
    return findings
