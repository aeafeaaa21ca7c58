"""Wall time of one day scored by the pandas engine and by the spark engine (local mode).

    .venv/bin/python benchmarks/spark_engine.py [--rows 200000] [--chunk 100000] [--master local[2]]

Builds a day of ``--rows`` demo customers in a temporary project (SQLite table and hive
Parquet), registers the demo model, then times ``batchscore run JOB --engine E --force`` as a
child process (JVM start included, as cron would see it) for SQL -> SQL and Parquet ->
Parquet, and prints each engine's seconds and spark's ratio to pandas, all measured in this run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from pipelines import churn
from pipelines.demo_data import _write_partitions, _write_sqlite, make_customer_frame
from pipelines.registry import Registry

DAY = date(2026, 11, 27)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        (root / "configs").mkdir()
        frame = make_customer_frame(DAY, args.rows)
        _write_sqlite(root / "data" / "warehouse.db", [frame])
        _write_partitions(root / "data" / "features", [frame])
        training = pd.concat([make_customer_frame(date(2026, 10, d), 2000) for d in range(1, 6)], ignore_index=True)
        pipeline, metrics = churn.train(training)
        Registry(root / "data" / "models").register(
            churn.NAME, pipeline, training_frame=training[list(churn.FEATURES)], alias="production", metrics=metrics
        )
        jobs = {
            "sql_to_sql": ({"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "customer_features", "date_column": "snapshot_date"},
                           {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "scores"}),
            "parquet_to_parquet": ({"kind": "parquet", "path": "data/features", "date_column": "snapshot_date"},
                                   {"kind": "parquet", "path": "data/scores"}),
        }
        for name, (source, output) in jobs.items():
            (root / "configs" / f"{name}.yaml").write_text(yaml.safe_dump({
                "name": name, "source": source, "output": output, "pipeline": {"name": "churn"},
                "id_columns": ["customer_id"], "passthrough": ["plan"], "chunk_size": args.chunk,
                "spark": {"master": args.master},
            }))
        env = {**os.environ, "BATCHSCORE_CONFIG_DIR": str(root / "configs")}
        command = [str(Path(sys.executable).with_name("batchscore")), "run"]
        print(f"{args.rows} rows, chunk {args.chunk}, spark master {args.master}; seconds per day (wall, child process)")
        print(f"{'job':<20} {'pandas':>8} {'spark':>8} {'spark/pandas':>13}")
        for name in jobs:
            seconds = {}
            for engine in ("pandas", "spark"):
                start = time.perf_counter()
                subprocess.run(
                    [*command, name, "--date", DAY.isoformat(), "--engine", engine, "--force"],
                    env=env, cwd=root, check=True, capture_output=True,
                )
                seconds[engine] = time.perf_counter() - start
            print(f"{name:<20} {seconds['pandas']:>8.1f} {seconds['spark']:>8.1f} {seconds['spark'] / seconds['pandas']:>12.1f}x")


if __name__ == "__main__":
    main()
