"""The words of a run's verdict: pass, warn, fail; a ``Finding`` (one check over its limit)
and how figures are written in its one-line description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

    def describe(self) -> str:
        on = f" on column {self.column}" if self.column else ""
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
