"""The benchmark runs end to end on a small day and every contender writes every row.

No timing is asserted: speed and memory are read from the benchmark's own table, not tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.postgres
def test_small_benchmark_run_writes_every_row_for_every_contender(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--rows", "20000", "--big-rows", "30000", "--repeat", "1",
         "--chunk-size", "7000", "--no-spark", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["all_rows_written"] is True
    names = [row["contender"] for row in result["table"]]
    assert names[:5] == [
        "naive script (pd.read_sql, to_sql)", "best hand-built (ADBC batches, ingest)",
        "batchscore PostgreSQL", "batchscore SQLite", "batchscore Parquet",
    ]
    for name, runs in result["runs"].items():
        assert len(runs) == 1 and runs[0]["returncode"] == 0, name
        assert runs[0]["rows_written"] == runs[0]["rows_expected"] > 0, name
    assert {"naive / batchscore PostgreSQL (time)", "batchscore PostgreSQL / best (time)"} <= set(result["ratios"])
    assert set(result["profiles"]) == {"bench_pg", "bench_sqlite", "bench_parquet"}
    assert all(p["rows"] == 20000 for p in result["profiles"].values())
    assert "Spark" in " ".join(result["notes"])
    assert "| batchscore PostgreSQL |" in done.stdout
