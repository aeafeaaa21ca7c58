"""What the duplicate-id check costs: memory per row of its key set, and a 1M-row day's time.

    .venv/bin/python -m benchmarks.duplicate_ids [--rows 1000000] [--repeat 3] [--before TREE] [--no-runs]

Memory: ``IdTracker`` fed with int64 ids (one key column, exact keys) and with text ids
(hashed keys) in chunks of 100 000, at 1M and 5M rows: the bytes held once the day has
streamed (tracemalloc; numpy reports its buffers to it), and the peak while ``result()``
merges and sorts them, allocated (tracemalloc) and resident (the process's VmHWM), per row.

Time: ``batchscore run`` of a generated Parquet day (``benchmarks.data``) into Parquet, in
fresh processes, alternating: the tree ``--before`` (the code without the check, e.g. a
worktree of the branch point), this tree with the default ``on_duplicate_ids: fail``, and
this tree with ``reject`` (a first pass over the ids). Prints the median wall and CPU
seconds of each and their ratios to the first.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from benchmarks import data
from jobs.quality.duplicates import IdTracker

REPO = Path(__file__).resolve().parent.parent
CHUNK = 100_000


def _status(field: str) -> int:
    """A /proc/self/status figure, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as refs:  # "5": reset VmHWM to the current RSS (Linux)
        refs.write("5")


def memory(rows: int, kind: str) -> tuple[float, float, float]:
    """Bytes per row: held after the day streamed, peak allocated while judging (tracemalloc),
    and peak resident while judging (VmHWM over the RSS before it)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracker = IdTracker(["customer_id"])
    rng = np.random.default_rng(1)
    for start in range(0, rows, CHUNK):
        ids = rng.permutation(np.arange(start, min(start + CHUNK, rows), dtype=np.int64))
        column = pa.array(ids) if kind == "int64" else pa.array(ids.astype(str))
        tracker.observe(pa.record_batch({"customer_id": column}))
        del ids, column
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.reset_peak()
    _reset_peak_rss()
    rss = _status("VmRSS")
    found = tracker.result(lambda: iter(()))
    resident = _status("VmHWM") - rss
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert not found
    return held / rows, peak / rows, (held + resident) / rows


def check_cpu(rows: int, features: Path) -> tuple[float, float]:
    """CPU seconds of the check itself on a day of ``rows``: the streaming check (keys of each
    chunk, then the verdict), and reject's first pass (read the ids from Parquet, judge them)."""
    import pyarrow.parquet as pq

    from jobs.quality.duplicates import find_duplicates

    ids = [b.select(["customer_id"]) for b in data.batches(rows, chunk=CHUNK)]
    best_stream = best_first = float("inf")
    for _ in range(3):
        start = time.process_time()
        tracker = IdTracker(["customer_id"])
        for batch in ids:
            tracker.observe(batch)
        assert not tracker.result()
        best_stream = min(best_stream, time.process_time() - start)
        start = time.process_time()
        files = sorted(features.rglob("*.parquet"))
        read = (b for f in files for b in pq.ParquetFile(f).iter_batches(CHUNK, columns=["customer_id"]))
        assert not find_duplicates(read, ["customer_id"])
        best_first = min(best_first, time.process_time() - start)
    return best_stream, best_first


def run_day(tree: Path, configs: Path, workdir: Path, job: str) -> tuple[float, float, int]:
    """(wall s, CPU s of the process and its children, exit code) of one ``batchscore run``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "run", job, "--date", data.DAY.isoformat(), "--force",
         "--config-dir", str(configs), "--state-url", f"sqlite:///{workdir / 'state.db'}", "--models", str(workdir / "models")],
        cwd=tree, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a tree of the code without the check")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-runs", action="store_true", help="the key set's memory and the check's CPU only")
    args = parser.parse_args()

    if not args.no_memory:
        print("bytes per row of the key set: held while the day streams; peak while judging,")
        print("allocated (tracemalloc) and resident (held + VmHWM growth)")
        print(f"{'ids':8} {'rows':>9} {'held':>7} {'alloc peak':>11} {'RSS peak':>9}")
        for kind in ("int64", "text"):
            for rows in (1_000_000, 5_000_000):
                held, peak, resident = memory(rows, kind)
                print(f"{kind:8} {rows:9d} {held:7.2f} {peak:11.2f} {resident:9.2f}")

    with tempfile.TemporaryDirectory(prefix="bench-dup-") as tmp:
        workdir = Path(tmp)
        data.write_parquet(workdir / "features", args.rows)
        data.train_and_register(workdir / "models", workdir / "model.joblib")
        configs = workdir / "configs"
        configs.mkdir()
        for name, mode in (("dup_fail", "fail"), ("dup_reject", "reject")):
            job = {
                "name": name, "pipeline": {"name": "bench_lr", "version": "production"}, "id_columns": ["customer_id"],
                "source": {"kind": "parquet", "path": str(workdir / "features"), "date_column": "snapshot_date"},
                "output": {"kind": "parquet", "path": str(workdir / f"scores_{name}")},
            }
            if mode == "reject":
                job["quality"] = {"on_duplicate_ids": "reject"}
            (configs / f"{name}.yaml").write_text(yaml.safe_dump(job))
        stream, first = check_cpu(args.rows, workdir / "features")
        print(f"\nthe check's own CPU on {args.rows} int64 ids (best of 3): streaming check {stream:.3f}s, "
              f"reject's first pass over the Parquet ids {first:.3f}s")
        if args.no_runs:
            return
        variants = [("this tree, on_duplicate_ids: fail", REPO, "dup_fail"), ("this tree, reject", REPO, "dup_reject")]
        if args.before:
            variants.insert(0, (f"before ({args.before})", args.before, "dup_fail"))
        run_day(REPO, configs, workdir, "dup_fail")  # warm-up: page cache, .pyc files
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in variants}
        for rep in range(args.repeat):
            for name, tree, job in (variants if rep % 2 == 0 else variants[::-1]):
                wall, cpu, code = run_day(tree, configs, workdir, job)
                assert code == 0, f"{name}: exit {code}"
                times[name].append((wall, cpu))
        print(f"\n{args.rows} rows, Parquet -> Parquet, median of {args.repeat} (alternating)")
        print(f"{'variant':52} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6}")
        base_wall = statistics.median(w for w, _ in times[variants[0][0]])
        base_cpu = statistics.median(c for _, c in times[variants[0][0]])
        for name, values in times.items():
            wall, cpu = statistics.median(w for w, _ in values), statistics.median(c for _, c in values)
            print(f"{name:52} {wall:7.2f} {wall / base_wall:6.3f} {cpu:7.2f} {cpu / base_cpu:6.3f}")
            print(f"{'':52} walls {', '.join(f'{w:.2f}' for w, _ in values)}")


if __name__ == "__main__":
    main()
