"""``workers`` settings compared, and the Parquet day's peak memory: paired, alternating runs.

    .venv/bin/python -m benchmarks.workers [--rows 1000000] [--repeat 3] [--workers 1,2,auto]
        [--models lr,hgb] [--workdir DIR] [--json workers.json]

Generates the Parquet day (``benchmarks.data``), fits and registers the LR and HGB pipelines,
then runs ``batchscore run`` of the day (Parquet in, Parquet out: no database server to share
the CPUs with) once per (model, workers) in every repetition, the order reversed every other
repetition, with a bare chunked read of the day (``benchmarks.scripts bare-parquet``) among
them. Each run is a fresh process under ``benchmarks.measure`` (wall time, peak RSS of the
process tree). Prints every run, the load average before each, and the workers each run
recorded in the ledger (``stats.pandas``). ``--before DIR`` runs each job also with the batchscore checked out in
DIR (``git archive REV | tar -x -C DIR``), alternating with this one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks import data

REPO = Path(__file__).resolve().parent.parent


def setup(workdir: Path, rows: int, models: list[str], settings: list[str], chunk: int) -> list[str]:
    """The day, the registered models and one job per (model, workers); their names."""
    features = workdir / "features"
    if not (features / f"snapshot_date={data.DAY.isoformat()}").exists():
        data.write_parquet(features, rows)
    configs = workdir / "configs"
    configs.mkdir(exist_ok=True)
    names = []
    for kind in models:
        if not (workdir / "models" / f"bench_{kind}").exists():
            data.train_and_register(workdir / "models", workdir / f"model_{kind}.joblib", kind)
        for setting in settings:
            name = f"bench_{kind}_w{setting}"
            job = {"name": name, "pipeline": {"name": f"bench_{kind}", "version": "production"},
                   "source": {"kind": "parquet", "path": str(features), "date_column": "snapshot_date"},
                   "id_columns": ["customer_id"], "output": {"kind": "parquet", "path": str(workdir / "scores" / name)},
                   "chunk_size": chunk, "workers": setting if setting == "auto" else int(setting)}
            (configs / f"{name}.yaml").write_text(yaml.safe_dump(job))
            names.append(name)
    return names


def measure(argv: list[str], code: Path = REPO) -> dict:
    """``argv`` under ``benchmarks.measure``, run from ``code`` (a checkout of batchscore)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.measure", "--", *argv], capture_output=True, text=True,
                          cwd=code, env=env, check=True)
    return json.loads(done.stdout)


def recorded(common: list[str], job: str) -> dict:
    """The newest ledger row's stats: its timings and the workers it used."""
    done = subprocess.run([sys.executable, "-m", "jobs", "status", job, "--last", "1", "--format", "json", *common],
                          capture_output=True, text=True, cwd=REPO, check=True)
    stats = (json.loads(done.stdout) or [{}])[0].get("stats") or {}
    return {"pandas": stats.get("pandas"), "timings": stats.get("timings")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,auto", help="workers settings, comma-separated")
    parser.add_argument("--models", default=",".join(data.MODELS), help="lr, hgb or both")
    parser.add_argument("--no-bare", action="store_true", help="leave out the bare chunked read")
    parser.add_argument("--before", type=Path, help="also run each job with the batchscore checked out here (name@before)")
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, default=Path("workers.json"))
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="batchscore-workers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    jobs = setup(workdir, args.rows, args.models.split(","), args.workers.split(","), args.chunk_size)
    common = ["--config-dir", str(workdir / "configs"), "--state-url", f"sqlite:///{workdir / 'state.db'}",
              "--models", str(workdir / "models")]
    day = data.DAY.isoformat()
    contenders = {job: [sys.executable, "-m", "jobs", "run", job, "--date", day, "--force", *common] for job in jobs}
    code = {name: REPO for name in contenders}
    if args.before:
        for job in jobs:
            contenders[f"{job}@before"], code[f"{job}@before"] = contenders[job], args.before.resolve()
    if not args.no_bare:
        contenders["bare-parquet"] = [sys.executable, "-m", "benchmarks.scripts", "bare-parquet", str(workdir / "features"),
                                      "-", day, "-", "--chunk", str(args.chunk_size)]
        code["bare-parquet"] = REPO
    print(f"rows {args.rows}, chunk_size {args.chunk_size}, {len(os.sched_getaffinity(0))} usable CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    runs: list[dict] = []
    for rep in range(args.repeat):
        order = list(contenders) if rep % 2 == 0 else list(reversed(contenders))
        for name in order:
            load = os.getloadavg()[0]
            got = measure(contenders[name], code[name])
            row = {"rep": rep + 1, "name": name, "load1": load, "wall_s": round(got["wall_s"], 2),
                   "peak_rss_mib": round(got["peak_rss_mib"]), "returncode": got["returncode"]}
            if name in jobs and got["returncode"] == 0:
                row.update(recorded(common, name))
            elif got["returncode"] != 0:
                row["stderr"] = got["stderr"][-1000:]
            runs.append(row)
            pandas = row.get("pandas") or {}
            print(f"rep {rep + 1} {name:<25} load {load:5.2f}  wall {row['wall_s']:7.2f} s  peak RSS {row['peak_rss_mib']:5d} MiB"
                  f"  exit {row['returncode']}  workers {pandas.get('workers', '-')} threads {pandas.get('threads_per_worker', '-')}",
                  flush=True)
            args.json.write_text(json.dumps(runs, indent=1) + "\n")
    return 0 if all(r["returncode"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
