"""``benchmarks.write_paths`` runs end to end on a small day: both write paths replace the
day with exactly its rows, every repetition. No figure is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.postgres
def test_write_paths_benchmark_replaces_the_day_both_ways():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.write_paths", "--rows", "2500", "--repeat", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    reps = re.findall(r"^rep (\d) (\w+) .* rows of the day after it: (\d+)$", done.stdout, re.MULTILINE)
    assert sorted(reps) == [("1", "adbc", "2500"), ("1", "binary_copy", "2500"), ("2", "adbc", "2500"), ("2", "binary_copy", "2500")]
    assert "binary_copy / adbc per repetition" in done.stdout
