"""Where a Parquet day's peak memory goes: batchscore's stages added one at a time, each
count in a fresh process, the process's own RSS sampled every 5 ms.

    python -m benchmarks.memory_stages CONFIG_DIR MODELS JOB DAY [--repeat 3]

Stages (cumulative, one after the other, no overlap): ``floor`` (batchscore's imports and
the model loaded), ``read`` (+ the day read through the job's source, chunks dropped),
``convert`` (+ each chunk to pandas and conformed), ``predict`` (+ each chunk scored), and
``run`` (``batchscore run`` of the day in this process: reader, scorer and writer overlapping).
``bare`` is ``benchmarks.scripts``'s bare chunked pyarrow read in a process of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

STAGES = ("bare", "floor", "read", "convert", "predict", "run")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class Peak:
    """This process's largest RSS while it runs."""

    def __init__(self) -> None:
        self.mib = rss_mib()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.mib = max(self.mib, rss_mib())
            time.sleep(0.005)


def stage(name: str, config_dir: str, models: str, job_name: str, day: date) -> dict:
    peak = Peak()
    if name == "bare":
        from benchmarks.scripts import bare_parquet
        from jobs import config as config_mod

        job = config_mod.load_named(Path(config_dir), job_name)
        rows = bare_parquet(job.source.path, day, job.chunk_size)["rows"]
        return {"stage": name, "rows": rows, "peak_rss_mib": round(peak.mib)}
    if name == "run":
        from jobs.cli import main

        code = main(["run", job_name, "--date", day.isoformat(), "--force", "--config-dir", config_dir, "--models", models,
                     "--state-url", f"sqlite:///{Path(config_dir).parent / 'state_stages.db'}"])
        return {"stage": name, "exit": code, "peak_rss_mib": round(peak.mib)}
    from jobs import config as config_mod
    from jobs.engines import pandas_engine  # noqa: F401  (the run's imports, as a run has them)
    from jobs.sources import open_source
    from pipelines.registry import Registry
    from pipelines.spec import conform, predict

    job = config_mod.load_named(Path(config_dir), job_name)
    registry = Registry(models)
    version = registry.resolve(job.pipeline.name, job.pipeline.version)
    pipeline = registry.load(version).pipeline
    spec = version.spec
    floor = round(rss_mib())
    rows = 0
    if name != "floor":
        source = open_source(job.source, chunk_size=job.chunk_size, wanted=[*job.id_columns, *spec.feature_names])
        for batch in source.iter_batches(day):
            rows += batch.num_rows
            if name in ("convert", "predict"):
                features = conform(batch.select(spec.feature_names).to_pandas(split_blocks=True), spec)
                if name == "predict":
                    predict(pipeline, features, spec, 1)
    return {"stage": name, "rows": rows, "floor_mib": floor, "peak_rss_mib": round(peak.mib)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_stages")
    parser.add_argument("config_dir")
    parser.add_argument("models")
    parser.add_argument("job")
    parser.add_argument("day", type=date.fromisoformat)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # one stage, in this process
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(stage(args.stage, args.config_dir, args.models, args.job, args.day)))
        return 0
    for rep in range(args.repeat):
        for name in STAGES if rep % 2 == 0 else reversed(STAGES):
            load = os.getloadavg()[0]
            done = subprocess.run([sys.executable, "-m", "benchmarks.memory_stages", *argv, "--stage", name], capture_output=True, text=True, check=True)
            got = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"rep {rep + 1} load {load:5.2f} {json.dumps(got)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
