"""``benchmarks.workers`` and ``benchmarks.memory_stages`` run end to end on a small day; every
run succeeds and records the workers it used. No figure is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_workers_benchmark_and_memory_stages_run_on_a_small_day(tmp_path):
    out = tmp_path / "workers.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.workers", "--rows", "3000", "--repeat", "1", "--chunk-size", "1000",
         "--workers", "1,auto", "--models", "lr", "--workdir", str(tmp_path / "w"), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    runs = {row["name"]: row for row in json.loads(out.read_text())}
    assert set(runs) == {"bench_lr_w1", "bench_lr_wauto", "bare-parquet"}
    assert runs["bench_lr_w1"]["pandas"]["workers"] == 1
    assert runs["bench_lr_wauto"]["pandas"]["setting"] == "auto" and runs["bench_lr_wauto"]["pandas"]["workers"] >= 1
    assert "rep 1 bench_lr_wauto" in done.stdout
    w = tmp_path / "w"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory_stages", str(w / "configs"), str(w / "models"), "bench_lr_w1",
         "2026-11-27", "--repeat", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stages = [json.loads(line[line.index("{"):]) for line in done.stdout.splitlines() if line.startswith("rep ")]
    assert [s["stage"] for s in stages] == ["bare", "floor", "read", "convert", "predict", "run"]
    assert all(s.get("rows", 3000) == 3000 and s.get("exit", 0) == 0 for s in stages if s["stage"] != "floor")
