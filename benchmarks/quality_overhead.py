"""What the per-chunk quality checks cost: score_chunk with and without a RunMonitor.

    .venv/bin/python benchmarks/quality_overhead.py [--rows 200000] [--chunk 100000] [--repeat 5]

Prints the median seconds per day of each variant and its ratio to plain scoring, all
measured in this run on the same data (the demo churn pipeline, demo customer rows).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, datetime, timezone

import pandas as pd
import pyarrow as pa

from jobs.config import DriftConfig, QualityConfig
from jobs.quality.monitor import RunMonitor
from pipelines.spec import Feature, ModelSpec
from jobs.output import Lineage, output_schema, reject_schema
from jobs.scoring import score_chunk
from pipelines.distribution import PROBABILITY_EDGES, ScoreStats, summarize
from pipelines import churn
from pipelines.demo_data import make_customer_frame
from pipelines.profile import fitted_categories, profile_frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    training = pd.concat([make_customer_frame(date(2026, 10, d), 2000) for d in range(1, 6)], ignore_index=True)
    pipeline, _ = churn.train(training)
    features = list(churn.FEATURES)
    spec = ModelSpec("churn", 1, "binary", tuple(Feature(c, str(training[c].dtype)) for c in features), (0, 1))
    profile = profile_frame(training, features)
    reference = summarize(pipeline.predict_proba(training[features])[:, 1], PROBABILITY_EDGES)
    day = make_customer_frame(date(2026, 11, 27), args.rows)
    batches = pa.Table.from_pandas(day, preserve_index=False).to_batches(max_chunksize=args.chunk)
    schema = output_schema([batches[0].schema.field("customer_id")], [], "binary")
    rejects = reject_schema([batches[0].schema.field("customer_id")])
    lineage = Lineage(date(2026, 11, 27), "churn", 1, "bench", datetime.now(timezone.utc))

    def monitor(drift_features):
        return RunMonitor(
            QualityConfig(), DriftConfig(features=drift_features), features=features, profile=profile,
            categories=fitted_categories(pipeline), reference=reference,
        )

    variants = {
        "plain scoring": lambda: None,
        "+ input checks": lambda: monitor([]),
        "+ checks, drift of all 8 features": lambda: monitor(features),
    }

    def day_seconds(make, reject) -> float:
        m = make()
        stats = ScoreStats()
        start = time.perf_counter()
        for batch in batches:
            result = score_chunk(pipeline, batch, spec, 1, schema, lineage, monitor=m, reject_schema=reject)
            stats.update(result.scores)
        if m is not None:
            m.finish(stats.summary())
        return time.perf_counter() - start

    runs = [(name, make, None) for name, make in variants.items()]
    runs.append(("+ checks, reject mode (no bad rows)", variants["+ input checks"], rejects))
    day_seconds(variants["plain scoring"], None)  # warm-up: imports, caches, allocator
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(args.repeat):  # interleaved, so drifts of the machine hit every variant alike
        for name, make, reject in runs:
            times[name].append(day_seconds(make, reject))
    rows = [(name, statistics.median(values)) for name, values in times.items()]
    base = rows[0][1]
    print(f"{args.rows} rows in chunks of {args.chunk}, median of {args.repeat}")
    print(f"{'variant':40} {'seconds':>8} {'ratio':>6}")
    for name, seconds in rows:
        print(f"{name:40} {seconds:8.3f} {seconds / base:6.2f}")


if __name__ == "__main__":
    main()
