"""Each contender's output, checked after each repetition: its own new rows, and its scores
against the pipeline's own ``predict_proba`` of the same rows.

A run that leaves the previous repetition's rows in place would pass a count; here the day's
rows must all carry one run id no earlier repetition of that contender wrote, every customer
exactly once, and scores equal to the reference (``data.reference_scores``) to ``TOLERANCE``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

TOLERANCE = 1e-9  # chunked predicts may round differently in the last bits; a wrong row is off by far more


class CheckFailed(AssertionError):
    """A contender's output is not the day it was asked to score."""


@dataclass(frozen=True)
class Output:
    """Where a contender writes the day: ``kind`` postgres (a table), sqlite (a table in a
    file) or parquet (a ``score_date=D`` partitioned directory)."""

    kind: str
    where: str
    table: str = ""

    def read(self, day: date) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """customer_id, score and the distinct run ids of the day's rows."""
        if self.kind == "postgres":
            import adbc_driver_postgresql.dbapi as pg

            from benchmarks.data import adbc_uri

            with pg.connect(adbc_uri(self.where)) as conn, conn.cursor() as cur:
                cur.execute(f"SELECT customer_id, score, run_id FROM {self.table} WHERE score_date = '{day.isoformat()}'")
                table = cur.fetch_arrow_table()
            return (table.column("customer_id").to_numpy(), table.column("score").to_numpy(),
                    table.column("run_id").unique().to_pylist())
        if self.kind == "sqlite":
            con = sqlite3.connect(self.where)
            try:
                rows = con.execute(f"SELECT customer_id, score FROM {self.table} WHERE score_date = ?", (day.isoformat(),)).fetchall()
                runs = [r[0] for r in con.execute(f"SELECT DISTINCT run_id FROM {self.table} WHERE score_date = ?", (day.isoformat(),))]
            except sqlite3.OperationalError:
                rows, runs = [], []
            finally:
                con.close()
            array = np.asarray(rows, dtype=object).reshape(-1, 2)
            return array[:, 0].astype(np.int64), array[:, 1].astype(np.float64), runs
        import pyarrow.dataset as ds

        path = Path(self.where) / f"score_date={day.isoformat()}"
        if not path.exists():
            return np.empty(0, np.int64), np.empty(0), []
        table = ds.dataset(path, format="parquet").to_table(columns=["customer_id", "score", "run_id"])
        return (table.column("customer_id").to_numpy(), table.column("score").to_numpy(),
                table.column("run_id").unique().to_pylist())


def check(output: Output, day: date, reference: np.ndarray, seen_runs: set[str]) -> dict:
    """Raise ``CheckFailed`` unless the day in ``output`` is exactly one new run's scores of every
    customer, equal to ``reference``; then remember the run id and return the figures."""
    ids, scores, runs = output.read(day)
    where = f"{output.kind} {output.table or output.where}, {day}"
    if len(ids) != len(reference):
        raise CheckFailed(f"{where}: {len(ids)} rows, expected {len(reference)}")
    if len(runs) != 1:
        raise CheckFailed(f"{where}: {len(runs)} run ids in the day ({runs[:3]}...), expected one")
    if runs[0] in seen_runs:
        raise CheckFailed(f"{where}: run id {runs[0]} was already there after an earlier repetition (nothing new written)")
    order = np.argsort(ids, kind="stable")
    ids, scores = ids[order], scores[order]
    if not np.array_equal(ids, np.arange(1, len(reference) + 1)):
        raise CheckFailed(f"{where}: customer ids are not each of 1..{len(reference)} once")
    diff = np.abs(scores - reference)
    worst = float(np.nanmax(diff)) if len(diff) else 0.0
    if np.isnan(scores).any() or worst > TOLERANCE:
        bad = int(np.count_nonzero(~(diff <= TOLERANCE)))
        raise CheckFailed(f"{where}: {bad} scores differ from the pipeline's predict_proba (largest difference {worst:g})")
    seen_runs.add(runs[0])
    return {"ok": True, "run_id": runs[0], "checksum": float(scores.sum()), "reference_checksum": float(reference.sum()),
            "max_abs_diff": worst}
