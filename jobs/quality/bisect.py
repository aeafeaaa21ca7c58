"""Bad rows: find the rows of a chunk the pipeline cannot score (``quality.on_bad_rows:
reject``); ``jobs.sinks.rejects`` stores them aside.

A chunk is scored whole; only when that raises, or gives NaN/inf scores, are its rows split
in halves, recursively, until each failing row stands alone (``quality.on_bad_rows: reject``).
A good chunk costs one prediction, as without rejects; k bad rows cost about 2k·log2(n) more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from jobs.errors import ScoringError

if TYPE_CHECKING:  # pandas is imported where a frame is made: `batchscore run` starts its read first
    import pandas as pd

MAX_REASON = 300  # characters of an exception message kept per rejected row

Predict = Callable[["pd.DataFrame"], tuple[np.ndarray, np.ndarray | None]]


def isolate_bad_rows(predict: Predict, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, dict[int, str]]:
    """Scores and labels of every row (undefined where rejected) and {row position: reason}.

    ``predict`` raises a ``ScoringError`` (``scoring.raw_predict`` wraps the pipeline's own
    exception) when the pipeline fails on a frame. A chunk that fails although none of its rows fails alone is not a bad
    row problem: its error is raised.
    """
    n = len(features)
    scores = np.full(n, np.nan)
    labels: np.ndarray | None = None
    reasons: dict[int, str] = {}

    def visit(lo: int, hi: int) -> None:
        nonlocal labels
        try:
            part_scores, part_labels = predict(features.iloc[lo:hi])
        except ScoringError as exc:
            if hi - lo == 1:
                reasons[lo] = _reason(exc)
                return
            mid = (lo + hi) // 2
            visit(lo, mid)
            visit(mid, hi)
            return
        scores[lo:hi] = part_scores
        if part_labels is not None:
            if labels is None:
                labels = np.empty(n, dtype=object)
            labels[lo:hi] = part_labels
        for i in np.flatnonzero(~np.isfinite(part_scores)):
            reasons[lo + int(i)] = f"non-finite score ({part_scores[i]})"

    try:
        part_scores, part_labels = predict(features)
    except ScoringError as whole:
        if n <= 1:
            if n:
                reasons[0] = _reason(whole)
            return scores, labels, reasons
        mid = n // 2
        visit(0, mid)
        visit(mid, n)
        if not reasons:
            raise  # the chunk fails, no row alone does: not something rejecting can fix
        return scores, labels, reasons
    scores, labels = part_scores, part_labels
    for i in np.flatnonzero(~np.isfinite(scores)):
        reasons[int(i)] = f"non-finite score ({scores[i]})"
    return scores, labels, reasons


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    text = f"pipeline raised {type(cause).__name__}: {cause}".replace("\n", " ")
    return text[:MAX_REASON]
