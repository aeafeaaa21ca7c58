"""The serve load benchmark runs end to end on a small day and every request succeeds.

No timing is asserted: latencies are read from its table (benchmarks/SERVE.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_serve_load_benchmark_answers_every_request(tmp_path):
    out = tmp_path / "serve.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.serve_load", "--customers", "3000", "--big-requests", "8",
         "--small-requests", "40", "--lookups", "40", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    result = json.loads(out.read_text())
    assert set(result["results"]) == {
        "score, 1000 records per request", "score, 1 record per request", "lookup by id, Redis", "lookup by id, SQLite table",
        "floor: GET /healthz",
    }
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in result["results"].values())
    assert "| score, 1 record per request |" in done.stdout
