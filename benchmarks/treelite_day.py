"""Scoring a HistGradientBoosting day with scikit-learn and with the compiled treelite runtime.

    .venv/bin/python -m benchmarks.treelite_day [--rows 1000000] [--repeat 5] [--chunk 100000]

Fits the benchmark's HGB pipeline (``benchmarks.data``: ordinal codes, 200 trees, two
categorical features), registers it with ``runtime="treelite"`` in a temporary registry (the
compile and the check against scikit-learn are timed), loads the version both ways, then
scores the generated day chunk by chunk through batchscore's own path (``pipelines.spec``
``conform`` + ``predict``, as ``jobs.scoring.score_chunk`` calls them), the two runtimes
alternating in each repetition (paired: one after the other on the same data, the first
swapping every repetition). Prints every repetition, the ratio of each pair, the medians, and
the largest difference between the two runtimes' scores. Reading and writing are left out:
they are the same for both. The machine's load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import data
from pipelines.registry import Registry
from pipelines.spec import conform, predict


def score_day(pipeline, chunks, spec) -> tuple[float, np.ndarray]:
    """Seconds to conform and predict every chunk, and the scores."""
    started = time.perf_counter()
    parts = [predict(pipeline, conform(chunk, spec), spec)[0] for chunk in chunks]
    return time.perf_counter() - started, np.concatenate(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.treelite_day", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=100_000, help="rows per chunk (batchscore's chunk_size)")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    x, y = data.training_frame()
    pipeline = data.build_pipeline("hgb").fit(x, y)
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp))
        started = time.perf_counter()
        version = registry.register("bench_hgb", pipeline, training_frame=x, runtime="treelite")
        mv = registry.resolve("bench_hgb", version)
        print(f"register with runtime treelite (compile + check): {time.perf_counter() - started:.1f} s; "
              f"check on {mv.runtime.rows_checked} rows: max abs diff {mv.runtime.max_abs_diff:.3g}")
        compiled = registry.load(mv)
        assert compiled.runtime == "treelite", compiled.warnings
        plain = pipeline  # the same fitted pipeline, scored by scikit-learn
        spec = mv.spec
        chunks = [b.to_pandas()[list(data.FEATURES)] for b in data.batches(args.rows, chunk=args.chunk)]
    print(f"{args.rows} rows in {len(chunks)} chunks of up to {args.chunk}; repetitions (seconds):")
    contenders = {"sklearn": plain, "treelite": compiled.pipeline}
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    ratios, worst = [], 0.0
    for rep in range(args.repeat):
        order = list(contenders) if rep % 2 == 0 else list(reversed(contenders))
        scores = {}
        for name in order:
            took, scores[name] = score_day(contenders[name], chunks, spec)
            seconds[name].append(took)
        diff = float(np.max(np.abs(scores["sklearn"] - scores["treelite"])))
        worst = max(worst, diff)
        ratio = seconds["sklearn"][-1] / seconds["treelite"][-1]
        ratios.append(ratio)
        print(f"  rep {rep + 1} ({' then '.join(order)}): sklearn {seconds['sklearn'][-1]:.3f}  "
              f"treelite {seconds['treelite'][-1]:.3f}  sklearn/treelite {ratio:.2f}  max abs diff {diff:.3g}")
    med = {name: statistics.median(v) for name, v in seconds.items()}
    print(f"median: sklearn {med['sklearn']:.3f} s ({args.rows / med['sklearn']:,.0f} rows/s), "
          f"treelite {med['treelite']:.3f} s ({args.rows / med['treelite']:,.0f} rows/s); "
          f"median ratio {statistics.median(ratios):.2f}; largest score difference {worst:.3g}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if worst <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
