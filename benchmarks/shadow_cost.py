"""What one shadow model costs a run: the same Parquet day scored with and without
``pipeline.shadow: [staging]``, each run a fresh ``python -m jobs run`` process, alternated.

    .venv/bin/python -m benchmarks.shadow_cost [--rows 500000] [--chunk-size 100000] [--repeat 3] [--engine spark]

Prints every repetition: each run's wall seconds and its ledger timings (the run's total,
score with shadow_score inside it, write),
and the shadow's own scoring time on the same chunks in this process (conform, predict and
output rows through ``score_chunk``, no I/O); then the medians, and the extra wall seconds
of the shadow run against the shadow's own scoring time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.dataset as ds
import yaml

from benchmarks import data
from jobs.output import Lineage, output_schema
from jobs.scoring import score_chunk
from pipelines.registry import Registry

REPO = Path(__file__).resolve().parents[1]
MODEL = "bench_lr"  # the name benchmarks.data.train_and_register registers (kind lr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", choices=("pandas", "spark"), default="pandas")  # spark: its own local Spark per run
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="batchscore-shadow-cost-") as tmp:
        work = Path(tmp)
        data.write_parquet(work / "features", args.rows)
        data.train_and_register(work / "models", work / "bench.joblib")
        registry = Registry(work / "models")
        x, y = data.training_frame()
        shadow = data.build_pipeline().set_params(model__C=0.1).fit(x, y)  # a candidate: other C
        registry.register(MODEL, shadow, training_frame=x, alias="staging")
        configs = work / "configs"
        configs.mkdir()
        for name, extra in (("plain", {}), ("shadow", {"shadow": ["staging"]})):
            job = {
                "name": name, "pipeline": {"name": MODEL, "version": "production", **extra},
                "source": {"kind": "parquet", "path": str(work / "features"), "date_column": "snapshot_date"},
                "id_columns": ["customer_id"], "chunk_size": args.chunk_size,
                "output": {"kind": "parquet", "path": str(work / f"scores_{name}")},
            }
            (configs / f"{name}.yaml").write_text(yaml.safe_dump(job))
        common = ["--config-dir", str(configs), "--state-url", f"sqlite:///{work / 'state.db'}", "--models", str(work / "models")]
        engine = ["--engine", args.engine]

        workers = "1 worker" if args.engine == "pandas" else "the Spark tasks (Parquet to Parquet: pyarrow in the tasks)"
        print(f"{args.rows} rows, chunk_size {args.chunk_size}, Parquet -> Parquet, {args.engine} engine, {workers}")
        runs: dict[str, list[dict]] = {"plain": [], "shadow": [], "own": []}
        for rep in range(args.repeat):
            order = ("plain", "shadow") if rep % 2 == 0 else ("shadow", "plain")
            for name in order:
                runs[name].append(_run(name, common, engine))
            runs["own"].append({"wall": _own_scoring(work, registry, args.chunk_size)})
            p, s, o = runs["plain"][-1], runs["shadow"][-1], runs["own"][-1]["wall"]
            print(
                f"rep {rep + 1}: plain {p['wall']:6.2f}s (run {p['total']:5.2f}s, score {p['score']:5.2f}s, write {p['write']:5.2f}s) | "
                f"shadow {s['wall']:6.2f}s (run {s['total']:5.2f}s, score {s['score']:5.2f}s incl. shadow_score "
                f"{s['shadow_score']:5.2f}s, write {s['write']:5.2f}s) | shadow's own score_chunk {o:5.2f}s | "
                f"extra {s['wall'] - p['wall']:+5.2f}s"
            )
        med = {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()}
        extra = med["shadow"] - med["plain"]
        print(
            f"median: plain {med['plain']:.2f}s, shadow {med['shadow']:.2f}s, extra {extra:+.2f}s; "
            f"the shadow's own scoring {med['own']:.2f}s; extra / own = {extra / med['own']:.2f}"
        )


def _run(job: str, common: list[str], engine: list[str]) -> dict:
    """One fresh ``batchscore run`` of the day; its wall seconds and ledger timings."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jobs", "run", job, "--date", data.DAY.isoformat(), "--force", *engine, *common],
                          cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{job}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    wall = time.perf_counter() - started
    status = subprocess.run([sys.executable, "-m", "jobs", "status", job, "--last", "1", "--format", "json", *common],
                            cwd=REPO, check=True, capture_output=True, text=True)
    timings = json.loads(status.stdout)[0]["stats"]["timings"]
    return {"wall": wall, **{k: timings.get(k, 0.0) for k in ("score", "shadow_score", "write", "engine_total", "total")}}


def _own_scoring(work: Path, registry: Registry, chunk_size: int) -> float:
    """Seconds the shadow model takes to score the day's chunks on its own (no I/O)."""
    mv = registry.resolve(MODEL, "staging")
    pipeline = registry.load(mv).pipeline
    batches = ds.dataset(work / "features", format="parquet", partitioning="hive").to_batches(batch_size=chunk_size)
    batches = [b for b in batches if b.num_rows]
    schema = output_schema([batches[0].schema.field("customer_id")], [], mv.spec.task)
    lineage = Lineage(data.DAY, mv.name, mv.version, "bench", datetime.now(timezone.utc))
    started = time.perf_counter()
    for batch in batches:
        score_chunk(pipeline, batch, mv.spec, 1, schema, lineage)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
