"""The feature plan against scikit-learn on the demo churn pipeline: one predict_proba call of
16 rows (an online request's block) and of 100,000 rows (a batch chunk), with gaps and unseen
categories in the rows.

    .venv/bin/python -m benchmarks.feature_plan [--repeat 7] [--customers 20000]

Each repetition times ``--calls`` calls of each size with each path, alternating the paths, and
prints the median call of the repetition; the scores are checked to be the same bytes first.
Criterion (written before the run): the plan's median call at most 0.5x scikit-learn's at 16
rows and at most 0.8x at 100,000 rows, in every repetition.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date

import numpy as np
import pyarrow as pa

DAY = date(2026, 3, 2)


def day_features(rows: int):
    from pipelines import churn
    from pipelines.demo_data import make_customer_frame

    frame = make_customer_frame(DAY, rows)
    frame.loc[::7, "plan"] = None
    frame.loc[::11, "tenure_days"] = None
    frame.loc[::13, "region"] = "atlantis"
    table = pa.Table.from_pandas(frame[list(churn.FEATURES)], preserve_index=False)
    return table.to_pandas(split_blocks=True)  # as the engines hand a chunk to the pipeline


def median_call(call, features, calls: int) -> float:
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        call(features)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feature_plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--customers", type=int, default=20000, help="training rows of the demo pipeline")
    args = parser.parse_args(argv)
    from pipelines import churn
    from pipelines.demo_data import make_customer_frame
    from pipelines.planned import PlannedPipeline, planned

    training = make_customer_frame(DAY, args.customers)
    pipeline, _metrics = churn.train(training)
    fast = planned(pipeline)
    assert isinstance(fast, PlannedPipeline)
    sizes = {16: 200, 100_000: 5}
    frames = {rows: day_features(rows) for rows in sizes}
    for rows, features in frames.items():
        same = fast.predict_proba(features).tobytes() == pipeline.predict_proba(features).tobytes()
        print(f"{rows} rows: the plan's scores are scikit-learn's bytes: {same}")
        if not same:
            return 1
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; median ms per call of each repetition\n")
    print("| rows | rep | scikit-learn | plan | plan / scikit-learn |")
    print("|---:|---:|---:|---:|---:|")
    ratios: dict[int, list[float]] = {rows: [] for rows in sizes}
    for rep in range(1, args.repeat + 1):
        for rows, calls in sizes.items():
            slow = median_call(pipeline.predict_proba, frames[rows], calls)
            quick = median_call(fast.predict_proba, frames[rows], calls)
            ratios[rows].append(quick / slow)
            print(f"| {rows} | {rep} | {slow * 1000:.2f} | {quick * 1000:.2f} | {quick / slow:.2f} |")
    limits = {16: 0.5, 100_000: 0.8}
    for rows, got in ratios.items():
        verdict = "PASS" if max(got) <= limits[rows] else "MISS"
        print(f"\n{rows} rows: plan / scikit-learn <= {limits[rows]} in every repetition: {verdict} "
              f"({' '.join(f'{r:.2f}' for r in got)}; median {float(np.median(got)):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
