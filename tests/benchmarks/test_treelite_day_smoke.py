"""The treelite benchmark runs end to end on a small day: both runtimes score it, paired, and
their scores agree within 1e-12 (its exit code). No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_treelite_benchmark_pairs_both_runtimes_and_their_scores_agree(tmp_path):
    pytest.importorskip("tl2cgen")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.treelite_day", "--rows", "3000", "--repeat", "2", "--chunk", "1000"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reps = re.findall(r"rep \d \((\w+) then (\w+)\).*max abs diff (\S+)", done.stdout)
    assert [r[:2] for r in reps] == [("sklearn", "treelite"), ("treelite", "sklearn")]
    assert all(float(r[2]) <= 1e-12 for r in reps)
    assert "3000 rows in 3 chunks" in done.stdout
