"""The benchmark runs end to end on a small day; every contender's output passes its check.

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
def test_small_benchmark_run_checks_every_contenders_output_and_judges_the_targets(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--rows", "20000", "--big-rows", "30000", "--repeat", "1",
         "--chunk-size", "7000", "--no-spark", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["all_checks_passed"] is True
    assert result["postgres_settings"]["fsync"] == "on" and result["postgres_settings"]["synchronous_commit"] == "on"
    names = [row["contender"] for row in result["table"]]
    assert names[:4] == [
        "naive script (pd.read_sql, to_sql)", "sequential hand-built (ADBC batches, ingest)",
        "pipelined hand-built (reader, writer threads)", "batchscore PostgreSQL",
    ]
    assert {"batchscore SQLite", "batchscore Parquet", "batchscore PostgreSQL, HGB",
            "batchscore PostgreSQL, HGB, treelite runtime"} <= set(names)  # every contender checked below
    for name, runs in result["runs"].items():
        assert len(runs) == 1 and runs[0]["returncode"] == 0, name
        assert runs[0]["check"]["ok"], name
        assert runs[0]["peak_rss_mib"] >= runs[0]["peak_rss_single_mib"] * 0.9, name  # the tree holds the largest process
    assert result["runs"]["batchscore PostgreSQL"][0]["check"]["max_abs_diff"] <= 1e-9
    # Every contender writes into a table defined as batchscore's: the same index to maintain.
    indexes = result["output_indexes"]
    assert {"scores_naive", "scores_pipe", "scores_pipe_hgb", "scores_bs", "scores_bs_hgb"} <= set(indexes)
    assert all(len(defs) == 1 and "USING brin (score_date)" in defs[0] for defs in indexes.values()), indexes
    assert set(result["limits"]) == {"lr", "hgb"}
    verdicts = {t["label"]: t["verdict"] for t in result["targets"]}
    assert "LR: batchscore / limit <= 1.2" in verdicts and "HGB: naive / batchscore >= 6.0" in verdicts
    assert all(v.startswith(("PASS", "MISS")) for v in verdicts.values()), verdicts
    assert set(result["profiles"]) == {"bench_pg", "bench_pg_hgb", "bench_sqlite", "bench_parquet"}
    assert all(p["rows"] == 20000 for p in result["profiles"].values())
    assert "Spark" in " ".join(result["notes"])
    assert "| batchscore PostgreSQL |" in done.stdout and "fsync on" in done.stdout
