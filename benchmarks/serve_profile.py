"""Where the server's time for one single-record scoring request goes, stage by stage.

    .venv/bin/python -m benchmarks.serve_profile [--customers 2000] [--repeat 400]

Builds the demo churn pipeline in a temporary directory, then times each stage of the online
path for one record in this process (``time.perf_counter``; minimum and median of
``--repeat`` calls): the JSON body, the record checks and Arrow batch, Arrow to pandas,
``conform``, the padding to whole row blocks, the pipeline's steps, ``score_batches`` and the
round trip through the scoring thread. The minimum is the figure least disturbed by the other
work of a shared machine; the median shows that disturbance. The HTTP stack is measured by
``benchmarks.serve_load`` (``/healthz``, and the server's CPU time per request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from benchmarks.serve_load import DAY, FEATURES


def timed(label: str, call: Callable[[], object], repeat: int) -> None:
    for _ in range(10):
        call()
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    print(f"| {label} | {seconds[0] * 1000:.3f} | {seconds[len(seconds) // 2] * 1000:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=400)
    args = parser.parse_args(argv)
    from jobs.config import JobConfig
    from jobs.serve.batcher import Batcher
    from jobs.serve.online import Served, score_batches
    from jobs.serve.records import records_to_batch
    from pipelines import churn
    from pipelines.demo_data import build_warehouse, make_customer_frame
    from pipelines.registry import Registry
    from pipelines.row_blocks import ROW_BLOCK
    from pipelines.spec import conform

    base = Path(tempfile.mkdtemp(prefix="batchscore-serve-profile-"))
    try:
        info = build_warehouse(base, end=DAY, days=1, n_customers=args.customers)
        churn.train_and_register(base / "models", info.training_path)
        registry = Registry(base / "models")
        table = {"kind": "sql", "url": "sqlite:///x.db", "table": "t"}
        job = JobConfig.model_validate({
            "name": "churn_daily", "source": {**table, "date_column": "snapshot_date"},
            "pipeline": {"name": "churn", "version": "production"}, "id_columns": ["customer_id"], "output": table,
        })
        served = Served.of(job, registry.load(registry.resolve("churn", "production")))
        frame = make_customer_frame(DAY, args.customers)
        one = json.loads(frame[["customer_id", *FEATURES]].head(1).to_json(orient="records"))
        spec, pipeline, n = served.version.spec, served.pipeline, args.repeat
        batch = records_to_batch(one, spec, served.id_columns)
        features = conform(batch.select(spec.feature_names).to_pandas(), spec)
        padded = features.iloc[np.zeros(ROW_BLOCK, dtype=int)]
        steps = pipeline.named_steps
        transformer, model = steps["features"], steps["model"]
        transformed = transformer.transform(padded)
        body = orjson.dumps({"records": one})
        print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; ms per call, one record\n")
        print("| stage | min | median |\n|---|---:|---:|")
        timed("orjson.loads of the body", lambda: orjson.loads(body), n)
        timed("records_to_batch (checks, Arrow)", lambda: records_to_batch(one, spec, served.id_columns), n)
        timed("Arrow -> pandas", lambda: batch.select(spec.feature_names).to_pandas(), n)
        timed("Arrow -> pandas + conform", lambda: conform(batch.select(spec.feature_names).to_pandas(), spec), n)
        timed(f"pad to {ROW_BLOCK} rows (iloc)", lambda: features.iloc[np.zeros(ROW_BLOCK, dtype=int)], n)
        timed(f"ColumnTransformer.transform, {ROW_BLOCK} rows", lambda: transformer.transform(padded), n)
        for name, step, columns in transformer.transformers_:
            if name != "remainder" and step != "drop":
                part = padded[columns]
                timed(f"  its {name} pipeline alone", lambda step=step, part=part: step.transform(part), n)
        timed(f"{type(model).__name__}.predict_proba, {ROW_BLOCK} rows", lambda: model.predict_proba(transformed), n)
        sklearn_pipeline = getattr(pipeline, "pipeline", pipeline)  # behind its feature plan, if loaded with one
        timed(f"scikit-learn's pipeline.predict_proba, {ROW_BLOCK} rows", lambda: sklearn_pipeline.predict_proba(padded), n)
        timed(f"the served pipeline's predict_proba (its feature plan: {pipeline is not sklearn_pipeline}), {ROW_BLOCK} rows",
              lambda: pipeline.predict_proba(padded), n)
        timed("score_batches (score_chunk, slices, to_pylist)", lambda: score_batches(served, [batch]), n)
        scores = score_batches(served, [batch])[0]
        timed("orjson.dumps of the response", lambda: orjson.dumps({"model": served.model, "scores": scores}), n)
        batcher = Batcher()
        batcher.start()
        loop = asyncio.new_event_loop()
        try:
            timed("Batcher.score (loop -> thread -> loop, scoring included)",
                  lambda: loop.run_until_complete(batcher.score(served, one)), n)
        finally:
            batcher.stop()
            loop.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
