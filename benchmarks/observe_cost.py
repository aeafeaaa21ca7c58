"""What RunMonitor.observe costs per chunk on the benchmark's data (20 float columns, 3 text
columns of cardinality 5/50/500, ~2% nulls), with the bench model's profile.

    .venv/bin/python -m benchmarks.observe_cost [--rows 100000] [--number 20] [--repeat 5]

Prints the best of ``repeat`` means over ``number`` calls, in ms per chunk, for the default
checks and with drift of every feature, then for 3 integer columns of cardinality 5/50/500
one-hot encoded after an imputer (the encoder's categories are floats). Uses only the public
monitor API, so the same command run on an older checkout gives the figures to compare with.
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from pathlib import Path

from benchmarks import data
from jobs.config import DriftConfig, QualityConfig
from jobs.quality.monitor import RunMonitor
from pipelines.spec import conform
from pipelines.profile import fitted_categories
from pipelines.registry import Registry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data.train_and_register(Path(tmp) / "models", Path(tmp) / "bench.joblib")
        registry = Registry(Path(tmp) / "models")
        version = registry.resolve("bench_lr", "production")
        pipeline = registry.load(version).pipeline
    names = version.spec.feature_names
    chunk = conform(next(data.batches(args.rows, chunk=args.rows)).select(names).to_pandas(), version.spec)
    print(f"one chunk of {len(chunk)} rows, best of {args.repeat} x {args.number} calls")
    for label, drift in (("checks (default)", []), (f"checks + drift of all {len(names)} features", names)):
        monitor = RunMonitor(
            QualityConfig(), DriftConfig(features=list(drift)), features=names, profile=version.profile,
            categories=fitted_categories(pipeline), reference=version.reference,
        )
        _time(label, monitor, chunk, args)
    ints, categories = _integer_categoricals(args.rows)
    monitor = RunMonitor(
        QualityConfig(), DriftConfig(), features=list(ints), profile=None, categories=categories, reference=None,
    )
    _time("checks of 3 integer categoricals", monitor, ints, args)


def _time(label: str, monitor: RunMonitor, chunk, args) -> None:
    monitor.observe(chunk)  # warm-up
    best = min(timeit.repeat(lambda: monitor.observe(chunk), number=args.number, repeat=args.repeat))
    print(f"{label:40} {best / args.number * 1000:8.1f} ms/chunk")


def _integer_categoricals(rows: int):
    """A chunk of 3 int64 columns, and the categories of an imputer + one-hot encoder fitted
    on them (floats, as the imputer gives them to the encoder)."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(data.SEED)
    chunk = pd.DataFrame({f"int{k}": rng.integers(0, k, rows) for k in (5, 50, 500)})
    encode = Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("encode", OneHotEncoder(handle_unknown="ignore"))])
    fitted = Pipeline([("cols", ColumnTransformer([("cat", encode, list(chunk))]))]).fit(chunk.iloc[: rows // 2])
    return chunk, fitted_categories(fitted)


if __name__ == "__main__":
    main()
